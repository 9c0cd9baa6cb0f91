package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	"github.com/benchd/benchd/store"
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
	if err := checkRetention(f.retention, cfg); err != nil {
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
		ConfigHash: func() string { return configHash(live.Load()) }, Metrics: metrics})
	defer func() { _ = hist.Close() }() // logs what it could not store
	regs := exporters.NewRegressions()
	reg.MustRegister(regs)
	det := pipeline.NewDetector(pipeline.DetectorOptions{Store: st, Regressions: regs, Config: live.Load,
		Logger: logger.With("component", "regress")})
	if _, err := det.Load(ctx); err != nil {
		logger.Error("regression detection failed", "err", err)
	}
	progress := ui.NewProgress(nil)
	pipe := pipeline.New(pipeline.Options{Tracer: exporters.NewRunTracer(tracing.Provider()), Metrics: metrics,
		History: hist, Detector: det, Extra: []scheduler.Observer{progress}})
	sched, err := scheduler.New(cfg, scheduler.Options{
		Observer: pipe,
		Recorder: pipe,
		Logger:   logger.With("component", "scheduler"),
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	d := &daemon{f: f, log: logger, sched: sched, metrics: metrics, live: &live, det: det}
	if err := d.setToken(cfg); err != nil {
		return err
	}
	metrics.ObserveReload(true, time.Now())
	declare(metrics, cfg)
	var running atomic.Bool
	srv, err := api.New(api.Options{
		Gatherer:   reg,
		Registerer: reg,
		Web:        f.web,
		Version:    version.Info(),
		Ready:      running.Load,
		Logger:     logger.With("component", "web"),
		Control:    d,
		History:    st,
		Token:      d.currentToken,
		Storage:    func() api.StorageStatus { return api.StorageStatus(hist.Status()) },
		WriteUsers: func() []string { return live.Load().API.WriteUsers },
		Alerts:     st,
		// Counted once stored: a notification Alertmanager must retry
		// is not counted twice.
		AlertReceived: metrics.AlertNotificationReceived,
		UI: ui.New(ui.Options{Store: st, Config: live.Load, Progress: progress, Logger: logger.With("component", "ui"),
			WriteEnabled: func() bool { return d.currentToken() != "" || len(live.Load().API.WriteUsers) > 0 }}),
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
	wg.Go(func() { d.reloadOnSIGHUP(ctx) })
	wg.Go(func() { hist.RetryEvery(ctx, pipeline.HistoryRetryInterval) })
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

// declare makes the series of every scenario and managed target of cfg
// exist at 0 before their first run, and exports cfg's thresholds.
func declare(m *exporters.Metrics, cfg *config.Config) {
	var thresholds []exporters.Threshold
	for _, sc := range cfg.Scenarios() {
		m.DeclareScenario(sc.Target, sc.Mode, sc.Endpoint)
		for _, t := range sc.Thresholds.Sorted() {
			thresholds = append(thresholds, exporters.Threshold{Target: sc.Target, Mode: sc.Mode, Endpoint: sc.Endpoint,
				Signal: t.Signal, Bound: t.Bound(), Value: t.Value})
		}
	}
	m.SetThresholds(thresholds)
	for _, t := range cfg.Targets {
		if t.Process != nil {
			m.DeclareTarget(t.Name)
		}
	}
}

// daemon is the write API's view of the running daemon: reload, trigger,
// pause and resume. It is safe for concurrent use.
type daemon struct {
	f       *flags
	log     *slog.Logger
	sched   *scheduler.Scheduler
	metrics *exporters.Metrics
	reload  sync.Mutex
	token   atomic.Pointer[string]
	live    *atomic.Pointer[config.Config]
	det     *pipeline.Detector
}

// Accept accepts scenario's current results as its new baseline.
func (d *daemon) Accept(ctx context.Context, scenario string) (string, error) {
	runID, err := d.det.Accept(ctx, scenario)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return runID, err
}

// setToken reads cfg's api.token_file; no file switches the write API off.
func (d *daemon) setToken(cfg *config.Config) error {
	token := ""
	if cfg.API.TokenFile != "" {
		path := cfg.ResolvePath(cfg.API.TokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config: api.token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return fmt.Errorf("config: api.token_file: %s is empty (write a token into it, or remove the key to switch the write API off)", path)
		}
	}
	d.token.Store(&token)
	return nil
}

func (d *daemon) currentToken() string { return *d.token.Load() }

// Reload re-reads the configuration and applies it to the next run; on
// error the old configuration stays. Every attempt is counted in the
// reload metrics.
func (d *daemon) Reload() error {
	d.reload.Lock()
	defer d.reload.Unlock()
	err := d.tryReload()
	d.metrics.ObserveReload(err == nil, time.Now())
	if err != nil {
		d.log.Error("config reload failed, keeping the old configuration", "err", err)
		return err
	}
	d.log.Info("config reloaded")
	return nil
}

func (d *daemon) tryReload() error {
	cfg, err := loadConfig(context.Background(), d.f, d.log, true)
	if err != nil {
		return err
	}
	if err := d.setToken(cfg); err != nil {
		return err
	}
	if err := d.sched.ApplyConfig(cfg); err != nil {
		return err
	}
	d.live.Store(cfg)
	declare(d.metrics, cfg)
	return nil
}

// TriggerRun starts a run now.
func (d *daemon) TriggerRun(ctx context.Context) error {
	err := d.sched.TriggerNow(ctx)
	if errors.Is(err, scheduler.ErrRunning) {
		return fmt.Errorf("%w: %w", api.ErrConflict, err)
	}
	return err
}

func (d *daemon) Pause()  { d.sched.Pause(); d.log.Info("schedule paused") }
func (d *daemon) Resume() { d.sched.Resume(); d.log.Info("schedule resumed") }

func (d *daemon) Status() (running, paused bool) { return d.sched.Running(), d.sched.Paused() }

// reloadOnSIGHUP reloads the configuration on each SIGHUP until ctx is done.
func (d *daemon) reloadOnSIGHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = d.Reload() // logged and counted by Reload
		}
	}
}
