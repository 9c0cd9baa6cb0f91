package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
)

// TestMatrixProgressCountsFinished: with interleaved repeats scenarios
// finish out of matrix order; the progress line counts those finished
// (before, it printed the finishing scenario's matrix index: [2/2] first,
// then [1/2] with nothing left).
func TestMatrixProgressCountsFinished(t *testing.T) {
	var progress bytes.Buffer
	o := &Progress{Format: "markdown", Progress: &progress}
	o.RunStarted(t.Context(), &scheduler.RunInfo{ID: "r", Start: time.Now()})
	for _, i := range []int{1, 0} {
		o.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{Scenario: config.Scenario{Name: fmt.Sprintf("t/-/e%d", i)}, Index: i, Total: 2})
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "[1/2] t/-/e1 ok") || !strings.HasPrefix(lines[2], "[2/2] t/-/e0 ok") {
		t.Errorf("progress:\n%s\nwant [1/2] for e1, then [2/2] for e0", progress.String())
	}
}

// TestInterruptedPrefix: the report package tells an interrupted scenario
// by the prefix of its stored error text, which the scheduler writes.
func TestInterruptedPrefix(t *testing.T) {
	err := fmt.Errorf("%w: %w", scheduler.ErrInterrupted, context.Canceled)
	if !strings.HasPrefix(err.Error(), report.InterruptedPrefix) {
		t.Errorf("%q does not start with report.InterruptedPrefix %q", err, report.InterruptedPrefix)
	}
}

