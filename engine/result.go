package engine

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Class is the status class of a completed response.
type Class int

// Status classes, as counted in [Result.Responses].
const (
	Class2xx Class = iota
	Class3xx
	Class4xx
	Class5xx
	// NumClasses is the number of classes; responses with a status below
	// 200 or above 599 are counted as 5xx (not 2xx/3xx, so wrk's non-2xx-or-3xx).
	NumClasses
)

// String returns the label of c: "2xx", "3xx", "4xx" or "5xx".
func (c Class) String() string {
	switch c {
	case Class2xx:
		return "2xx"
	case Class3xx:
		return "3xx"
	case Class4xx:
		return "4xx"
	case Class5xx:
		return "5xx"
	}
	return "unknown"
}

// ErrorKind is the class of a failed request, as wrk's socket errors plus
// closed.
type ErrorKind int

// Error kinds, as counted in [Result.Errors].
const (
	// KindConnect means the connection could not be opened: refused, not
	// within Plan.ConnectTimeout (a full accept queue drops SYNs), or for
	// https a failed TLS handshake (an unverified certificate, say; the
	// sample reads "connect: tls handshake: ...").
	KindConnect ErrorKind = iota
	// KindRead means reading the response failed (reset, malformed response).
	KindRead
	// KindWrite means writing the request failed.
	KindWrite
	// KindTimeout means the request deadline (Plan.Timeout) fired. Counted once,
	// when it fires; then the connection is closed and a new one opened, or
	// with Plan.OnTimeout TimeoutWait kept for the late answer (see
	// Result.LateResponses).
	KindTimeout
	// KindClosed means the server closed a kept-alive connection before answering.
	KindClosed
	// NumErrorKinds is the number of kinds.
	NumErrorKinds
)

// String returns the label of k: "connect", "read", "write", "timeout" or "closed".
func (k ErrorKind) String() string {
	switch k {
	case KindConnect:
		return "connect"
	case KindRead:
		return "read"
	case KindWrite:
		return "write"
	case KindTimeout:
		return "timeout"
	case KindClosed:
		return "closed"
	}
	return "unknown"
}

// MaxErrorSamples is how many distinct error messages a [Result] keeps.
const MaxErrorSamples = 10

