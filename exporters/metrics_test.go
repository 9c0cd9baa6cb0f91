package exporters

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"go.opentelemetry.io/otel/trace"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
)

// knownResult returns a result with exactly known counts and latencies:
// 4 responses at 1 ms, 3 ms, 300 ms and 1.2 s (values HDR keeps exactly at
// 3 significant digits), 1 timeout, 1 connect error.
// observed is the record of engine result r (nil: no load applied) of
// scenario target/mode/endpoint, ended at end.
func observed(target, mode, endpoint string, r *engine.Result, end time.Time) *result.Scenario {
	rec := result.FromEngine(r)
	rec.Name, rec.Target, rec.Mode, rec.Endpoint, rec.End = target+"/"+mode+"/"+endpoint, target, mode, endpoint, end
	return &rec
}

func knownResult(t *testing.T) *engine.Result {
	t.Helper()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for _, us := range []int64{1000, 3000, 300_000, 1_200_000} {
		if err := h.RecordValue(us); err != nil {
			t.Fatal(err)
		}
	}
	r := &engine.Result{
		Plan:                   engine.Plan{URL: "http://127.0.0.1:1/x", Connections: 2, Timeout: 2 * time.Second},
		Elapsed:                2 * time.Second,
		Sent:                   7,
		BytesRead:              1000,
		ConnectionsEstablished: 2,
		Latency:                h,
	}
	r.Responses[engine.Class2xx] = 3
	r.Responses[engine.Class5xx] = 1
	r.Unexpected = 1 // the 5xx, as the engine counts it under the default expect
	r.Errors[engine.KindTimeout] = 1
	r.Errors[engine.KindConnect] = 1
	r.InFlight = 1
	return r
}

