package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/engine"
)

// Entry is one scenario of a run, as reports show it.
type Entry struct {
	// Scenario is the scenario name, target/mode/endpoint.
	Scenario string `json:"scenario"`
	// Target, Mode and Endpoint are the scenario's parts; Mode is "-" for
	// an endpoint without modes.
	Target   string `json:"target"`
	Mode     string `json:"mode"`
	Endpoint string `json:"endpoint"`
	// TargetTitle and EndpointTitle head the Markdown sections; empty
	// means the name.
	TargetTitle   string `json:"-"`
	EndpointTitle string `json:"-"`
	// Result is what the engine measured; nil when no load was applied.
	Result *engine.Result `json:"-"`
	// RepeatRequestsPerSecond is the Requests/sec of each repeat when the
	// scenario ran more than once (config repeats); Result is then their
	// sum. Nil for a single run.
	RepeatRequestsPerSecond []float64 `json:"repeat_requests_per_second,omitempty"`
	// Error says why the scenario failed; empty when it ran.
	Error string `json:"error,omitempty"`
	// TargetCPUSeconds and TargetPeakRSSBytes are the resource use of the
	// target's process tree during the scenario (zero if unmanaged).
	TargetCPUSeconds   float64 `json:"target_cpu_seconds"`
	TargetPeakRSSBytes uint64  `json:"target_peak_rss_bytes"`
	// ClientCPUSeconds and ClientPeakRSSBytes are benchd's own.
	ClientCPUSeconds   float64 `json:"client_cpu_seconds"`
	ClientPeakRSSBytes uint64  `json:"client_peak_rss_bytes"`
}

