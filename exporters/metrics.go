package exporters

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors/version"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
)

// DefaultBuckets are the classic bucket upper bounds, in seconds, of
// benchd_request_duration_seconds. They reach past the longest timeout of
// the default matrix (12 s, gateway_10s) so that no measured latency lands
// only in +Inf, and are dense below 1 s where most endpoints answer.
var DefaultBuckets = []float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 12.5, 15, 20, 30, 60,
}

// NativeSchema is the schema of the native buckets of
// benchd_request_duration_seconds: 3, bucket boundaries a factor 2^(1/8)
// (about 1.09) apart, the resolution client_golang picks for its default
// bucket factor of 1.1. Newer Prometheus servers scrape these with
// native-histogram ingestion on; Prometheus 2.42 (Debian 12) reads the
// classic buckets.
const NativeSchema = 3

// SummaryQuantiles are the quantiles of benchd_scenario_latency_seconds,
// the per-run latency summary computed exactly from the run's HDR histogram.
var SummaryQuantiles = []float64{0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1}

// RunResults are the values of the `result` label of benchd_runs_total.
var RunResults = []string{"success", "failed", "skipped"}

// StorageOperations are the values of the `operation` label of
// benchd_storage_write_failures_total: the writes of the run history.
var StorageOperations = []string{"begin_run", "save_scenario", "finish_run", "prune"}

// InvalidReasons are the values of the `reason` label of
// benchd_invalid_results_total: the regression detector's reasons
// (regress.InvalidReason) for leaving a result out.
var InvalidReasons = []string{
	string(regress.ReasonTargetFailed), string(regress.ReasonTargetDied),
	string(regress.ReasonOpenLoopLate), string(regress.ReasonSchedulerLatency),
	string(regress.ReasonForeignCPU),
}

var scenarioLabels = []string{"target", "endpoint", "mode"}

// Metrics is a prometheus.Collector of benchd's metric contract (DESIGN.md,
// "Metric contract"). It keeps, per scenario, counters accumulated over
// every run and the figures of the last run, and exposes them as constant
// metrics at scrape time: the request hot path never touches it. It is safe
// for concurrent use; register it with a non-global registry.
type Metrics struct {
	buckets []float64

	mu            sync.Mutex
	scenarios     map[scenarioKey]*scenarioState
	order         []scenarioKey
	runs          map[string]float64
	runDur        float64
	lastRun       float64
	nextRun       float64
	lagSec        float64
	lagKnown      bool
	reloadOKValue float64
	reloadAt      float64
	reloaded      bool
	targets       map[string]float64
	failures      map[string]float64
	storeFailures map[string]float64
	thresholds    []Threshold
	alerts        map[alertKey]float64
	alertNames    map[string]bool
	invalid       map[string]float64
	progress      RunProgress

	requests, errors, timeouts, bytes    *prometheus.Desc
	duration                             *prometheus.Desc
	rps, latency, timeoutRatio, errRatio *prometheus.Desc
	lastScenario, scenarioUp             *prometheus.Desc
	runsTotal, runDuration               *prometheus.Desc
	lastRunTS, nextRunTS, targetUp       *prometheus.Desc
	lag, reloadOK, reloadTS              *prometheus.Desc
	startFailures, storageFailures       *prometheus.Desc
	threshold, alertsReceived, invalidRs *prometheus.Desc
	foreignCPU, cpuPerRequest            *prometheus.Desc
	instructions                         *prometheus.Desc
	inProgress, runDone                  *prometheus.Desc
	runPlanned, runETA                   *prometheus.Desc
	version                              prometheus.Collector
}

// Threshold is one threshold of the configuration (config.Thresholds)
// resolved for a scenario, as benchd_threshold exports it.
type Threshold struct {
	// Target, Mode and Endpoint name the scenario.
	Target, Mode, Endpoint string
	// Signal is throughput, latency_p50, latency_p99, error_ratio or
	// timeout_ratio.
	Signal string
	// Bound is "min" (throughput) or "max".
	Bound string
	// Value is in the signal's base unit: requests per second, seconds,
	// or a ratio.
	Value float64
}

// AlertStatuses are the values of the `status` label of
// benchd_alert_notifications_received_total: Alertmanager's.
var AlertStatuses = []string{"firing", "resolved"}

// MaxAlertNames bounds the distinct `alertname` values of
// benchd_alert_notifications_received_total: past it, an alert counts
// under OtherAlertName, so that a noisy sender cannot grow the series
// without end.
const MaxAlertNames = 100

