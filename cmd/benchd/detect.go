package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
			for _, sig := range regress.Signals {
				k := regress.SeriesKey{Scenario: sc.Name, Signal: sig}
				series[k] = append(series[k], sig.Point(h, accepted[h.RunID]))
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
