package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// detectTimeout bounds one pass of the regression detector.
const detectTimeout = time.Minute

// regressOptions returns the detector's options from cfg's regression
// section; zero fields keep the detector's defaults.
func regressOptions(cfg *config.Config) regress.Options {
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

// validityOptions returns the limits of a valid result from cfg.
func validityOptions(cfg *config.Config) regress.ValidityOptions {
	return regress.ValidityOptions{
		MaxLateRatio:           cfg.Regression.MaxLateRatio,
		MaxSchedulerLatencyP99: cfg.Regression.MaxSchedulerLatency,
		MaxForeignCPURatio:     cfg.Regression.MaxForeignCPU,
	}
}

// detector runs the regression detector over the run history of every
// configured scenario after each run (and once at start-up) and exports
// its verdicts.
type detector struct {
	scheduler.NopObserver
	st   store.Store
	regs *exporters.Regressions
	log  *slog.Logger
	cfg  func() *config.Config
}

// signals maps each detector signal to its value in a stored result, or
// in one repeat of it.
var signals = []struct {
	signal regress.Signal
	value  func(*store.Scenario) float64
	repeat func(*store.Repeat) float64
}{
	{regress.SignalThroughput, func(s *store.Scenario) float64 { return s.RequestsPerSecond }, func(r *store.Repeat) float64 { return r.RequestsPerSecond }},
	{regress.SignalLatencyP50, func(s *store.Scenario) float64 { return s.P50 }, func(r *store.Repeat) float64 { return r.P50 }},
	{regress.SignalLatencyP99, func(s *store.Scenario) float64 { return s.P99 }, func(r *store.Repeat) float64 { return r.P99 }},
	{regress.SignalErrorRatio, func(s *store.Scenario) float64 { return s.ErrorRatio }, func(r *store.Repeat) float64 { return r.ErrorRatio }},
	{regress.SignalTimeoutRatio, func(s *store.Scenario) float64 { return s.TimeoutRatio }, func(r *store.Repeat) float64 { return r.TimeoutRatio }},
}

// runValue is the value of a signal for one stored result: with repeats,
// the median over the repeats that have one (docs/regressions.md: the
// median keeps one bad repeat from moving the run); else the result's own.
// NaN when there is none.
func runValue(s *store.Scenario, value func(*store.Scenario) float64, repeat func(*store.Repeat) float64) float64 {
	if len(s.Repeats) == 0 {
		return value(s)
	}
	vs := make([]float64, 0, len(s.Repeats))
	for i := range s.Repeats {
		if v := repeat(&s.Repeats[i]); !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	return regress.Median(vs)
}

// detect reads the history, runs the detector and exports the verdicts.
func (d *detector) detect(ctx context.Context) ([]regress.Verdict, error) {
	series := map[regress.SeriesKey][]regress.Point{}
	cfg := d.cfg()
	for _, sc := range cfg.Scenarios() {
		hist, err := d.st.History(ctx, sc.Name, store.HistoryQuery{Limit: regress.DefaultMaxHistory})
		if err != nil {
			return nil, err
		}
		accepted, err := d.st.Accepted(ctx, sc.Name)
		if err != nil {
			return nil, err
		}
		for i := range hist {
			h := &hist[i]
			for _, sig := range signals {
				v := runValue(h, sig.value, sig.repeat)
				k := regress.SeriesKey{Scenario: sc.Name, Signal: sig.signal}
				series[k] = append(series[k], regress.Point{
					RunID: h.RunID, Time: h.Start, Value: v,
					Valid:    h.Valid && h.Error == "" && !math.IsNaN(v),
					Accepted: accepted[h.RunID],
				})
			}
		}
	}
	vs := regress.Detect(series, regressOptions(cfg))
	d.regs.Set(vs)
	for _, v := range vs {
		if v.Regressed {
			d.log.Warn("regression detected", "scenario", v.Scenario, "signal", v.Signal,
				"change_ratio", v.ChangeRatio, "p_value", v.PValue, "q_value", v.QValue)
		}
	}
	return vs, nil
}

// RunFinished runs the detector on the history the run just extended.
func (d *detector) RunFinished(*scheduler.RunReport) {
	ctx, cancel := context.WithTimeout(context.Background(), detectTimeout)
	defer cancel()
	if _, err := d.detect(ctx); err != nil {
		d.log.Error("regression detection failed", "err", err)
	}
}

// accept accepts the newest result of scenario as its new baseline and
// runs the detector again, so that an accepted change clears at once.
func (d *detector) accept(ctx context.Context, scenario string) (string, error) {
	if _, ok := d.cfg().Scenario(scenario); !ok {
		return "", fmt.Errorf("%w: no scenario %q in the configuration", store.ErrNotFound, scenario)
	}
	runID, err := d.st.Accept(ctx, scenario, time.Now())
	if err != nil {
		return "", err
	}
	d.log.Info("baseline accepted", "scenario", scenario, "run_id", runID)
	if _, err := d.detect(ctx); err != nil {
		d.log.Error("regression detection failed", "err", err)
	}
	return runID, nil
}

// baselineFlags are the arguments of `benchd baseline accept`.
type baselineFlags struct{ scenario string }

func addBaselineFlags(c *kingpin.CmdClause, f *baselineFlags) {
	c.Arg("scenario", "Scenario whose current results become its new baseline, target/mode/endpoint.").Required().StringVar(&f.scenario)
}

// runBaselineAccept accepts a scenario's newest result as its new baseline
// in the history under --storage.path. While a daemon holds that history,
// use its API instead (POST /api/v1/baselines/{target}/{mode}/{endpoint}/accept).
func runBaselineAccept(ctx context.Context, f *flags, stdout io.Writer, logger *slog.Logger) error {
	cfg, err := loadConfig(ctx, f, logger, false)
	if err != nil {
		return err
	}
	if _, ok := cfg.Scenario(f.baseline.scenario); !ok {
		return usageError{fmt.Errorf("no scenario %q in the configuration (names are target/mode/endpoint)", f.baseline.scenario)}
	}
	st, err := openStore(ctx, f, logger, matrixStoreWait)
	if err != nil {
		return fmt.Errorf("%w (if benchd serve is running, use POST /api/v1/baselines/%s/accept)", err, f.baseline.scenario)
	}
	defer st.Close()
	runID, err := st.Accept(ctx, f.baseline.scenario, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: baseline accepted from run %s on\n", f.baseline.scenario, runID)
	return nil
}