func TestMetricsValues(t *testing.T) {
	m := NewMetrics()
	end := time.Unix(1700000000, 0)
	m.ObserveScenario(observed("gunicorn-gevent", "sync", "json", knownResult(t), end), trace.SpanContext{})
	m.ObserveScenario(observed("gunicorn-gevent", "sync", "json", knownResult(t), end.Add(time.Hour)), trace.SpanContext{})
	m.ObserveScenario(observed("hypercorn-uvloop", "async", "json", nil, end), trace.SpanContext{})
	m.ObserveRun("success", end.Add(-time.Minute), end)
	m.RunSkipped()
	m.SetTargetUp("gunicorn-gevent", true)
	m.SetTargetUp("hypercorn-uvloop", false)
	m.TargetStartFailed("hypercorn-uvloop")

	// Two runs of the first scenario: counters doubled, last-run gauges
	// from the second; the failed scenario has zero counters and is down.
	const want = `
# HELP benchd_requests_total Completed requests (responses received within the timeout), by status class, warm-up excluded.
# TYPE benchd_requests_total counter
benchd_requests_total{class="2xx",endpoint="json",mode="sync",target="gunicorn-gevent"} 6
benchd_requests_total{class="3xx",endpoint="json",mode="sync",target="gunicorn-gevent"} 0
benchd_requests_total{class="4xx",endpoint="json",mode="sync",target="gunicorn-gevent"} 0
benchd_requests_total{class="5xx",endpoint="json",mode="sync",target="gunicorn-gevent"} 2
benchd_requests_total{class="2xx",endpoint="json",mode="async",target="hypercorn-uvloop"} 0
benchd_requests_total{class="3xx",endpoint="json",mode="async",target="hypercorn-uvloop"} 0
benchd_requests_total{class="4xx",endpoint="json",mode="async",target="hypercorn-uvloop"} 0
benchd_requests_total{class="5xx",endpoint="json",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_request_errors_total Failed requests by kind: connect, read, write, timeout (deadline fired), closed (server closed a kept-alive connection).
# TYPE benchd_request_errors_total counter
benchd_request_errors_total{endpoint="json",kind="closed",mode="sync",target="gunicorn-gevent"} 0
benchd_request_errors_total{endpoint="json",kind="connect",mode="sync",target="gunicorn-gevent"} 2
benchd_request_errors_total{endpoint="json",kind="read",mode="sync",target="gunicorn-gevent"} 0
benchd_request_errors_total{endpoint="json",kind="timeout",mode="sync",target="gunicorn-gevent"} 2
benchd_request_errors_total{endpoint="json",kind="write",mode="sync",target="gunicorn-gevent"} 0
benchd_request_errors_total{endpoint="json",kind="closed",mode="async",target="hypercorn-uvloop"} 0
benchd_request_errors_total{endpoint="json",kind="connect",mode="async",target="hypercorn-uvloop"} 0
benchd_request_errors_total{endpoint="json",kind="read",mode="async",target="hypercorn-uvloop"} 0
benchd_request_errors_total{endpoint="json",kind="timeout",mode="async",target="hypercorn-uvloop"} 0
benchd_request_errors_total{endpoint="json",kind="write",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_request_timeouts_total Requests whose deadline fired before the response was complete.
# TYPE benchd_request_timeouts_total counter
benchd_request_timeouts_total{endpoint="json",mode="sync",target="gunicorn-gevent"} 2
benchd_request_timeouts_total{endpoint="json",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_response_bytes_total Response bytes read on the wire (status line, headers and body).
# TYPE benchd_response_bytes_total counter
benchd_response_bytes_total{endpoint="json",mode="sync",target="gunicorn-gevent"} 2000
benchd_response_bytes_total{endpoint="json",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_scenario_requests_per_second Completed requests per second of the last run of the scenario (wrk's Requests/sec without late answers).
# TYPE benchd_scenario_requests_per_second gauge
benchd_scenario_requests_per_second{endpoint="json",mode="sync",target="gunicorn-gevent"} 2
benchd_scenario_requests_per_second{endpoint="json",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_scenario_timeout_ratio Timeouts divided by requests sent, last run of the scenario.
# TYPE benchd_scenario_timeout_ratio gauge
benchd_scenario_timeout_ratio{endpoint="json",mode="sync",target="gunicorn-gevent"} 0.14285714285714285
benchd_scenario_timeout_ratio{endpoint="json",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_scenario_error_ratio Socket errors (timeouts included) plus unexpected responses (by default 4xx/5xx), divided by requests sent, last run of the scenario.
# TYPE benchd_scenario_error_ratio gauge
benchd_scenario_error_ratio{endpoint="json",mode="sync",target="gunicorn-gevent"} 0.42857142857142855
benchd_scenario_error_ratio{endpoint="json",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_scenario_up 1 if the last run of the scenario applied load (target ready, connections made), else 0.
# TYPE benchd_scenario_up gauge
benchd_scenario_up{endpoint="json",mode="sync",target="gunicorn-gevent"} 1
benchd_scenario_up{endpoint="json",mode="async",target="hypercorn-uvloop"} 0
# HELP benchd_scenario_last_run_timestamp_seconds Unix time when the last run of the scenario ended.
# TYPE benchd_scenario_last_run_timestamp_seconds gauge
benchd_scenario_last_run_timestamp_seconds{endpoint="json",mode="sync",target="gunicorn-gevent"} 1.7000036e+09
benchd_scenario_last_run_timestamp_seconds{endpoint="json",mode="async",target="hypercorn-uvloop"} 1.7e+09
# HELP benchd_runs_total Matrix runs by result: success (every scenario ran), failed (a scenario failed or the run was cut short), skipped (a scheduled tick fired while a run was in progress).
# TYPE benchd_runs_total counter
benchd_runs_total{result="failed"} 0
benchd_runs_total{result="skipped"} 1
benchd_runs_total{result="success"} 1
# HELP benchd_run_duration_seconds Wall time of the last matrix run.
# TYPE benchd_run_duration_seconds gauge
benchd_run_duration_seconds 60
# HELP benchd_target_up 1 while a managed target is started and ready, 0 when it is stopped or failed to start.
# TYPE benchd_target_up gauge
benchd_target_up{target="gunicorn-gevent"} 1
benchd_target_up{target="hypercorn-uvloop"} 0
# HELP benchd_target_start_failures_total Times a managed target (or a service it needs) failed to start.
# TYPE benchd_target_start_failures_total counter
benchd_target_start_failures_total{target="gunicorn-gevent"} 0
benchd_target_start_failures_total{target="hypercorn-uvloop"} 1
`
	names := []string{
		"benchd_requests_total", "benchd_request_errors_total", "benchd_request_timeouts_total",
		"benchd_response_bytes_total", "benchd_scenario_requests_per_second", "benchd_scenario_timeout_ratio",
		"benchd_scenario_error_ratio", "benchd_scenario_up", "benchd_scenario_last_run_timestamp_seconds",
		"benchd_runs_total", "benchd_run_duration_seconds", "benchd_target_up", "benchd_target_start_failures_total",
	}
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// TestMetricsHistogramAndSummary checks the bucket placement of known
// latencies and the exact per-run quantiles.
func TestMetricsHistogramAndSummary(t *testing.T) {
	m := NewMetrics()
	m.ObserveScenario(observed("t", "-", "e", knownResult(t), time.Unix(0, 0)), trace.SpanContext{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		switch f.GetName() {
		case "benchd_request_duration_seconds":
			h := f.Metric[0].Histogram
			if h.GetSampleCount() != 4 {
				t.Errorf("histogram count %d, want 4", h.GetSampleCount())
			}
			// Sum within HDR's 3 significant digits of 1.504 s.
			if s := h.GetSampleSum(); s < 1.503 || s > 1.506 {
				t.Errorf("histogram sum %v, want ≈1.504", s)
			}
			want := map[float64]uint64{0.001: 1, 0.0025: 1, 0.005: 2, 0.25: 2, 0.5: 3, 1: 3, 1.5: 4, 60: 4}
			for _, b := range h.Bucket {
				if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
					t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
				}
			}
		case "benchd_scenario_latency_seconds":
			s := f.Metric[0].Summary
			if s.GetSampleCount() != 4 {
				t.Errorf("summary count %d, want 4", s.GetSampleCount())
			}
			for _, q := range s.Quantile {
				v := q.GetValue()
				var lo, hi float64
				switch q.GetQuantile() {
				case 0.5:
					lo, hi = 0.0029, 0.0031
				case 0.75:
					lo, hi = 0.299, 0.301
				case 1:
					lo, hi = 1.199, 1.201
				default:
					continue
				}
				if v < lo || v > hi {
					t.Errorf("quantile %v = %v, want in [%v, %v]", q.GetQuantile(), v, lo, hi)
				}
			}
		}
	}
	if problems, err := testutil.CollectAndLint(m); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestMetricsNativeBucketsAndExemplar checks the native buckets sum to the
// count and the exemplar carries the scenario span's trace ID.
func TestMetricsNativeBucketsAndExemplar(t *testing.T) {
	m := NewMetrics()
	span := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	})
	m.ObserveScenario(observed("t", "-", "e", knownResult(t), time.Unix(0, 0)), span)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "benchd_request_duration_seconds" {
			continue
		}
		h := f.Metric[0].Histogram
		if h.GetSchema() != NativeSchema {
			t.Errorf("schema %d, want %d", h.GetSchema(), NativeSchema)
		}
		var total, cur int64
		for _, d := range h.PositiveDelta {
			cur += d
			total += cur
		}
		if uint64(total) != h.GetSampleCount() {
			t.Errorf("native buckets hold %d observations, count is %d", total, h.GetSampleCount())
		}
		if len(h.Bucket) != len(DefaultBuckets) {
			t.Errorf("%d classic buckets, want %d", len(h.Bucket), len(DefaultBuckets))
		}
		found := false
		for _, b := range h.Bucket {
			if e := b.Exemplar; e != nil {
				for _, l := range e.Label {
					if l.GetName() == "trace_id" && l.GetValue() == span.TraceID().String() {
						found = true
					}
				}
			}
		}
		if !found {
			t.Errorf("no exemplar with the span's trace ID on the classic buckets")
		}
		return
	}
	t.Fatal("benchd_request_duration_seconds not gathered")
}

