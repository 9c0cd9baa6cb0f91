package ui

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

const timeoutKind = engine.KindTimeout

// runPage is the run page: the run's facts, then one section per scenario.
type runPage struct {
	ID, Outcome, Trigger, Start, End, Marker, Version, Err string
	PrevID, PrevURL                                        string
	Scenarios                                              []runScenario
	// hist holds, on a served page, the scenarios' latency histograms by
	// name, for the plot images (runCache).
	hist map[string]result.Histogram
}

type runScenario struct {
	Name, Anchor, ScenarioURL string
	Wrk                       string
	Error                     string
	Valid                     bool
	Why                       string
	Plot                      template.HTML // inline, in the report file
	PlotURL                   string        // the image of the plot, on a served page
	Diff                      []diffRow     // against the previous run; nil when it lacks the scenario
}

type diffRow struct {
	Metric, Before, After, Change string
	Worse                         bool
}

// runView reads run id and the run before it; c (nil for a report file)
// keeps the wrk blocks it writes.
func runView(ctx context.Context, st Source, id string, l links, c *runCache) (*runPage, error) {
	run, err := st.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &runPage{ID: run.ID, Outcome: store.ShownOutcome(run.Outcome), Trigger: run.Trigger, Start: run.Start.UTC().Format("2006-01-02 15:04:05 MST"),
		Marker: run.Marker, Version: run.Version, Err: run.Err, hist: map[string]result.Histogram{}}
	if !run.End.IsZero() {
		v.End = run.End.UTC().Format("2006-01-02 15:04:05 MST")
	}
	prev := map[string]*result.Scenario{}
	older, err := st.Runs(ctx, store.RunQuery{Limit: 1, Before: run.Start})
	if err != nil {
		return nil, fmt.Errorf("runs before %s: %w", id, err)
	}
	if len(older) > 0 {
		p, err := st.Run(ctx, older[0].ID)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", older[0].ID, err)
		}
		v.PrevID = p.ID
		if !l.Static {
			v.PrevURL = RunPath(p.ID)
		}
		for i := range p.Scenarios {
			prev[p.Scenarios[i].Name] = &p.Scenarios[i]
		}
	}
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		rs := runScenario{Name: s.Name, Anchor: anchor(s.Name), ScenarioURL: ScenarioPath(s.Name), Error: s.Error,
			Valid: s.Valid && s.Error == "", Why: strings.Join(s.InvalidReasons, ", ")}
		if l.Static {
			rs.ScenarioURL = ""
		}
		if s.Ran() {
			if rs.Wrk, err = c.wrkBlock(run.ID, s); err != nil {
				return nil, err
			}
		}
		// The report file holds its plots; a served page shows each as
		// an image of its own (LatencyPlotPath), drawn when the browser
		// asks for it (the page took 228 ms with its 80 plots, 100 ms without).
		switch {
		case l.Static:
			plot, _, err := latencyPlot("latency by percentile: "+s.Name, s.LatencyHistogram)
			if err != nil {
				return nil, fmt.Errorf("latency plot of %s: %w", s.Name, err)
			}
			rs.Plot = plot
		case len(s.LatencyHistogram) > 0:
			rs.PlotURL = LatencyPlotPath(run.ID, s.Name)
			v.hist[s.Name] = s.LatencyHistogram
		}
		if p := prev[s.Name]; p != nil {
			rs.Diff = diff(p, s)
		}
		v.Scenarios = append(v.Scenarios, rs)
	}
	return v, nil
}

// diff compares a scenario's result b with its previous a; Worse marks a
// change of more than 5 % in the worse direction (a hint for the eye, not
// the detector's verdict).
func diff(a, b *result.Scenario) []diffRow {
	row := func(metric string, x, y float64, format func(float64) string, dir float64) diffRow {
		r := diffRow{Metric: metric, Before: format(x), After: format(y), Change: "-"}
		if finite(x) && finite(y) && x != 0 {
			c := y/x - 1
			r.Change = fmt.Sprintf("%+.1f%%", 100*c)
			r.Worse = c*dir > 0.05
		}
		return r
	}
	ratio := func(v float64) string {
		if !finite(v) {
			return "-"
		}
		return fmt.Sprintf("%.3g%%", 100*v)
	}
	return []diffRow{
		row("requests/s", a.RequestsPerSecond, b.RequestsPerSecond, formatRate, -1),
		row("latency p50", a.P50(), b.P50(), formatSeconds, 1),
		row("latency p99", a.P99(), b.P99(), formatSeconds, 1),
		row("error ratio", a.ErrorRatio, b.ErrorRatio, ratio, 1),
		row("timeout ratio", a.TimeoutRatio, b.TimeoutRatio, ratio, 1),
		row("timeouts", float64(a.Errors[timeoutKind]), float64(b.Errors[timeoutKind]), func(v float64) string { return fmt.Sprint(math.Round(v)) }, 1),
	}
}
