package pipeline

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

	"github.com/benchd/benchd/api"
	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// Declare makes the series of every scenario of cfg's shard
// ([config.Config.ShardScenarios]) and of the managed targets among them
// exist at 0 before their first run, and exports those scenarios'
// thresholds (replacing those of an earlier configuration), so that each
// scenario's series come from the one shard that runs it.
func Declare(m *exporters.Metrics, cfg *config.Config) {
	var thresholds []exporters.Threshold
	ownTarget := map[string]bool{}
	for _, sc := range cfg.ShardScenarios() {
		ownTarget[sc.Target] = true
		m.DeclareScenario(sc.Target, sc.Mode, sc.Endpoint)
		for _, t := range sc.Thresholds.Sorted() {
			thresholds = append(thresholds, exporters.Threshold{Target: sc.Target, Mode: sc.Mode, Endpoint: sc.Endpoint,
				Signal: t.Signal, Bound: t.Bound(), Value: t.Value})
		}
	}
	m.SetThresholds(thresholds)
	for _, t := range cfg.Targets {
		if t.Process != nil && ownTarget[t.Name] {
			m.DeclareTarget(t.Name)
		}
	}
}

// DaemonOptions are the parts a [Daemon] drives; all are required.
type DaemonOptions struct {
	// Load loads the configuration afresh for a reload (the command's
	// flags, the embedded default, the venv).
	Load      func(ctx context.Context) (*config.Config, error)
	Logger    *slog.Logger
	Scheduler *scheduler.Scheduler
	Metrics   *exporters.Metrics
	Detector  *Detector
	// Live holds the configuration in force; Reload replaces it.
	Live *atomic.Pointer[config.Config]
	// Retention is the history's --storage.retention: a reload whose
	// schedule it does not cover ([config.Config.CheckRetention], as at
	// start) is refused. 0 keeps the history forever (any schedule).
	Retention time.Duration
}

// Daemon is the write API's view of the running daemon (api.Control):
// reload, trigger, pause, resume and baseline acceptance, and the write
// token of the configuration in force. It is safe for concurrent use.
type Daemon struct {
	o      DaemonOptions
	reload sync.Mutex
	token  atomic.Pointer[string]
}

// NewDaemon returns the daemon of o, with the write token of cfg's
// api.token_file (see [Daemon.Token]), or an error reading it.
func NewDaemon(cfg *config.Config, o DaemonOptions) (*Daemon, error) {
	d := &Daemon{o: o}
	if err := d.setToken(cfg); err != nil {
		return nil, err
	}
	return d, nil
}

// Accept accepts scenario's current results as its new baseline.
func (d *Daemon) Accept(ctx context.Context, scenario string) (string, error) {
	runID, err := d.o.Detector.Accept(ctx, scenario)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return runID, err
}

// setToken reads cfg's api.token_file; no file switches the write API off.
func (d *Daemon) setToken(cfg *config.Config) error {
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

// Token returns the write API's bearer token; "" switches it off.
func (d *Daemon) Token() string { return *d.token.Load() }

// Reload re-reads the configuration and applies it to the next run; on
// error the old configuration stays. Every attempt is counted in the
// reload metrics.
func (d *Daemon) Reload() error {
	d.reload.Lock()
	defer d.reload.Unlock()
	err := d.tryReload()
	d.o.Metrics.ObserveReload(err == nil, time.Now())
	if err != nil {
		d.o.Logger.Error("config reload failed, keeping the old configuration", "err", err)
		return err
	}
	d.o.Logger.Info("config reloaded")
	return nil
}

func (d *Daemon) tryReload() error {
	cfg, err := d.o.Load(context.Background())
	if err != nil {
		return err
	}
	// The start's rule: a restart with this configuration would refuse it.
	if err := cfg.CheckRetention(d.o.Retention); err != nil {
		return err
	}
	if err := d.setToken(cfg); err != nil {
		return err
	}
	if err := d.o.Scheduler.ApplyConfig(cfg); err != nil {
		return err
	}
	d.o.Live.Store(cfg)
	Declare(d.o.Metrics, cfg)
	return nil
}

// TriggerRun starts a run now.
func (d *Daemon) TriggerRun(ctx context.Context) error {
	err := d.o.Scheduler.TriggerNow(ctx)
	if errors.Is(err, scheduler.ErrRunning) {
		return fmt.Errorf("%w: %w", api.ErrConflict, err)
	}
	return err
}

// Pause pauses the schedule.
func (d *Daemon) Pause() { d.o.Scheduler.Pause(); d.o.Logger.Info("schedule paused") }

// Resume resumes the schedule.
func (d *Daemon) Resume() { d.o.Scheduler.Resume(); d.o.Logger.Info("schedule resumed") }

// Status tells whether a run is in progress and the schedule paused.
func (d *Daemon) Status() (running, paused bool) {
	return d.o.Scheduler.Running(), d.o.Scheduler.Paused()
}

// ReloadOnSIGHUP reloads the configuration on each SIGHUP until ctx is done.
func (d *Daemon) ReloadOnSIGHUP(ctx context.Context) {
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