// TestDeclareScenario checks a declared scenario's counters exist at 0
// before its first run and its per-run gauges do not.
func TestDeclareScenario(t *testing.T) {
	m := NewMetrics()
	m.DeclareScenario("gunicorn-uvicorn", "async", "json")
	const want = `
# HELP benchd_request_timeouts_total Requests whose deadline fired before the response was complete.
# TYPE benchd_request_timeouts_total counter
benchd_request_timeouts_total{endpoint="json",mode="async",target="gunicorn-uvicorn"} 0
# HELP benchd_requests_total Completed requests (responses received within the timeout), by status class, warm-up excluded.
# TYPE benchd_requests_total counter
benchd_requests_total{class="2xx",endpoint="json",mode="async",target="gunicorn-uvicorn"} 0
benchd_requests_total{class="3xx",endpoint="json",mode="async",target="gunicorn-uvicorn"} 0
benchd_requests_total{class="4xx",endpoint="json",mode="async",target="gunicorn-uvicorn"} 0
benchd_requests_total{class="5xx",endpoint="json",mode="async",target="gunicorn-uvicorn"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "benchd_request_timeouts_total", "benchd_requests_total", "benchd_scenario_up"); err != nil {
		t.Error(err)
	}
}

// TestStorageWriteFailures: every operation's series exists at 0 from the
// start, and a failure counts under its operation; so do invalid results
// by reason.
func TestStorageWriteFailures(t *testing.T) {
	m := NewMetrics()
	m.StorageWriteFailed("save_scenario")
	m.StorageWriteFailed("save_scenario")
	m.StorageWriteFailed("begin_run")
	m.InvalidResult("scheduler_latency")
	want := `
# HELP benchd_invalid_results_total Scenario results left out of the regression detector's baselines and tests, by reason: target_failed, target_died, open_loop_late, scheduler_latency (benchd itself starved of CPU), foreign_cpu (other work took the CPUs); a result with several reasons counts under each.
# TYPE benchd_invalid_results_total counter
benchd_invalid_results_total{reason="foreign_cpu"} 0
benchd_invalid_results_total{reason="open_loop_late"} 0
benchd_invalid_results_total{reason="scheduler_latency"} 1
benchd_invalid_results_total{reason="target_died"} 0
benchd_invalid_results_total{reason="target_failed"} 0
# HELP benchd_storage_write_failures_total Failed writes of the run history (a retry that fails again counts again), by operation: begin_run, save_scenario, finish_run, prune.
# TYPE benchd_storage_write_failures_total counter
benchd_storage_write_failures_total{operation="begin_run"} 1
benchd_storage_write_failures_total{operation="finish_run"} 0
benchd_storage_write_failures_total{operation="prune"} 0
benchd_storage_write_failures_total{operation="save_scenario"} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "benchd_storage_write_failures_total", "benchd_invalid_results_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(m, "benchd_storage_write_failures_total", "benchd_invalid_results_total"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestThresholds: benchd_threshold holds the configured values, replaced
// whole by SetThresholds, with lint-clean names.
func TestThresholds(t *testing.T) {
	m := NewMetrics()
	m.SetThresholds([]Threshold{{Target: "old", Mode: "-", Endpoint: "e", Signal: "throughput", Bound: "min", Value: 1}})
	m.SetThresholds([]Threshold{
		{Target: "gunicorn-gevent", Mode: "sync", Endpoint: "json", Signal: "throughput", Bound: "min", Value: 1500},
		{Target: "gunicorn-gevent", Mode: "sync", Endpoint: "json", Signal: "latency_p99", Bound: "max", Value: 0.25},
		{Target: "gunicorn-gevent", Mode: "sync", Endpoint: "json", Signal: "timeout_ratio", Bound: "max", Value: 0},
	})
	const want = `
# HELP benchd_threshold Threshold the configuration sets for a signal of the scenario (thresholds), in the signal's base unit: requests per second, seconds, or a ratio; bound is min (throughput must stay at or above it) or max.
# TYPE benchd_threshold gauge
benchd_threshold{bound="max",endpoint="json",mode="sync",signal="latency_p99",target="gunicorn-gevent"} 0.25
benchd_threshold{bound="max",endpoint="json",mode="sync",signal="timeout_ratio",target="gunicorn-gevent"} 0
benchd_threshold{bound="min",endpoint="json",mode="sync",signal="throughput",target="gunicorn-gevent"} 1500
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "benchd_threshold"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(m, "benchd_threshold"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestAlertNotifications: alerts count by status and name; unknown
// statuses are not counted, and names past MaxAlertNames count as other.
func TestAlertNotifications(t *testing.T) {
	m := NewMetrics()
	m.AlertNotificationReceived("firing", "BenchdThroughputRegression")
	m.AlertNotificationReceived("firing", "BenchdThroughputRegression")
	m.AlertNotificationReceived("resolved", "BenchdThroughputRegression")
	m.AlertNotificationReceived("pending", "BenchdThroughputRegression")
	m.AlertNotificationReceived("firing", "")
	const want = `
# HELP benchd_alert_notifications_received_total Alerts received in Alertmanager webhook notifications (POST /api/v1/alertmanager/webhook), by status (firing, resolved) and alertname.
# TYPE benchd_alert_notifications_received_total counter
benchd_alert_notifications_received_total{alertname="BenchdThroughputRegression",status="firing"} 2
benchd_alert_notifications_received_total{alertname="BenchdThroughputRegression",status="resolved"} 1
benchd_alert_notifications_received_total{alertname="other",status="firing"} 1
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "benchd_alert_notifications_received_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(m, "benchd_alert_notifications_received_total"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	for i := range 2 * MaxAlertNames {
		m.AlertNotificationReceived("firing", fmt.Sprintf("A%d", i))
	}
	if n := testutil.CollectAndCount(m, "benchd_alert_notifications_received_total"); n > MaxAlertNames+2 {
		t.Errorf("%d series after %d names, want at most %d", n, 2*MaxAlertNames, MaxAlertNames+2)
	}
}