// OtherAlertName is the `alertname` an alert counts under past
// MaxAlertNames names, or when its name is empty.
const OtherAlertName = "other"

type alertKey struct{ status, alertname string }

type scenarioKey struct{ target, endpoint, mode string }

type scenarioState struct {
	responses [engine.NumClasses]float64
	errors    [engine.NumErrorKinds]float64
	bytes     float64
	buckets   []uint64 // per bucket, not cumulative
	native    map[int]int64
	count     uint64
	sum       float64
	exemplar  *prometheus.Exemplar

	ran          bool
	up           float64
	rps          float64
	timeoutRatio float64
	errorRatio   float64
	last         float64
	cpu          *result.CPU // nil: not measured (no series)
	instructions float64     // per request; 0: not counted (no series)
	quantiles    map[float64]float64
	lastCount    uint64
	lastSum      float64
}

// NewMetrics returns an empty Metrics using [DefaultBuckets].
func NewMetrics() *Metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	sl := func(extra ...string) []string { return append(append([]string{}, scenarioLabels...), extra...) }
	return &Metrics{
		buckets:         DefaultBuckets,
		scenarios:       map[scenarioKey]*scenarioState{},
		runs:            map[string]float64{},
		targets:         map[string]float64{},
		failures:        map[string]float64{},
		storeFailures:   map[string]float64{},
		alerts:          map[alertKey]float64{},
		alertNames:      map[string]bool{},
		invalid:         map[string]float64{},
		requests:        d("benchd_requests_total", "Completed requests (responses received within the timeout), by status class, warm-up excluded.", sl("class")...),
		errors:          d("benchd_request_errors_total", "Failed requests by kind: connect, read, write, timeout (deadline fired), closed (server closed a kept-alive connection).", sl("kind")...),
		timeouts:        d("benchd_request_timeouts_total", "Requests whose deadline fired before the response was complete.", sl()...),
		bytes:           d("benchd_response_bytes_total", "Response bytes read on the wire (status line, headers and body).", sl()...),
		duration:        d("benchd_request_duration_seconds", "Latency of each completed request, from send to last byte; timed-out requests are not in it.", sl()...),
		rps:             d("benchd_scenario_requests_per_second", "Completed requests per second of the last run of the scenario (wrk's Requests/sec without late answers).", sl()...),
		latency:         d("benchd_scenario_latency_seconds", "Latency of the last run of the scenario, exact quantiles from its HDR histogram.", sl()...),
		timeoutRatio:    d("benchd_scenario_timeout_ratio", "Timeouts divided by requests sent, last run of the scenario.", sl()...),
		errRatio:        d("benchd_scenario_error_ratio", "Socket errors (timeouts included) plus unexpected responses (by default 4xx/5xx), divided by requests sent, last run of the scenario.", sl()...),
		lastScenario:    d("benchd_scenario_last_run_timestamp_seconds", "Unix time when the last run of the scenario ended.", sl()...),
		scenarioUp:      d("benchd_scenario_up", "1 if the last run of the scenario applied load (target ready, connections made), else 0.", sl()...),
		runsTotal:       d("benchd_runs_total", "Matrix runs by result: success (every scenario ran), failed (a scenario failed or the run was cut short), skipped (a scheduled tick fired while a run was in progress).", "result"),
		runDuration:     d("benchd_run_duration_seconds", "Wall time of the last matrix run.", nil...),
		lastRunTS:       d("benchd_last_run_timestamp_seconds", "Unix time when the last matrix run ended.", nil...),
		nextRunTS:       d("benchd_next_run_timestamp_seconds", "Unix time of the next scheduled matrix run.", nil...),
		lag:             d("benchd_schedule_lag_seconds", "Delay between when the last scheduled run was due and when it started.", nil...),
		reloadOK:        d("benchd_config_last_reload_successful", "1 if the last configuration (re)load succeeded, 0 if it failed and the previous configuration is still in use.", nil...),
		reloadTS:        d("benchd_config_last_reload_success_timestamp_seconds", "Unix time of the last successful configuration (re)load.", nil...),
		startFailures:   d("benchd_target_start_failures_total", "Times a managed target (or a service it needs) failed to start.", "target"),
		storageFailures: d("benchd_storage_write_failures_total", "Failed writes of the run history (a retry that fails again counts again), by operation: begin_run, save_scenario, finish_run, prune.", "operation"),
		threshold:       d("benchd_threshold", "Threshold the configuration sets for a signal of the scenario (thresholds), in the signal's base unit: requests per second, seconds, or a ratio; bound is min (throughput must stay at or above it) or max.", sl("signal", "bound")...),
		alertsReceived:  d("benchd_alert_notifications_received_total", "Alerts received in Alertmanager webhook notifications (POST /api/v1/alertmanager/webhook), by status (firing, resolved) and alertname.", "status", "alertname"),
		invalidRs:       d("benchd_invalid_results_total", "Scenario results left out of the regression detector's baselines and tests, by reason: target_failed, target_died, open_loop_late, scheduler_latency (benchd itself starved of CPU), foreign_cpu (other work took the CPUs); a result with several reasons counts under each.", "reason"),
		foreignCPU:      d("benchd_scenario_foreign_cpu_ratio", "Share of the CPUs benchd and the target may run on that other work (neither benchd, the target's process tree nor the services) used during the measured interval of the last run of the scenario, 0 to 1 (repeats together; regression.max_foreign_cpu judges each repeat); managed targets only.", sl()...),
		cpuPerRequest:   d("benchd_scenario_target_cpu_seconds_per_request", "CPU seconds (user + system) the managed target's process tree used per completed request over the measured interval of the last run of the scenario (the detector's cpu_per_request); no series for an unmanaged target.", sl()...),
		instructions:    d("benchd_scenario_instructions_per_request", "Instructions (valgrind callgrind's Ir) the target's workers executed per counted request of the last run of an instruction-lane scenario (targets[].instructions; the detector's instructions_per_request); no series for a load scenario.", sl()...),
		inProgress:      d("benchd_run_in_progress", "1 while a matrix run is in progress, else 0.", nil...),
		runDone:         d("benchd_run_scenarios_done", "Scenarios finished (failed or not) of the run in progress, or of the last run when none is.", nil...),
		runPlanned:      d("benchd_run_scenarios_planned", "Scenarios of the run in progress, or of the last run when none is.", nil...),
		runETA:          d("benchd_run_remaining_seconds", "Estimated time left of the run in progress: the mean time per finished scenario times the scenarios left; 0 when no run is in progress or none of its scenarios has finished.", nil...),
		targetUp:        d("benchd_target_up", "1 while a managed target is started and ready, 0 when it is stopped or failed to start.", "target"),
		version:         version.NewCollector("benchd"),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		m.requests, m.errors, m.timeouts, m.bytes, m.duration, m.rps, m.latency,
		m.timeoutRatio, m.errRatio, m.lastScenario, m.scenarioUp, m.runsTotal,
		m.runDuration, m.lastRunTS, m.nextRunTS, m.targetUp, m.lag, m.reloadOK, m.reloadTS, m.startFailures,
		m.storageFailures, m.threshold, m.alertsReceived, m.invalidRs, m.foreignCPU, m.cpuPerRequest,
		m.instructions,
		m.inProgress, m.runDone, m.runPlanned, m.runETA,
	} {
		ch <- d
	}
	m.version.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.order {
		s := m.scenarios[k]
		lv := []string{k.target, k.endpoint, k.mode}
		for c := range engine.NumClasses {
			ch <- prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, s.responses[c], append(lv, c.String())...)
		}
		for e := range engine.NumErrorKinds {
			ch <- prometheus.MustNewConstMetric(m.errors, prometheus.CounterValue, s.errors[e], append(lv, e.String())...)
		}
		ch <- prometheus.MustNewConstMetric(m.timeouts, prometheus.CounterValue, s.errors[engine.KindTimeout], lv...)
		ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.CounterValue, s.bytes, lv...)
		ch <- m.histogram(s, lv)
		if !s.ran {
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.scenarioUp, prometheus.GaugeValue, s.up, lv...)
		ch <- prometheus.MustNewConstMetric(m.lastScenario, prometheus.GaugeValue, s.last, lv...)
		ch <- prometheus.MustNewConstMetric(m.rps, prometheus.GaugeValue, s.rps, lv...)
		ch <- prometheus.MustNewConstMetric(m.timeoutRatio, prometheus.GaugeValue, s.timeoutRatio, lv...)
		ch <- prometheus.MustNewConstMetric(m.errRatio, prometheus.GaugeValue, s.errorRatio, lv...)
		ch <- prometheus.MustNewConstSummary(m.latency, s.lastCount, s.lastSum, s.quantiles, lv...)
		// An unmanaged target's own CPU is in the foreign figure: none.
		if c := s.cpu; c != nil && c.Managed {
			ch <- prometheus.MustNewConstMetric(m.foreignCPU, prometheus.GaugeValue, c.ForeignRatio, lv...)
			if c.TargetSecondsPerRequest > 0 {
				ch <- prometheus.MustNewConstMetric(m.cpuPerRequest, prometheus.GaugeValue, c.TargetSecondsPerRequest, lv...)
			}
		}
		if s.instructions > 0 {
			ch <- prometheus.MustNewConstMetric(m.instructions, prometheus.GaugeValue, s.instructions, lv...)
		}
	}
	for _, r := range RunResults {
		ch <- prometheus.MustNewConstMetric(m.runsTotal, prometheus.CounterValue, m.runs[r], r)
	}
	if m.lastRun > 0 {
		ch <- prometheus.MustNewConstMetric(m.runDuration, prometheus.GaugeValue, m.runDur)
		ch <- prometheus.MustNewConstMetric(m.lastRunTS, prometheus.GaugeValue, m.lastRun)
	}
	if m.reloaded {
		ch <- prometheus.MustNewConstMetric(m.reloadOK, prometheus.GaugeValue, m.reloadOKValue)
		ch <- prometheus.MustNewConstMetric(m.reloadTS, prometheus.GaugeValue, m.reloadAt)
	}
	if m.lagKnown {
		ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, m.lagSec)
	}
	if m.nextRun > 0 {
		ch <- prometheus.MustNewConstMetric(m.nextRunTS, prometheus.GaugeValue, m.nextRun)
	}
	names := make([]string, 0, len(m.targets))
	for t := range m.targets {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		ch <- prometheus.MustNewConstMetric(m.targetUp, prometheus.GaugeValue, m.targets[t], t)
		ch <- prometheus.MustNewConstMetric(m.startFailures, prometheus.CounterValue, m.failures[t], t)
	}
	for _, op := range StorageOperations {
		ch <- prometheus.MustNewConstMetric(m.storageFailures, prometheus.CounterValue, m.storeFailures[op], op)
	}
	for _, r := range InvalidReasons {
		ch <- prometheus.MustNewConstMetric(m.invalidRs, prometheus.CounterValue, m.invalid[r], r)
	}
	for _, t := range m.thresholds {
		ch <- prometheus.MustNewConstMetric(m.threshold, prometheus.GaugeValue, t.Value, t.Target, t.Endpoint, t.Mode, t.Signal, t.Bound)
	}
	keys := make([]alertKey, 0, len(m.alerts))
	for k := range m.alerts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].alertname != keys[j].alertname {
			return keys[i].alertname < keys[j].alertname
		}
		return keys[i].status < keys[j].status
	})
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(m.alertsReceived, prometheus.CounterValue, m.alerts[k], k.status, k.alertname)
	}
	p := m.progress
	ch <- prometheus.MustNewConstMetric(m.inProgress, prometheus.GaugeValue, boolValue(p.Running))
	ch <- prometheus.MustNewConstMetric(m.runDone, prometheus.GaugeValue, float64(p.Done))
	ch <- prometheus.MustNewConstMetric(m.runPlanned, prometheus.GaugeValue, float64(p.Planned))
	ch <- prometheus.MustNewConstMetric(m.runETA, prometheus.GaugeValue, p.Remaining.Seconds())
	m.version.Collect(ch)
}