// TestProgressStatus: the daemon's progress (no writers) logs each line,
// answers Status and exports the gauges, run after run.
func TestProgressStatus(t *testing.T) {
	var logs bytes.Buffer
	m := exporters.NewMetrics()
	o := &Progress{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: m}
	if _, ok := o.Status(); ok {
		t.Error("Status before a run: ok")
	}
	start := time.Now().Add(-30 * time.Second)
	o.RunStarted(t.Context(), &scheduler.RunInfo{ID: "r1", Trigger: "schedule", Start: start,
		Scenarios: make([]config.Scenario, 4)})
	o.TargetStarting(t.Context(), "gunicorn")
	o.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{Scenario: config.Scenario{Name: "gunicorn/sync/json", Target: "gunicorn"}, Total: 4,
		Record: &result.Scenario{Measurement: result.Measurement{Requests: 10}}})
	o.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{Scenario: config.Scenario{Name: "gunicorn/sync/db", Target: "gunicorn"}, Total: 4,
		Record: &result.Scenario{}})
	st, ok := o.Status()
	if !ok || !st.Running || st.RunID != "r1" || st.Trigger != "schedule" || st.Target != "gunicorn" || st.Done != 2 || st.Planned != 4 ||
		st.Last != "gunicorn/sync/db" || st.LastStatus != "no request completed" {
		t.Errorf("Status = %+v, %v", st, ok)
	}
	// 30 s for 2 scenarios: about 30 s for the 2 left.
	if st.Elapsed < 30*time.Second || st.Elapsed > 35*time.Second || st.Remaining != st.Elapsed {
		t.Errorf("Elapsed %s, Remaining %s; want about 30s each", st.Elapsed, st.Remaining)
	}
	for _, want := range []string{`msg="run progress" run_id=r1 progress=1/4 scenario=gunicorn/sync/json status=ok elapsed=30s`,
		`progress=2/4 scenario=gunicorn/sync/db status="no request completed"`, `left="about 30s"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	check := func(running, done, planned, remaining float64) {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "benchd_run_") && mf.GetType() == dto.MetricType_GAUGE && len(mf.GetMetric()) == 1 {
				got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		want := map[string]float64{"benchd_run_in_progress": running, "benchd_run_scenarios_done": done,
			"benchd_run_scenarios_planned": planned, "benchd_run_remaining_seconds": remaining}
		for name, v := range want {
			if g, ok := got[name]; !ok || g != v {
				t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
			}
		}
	}
	check(1, 2, 4, st.Remaining.Seconds())
	o.RunFinished(t.Context(), &scheduler.RunReport{})
	if st, _ := o.Status(); st.Running || st.Remaining != 0 || st.Done != 2 {
		t.Errorf("Status after the run = %+v", st)
	}
	check(0, 2, 4, 0)
}

// TestProgressCurrent: Status names the scenario repeat in progress from
// its ScenarioStarted until its scenario ends, none between scenarios or
// after the run; ETA is Start + Elapsed + Remaining while the run goes on,
// and the run's end and outcome are kept after it.
func TestProgressCurrent(t *testing.T) {
	o := &Progress{}
	start := time.Now().Add(-20 * time.Second)
	at := start.Add(time.Second)
	a, b := config.Scenario{Name: "u/-/a", Target: "u"}, config.Scenario{Name: "u/-/b", Target: "u"}
	info := &scheduler.RunInfo{ID: "r", Start: start, Scenarios: []config.Scenario{a, b}}
	var results []*scheduler.ScenarioResult
	started := func(sc config.Scenario, i, n int) func() {
		return func() {
			o.ScenarioStarted(t.Context(), &scheduler.ScenarioStart{RunID: "r", Scenario: sc, Total: 2, Repeat: i, Repeats: n, Start: at})
		}
	}
	finished := func(sc config.Scenario) func() {
		return func() {
			r := &scheduler.ScenarioResult{RunID: "r", Scenario: sc, Total: 2, Record: &result.Scenario{Measurement: result.Measurement{Requests: 1}}}
			results = append(results, r)
			o.ScenarioFinished(t.Context(), r)
		}
	}
	end := time.Now()
	steps := []struct {
		name    string
		do      func()
		target  string
		current CurrentScenario
		running bool
		eta     bool // an estimate of the end
	}{
		{"run started", func() { o.RunStarted(t.Context(), info) }, "", CurrentScenario{}, true, false},
		{"a 1/2", started(a, 1, 2), "u", CurrentScenario{Name: a.Name, Repeat: 1, Repeats: 2, Start: at}, true, false},
		{"b 1/2", started(b, 1, 2), "u", CurrentScenario{Name: b.Name, Repeat: 1, Repeats: 2, Start: at}, true, false},
		{"a 2/2", started(a, 2, 2), "u", CurrentScenario{Name: a.Name, Repeat: 2, Repeats: 2, Start: at}, true, false},
		{"a finished", finished(a), "u", CurrentScenario{}, true, true},
		{"b 2/2", started(b, 2, 2), "u", CurrentScenario{Name: b.Name, Repeat: 2, Repeats: 2, Start: at}, true, true},
		{"b finished", finished(b), "u", CurrentScenario{}, true, false},
		{"run finished", func() {
			o.RunFinished(t.Context(), &scheduler.RunReport{RunInfo: *info, Results: results, End: end})
		}, "u", CurrentScenario{}, false, false},
	}
	for _, s := range steps {
		s.do()
		st, ok := o.Status()
		if !ok || st.Current != s.current || st.Target != s.target || st.Running != s.running {
			t.Errorf("after %s: current %+v target %q running %v; want %+v %q %v", s.name, st.Current, st.Target, st.Running, s.current, s.target, s.running)
		}
		if eta := st.ETA(); eta.IsZero() == s.eta || s.eta && !eta.Equal(st.Start.Add(st.Elapsed+st.Remaining)) {
			t.Errorf("after %s: ETA %v (elapsed %s, remaining %s); want an estimate: %v", s.name, eta, st.Elapsed, st.Remaining, s.eta)
		}
	}
	if st, _ := o.Status(); !st.End.Equal(end) || st.Outcome != scheduler.OutcomeSuccess || st.Done != 2 {
		t.Errorf("after the run: end %v outcome %q done %d; want %v, success, 2", st.End, st.Outcome, st.Done, end)
	}
}
