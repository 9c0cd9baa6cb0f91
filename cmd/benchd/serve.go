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

	tracing, err := exporters.NewTracing(ctx, version.Version, nil)
	if err != nil {
		return err
	}
	defer shutdownTracing(tracing, logger)
	if tracing.Exporting {
		logger.Info("exporting traces over OTLP", "protocol", tracing.Protocol)
	}

	sched, err := scheduler.New(cfg, scheduler.Options{
		Observer: telemetry{metrics: metrics, tracer: exporters.NewRunTracer(tracing.Provider())},
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

// TracingShutdownTimeout bounds the flush of pending spans at exit.
const TracingShutdownTimeout = 5 * time.Second

// shutdownTracing flushes pending spans within TracingShutdownTimeout.
func shutdownTracing(t *exporters.Tracing, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), TracingShutdownTimeout)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		logger.Warn("tracing shutdown", "err", err)
	}
}