// RunProgress is how far the run in progress is, as
// benchd_run_in_progress, benchd_run_scenarios_done,
// benchd_run_scenarios_planned and benchd_run_remaining_seconds export it.
type RunProgress struct {
	// Running is true while a run is in progress.
	Running bool
	// Done counts its finished scenarios, of Planned.
	Done, Planned int
	// Remaining is the estimated time left; 0 when unknown or done.
	Remaining time.Duration
}

// SetRunProgress records how far the run in progress is; the series exist
// at 0 before the first run.
func (m *Metrics) SetRunProgress(p RunProgress) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.progress = p
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// InvalidResult counts a scenario result left out of the regression
// detector for reason, one of InvalidReasons.
func (m *Metrics) InvalidResult(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.invalid[reason]++
}

// SetThresholds replaces the exported thresholds with ts (at each load of
// the configuration); it keeps its own copy. Two entries for the same
// scenario, signal and bound are the caller's mistake: the scrape then
// fails with a duplicate series.
func (m *Metrics) SetThresholds(ts []Threshold) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.thresholds = append([]Threshold(nil), ts...)
}

// AlertNotificationReceived counts one alert of an Alertmanager
// notification, with status one of AlertStatuses (others are not counted)
// and its alertname; past MaxAlertNames distinct names, or for an empty
// name, the alert counts under OtherAlertName.
func (m *Metrics) AlertNotificationReceived(status, alertname string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if status != AlertStatuses[0] && status != AlertStatuses[1] {
		return
	}
	if alertname == "" {
		alertname = OtherAlertName
	}
	if !m.alertNames[alertname] {
		if len(m.alertNames) >= MaxAlertNames {
			alertname = OtherAlertName
		} else {
			m.alertNames[alertname] = true
		}
	}
	m.alerts[alertKey{status, alertname}]++
}