// TestMetricsCPU: a managed target's CPU figures become its foreign CPU
// ratio and CPU seconds per request; an unmanaged target (whose own CPU is
// in the foreign figure) has neither, and a scenario without figures
// neither.
func TestMetricsCPU(t *testing.T) {
	m := NewMetrics()
	end := time.Unix(1700000000, 0)
	managed := observed("g", "sync", "json", knownResult(t), end)
	managed.CPU = &result.CPU{Managed: true, ForeignRatio: 0.125, TargetSecondsPerRequest: 0.0006}
	unmanaged := observed("u", "-", "json", knownResult(t), end)
	unmanaged.CPU = &result.CPU{ForeignRatio: 0.5}
	m.ObserveScenario(managed, trace.SpanContext{})
	m.ObserveScenario(unmanaged, trace.SpanContext{})
	m.ObserveScenario(observed("n", "-", "json", knownResult(t), end), trace.SpanContext{})
	want := `
# HELP benchd_scenario_foreign_cpu_ratio Share of the CPUs benchd and the target may run on that other work (neither benchd, the target's process tree nor the services) used during the measured interval of the last run of the scenario, 0 to 1 (repeats together; regression.max_foreign_cpu judges each repeat); managed targets only.
# TYPE benchd_scenario_foreign_cpu_ratio gauge
benchd_scenario_foreign_cpu_ratio{endpoint="json",mode="sync",target="g"} 0.125
# HELP benchd_scenario_target_cpu_seconds_per_request CPU seconds (user + system) the managed target's process tree used per completed request over the measured interval of the last run of the scenario (the detector's cpu_per_request); no series for an unmanaged target.
# TYPE benchd_scenario_target_cpu_seconds_per_request gauge
benchd_scenario_target_cpu_seconds_per_request{endpoint="json",mode="sync",target="g"} 0.0006
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "benchd_scenario_foreign_cpu_ratio", "benchd_scenario_target_cpu_seconds_per_request"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(m, "benchd_scenario_foreign_cpu_ratio", "benchd_scenario_target_cpu_seconds_per_request"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestMetricsInstructions: an instruction-lane scenario's instructions per
// request become its gauge; a load scenario has none, and a lane scenario
// whose next run counted nothing (it failed) loses its series.
func TestMetricsInstructions(t *testing.T) {
	m := NewMetrics()
	end := time.Unix(1700000000, 0)
	lane := observed("cg", "sync", "json", knownResult(t), end)
	lane.Instructions = &result.Instructions{Count: 232_000_000, Requests: 200, Processes: 1, PerRequest: 1_160_000}
	failed := observed("cg", "sync", "json_query", knownResult(t), end)
	failed.Instructions = &result.Instructions{Count: 820_000_000, Requests: 200, Processes: 1, PerRequest: 4_100_000}
	m.ObserveScenario(lane, trace.SpanContext{})
	m.ObserveScenario(failed, trace.SpanContext{})
	m.ObserveScenario(observed("g", "sync", "json", knownResult(t), end), trace.SpanContext{})
	again := observed("cg", "sync", "json_query", knownResult(t), end.Add(time.Hour))
	m.ObserveScenario(again, trace.SpanContext{})
	want := `
# HELP benchd_scenario_instructions_per_request Instructions (valgrind callgrind's Ir) the target's workers executed per counted request of the last run of an instruction-lane scenario (targets[].instructions; the detector's instructions_per_request); no series for a load scenario.
# TYPE benchd_scenario_instructions_per_request gauge
benchd_scenario_instructions_per_request{endpoint="json",mode="sync",target="cg"} 1.16e+06
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "benchd_scenario_instructions_per_request"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(m, "benchd_scenario_instructions_per_request"); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestRunProgress: the progress gauges exist at 0 before the first run,
// then hold what SetRunProgress gives, with lint-clean names (no gauge
// ends in _total).
func TestRunProgress(t *testing.T) {
	names := []string{"benchd_run_in_progress", "benchd_run_scenarios_done", "benchd_run_scenarios_planned", "benchd_run_remaining_seconds"}
	exposition := func(running, done, planned int, remaining string) string {
		return fmt.Sprintf(`
# HELP benchd_run_in_progress 1 while a matrix run is in progress, else 0.
# TYPE benchd_run_in_progress gauge
benchd_run_in_progress %d
# HELP benchd_run_remaining_seconds Estimated time left of the run in progress: the mean time per finished scenario times the scenarios left; 0 when no run is in progress or none of its scenarios has finished.
# TYPE benchd_run_remaining_seconds gauge
benchd_run_remaining_seconds %s
# HELP benchd_run_scenarios_done Scenarios finished (failed or not) of the run in progress, or of the last run this benchd ran (0 before its first).
# TYPE benchd_run_scenarios_done gauge
benchd_run_scenarios_done %d
# HELP benchd_run_scenarios_planned Scenarios of the run in progress, or of the last run this benchd ran (0 before its first).
# TYPE benchd_run_scenarios_planned gauge
benchd_run_scenarios_planned %d
`, running, remaining, done, planned)
	}
	m := NewMetrics()
	if err := testutil.CollectAndCompare(m, strings.NewReader(exposition(0, 0, 0, "0")), names...); err != nil {
		t.Errorf("before a run: %v", err)
	}
	m.SetRunProgress(RunProgress{Running: true, Done: 31, Planned: 80, Remaining: 12*time.Minute + 500*time.Millisecond})
	if err := testutil.CollectAndCompare(m, strings.NewReader(exposition(1, 31, 80, "720.5")), names...); err != nil {
		t.Errorf("during a run: %v", err)
	}
	if problems, err := testutil.CollectAndLint(m, names...); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
