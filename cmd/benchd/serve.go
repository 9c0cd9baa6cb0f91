package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/version"

	"github.com/benchd/benchd/api"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/scheduler"
)

// serve runs the daemon until ctx is done: the scheduler and the HTTP
// server as two actors; when either stops, the other is stopped too.
func serve(ctx context.Context, f *flags, logger *slog.Logger) error {
	logger.Info("starting benchd", "version", version.Info(), "build_context", version.BuildContext())
	cfg, err := loadConfig(f, logger)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	metrics := exporters.NewMetrics()
	reg.MustRegister(metrics,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	sched, err := scheduler.New(cfg, scheduler.Options{
		Observer: metricsObserver{m: metrics},
		Logger:   logger.With("component", "scheduler"),
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var running atomic.Bool
	srv, err := api.New(api.Options{
		Gatherer:   reg,
		Registerer: reg,
		Web:        f.web,
		Version:    version.Info(),
		Ready:      running.Load,
		Logger:     logger.With("component", "web"),
	})
	if err != nil {
		return err
	}
	for _, a := range srv.Addrs() {
		logger.Info("listening", "address", a.String())
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		defer cancel()
		running.Store(true)
		errs[0] = sched.Run(ctx)
	})
	wg.Go(func() {
		defer cancel()
		errs[1] = srv.Serve(ctx)
	})
	wg.Wait()
	logger.Info("benchd stopped")
	return errors.Join(errs...)
}

// metricsObserver feeds scheduler events to the Prometheus collector.
type metricsObserver struct{ m *exporters.Metrics }

func (o metricsObserver) RunStarted(*scheduler.RunInfo) {}

func (o metricsObserver) TargetChanged(target string, up bool) { o.m.SetTargetUp(target, up) }

func (o metricsObserver) ScenarioFinished(r *scheduler.ScenarioResult) {
	o.m.ObserveScenario(r.Scenario.Target, r.Scenario.Mode, r.Scenario.Endpoint, r.Result, r.End)
}

func (o metricsObserver) RunFinished(r *scheduler.RunReport) {
	o.m.ObserveRun(r.Outcome(), r.Start, r.End)
}

func (o metricsObserver) RunSkipped(time.Time) { o.m.RunSkipped() }

func (o metricsObserver) NextRun(at time.Time) { o.m.SetNextRun(at) }