// histogram returns the latency histogram of s with classic and native
// buckets and, when known, the exemplar of its last run; m.mu is held.
func (m *Metrics) histogram(s *scenarioState, lv []string) prometheus.Metric {
	cum := make(map[float64]uint64, len(m.buckets))
	var acc uint64
	for i, ub := range m.buckets {
		acc += s.buckets[i]
		cum[ub] = acc
	}
	classic := prometheus.MustNewConstHistogram(m.duration, s.count, s.sum, cum, lv...)
	native := prometheus.MustNewConstNativeHistogram(m.duration, s.count, s.sum, s.native, nil, 0,
		NativeSchema, math.Ldexp(1, -128), time.Time{}, lv...)
	var h prometheus.Metric = bothHistograms{classic: classic, native: native}
	if s.exemplar != nil {
		if e, err := prometheus.NewMetricWithExemplars(h, *s.exemplar); err == nil {
			h = e
		}
	}
	return h
}

// bothHistograms writes one histogram with classic and native buckets:
// client_golang builds constant histograms of one kind or the other.
type bothHistograms struct{ classic, native prometheus.Metric }

func (b bothHistograms) Desc() *prometheus.Desc { return b.classic.Desc() }

func (b bothHistograms) Write(out *dto.Metric) error {
	if err := b.classic.Write(out); err != nil {
		return err
	}
	var n dto.Metric
	if err := b.native.Write(&n); err != nil {
		return err
	}
	h, nh := out.Histogram, n.Histogram
	h.Schema, h.ZeroThreshold, h.ZeroCount = nh.Schema, nh.ZeroThreshold, nh.ZeroCount
	h.PositiveSpan, h.PositiveDelta = nh.PositiveSpan, nh.PositiveDelta
	return nil
}