// WriteMarkdown writes entries in the layout of the seed document
// (config/testdata/seed-django-workers-results.md): "# title" (none when
// title is ""), then per
// target "## title", per endpoint "### title", per mode "#### Sync" or
// "#### Async", and the wrk block in a bash fence. Entries must be in
// matrix order (target, endpoint, mode); a failed scenario gets a
// "Failed: reason" line after its block, or instead of it when no load
// was applied.
func WriteMarkdown(w io.Writer, title string, entries []Entry) error {
	var b strings.Builder
	if title != "" {
		fmt.Fprintf(&b, "# %s\n", title)
	}
	var target, endpoint string
	for _, e := range entries {
		if e.Target != target {
			target, endpoint = e.Target, ""
			fmt.Fprintf(&b, "## %s\n\n", or(e.TargetTitle, e.Target))
		}
		if e.Endpoint != endpoint {
			endpoint = e.Endpoint
			fmt.Fprintf(&b, "### %s\n", or(e.EndpointTitle, e.Endpoint))
		}
		if e.Mode != "-" && e.Mode != "" {
			fmt.Fprintf(&b, "#### %s\n", strings.ToUpper(e.Mode[:1])+e.Mode[1:])
		}
		b.WriteString("\n")
		if e.Result != nil {
			b.WriteString("```bash\n")
			if err := WriteWrk(&b, e.Result, WrkOptions{RepeatRequestsPerSecond: e.RepeatRequestsPerSecond}); err != nil {
				return err
			}
			b.WriteString("```\n\n")
		}
		if e.Error != "" {
			fmt.Fprintf(&b, "Failed: %s\n\n", e.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Summary is the JSON form of an [engine.Result]. Times are in seconds,
// sizes in bytes. Latency and ConnectLatency are omitted when their
// histogram is nil or empty (no response; no dial measured).
type Summary struct {
	URL                    string            `json:"url"`
	Method                 string            `json:"method"`
	Connections            int               `json:"connections"`
	ConnectionsEstablished int               `json:"connections_established"`
	Threads                int               `json:"threads"`
	DurationSeconds        float64           `json:"duration_seconds"`
	TimeoutSeconds         float64           `json:"timeout_seconds"`
	Sent                   uint64            `json:"sent"`
	Requests               uint64            `json:"requests"`
	Responses              map[string]uint64 `json:"responses"`
	Errors                 map[string]uint64 `json:"errors"`
	InFlight               uint64            `json:"in_flight"`
	Unexpected             uint64            `json:"unexpected"`
	Late                   *LateSummary      `json:"late_responses,omitempty"`
	BytesRead              uint64            `json:"bytes_read"`
	RequestsPerSecond      float64           `json:"requests_per_second"`
	TransferBytesPerSecond float64           `json:"transfer_bytes_per_second"`
	ErrorRatio             float64           `json:"error_ratio"`
	TimeoutRatio           float64           `json:"timeout_ratio"`
	Latency                *LatencySummary   `json:"latency,omitempty"`
	ConnectLatency         *PhaseSummary     `json:"connect_latency,omitempty"`
	OpenLoop               *OpenLoopSummary  `json:"open_loop,omitempty"`
	ErrorSamples           []string          `json:"error_samples,omitempty"`
}

// LateSummary reports the late answers of a run with on_timeout wait
// (engine.Result.LateResponses): how many arrived after their request's
// timeout (Count), how many connections were closed still waiting for one
// (Pending), and their latency from the write of the request, in seconds.
type LateSummary struct {
	Count   uint64          `json:"count"`
	Pending uint64          `json:"pending"`
	Latency *LatencySummary `json:"latency,omitempty"`
}

// OpenLoopSummary reports an open-loop (fixed-rate, wrk2-style) run: the
// target and achieved rates, the requests that could not start on time
// (StartedLate) or at all (NotSent: Rate × duration − Sent), and the latency
// measured from the actual send (uncorrected), beside the corrected
// latency of Summary.Latency, which counts from the intended send time.
type OpenLoopSummary struct {
	TargetRequestsPerSecond   float64         `json:"target_requests_per_second"`
	AchievedRequestsPerSecond float64         `json:"achieved_requests_per_second"`
	StartedLate               uint64          `json:"started_late"`
	NotSent                   uint64          `json:"not_sent"`
	UncorrectedLatency        *LatencySummary `json:"uncorrected_latency,omitempty"`
}

// LatencySummary holds latency statistics in seconds from an HDR histogram,
// with its full distribution: each bucket's upper bound and count.
type LatencySummary struct {
	Mean         float64            `json:"mean"`
	Stdev        float64            `json:"stdev"`
	Max          float64            `json:"max"`
	Percentiles  map[string]float64 `json:"percentiles"`
	Distribution []Bucket           `json:"distribution"`
}

// PhaseSummary holds the statistics of one phase of a request, such as
// opening its connection, in seconds: Count values (each one a successful
// dial for ConnectLatency), their mean, median, 99th percentile and
// maximum, from an HDR histogram.
type PhaseSummary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Bucket is one non-empty bar of a latency distribution: Count values at
// most UpperSeconds (and above the previous bucket's bound).
type Bucket struct {
	UpperSeconds float64 `json:"le"`
	Count        int64   `json:"count"`
}

// NewSummary returns the JSON form of r.
func NewSummary(r *engine.Result) Summary {
	s := Summary{
		URL:                    r.Plan.URL,
		Method:                 r.Plan.Method,
		Connections:            r.Plan.Connections,
		ConnectionsEstablished: r.ConnectionsEstablished,
		Threads:                r.Plan.Threads,
		DurationSeconds:        r.Elapsed.Seconds(),
		TimeoutSeconds:         r.Plan.Timeout.Seconds(),
		Sent:                   r.Sent,
		Requests:               r.Completed(),
		Responses:              map[string]uint64{},
		Errors:                 map[string]uint64{},
		InFlight:               r.InFlight,
		Unexpected:             r.Unexpected,
		BytesRead:              r.BytesRead,
		RequestsPerSecond:      r.RequestsPerSecond(),
		ErrorRatio:             r.ErrorRatio(),
		TimeoutRatio:           r.TimeoutRatio(),
		ErrorSamples:           r.ErrorSamples,
	}
	if r.Elapsed > 0 {
		s.TransferBytesPerSecond = float64(r.BytesRead) / r.Elapsed.Seconds()
	}
	for c, n := range r.Responses {
		s.Responses[engine.Class(c).String()] = n
	}
	for k, n := range r.Errors {
		s.Errors[engine.ErrorKind(k).String()] = n
	}
	s.Latency = latencySummary(r.Latency)
	if r.Plan.OnTimeout == engine.TimeoutWait {
		s.Late = &LateSummary{Count: r.LateResponses, Pending: r.LateResponsesPending, Latency: latencySummary(r.LateResponseLatency)}
	}
	if r.Plan.Rate > 0 {
		o := &OpenLoopSummary{
			TargetRequestsPerSecond: r.Plan.Rate,
			StartedLate:             r.StartedLate,
			UncorrectedLatency:      latencySummary(r.LatencyUncorrected),
		}
		if r.Elapsed > 0 {
			o.AchievedRequestsPerSecond = float64(r.Sent) / r.Elapsed.Seconds()
			if intended := uint64(r.Plan.Rate * r.Elapsed.Seconds()); intended > r.Sent {
				o.NotSent = intended - r.Sent
			}
		}
		s.OpenLoop = o
	}
	if h := r.ConnectLatency; h != nil && h.TotalCount() > 0 {
		s.ConnectLatency = &PhaseSummary{
			Count: h.TotalCount(),
			Mean:  h.Mean() / 1e6,
			P50:   float64(h.ValueAtQuantile(50)) / 1e6,
			P99:   float64(h.ValueAtQuantile(99)) / 1e6,
			Max:   float64(h.Max()) / 1e6,
		}
	}
	return s
}

// latencySummary summarises an HDR histogram of microseconds in seconds;
// nil when it is empty.
func latencySummary(h *hdrhistogram.Histogram) *LatencySummary {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	l := &LatencySummary{
		Mean:        h.Mean() / 1e6,
		Stdev:       h.StdDev() / 1e6,
		Max:         float64(h.Max()) / 1e6,
		Percentiles: map[string]float64{},
	}
	for _, q := range []float64{50, 75, 90, 99, 99.9, 99.99} {
		l.Percentiles[fmt.Sprintf("p%g", q)] = float64(h.ValueAtQuantile(q)) / 1e6
	}
	for _, bar := range h.Distribution() {
		if bar.Count > 0 {
			l.Distribution = append(l.Distribution, Bucket{UpperSeconds: float64(bar.To) / 1e6, Count: bar.Count})
		}
	}
	return l
}

// WriteJSON writes r as one indented JSON [Summary].
func WriteJSON(w io.Writer, r *engine.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NewSummary(r))
}

// WriteEntriesJSON writes a run's entries as a JSON array; each entry's
// result, when present, is under "result" as a [Summary].
func WriteEntriesJSON(w io.Writer, entries []Entry) error {
	type out struct {
		Entry
		Result *Summary `json:"result,omitempty"`
	}
	list := make([]out, len(entries))
	for i, e := range entries {
		list[i].Entry = e
		if e.Result != nil {
			s := NewSummary(e.Result)
			list[i].Result = &s
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}
