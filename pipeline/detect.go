package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// detectTimeout bounds a read of the history for the detector.
const detectTimeout = time.Minute

// RegressOptions returns the detector's options from cfg's regression
// section; zero fields keep the detector's defaults.
func RegressOptions(cfg *config.Config) regress.Options {
	r := cfg.Regression
	o := regress.Options{Confirm: r.Confirm, BaselineRuns: r.BaselineRuns, FDR: r.FDR}
	if len(r.MinEffect) > 0 {
		o.MinEffect = regress.DefaultMinEffect()
		for name, v := range r.MinEffect {
			o.MinEffect[regress.Signal(name)] = v
		}
	}
	return o
}

// DetectorOptions configure the detector stage of a [Pipeline].
type DetectorOptions struct {
	// Store is the run history the series are read from at start and
	// after an accepted baseline. Required.
	Store store.Store
	// Regressions exports the verdicts; nil exports none.
	Regressions *exporters.Regressions
	// Config returns the current configuration: its scenarios are the
	// series tested, its regression section the detector's options.
	// Required.
	Config func() *config.Config
	// Logger logs regressions found and failed reads; nil discards.
	Logger *slog.Logger
	// Loaded, when set, is given each scenario's history as the detector
	// reads it (Load, a configuration's new scenario, an accepted
	// baseline): the newest regress.DefaultMaxHistory results, oldest
	// first, without their histograms, so that another reader of the same
	// results (the results UI's ui.Feed.Loaded) need not read them again.
	// It is called from the reading goroutine, must not block for long,
	// and may keep hist.
	Loaded func(scenario string, hist []result.Scenario)
}

// Detector runs the regression detector after each run over the series of
// every configured scenario and exports its verdicts. It reads the history
// once ([Detector.Load]), then takes each result's points as it passes
// (ScenarioFinished), keeping the newest regress.DefaultMaxHistory per
// series; an accepted baseline re-reads that scenario. A result whose
// settings hash differs from its scenario's previous one starts a new
// baseline segment, as an accepted one does (the store records it with
// the result, so a reload finds it too): docs/regressions.md. It is safe
// for concurrent use.
type Detector struct {
	scheduler.NopObserver
	o DetectorOptions

	mu       sync.Mutex
	series   map[string]signalPoints    // by scenario name
	settings map[string]result.Settings // by scenario name: the newest result's that has a hash
}

// signalPoints are one scenario's points, one slice per signal.
type signalPoints map[regress.Signal][]regress.Point

// NewDetector returns the detector stage of o, with no series: call Load.
func NewDetector(o DetectorOptions) *Detector {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Detector{o: o, series: map[string]signalPoints{}, settings: map[string]result.Settings{}}
}

// Load reads the series of every configured scenario from the history
// and runs the detector, so that verdicts exist before the first run.
func (d *Detector) Load(ctx context.Context) ([]regress.Verdict, error) {
	for _, sc := range d.o.Config().ShardScenarios() {
		if err := d.load(ctx, sc.Name); err != nil {
			return nil, err
		}
	}
	return d.Detect(), nil
}

// load (re)reads scenario's series from the history.
func (d *Detector) load(ctx context.Context, scenario string) error {
	hist, err := d.o.Store.History(ctx, scenario, store.HistoryQuery{Limit: regress.DefaultMaxHistory, NoHistograms: true})
	if err != nil {
		return err
	}
	accepted, err := d.o.Store.Accepted(ctx, scenario)
	if err != nil {
		return err
	}
	s := signalPoints{}
	var last result.Settings
	for i := range hist {
		rec := &hist[i]
		start := accepted[rec.RunID] || rec.ChangeReason(last) != ""
		if rec.SettingsHash != "" {
			last = rec.Settings
		}
		for _, sig := range regress.Signals {
			s[sig] = append(s[sig], sig.Point(rec, start))
		}
	}
	d.mu.Lock()
	d.series[scenario] = s
	d.settings[scenario] = last
	d.mu.Unlock()
	if d.o.Loaded != nil {
		d.o.Loaded(scenario, hist)
	}
	return nil
}

// ScenarioFinished adds the result's points to its scenario's series; a
// change of its settings starts a new baseline segment there.
func (d *Detector) ScenarioFinished(_ context.Context, r *scheduler.ScenarioResult) {
	rec := r.Record
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.series[rec.Name]
	if s == nil {
		s = signalPoints{}
		d.series[rec.Name] = s
	}
	reason := rec.ChangeReason(d.settings[rec.Name])
	if reason != "" {
		d.o.Logger.Info("baseline segment started", "scenario", rec.Name, "run_id", rec.RunID, "reason", reason)
	}
	if rec.SettingsHash != "" {
		d.settings[rec.Name] = rec.Settings
	}
	for _, sig := range regress.Signals {
		s[sig] = append(s[sig], sig.Point(rec, reason != ""))
		if n := len(s[sig]) - regress.DefaultMaxHistory; n > 0 {
			s[sig] = append([]regress.Point(nil), s[sig][n:]...)
		}
	}
}

// RunFinished runs the detector on the series the run just extended,
// after reading those of scenarios the configuration gained since Load.
func (d *Detector) RunFinished(context.Context, *scheduler.RunReport) {
	ctx, cancel := context.WithTimeout(context.Background(), detectTimeout)
	defer cancel()
	for _, sc := range d.o.Config().ShardScenarios() {
		d.mu.Lock()
		_, ok := d.series[sc.Name]
		d.mu.Unlock()
		if !ok {
			if err := d.load(ctx, sc.Name); err != nil {
				d.o.Logger.Error("regression detection: reading the history failed", "scenario", sc.Name, "err", err)
			}
		}
	}
	d.Detect()
}

// Detect runs the detector over the series of the configured scenarios,
// exports the verdicts and logs the regressions.
func (d *Detector) Detect() []regress.Verdict {
	cfg := d.o.Config()
	series := map[regress.SeriesKey][]regress.Point{}
	d.mu.Lock()
	for _, sc := range cfg.ShardScenarios() {
		s := d.series[sc.Name]
		if s == nil {
			continue
		}
		for sig, pts := range s {
			series[regress.SeriesKey{Scenario: sc.Name, Signal: sig}] = pts
		}
	}
	vs := regress.Detect(series, RegressOptions(cfg))
	d.mu.Unlock()
	if d.o.Regressions != nil {
		d.o.Regressions.Set(vs)
	}
	for _, v := range vs {
		if v.Regressed {
			d.o.Logger.Warn("regression detected", "scenario", v.Scenario, "signal", v.Signal,
				"change_ratio", v.ChangeRatio, "p_value", v.PValue, "q_value", v.QValue)
		}
	}
	return vs
}

// Accept accepts the newest result of scenario as its new baseline,
// re-reads its series and runs the detector again, so that an accepted
// change clears at once. It returns the ID of the run that starts the new
// baseline.
func (d *Detector) Accept(ctx context.Context, scenario string) (string, error) {
	if _, ok := d.o.Config().Scenario(scenario); !ok {
		return "", fmt.Errorf("%w: no scenario %q in the configuration", store.ErrNotFound, scenario)
	}
	runID, err := d.o.Store.Accept(ctx, scenario, time.Now())
	if err != nil {
		return "", err
	}
	d.o.Logger.Info("baseline accepted", "scenario", scenario, "run_id", runID)
	ctx, cancel := context.WithTimeout(ctx, detectTimeout)
	defer cancel()
	if err := d.load(ctx, scenario); err != nil {
		d.o.Logger.Error("regression detection failed", "err", err)
	}
	d.Detect()
	return runID, nil
}