// nativeIndex returns the index of the native bucket of schema
// NativeSchema holding v > 0: bucket i holds (2^((i-1)/8), 2^(i/8)].
func nativeIndex(v float64) int {
	return int(math.Ceil(math.Log2(v) * (1 << NativeSchema)))
}

// ObserveScenario records the end of one scenario (its record rec) at
// rec.End. A scenario whose engine did not run (no load applied) counts as
// down and its counters stay as they were. span, when valid, is the
// scenario's trace span: its trace ID becomes the exemplar of the latency
// histogram, on the bucket of the run's p99. It does not keep rec.
func (m *Metrics) ObserveScenario(rec *result.Scenario, span trace.SpanContext) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.scenario(scenarioKey{target: rec.Target, endpoint: rec.Endpoint, mode: rec.Mode})
	s.ran = true
	end := rec.End
	s.last = float64(end.UnixNano()) / 1e9
	if !rec.Ran() {
		s.up, s.rps, s.timeoutRatio, s.errorRatio, s.cpu, s.instructions = 0, 0, 0, 0, nil, 0
		s.quantiles, s.lastCount, s.lastSum = map[float64]float64{}, 0, 0
		return
	}
	s.up = 0
	if rec.Measured() {
		s.up = 1
	}
	for c, n := range rec.Responses {
		s.responses[c] += float64(n)
	}
	for e, n := range rec.Errors {
		s.errors[e] += float64(n)
	}
	s.bytes += float64(rec.BytesRead)
	s.rps = rec.RequestsPerSecond
	s.timeoutRatio = rec.TimeoutRatio
	s.cpu = rec.CPU
	s.instructions = 0
	if in := rec.Instructions; in != nil {
		s.instructions = in.PerRequest
	}
	s.errorRatio = rec.ErrorRatio
	s.quantiles = make(map[float64]float64, len(SummaryQuantiles))
	s.lastCount, s.lastSum = 0, 0
	h, err := rec.LatencyHistogram.Decode()
	if err != nil || h == nil || h.TotalCount() == 0 {
		for _, q := range SummaryQuantiles {
			s.quantiles[q] = math.NaN()
		}
		return
	}
	for _, q := range SummaryQuantiles {
		s.quantiles[q] = float64(result.Percentile(h, q*100)) / 1e6
	}
	// HDR keeps values to 3 significant digits: the sum is mean × count,
	// exact to that precision.
	s.lastCount = uint64(h.TotalCount())
	s.lastSum = h.Mean() * float64(h.TotalCount()) / 1e6
	s.count += s.lastCount
	s.sum += s.lastSum
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		// A bar holds values up to bar.To microseconds (HDR's highest
		// equivalent value); bucket it by that bound.
		v := float64(bar.To) / 1e6
		i := sort.SearchFloat64s(m.buckets, v)
		if i < len(m.buckets) {
			s.buckets[i] += uint64(bar.Count)
		}
		s.native[nativeIndex(v)] += bar.Count
	}
	s.exemplar = nil
	if span.IsValid() {
		s.exemplar = &prometheus.Exemplar{
			Value:     s.quantiles[0.99],
			Timestamp: end,
			Labels:    prometheus.Labels{"trace_id": span.TraceID().String(), "span_id": span.SpanID().String()},
		}
	}
}

