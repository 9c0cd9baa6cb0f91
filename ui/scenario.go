package ui

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/store"
)

// scenarioPage is the scenario page: one section per signal.
type scenarioPage struct {
	Name       string
	Verdict    string
	Why        string
	Runs       int
	Invalid    int
	Signals    []signalView
	History    []historyRow // newest first
	AcceptPath string       // the form's action; "" when the write API is off
	Accepted   string       // the run ID a baseline was just accepted from
	// NoResult is a configured scenario with no result yet: Plan holds its
	// settings, as `benchd matrix --dry-run` prints them, and nothing else
	// but Name, Verdict and Why is set.
	NoResult bool
	Plan     string
}

type signalView struct {
	Signal     regress.Signal
	Verdict    string // regression, ok or untested
	Reason     string
	Current    string
	Median     string
	Change     string
	Detectable string
	ChangeAt   string
	Plot       template.HTML
}

type historyRow struct {
	RunID, RunURL string
	Start         string
	RPS, P99      string
	Timeouts      uint64
	Valid         bool
	Why           string
	Marker        string
	Accepted      bool
}

// scenarioView reads name's history and verdicts. A configured scenario
// with no result yet gets a page of its settings (NoResult); any other
// name without a result an error wrapping store.ErrNotFound that names the
// closest configured scenario.
func scenarioView(ctx context.Context, o Options, c *cache, name string) (*scenarioPage, error) {
	// The detector tests every configured scenario at once (the
	// Benjamini-Hochberg adjustment is across them all): the verdicts of
	// this page are those of the matrix.
	snap, err := load(ctx, o, c)
	if err != nil {
		return nil, err
	}
	if _, ok := snap.hist[name]; !ok { // not configured: tested alone
		if snap, err = newCache().refresh(ctx, o, []string{name}); err != nil {
			return nil, err
		}
	}
	h, accepted, vs := snap.hist[name], snap.accepted[name], snap.verdicts[name]
	if len(h) == 0 {
		return noResultView(o, name)
	}
	markers, err := runMarkers(ctx, o.Store, h[0].Start)
	if err != nil {
		return nil, err
	}
	v := &scenarioPage{Name: name, Runs: len(h)}
	v.Verdict, v.Why = verdictOf(vs, &h[len(h)-1])
	bySignal := map[regress.Signal]*regress.Verdict{}
	for i := range vs {
		bySignal[vs[i].Signal] = &vs[i]
	}
	for _, sig := range regress.Signals {
		vd := bySignal[sig]
		svg, ok, err := signalPlot(sig, h, vd, accepted, markers)
		if err != nil {
			return nil, fmt.Errorf("plot %s of %s: %w", sig, name, err)
		}
		if !ok {
			continue // no value in any run (cpu_per_request of an unmanaged target)
		}
		v.Signals = append(v.Signals, signalOf(sig, vd, svg))
	}
	for i := len(h) - 1; i >= 0; i-- {
		s := &h[i]
		if !s.Valid {
			v.Invalid++
		}
		v.History = append(v.History, historyRow{RunID: s.RunID, RunURL: RunPath(s.RunID), Start: s.Start.UTC().Format(time.DateTime),
			RPS: formatRate(s.RPS), P99: formatSeconds(s.P99), Timeouts: s.Timeouts,
			Valid: s.Valid, Why: s.why(), Marker: markers[s.RunID], Accepted: accepted[s.RunID]})
	}
	return v, nil
}

func signalOf(sig regress.Signal, v *regress.Verdict, plot template.HTML) signalView {
	sv := signalView{Signal: sig, Plot: plot, Verdict: VerdictUntested, Current: "-", Median: "-", Change: "-", Detectable: "-", ChangeAt: "-"}
	if v == nil {
		sv.Reason = "not tested"
		return sv
	}
	sv.Reason = v.Reason
	if v.Tested {
		sv.Verdict = VerdictOK
	}
	if v.Regressed {
		sv.Verdict = VerdictRegression
	}
	sv.Current = formatSignal(sig, v.Current)
	if v.BaselineN > 0 {
		sv.Median = formatSignal(sig, v.BaselineMedian)
		sv.Change = fmt.Sprintf("%+.1f%%", 100*v.ChangeRatio)
	}
	switch d := v.DetectableChange; {
	case math.IsInf(d, 0):
		sv.Detectable = "none detectable"
	case d != 0:
		sv.Detectable = fmt.Sprintf("%+.1f%%", 100*d)
	}
	if cp := v.ChangePoint; cp != nil {
		sv.ChangeAt = fmt.Sprintf("%s (run %s, p=%.2g)", cp.Time.UTC().Format(time.DateTime), cp.RunID, cp.PValue)
	}
	return sv
}

// runMarkers returns the deploy markers of the runs that started at or
// after since, by run ID.
func runMarkers(ctx context.Context, st Source, since time.Time) (map[string]string, error) {
	out := map[string]string{}
	var before time.Time
	for {
		runs, err := st.Runs(ctx, store.RunQuery{Limit: 1000, Before: before})
		if err != nil {
			return nil, fmt.Errorf("runs: %w", err)
		}
		for _, r := range runs {
			if r.Marker != "" {
				out[r.ID] = r.Marker
			}
		}
		if len(runs) < 1000 || runs[len(runs)-1].Start.Before(since) {
			return out, nil
		}
		before = runs[len(runs)-1].Start
	}
}

// noResultView is the page of name, a scenario without a result: its
// settings when o's configuration has it, else an error wrapping
// store.ErrNotFound that names the closest configured scenario.
func noResultView(o Options, name string) (*scenarioPage, error) {
	var cfg *config.Config
	if o.Config != nil {
		cfg = o.Config()
	}
	if cfg == nil {
		return nil, fmt.Errorf("ui: no result of scenario %q in the history: %w", name, store.ErrNotFound)
	}
	sc, ok := cfg.Scenario(name)
	if !ok {
		return nil, fmt.Errorf("ui: %s: %w", cfg.UnknownScenario(name), store.ErrNotFound)
	}
	var b strings.Builder
	if err := report.WritePlan(&b, []config.Scenario{sc}, cfg); err != nil {
		return nil, fmt.Errorf("settings of %s: %w", name, err)
	}
	return &scenarioPage{Name: name, Verdict: VerdictUntested, Why: "no result yet", NoResult: true, Plan: b.String()}, nil
}
