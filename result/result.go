// Package result holds benchd's one record of a scenario's result: built
// once from the engine's raw result, in base units (seconds, bytes,
// ratios from 0 to 1), and read by every consumer (the run history, the
// API, every report format, tracing, the metrics and the regression
// detector). Its JSON encoding is the one schema of docs/results.md,
// returned by `benchd report --format json`, `benchd matrix --format json`
// and GET /api/v1/runs/{id}, and stored by the history. Adding a measured
// field is a field here, its doc, and (only when queried) a store column.
package result

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/engine"
)

// Scenario is the result of one load test (one target × mode × endpoint
// cell) within a run. With repeats (config repeats) the measurement is
// their merge ([engine.Merge]) and Repeats holds each one. Zero values
// mean zero unless a field says otherwise. A Scenario is a plain value: it
// may be copied (slices are shared), and is not safe for concurrent
// mutation.
type Scenario struct {
	// RunID is the run the scenario belongs to.
	RunID string `json:"run_id"`
	// Name is "target/mode/endpoint" ("-" for an endpoint without modes).
	Name string `json:"scenario"`
	// Target, Mode and Endpoint are the parts of Name.
	Target   string `json:"target"`
	Mode     string `json:"mode"`
	Endpoint string `json:"endpoint"`
	// Index is the 0-based position of the scenario in its run.
	Index int `json:"index"`
	// Start and End bound the scenario, warm-up and grace included; the
	// measured interval is Measurement's.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Error says why the scenario failed; empty when it ran. A scenario
	// whose target exited during the load has an error and figures.
	Error string `json:"error,omitempty"`
	// Valid is true when the regression detector may use the result
	// (docs/regressions.md: it ran, its target lived, benchd was not
	// starved); InvalidReasons says why not, in the words of
	// regress.InvalidReason. A failed result is never valid.
	Valid          bool     `json:"valid"`
	InvalidReasons []string `json:"invalid_reasons,omitempty"`

	// URL and Method are what was requested.
	URL    string `json:"url"`
	Method string `json:"method"`
	// Connections is the number of connections asked for; Threads the
	// number of engine shards.
	Connections int `json:"connections"`
	Threads     int `json:"threads"`
	// DurationSeconds is the configured measuring time (of all repeats
	// together) and TimeoutSeconds the per-request timeout, in seconds;
	// the measured interval's length is Measurement.ElapsedSeconds.
	DurationSeconds float64 `json:"duration_seconds"`
	TimeoutSeconds  float64 `json:"timeout_seconds"`
	// OnTimeout is what a timed-out request's connection did: "reconnect"
	// (closed, a new one opened) or "wait" (kept until the late answer).
	OnTimeout string `json:"on_timeout"`
	// Segment, for a split scenario that several benchd shards run at once
	// (docs/scale-out.md), is this shard's share of it, whose connections
	// and rate the figures here are; nil for a whole scenario.
	Segment *Segment `json:"segment,omitempty"`

	// Settings identifies what the scenario was measured with (its load
	// settings, its target's command and the versions of what serves it):
	// a new value starts a new baseline segment (docs/regressions.md).
	Settings

	// Measurement holds what the engine measured (all repeats merged);
	// zero when no load was applied.
	Measurement
	// Repeats holds each repeat, in order, when the scenario ran more than
	// once in its run; nil for a single run. A repeat cut short by an
	// error is the last one.
	Repeats []Repeat `json:"repeats,omitempty"`

	// Usage is the resource use during the whole scenario (all repeats).
	Usage
	// SchedulerLatencyP99Seconds is the 99th percentile of benchd's own Go
	// scheduler latency during the scenario (runtime/metrics
	// /sched/latencies:seconds), in seconds: a high value means the load
	// generator was starved and its timings are suspect. 0: not measured.
	SchedulerLatencyP99Seconds float64 `json:"scheduler_latency_p99_seconds"`
}