// scenario returns the state of k, creating it; m.mu is held.
func (m *Metrics) scenario(k scenarioKey) *scenarioState {
	s, ok := m.scenarios[k]
	if !ok {
		s = &scenarioState{buckets: make([]uint64, len(m.buckets)), native: map[int]int64{}}
		m.scenarios[k] = s
		m.order = append(m.order, k)
	}
	return s
}

// ObserveRun records the end of a matrix run with result "success" or
// "failed", which took from start to end.
func (m *Metrics) ObserveRun(result string, start, end time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[result]++
	m.runDur = end.Sub(start).Seconds()
	m.lastRun = float64(end.UnixNano()) / 1e9
}

// ObserveRunStart records the start of a run; scheduled is when a
// scheduled run was due, zero for runs started otherwise (which leave the
// schedule lag as it was).
func (m *Metrics) ObserveRunStart(scheduled, start time.Time) {
	if scheduled.IsZero() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lagSec = max(0, start.Sub(scheduled).Seconds())
	m.lagKnown = true
}

// ObserveReload records a configuration load or reload at t.
func (m *Metrics) ObserveReload(ok bool, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reloaded = true
	m.reloadOKValue = 0
	if ok {
		m.reloadOKValue = 1
		m.reloadAt = float64(t.UnixNano()) / 1e9
	}
}

// RunSkipped counts a scheduled run skipped because one was in progress.
func (m *Metrics) RunSkipped() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs["skipped"]++
}

// SetNextRun records when the next scheduled run will start.
func (m *Metrics) SetNextRun(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextRun = float64(t.UnixNano()) / 1e9
}

// DeclareTarget makes a managed target's series exist (down, no start
// failures) before its first run, so that the first failure is an
// increase Prometheus can see.
func (m *Metrics) DeclareTarget(target string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.targets[target]; !ok {
		m.targets[target] = 0
	}
}

// TargetStartFailed counts a failed start of a managed target.
func (m *Metrics) TargetStartFailed(target string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failures[target]++
	if _, ok := m.targets[target]; !ok {
		m.targets[target] = 0
	}
}

// DeclareScenario makes a scenario's counters and histogram exist at 0
// before its first run (its per-run gauges appear with that run), so that
// increase() over a window sees the first run's requests.
func (m *Metrics) DeclareScenario(target, mode, endpoint string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scenario(scenarioKey{target: target, endpoint: endpoint, mode: mode})
}

// SetTargetUp records whether the managed target is started and ready.
func (m *Metrics) SetTargetUp(target string, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.targets[target] = 0
	if up {
		m.targets[target] = 1
	}
}

// StorageWriteFailed counts a failed write of the run history; op is one
// of StorageOperations.
func (m *Metrics) StorageWriteFailed(op string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.storeFailures[op]++
}