// Result is what one load test measured, warm-up excluded (but for
// ConnectionsEstablished and ConnectLatency, which cover the whole run). It
// is not safe for concurrent mutation; the caller owns it after [Run]
// returns.
type Result struct {
	// Plan is the plan as run, with defaults applied.
	Plan Plan
	// Start and End bound the measured interval (after warm-up, up to the
	// end of Duration).
	Start, End time.Time
	// Elapsed is End - Start: the denominator of every per-second figure.
	Elapsed time.Duration
	// Sent counts requests started in the measured interval. A request that
	// needed a new connection counts from the dial, so a failed dial is one
	// sent request that failed with KindConnect.
	Sent uint64
	// Responses counts responses received within the timeout, per class.
	Responses [NumClasses]uint64
	// Errors counts failed requests, per kind.
	Errors [NumErrorKinds]uint64
	// InFlight counts requests still unanswered when the grace ended (or
	// the run was stopped) whose deadline had not fired.
	// Invariant: Sent = Completed() + TotalErrors() + InFlight. Late
	// answers are not in it: their requests are counted once, as
	// timeouts, in TotalErrors().
	InFlight uint64
	// Unexpected counts the responses, among those in Responses, that
	// Plan.Expect does not accept: a status outside Expect.Status (by
	// default any but 2xx and 3xx, so that it then equals Non2xx3xx()) or a
	// body failing its checks, each response once. They stay in Responses
	// and Latency; ErrorRatio counts them beside the errors. A Result
	// built elsewhere (from stored history, in a test) must set it:
	// nothing derives it from Responses.
	Unexpected uint64
	// LateResponses counts, with Plan.OnTimeout TimeoutWait, the answers
	// that arrived whole after their request's deadline had fired and
	// before the end of the grace. Their requests are counted (once) in
	// Errors[KindTimeout], so late answers are not in Completed(),
	// Responses, Unexpected, Latency or RequestsPerSecond; their bytes are
	// in BytesRead. Zero with TimeoutReconnect.
	LateResponses uint64
	// LateResponsesPending counts, with Plan.OnTimeout TimeoutWait, the
	// timed-out requests whose connection was closed before their late
	// answer arrived whole: at the end of the grace, at a stop, or because
	// the connection failed first (closed, reset, a malformed answer).
	// With TimeoutWait, LateResponses + LateResponsesPending =
	// Errors[KindTimeout] but for requests whose write timed out (rare:
	// the server stopped reading), which have no answer to wait for.
	LateResponsesPending uint64
	// LateResponseLatency holds, with Plan.OnTimeout TimeoutWait, the
	// latency of every answer counted in LateResponses, in microseconds
	// (1 µs to at least 2 × Timeout + the run's length, 3 significant
	// digits), from the write of the request to the last byte of the
	// answer, whatever the loop. Nil with TimeoutReconnect.
	LateResponseLatency *hdrhistogram.Histogram
	// BytesRead counts response bytes read on the wire (status line,
	// headers and body) for the requests counted in Sent.
	BytesRead uint64
	// ConnectionsEstablished is the largest number of connections open at
	// once during the whole run, warm-up included.
	ConnectionsEstablished int
	// Latency holds the latency of every response counted in Responses,
	// in microseconds (1 µs to at least 2 × Timeout, 3 significant digits),
	// from the write of the request (closed loop; a new connection's dial
	// time is not included, as in wrk) to the last byte of the response.
	// Requests that failed, timeouts included, are not in it. In the open
	// loop it is measured from the intended start instead (see
	// LatencyUncorrected), so it includes any wait and dial.
	Latency *hdrhistogram.Histogram
	// LatencyUncorrected is nil in the closed loop. In the open loop
	// (Plan.Rate > 0) Latency is measured from each request's intended
	// start (coordinated omission corrected) and LatencyUncorrected from
	// the moment the request was actually written, in microseconds.
	LatencyUncorrected *hdrhistogram.Histogram
	// ConnectLatency holds how long opening a connection took (name
	// resolution, the TCP handshake and for https the TLS handshake: from
	// the dial to the connection being usable), in
	// microseconds (1 µs to at least Plan.ConnectTimeout, 3 significant
	// digits): one value per successful dial of the whole run, whatever
	// then became of the request that needed it. Unlike the rest of the
	// Result it includes the warm-up, when the connections are first opened
	// (a server slow to accept shows there); the reconnections after a
	// timeout, an error, Connection: close or a cut body follow. Failed
	// dials are not in it (measured ones are counted in
	// Errors[KindConnect]). Dial time is not part of Latency in the closed
	// loop, nor of LatencyUncorrected. Results built elsewhere (stored
	// history) may leave it nil.
	ConnectLatency *hdrhistogram.Histogram
	// StartedLate counts, in the open loop, the measured requests that
	// could not start at their intended time because their connection was
	// still busy with the previous request (or waiting after a connect
	// error, or for a late answer); zero in the closed loop. They are also
	// counted in Sent. (Not to be confused with LateResponses: answers
	// that came after their deadline.)
	StartedLate uint64
	// RequestsPerSecondSamples holds, per thread, the completed requests per
	// second over each 100 ms interval of the measured interval (wrk's
	// Req/Sec thread statistics): the requests Responses counts (measured,
	// answered within the timeout), so never a warm-up request answered
	// after the warm-up, nor a late answer. Unlike wrk, intervals without any
	// completed request are recorded too (as 0), so a stalled server lowers
	// the figures instead of vanishing from them.
	RequestsPerSecondSamples *hdrhistogram.Histogram
	// ErrorSamples holds up to MaxErrorSamples distinct error messages of
	// measured failures, first seen first, each prefixed with its kind
	// ("connect: dial tcp 127.0.0.1:1: connect: connection refused").
	ErrorSamples []string
}

// Completed returns the number of responses received, all classes.
func (r *Result) Completed() uint64 {
	var n uint64
	for _, c := range r.Responses {
		n += c
	}
	return n
}

// TotalErrors returns the number of failed requests, all kinds.
func (r *Result) TotalErrors() uint64 {
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// RequestsPerSecond returns completed responses per second of Elapsed, as
// wrk's Requests/sec (wrk also counts late answers; timeouts and
// LateResponses are not here).
func (r *Result) RequestsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Completed()) / r.Elapsed.Seconds()
}

// Non2xx3xx returns wrk's "Non-2xx or 3xx responses": 4xx plus 5xx.
func (r *Result) Non2xx3xx() uint64 {
	return r.Responses[Class4xx] + r.Responses[Class5xx]
}

// ErrorRatio returns (socket errors including timeouts + Unexpected) /
// Sent, DESIGN.md's error ratio; 0 when nothing was sent. With the default
// Plan.Expect, Unexpected is the 4xx and 5xx responses.
func (r *Result) ErrorRatio() float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.TotalErrors()+r.Unexpected) / float64(r.Sent)
}

// TimeoutRatio returns timeouts / Sent; 0 when nothing was sent.
func (r *Result) TimeoutRatio() float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Errors[KindTimeout]) / float64(r.Sent)
}
