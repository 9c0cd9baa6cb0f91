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
	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/internal/proc"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/ui"
)

// serve runs the daemon until ctx is done: the scheduler and the HTTP
// server as two actors; when either stops, the other is stopped too.
func serve(ctx context.Context, f *flags, logger *slog.Logger) error {
	logger.Info("starting benchd", "version", version.Info(), "build_context", version.BuildContext())
	if f.web.WebSystemdSocket != nil && *f.web.WebSystemdSocket {
		// exporter-toolkit adds the flag; benchd serves the web config
		// itself (api/auth.go) and takes no sockets from systemd.
		return usageError{errors.New("--web.systemd-socket is not supported: benchd listens on --web.listen-address (deploy/systemd/benchd.service does so)")}
	}
	cfg, err := loadConfig(ctx, f, logger, true)
	if err != nil {
		return err
	}
	if err := applyShard(cfg, &f.shard, false); err != nil {
		return err
	}
	if sh := cfg.Shard(); sh.Count > 1 {
		logger.Info("running one shard of the matrix", "shard", sh.Index, "shards", sh.Count, "index_from", cfg.ShardIndexFrom, "scenarios", len(cfg.ShardScenarios()))
	}
	if err := cfg.CheckRetention(f.retention); err != nil {
		return usageError{err}
	}
	reg := prometheus.NewRegistry()
	metrics := exporters.NewMetrics()
	// benchd's own metrics carry its shard (exporters.ShardLabel); the
	// runtime's are the process's.
	shardReg := exporters.WithShard(reg, cfg.ShardIndex)
	shardReg.MustRegister(metrics)
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	tracing, err := exporters.NewTracing(ctx, version.Version, nil)
	if err != nil {
		return err
	}
	defer shutdownTracing(tracing, logger)
	if tracing.Exporting {
		logger.Info("exporting traces over OTLP", "protocol", tracing.Protocol)
	}

	// A `benchd matrix` holding the history ends by itself: wait for it
	// rather than exit (under systemd, Restart= would only retry).
	st, err := openStore(ctx, f, logger, -1)
	if err != nil {
		return err
	}
	defer st.Close()
	// Under the storage lock: no other benchd uses this record.
	if err := proc.Track(f.storagePath, logger.With("component", "proc")); err != nil {
		return fmt.Errorf("--storage.path %s: record of managed processes: %w", f.storagePath, err)
	}
	var live atomic.Pointer[config.Config]
	live.Store(cfg)
	hist := pipeline.NewHistory(pipeline.HistoryOptions{Store: st, Logger: logger.With("component", "history"),
		Retention: f.retention, MaxBytes: f.retainBytes, Version: version.Version, Marker: f.marker,
		ConfigHash: func() string { return pipeline.ConfigHash(live.Load()) }, Metrics: metrics})
	closeHist := sync.OnceValue(hist.Close) // logs what it could not store
	defer func() { _ = closeHist() }()
	regs := exporters.NewRegressions()
	shardReg.MustRegister(regs)
	// The UI's feed (its recently finished cells and result cache) takes
	// the history the detector reads at start: it is read once, not again
	// at the UI's first page.
	feed := ui.NewFeed()
	det := pipeline.NewDetector(pipeline.DetectorOptions{Store: st, Regressions: regs, Config: live.Load,
		Logger: logger.With("component", "regress"), Loaded: feed.Loaded})
	if _, err := det.Load(ctx); err != nil {
		logger.Error("regression detection failed", "err", err)
	}
	// The run's progress: the log, the metrics, /api/v1/status and the UI's
	// now page.
	runProgress := &pipeline.Progress{Logger: logger.With("component", "scheduler"), Metrics: metrics}
	pipe := pipeline.New(pipeline.Options{Tracer: exporters.NewRunTracer(tracing.Provider()), Metrics: metrics,
		History: hist, Detector: det, Extra: []scheduler.Observer{feed, runProgress}})
	sched, err := scheduler.New(cfg, scheduler.Options{
		Observer: pipe,
		Recorder: pipe,
		Logger:   logger.With("component", "scheduler"),
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	d, err := pipeline.NewDaemon(cfg, pipeline.DaemonOptions{Logger: logger, Scheduler: sched, Metrics: metrics,
		Detector: det, Live: &live, Retention: f.retention, Load: func(ctx context.Context) (*config.Config, error) { return reloadConfig(ctx, f, logger, cfg.ShardIndex) }})
	if err != nil {
		return err
	}
	metrics.ObserveReload(true, time.Now())
	pipeline.Declare(metrics, cfg)
	var running atomic.Bool
	srv, err := api.New(api.Options{
		Gatherer:        reg,
		Registerer:      reg,
		Web:             f.web,
		Version:         version.Info(),
		Ready:           running.Load,
		Logger:          logger.With("component", "web"),
		Control:         d,
		History:         hist.Reader(), // the store, with the runs held in memory
		ScenarioProblem: func(name string) string { return live.Load().UnknownScenario(name) },
		Token:           d.Token,
		Storage:         func() api.StorageStatus { return api.StorageStatus(hist.Status()) },
		Progress:        func() (api.RunStatus, bool) { return runStatus(runProgress) },
		WriteUsers:      func() []string { return live.Load().API.WriteUsers },
		Alerts:          st,
		// Counted once stored: a notification Alertmanager must retry
		// is not counted twice.
		AlertReceived: metrics.AlertNotificationReceived,
		UI: ui.New(ui.Options{Store: st, Config: live.Load, Feed: feed, Progress: runProgress.Status, Logger: logger.With("component", "ui"),
			WriteEnabled: func() bool { return d.Token() != "" || len(live.Load().API.WriteUsers) > 0 }}),
		UIScenarioPath: ui.ScenarioPath,
	})
	if err != nil {
		return err
	}
	for _, a := range srv.Addrs() {
		logger.Info("listening", "address", a.String())
	}
	for _, w := range srv.Warnings() {
		logger.Warn("web warning", "warning", w)
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		if parent.Err() != nil {
			logger.Info("stopping: interrupt or SIGTERM received; a run in progress is cut short")
		}
	}()
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
	wg.Go(func() { d.ReloadOnSIGHUP(ctx) })
	wg.Go(func() { hist.RetryEvery(ctx, pipeline.HistoryRetryInterval) })
	wg.Wait()
	_ = closeHist() // before "stopped": what is lost is part of stopping
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

// runStatus is the progress of p for /api/v1/status.
func runStatus(p *pipeline.Progress) (api.RunStatus, bool) {
	st, ok := p.Status()
	rs := api.RunStatus{ID: st.RunID, Trigger: st.Trigger, Running: st.Running, Start: st.Start, End: st.End, Outcome: st.Outcome,
		Target: st.Target, Done: st.Done, Planned: st.Planned, LastScenario: st.Last, LastStatus: st.LastStatus,
		ElapsedSeconds: st.Elapsed.Seconds(), RemainingSeconds: st.Remaining.Seconds(), ETA: st.ETA()}
	if c := st.Current; c.Name != "" {
		rs.Current = &api.CurrentScenario{Name: c.Name, Repeat: c.Repeat, Repeats: c.Repeats, Start: c.Start}
	}
	return rs, ok
}

// reloadConfig loads the configuration for a reload, with its shard
// ([applyShard]); the shard index must stay index, which benchd's metrics
// carry as a label: a shards.count that gives it another (or none) needs a
// restart.
func reloadConfig(ctx context.Context, f *flags, logger *slog.Logger, index int) (*config.Config, error) {
	cfg, err := loadConfig(ctx, f, logger, true)
	if err != nil {
		return nil, err
	}
	if err := applyShard(cfg, &f.shard, false); err != nil {
		return nil, err
	}
	if cfg.ShardIndex != index {
		return nil, fmt.Errorf("the shard index would change from %d to %d: restart benchd to change it", index, cfg.ShardIndex)
	}
	return cfg, nil
}
