package exporters

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/trace"

	"github.com/benchd/benchd/regress"
)

// TestWithShard registers Metrics and Regressions through WithShard: the
// scenario series carry shard="2" beside their own labels with the values
// observed, every benchd metric carries it, and the names still lint.
func TestWithShard(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, regs := NewMetrics(), NewRegressions()
	WithShard(reg, 2).MustRegister(m, regs)
	end := time.Unix(1700000000, 0)
	m.ObserveScenario(observed("gunicorn-gevent", "sync", "json", knownResult(t), end), trace.SpanContext{})
	m.ObserveRun("success", end.Add(-time.Minute), end)
	regs.Set([]regress.Verdict{{Scenario: "gunicorn-gevent/sync/json", Signal: regress.SignalThroughput, Regressed: true, ChangeRatio: -0.2, PValue: 0.01, QValue: 0.02, BaselineN: 5}})

	const want = `
# HELP benchd_request_timeouts_total Requests whose deadline fired before the response was complete.
# TYPE benchd_request_timeouts_total counter
benchd_request_timeouts_total{endpoint="json",mode="sync",shard="2",target="gunicorn-gevent"} 1
# HELP benchd_scenario_requests_per_second Completed requests per second of the last run of the scenario (wrk's Requests/sec without late answers).
# TYPE benchd_scenario_requests_per_second gauge
benchd_scenario_requests_per_second{endpoint="json",mode="sync",shard="2",target="gunicorn-gevent"} 2
# HELP benchd_scenario_up 1 if the last run of the scenario applied load (target ready, connections made), else 0.
# TYPE benchd_scenario_up gauge
benchd_scenario_up{endpoint="json",mode="sync",shard="2",target="gunicorn-gevent"} 1
# HELP benchd_runs_total Matrix runs by result: success (every scenario ran), failed (a scenario failed or the run was cut short), skipped (a scheduled tick fired while a run was in progress).
# TYPE benchd_runs_total counter
benchd_runs_total{result="failed",shard="2"} 0
benchd_runs_total{result="skipped",shard="2"} 0
benchd_runs_total{result="success",shard="2"} 1
# HELP benchd_regression_detected 1 when the detector confirmed a regression of the signal in the newest runs of the scenario (docs/regressions.md), else 0.
# TYPE benchd_regression_detected gauge
benchd_regression_detected{endpoint="json",mode="sync",shard="2",signal="throughput",target="gunicorn-gevent"} 1
`
	names := []string{"benchd_request_timeouts_total", "benchd_scenario_requests_per_second", "benchd_scenario_up",
		"benchd_runs_total", "benchd_regression_detected"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		for _, s := range f.GetMetric() {
			n++
			shard := ""
			for _, l := range s.GetLabel() {
				if l.GetName() == ShardLabel {
					shard = l.GetValue()
				}
			}
			if shard != "2" {
				t.Errorf("%s %v: shard %q, want \"2\"", f.GetName(), s.GetLabel(), shard)
			}
		}
	}
	if n < 30 {
		t.Errorf("%d series gathered, want benchd's 30 or more", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
