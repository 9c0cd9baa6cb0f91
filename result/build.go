package result

import (
	"cmp"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/engine"
)

// Measure returns the measurement of r (microseconds become seconds here,
// and nowhere else); the zero Measurement for a nil r. With histograms
// false, only the latency histogram is kept (a repeat's record).
func Measure(r *engine.Result, histograms bool) Measurement {
	if r == nil {
		return Measurement{}
	}
	m := Measurement{
		MeasuredStart: r.Start.UTC(), MeasuredEnd: r.End.UTC(),
		ElapsedSeconds: r.Elapsed.Seconds(),
		Sent:           r.Sent, Requests: r.Completed(),
		Responses: r.Responses, Errors: r.Errors,
		InFlight: r.InFlight, BytesRead: r.BytesRead,
		Unexpected: r.Unexpected, LateResponses: r.LateResponses, LateResponsesPending: r.LateResponsesPending,
		LateResponseLatency:    Summarize(r.LateResponseLatency),
		ConnectionsEstablished: r.ConnectionsEstablished,
		RequestsPerSecond:      r.RequestsPerSecond(),
		ErrorRatio:             r.ErrorRatio(), TimeoutRatio: r.TimeoutRatio(),
		Latency:        Summarize(r.Latency),
		ConnectLatency: Summarize(r.ConnectLatency),
		ErrorSamples:   r.ErrorSamples,
	}
	if r.Start.IsZero() {
		m.MeasuredStart, m.MeasuredEnd = r.Start, r.End
	}
	if r.Elapsed > 0 {
		m.TransferBytesPerSecond = float64(r.BytesRead) / r.Elapsed.Seconds()
	}
	if r.Plan.Rate > 0 {
		o := &OpenLoop{TargetRequestsPerSecond: r.Plan.Rate, StartedLate: r.StartedLate, UncorrectedLatency: Summarize(r.LatencyUncorrected)}
		if r.Elapsed > 0 {
			o.AchievedRequestsPerSecond = float64(r.Sent) / r.Elapsed.Seconds()
			if intended := uint64(r.Plan.Rate * r.Elapsed.Seconds()); intended > r.Sent {
				o.NotSent = intended - r.Sent
			}
		}
		m.OpenLoop = o
	}
	// Encoding a valid histogram does not fail; a failure leaves it out.
	m.LatencyHistogram, _ = EncodeHistogram(r.Latency)
	if histograms {
		m.RateHistogram, _ = EncodeHistogram(r.RequestsPerSecondSamples)
		m.ConnectLatencyHistogram, _ = EncodeHistogram(r.ConnectLatency)
	}
	return m
}

// Summarize summarises an HDR histogram of microseconds in seconds; nil
// when h is nil or empty. Its percentiles are [Percentile]'s.
func Summarize(h *hdrhistogram.Histogram) *Latency {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	q := func(p float64) float64 { return float64(Percentile(h, p)) / 1e6 }
	return &Latency{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1e6, Stdev: h.StdDev() / 1e6, Max: float64(h.Max()) / 1e6,
		P50: q(50), P75: q(75), P90: q(90), P99: q(99), P999: q(99.9), P9999: q(99.99),
	}
}

// Percentile returns the value at percentile p (0 to 100) of h, in h's
// unit; 0 when h is nil or empty. It is hdrhistogram-go's
// ValueAtQuantile (github.com/HdrHistogram/hdrhistogram-go): the value of
// rank p% of the count rounded half up (at least 1), taken as the highest
// value of its bucket (at 3 significant digits at most 0.1 % above the
// value recorded). wrk's own rank (rounded up) and bucket middle differ by
// up to a bucket and a rank. Every percentile benchd stores, prints or
// exports is this one: the JSON record, the wrk text block (which prints
// the record's) and the metrics' summary.
func Percentile(h *hdrhistogram.Histogram, p float64) int64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return h.ValueAtQuantile(p)
}

// FromEngine returns the record of one engine result: its plan's
// request and load settings and its measurement, all histograms kept. The
// caller adds the scenario's identity, repeats and resource use.
func FromEngine(r *engine.Result) Scenario {
	if r == nil {
		return Scenario{}
	}
	return Scenario{
		URL: r.Plan.URL, Method: r.Plan.Method,
		Connections: r.Plan.Connections, Threads: r.Plan.Threads,
		DurationSeconds: r.Plan.Duration.Seconds(), TimeoutSeconds: r.Plan.Timeout.Seconds(),
		OnTimeout:   cmp.Or(string(r.Plan.OnTimeout), string(engine.TimeoutReconnect)),
		Measurement: Measure(r, true),
	}
}