// Settings identifies the settings a scenario's result was measured with,
// as hashes: SettingsHash over all of them, SettingsParts one per part
// (see [SettingsPartNames]). Both are empty in results stored before
// benchd recorded them. A Settings is a plain value; copies share
// SettingsParts.
type Settings struct {
	// SettingsHash is the first 16 hex digits of the sha256 of
	// SettingsParts (each name and value, sorted by name); "" when not
	// recorded.
	SettingsHash string `json:"settings_hash,omitempty"`
	// SettingsParts maps each part's name to the first 16 hex digits of
	// the sha256 of its canonical text; nil when not recorded.
	SettingsParts map[string]string `json:"settings_parts,omitempty"`
}

// SettingsPartNames are the names of the parts of [Settings], in order: the
// scenario's resolved load settings one by one, then its target's
// managed process (command, setup, env, working directory, cpus), the
// identity of the program it runs, the Python packages it runs on, and
// its services (their commands and programs). docs/results.md says what
// each covers.
var SettingsPartNames = []string{
	"method", "url", "headers", "body", "connections", "threads", "duration", "timeout",
	"on_timeout", "warmup", "rate", "repeats", "expect", "tls", "instructions",
	"command", "setup", "env", "dir", "cpus", "executable", "packages", "services",
}

// NewSettings returns the Settings of parts, a map of part name to
// canonical text: each text is hashed, then the hashes together.
func NewSettings(parts map[string]string) Settings {
	s := Settings{SettingsParts: make(map[string]string, len(parts))}
	names := make([]string, 0, len(parts))
	for name, text := range parts {
		s.SettingsParts[name] = shortHash(text)
		names = append(names, name)
	}
	slices.Sort(names)
	var all strings.Builder
	for _, name := range names {
		all.WriteString(name + "=" + s.SettingsParts[name] + "\n")
	}
	s.SettingsHash = shortHash(all.String())
	return s
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// Changed returns the names of the parts that differ between prev and s,
// sorted; "settings" alone when the hashes differ but a side has no parts
// to compare. It returns nil when the hashes are equal or either is empty
// (a result stored before benchd recorded them), so such a result never
// starts a segment.
func (s Settings) Changed(prev Settings) []string {
	if s.SettingsHash == "" || prev.SettingsHash == "" || s.SettingsHash == prev.SettingsHash {
		return nil
	}
	var out []string
	for name, h := range s.SettingsParts {
		if prev.SettingsParts[name] != h {
			out = append(out, name)
		}
	}
	for name := range prev.SettingsParts {
		if _, ok := s.SettingsParts[name]; !ok {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return []string{"settings"}
	}
	slices.Sort(out)
	return out
}

// ChangeReason is the reason recorded with the baseline segment a result
// with settings s starts after one with prev: "settings changed: " and
// the parts [Settings.Changed] names, comma-separated; "" when none.
func (s Settings) ChangeReason(prev Settings) string {
	parts := s.Changed(prev)
	if len(parts) == 0 {
		return ""
	}
	return SettingsChangedPrefix + strings.Join(parts, ", ")
}

// SettingsChangedPrefix starts the reason of a baseline segment started
// by a change of settings ([Settings.ChangeReason]).
const SettingsChangedPrefix = "settings changed: "

// Usage is resource use over an interval: user+system CPU seconds and the
// peak resident set size in bytes of the target's process tree (zero for
// an unmanaged target) and of benchd itself ("client").
type Usage struct {
	TargetCPUSeconds   float64 `json:"target_cpu_seconds"`
	TargetPeakRSSBytes uint64  `json:"target_peak_rss_bytes"`
	ClientCPUSeconds   float64 `json:"client_cpu_seconds"`
	ClientPeakRSSBytes uint64  `json:"client_peak_rss_bytes"`
}

// Repeat is one repeat of a scenario that ran more than once per run: its
// measurement (histograms left out but for the latency's) and its resource
// use.
type Repeat struct {
	Measurement
	Usage
}

// Measurement is what one engine run (or a merge of several) measured,
// warm-up excluded.
type Measurement struct {
	// MeasuredStart and MeasuredEnd bound the measured interval (after
	// warm-up); zero when nothing was measured.
	MeasuredStart time.Time `json:"measured_start"`
	MeasuredEnd   time.Time `json:"measured_end"`
	// ElapsedSeconds is the measured interval's length, in seconds: the
	// denominator of every per-second figure.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Sent counts requests started; Requests the responses received
	// within the timeout, all classes (wrk's "N requests").
	Sent     uint64 `json:"sent"`
	Requests uint64 `json:"requests"`
	// Responses counts responses per status class; Errors failed requests
	// per kind (wrk's socket errors plus closed).
	Responses Classes `json:"responses"`
	Errors    Kinds   `json:"errors"`
	// InFlight counts requests still unanswered when the grace ended.
	// Sent = Requests + errors + InFlight.
	InFlight uint64 `json:"in_flight"`
	// Unexpected counts responses outside the endpoint's expected status
	// set or failing its body check (config expect; by default the 4xx and
	// 5xx responses); they are in Responses and Latency too.
	Unexpected uint64 `json:"unexpected"`
	// LateResponses counts, with on_timeout wait, the answers that came
	// after their request's timeout (counted once in Errors' timeout, never
	// as requests); LateResponsesPending the connections closed still
	// waiting for one. Zero with on_timeout reconnect.
	LateResponses        uint64 `json:"late_responses"`
	LateResponsesPending uint64 `json:"late_responses_pending"`
	// BytesRead counts response bytes read on the wire.
	BytesRead uint64 `json:"bytes_read"`
	// ConnectionsEstablished is the most connections open at once.
	ConnectionsEstablished int `json:"connections_established"`
	// RequestsPerSecond is Requests per second of the measured interval;
	// TransferBytesPerSecond BytesRead per second.
	RequestsPerSecond      float64 `json:"requests_per_second"`
	TransferBytesPerSecond float64 `json:"transfer_bytes_per_second"`
	// ErrorRatio is (socket errors + 4xx + 5xx) / Sent and TimeoutRatio
	// timeouts / Sent, from 0 to 1; 0 when nothing was sent.
	ErrorRatio   float64 `json:"error_ratio"`
	TimeoutRatio float64 `json:"timeout_ratio"`
	// Latency summarises the latency of the responses; nil when there was
	// none.
	Latency *Latency `json:"latency_seconds,omitempty"`
	// ConnectLatency summarises how long opening a connection took (whole
	// run, warm-up included); nil when no dial was measured.
	ConnectLatency *Latency `json:"connect_latency_seconds,omitempty"`
	// LateResponseLatency summarises the late answers' latency from the
	// write of their request; nil without one.
	LateResponseLatency *Latency `json:"late_response_latency_seconds,omitempty"`
	// OpenLoop is set for a fixed-rate (open-loop) run.
	OpenLoop *OpenLoop `json:"open_loop,omitempty"`
	// CPU is the CPU use over the measured interval (of all repeats
	// together for a scenario); nil when not sampled.
	CPU *CPU `json:"cpu,omitempty"`
	// Instructions is what an instruction-lane scenario counted under
	// callgrind (of all repeats together for a scenario); nil for a load
	// scenario.
	Instructions *Instructions `json:"instructions,omitempty"`
	// ErrorSamples holds up to engine.MaxErrorSamples distinct error
	// messages, first seen first.
	ErrorSamples []string `json:"error_samples,omitempty"`
	// LatencyHistogram is the latency of the responses in microseconds;
	// RateHistogram the per-thread requests per second over each 100 ms
	// (wrk's Req/Sec); ConnectLatencyHistogram the dial times in
	// microseconds. Empty when not recorded.
	LatencyHistogram        Histogram `json:"latency_histogram,omitempty"`
	RateHistogram           Histogram `json:"requests_per_second_histogram,omitempty"`
	ConnectLatencyHistogram Histogram `json:"connect_latency_histogram,omitempty"`
}

// Latency summarises a distribution of durations, in seconds.
type Latency struct {
	// Count is the number of values.
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	Stdev float64 `json:"stdev"`
	Max   float64 `json:"max"`
	P50   float64 `json:"p50"`
	P75   float64 `json:"p75"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99.9"`
	P9999 float64 `json:"p99.99"`
}

// OpenLoop reports a fixed-rate (wrk2-style) run: the asked and achieved
// rates, the requests that could not start on time (StartedLate) or at all
// (NotSent: rate × duration − Sent), and the latency from the actual send
// (uncorrected) beside Measurement.Latency, which counts from the
// intended send time.
type OpenLoop struct {
	TargetRequestsPerSecond   float64  `json:"target_requests_per_second"`
	AchievedRequestsPerSecond float64  `json:"achieved_requests_per_second"`
	StartedLate               uint64   `json:"started_late"`
	NotSent                   uint64   `json:"not_sent"`
	UncorrectedLatency        *Latency `json:"uncorrected_latency_seconds,omitempty"`
}

// CPU is where the CPU time of the machine went over a measured interval,
// in CPU-seconds (user + system time; for the machine, /proc/stat's busy
// time), and what follows from it.
type CPU struct {
	// Managed is true when the target is a process benchd manages; an
	// unmanaged target's CPU cannot be told from other work, so its
	// TargetSeconds is 0 and it is part of ForeignSeconds.
	Managed bool `json:"managed"`
	// TargetSeconds, ClientSeconds and ServicesSeconds are the CPU time of
	// the target's process tree (reaped children included), of benchd, and
	// of the run's services.
	TargetSeconds   float64 `json:"target_seconds"`
	ClientSeconds   float64 `json:"client_seconds"`
	ServicesSeconds float64 `json:"services_seconds"`
	// CPUs is how many CPUs were considered (those benchd or the target
	// may run on); 0 when /proc/stat could not be read.
	CPUs int `json:"cpus"`
	// BusySeconds is the considered CPUs' busy time, whoever used it;
	// StealSeconds and IRQSeconds are parts of it (a hypervisor's other
	// guests; interrupts, which the kernel charges to no process).
	BusySeconds  float64 `json:"busy_seconds"`
	StealSeconds float64 `json:"steal_seconds"`
	IRQSeconds   float64 `json:"irq_seconds"`
	// ForeignSeconds is the busy time neither benchd, the target nor the
	// services used; ForeignRatio it as a share of the considered CPUs'
	// capacity (window × CPUs), 0 to 1; StealRatio likewise for steal.
	ForeignSeconds float64 `json:"foreign_seconds"`
	ForeignRatio   float64 `json:"foreign_ratio"`
	StealRatio     float64 `json:"steal_ratio"`
	// TargetSecondsPerRequest is TargetSeconds per completed request; 0
	// when none completed or the target is not managed.
	TargetSecondsPerRequest float64 `json:"target_seconds_per_request"`
}

// Instructions is what the instruction-count lane measured: the
// instructions (callgrind's Ir event) the target's counted processes (its
// workers) executed over the counted requests, instrumentation switched
// on only for them (docs/regressions.md).
type Instructions struct {
	// Count is the instructions executed.
	Count uint64 `json:"count"`
	// Requests is the counted requests that completed.
	Requests uint64 `json:"requests"`
	// Processes is how many processes were counted.
	Processes int `json:"processes"`
	// PerRequest is Count / Requests; 0 without a request. It is the
	// detector's instructions_per_request.
	PerRequest float64 `json:"per_request"`
}

// Classes counts responses per status class, indexed by [engine.Class];
// in JSON an object keyed by the class names ("2xx"…"5xx").
type Classes [engine.NumClasses]uint64

// Kinds counts failed requests per kind, indexed by [engine.ErrorKind]; in
// JSON an object keyed by the kind names ("connect"…"closed").
type Kinds [engine.NumErrorKinds]uint64

// Total returns the sum over the classes.
func (c Classes) Total() uint64 { return sum(c[:]) }

// Total returns the sum over the kinds.
func (k Kinds) Total() uint64 { return sum(k[:]) }

func sum(v []uint64) uint64 {
	var n uint64
	for _, x := range v {
		n += x
	}
	return n
}

// MarshalJSON encodes c as {"2xx": n, …}.
func (c Classes) MarshalJSON() ([]byte, error) {
	return marshalCounts(c[:], func(i int) string { return engine.Class(i).String() })
}

// UnmarshalJSON decodes what MarshalJSON writes; unknown names are errors.
func (c *Classes) UnmarshalJSON(b []byte) error {
	return unmarshalCounts(b, c[:], func(i int) string { return engine.Class(i).String() })
}

// MarshalJSON encodes k as {"connect": n, …}.
func (k Kinds) MarshalJSON() ([]byte, error) {
	return marshalCounts(k[:], func(i int) string { return engine.ErrorKind(i).String() })
}

// UnmarshalJSON decodes what MarshalJSON writes; unknown names are errors.
func (k *Kinds) UnmarshalJSON(b []byte) error {
	return unmarshalCounts(b, k[:], func(i int) string { return engine.ErrorKind(i).String() })
}

func marshalCounts(v []uint64, name func(int) string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", name(i), n)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func unmarshalCounts(b []byte, v []uint64, name func(int) string) error {
	var m map[string]uint64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	clear(v)
next:
	for k, n := range m {
		for i := range v {
			if name(i) == k {
				v[i] = n
				continue next
			}
		}
		return fmt.Errorf("unknown count %q", k)
	}
	return nil
}

// Histogram is an HDR histogram in HdrHistogram's V2 compressed encoding,
// base64 (what [hdrhistogram.Histogram.Encode] writes, and what every
// HdrHistogram library reads); a JSON string. Empty means none.
type Histogram []byte

// EncodeHistogram encodes h; nil or empty h gives an empty Histogram.
func EncodeHistogram(h *hdrhistogram.Histogram) (Histogram, error) {
	if h == nil || h.TotalCount() == 0 {
		return nil, nil
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	return b, nil
}

// Decode returns the histogram; nil (and no error) when h is empty.
func (h Histogram) Decode() (*hdrhistogram.Histogram, error) {
	if len(h) == 0 {
		return nil, nil
	}
	d, err := hdrhistogram.Decode(h)
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return d, nil
}

// MarshalJSON encodes h as a JSON string (it is base64 already).
func (h Histogram) MarshalJSON() ([]byte, error) {
	if len(h) == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(string(h))
}

// UnmarshalJSON decodes a JSON string of base64, checking the alphabet.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return errors.New("histogram: not base64")
	}
	if s == "" {
		*h = nil
		return nil
	}
	*h = Histogram(s)
	return nil
}

// P50 and P99 return the latency percentiles in seconds; NaN when there
// was no response.
func (m *Measurement) P50() float64 { return m.latency(func(l *Latency) float64 { return l.P50 }) }

// P99 is documented at P50.
func (m *Measurement) P99() float64 { return m.latency(func(l *Latency) float64 { return l.P99 }) }

func (m *Measurement) latency(f func(*Latency) float64) float64 {
	if m.Latency == nil {
		return math.NaN()
	}
	return f(m.Latency)
}

// Measured reports whether load was applied: at least one connection was
// established.
func (m *Measurement) Measured() bool { return m.ConnectionsEstablished > 0 }

// Ran reports whether the engine ran at all: a request was sent or a
// connection opened. A scenario that failed before its load (the target
// did not start) did not run.
func (m *Measurement) Ran() bool { return m.Sent > 0 || m.ConnectionsEstablished > 0 }

// InterruptedPrefix starts the stored error of a scenario cut short by
// its run's stop (the scheduler's ErrInterrupted, wrapped).
const InterruptedPrefix = "interrupted: "

// Interrupted tells whether s was cut short by its run's stop (a signal,
// a reload): its figures cover part of its duration, so no report
// compares them with a whole one.
func (s *Scenario) Interrupted() bool { return strings.HasPrefix(s.Error, InterruptedPrefix) }

// Segment is one shard's share of a split scenario: segment Index (the
// shard's index, 0 to Count-1) of Count.
type Segment struct {
	Index int `json:"index"`
	Count int `json:"count"`
}
