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
