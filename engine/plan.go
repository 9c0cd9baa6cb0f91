package engine

import (
	"time"
)

// Defaults of a [Plan]; zero fields of a Plan take these values in [Run].
const (
	// DefaultMethod is the HTTP method when Plan.Method is empty.
	DefaultMethod = "GET"
	// DefaultConnections is wrk's default number of connections (-c 10).
	DefaultConnections = 10
	// DefaultDuration is wrk's default test duration (-d 10s).
	DefaultDuration = 10 * time.Second
	// DefaultTimeout is wrk's default socket/request timeout (--timeout 2s).
	DefaultTimeout = 2 * time.Second
	// DefaultConnectTimeout is the deadline of opening one connection when
	// Plan.ConnectTimeout is zero: time for three SYN retransmissions.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultMaxBodyBytes caps how much of one response body is read;
	// the rest of a larger body is not read (see Plan.MaxBodyBytes).
	DefaultMaxBodyBytes = 64 << 20
)

// Header is one request header line. Name "Host" (any case) replaces the
// Host header taken from the URL and must not be empty; Content-Length and Transfer-Encoding are
// not allowed (the engine frames Body itself). [ParseHeader] reads one from
// wrk's -H syntax.
type Header struct {
	Name  string
	Value string
}

// Plan describes one load test. A Plan is a value: copy it freely. The zero
// values of its optional fields are replaced by the DefaultX constants.
type Plan struct {
	// URL is the absolute http:// or https:// URL every request goes to.
	// Required. For https the engine does the TLS handshake on each new
	// connection, within ConnectTimeout (its time is connect latency, its
	// failures connect errors), with SNI and certificate verification for
	// the URL's host, and resumes TLS sessions across reconnections.
	URL string
	// Method is the request method; empty means DefaultMethod.
	Method string
	// Headers are sent with every request, in order.
	Headers []Header
	// Body is sent with every request; nil sends none.
	Body []byte
	// Connections is the number of keep-alive connections kept busy
	// (wrk -c); zero means DefaultConnections.
	Connections int
	// Threads is the number of shards the connections are split into, each
	// with its own latency histogram and rate samples (wrk -t); zero means
	// GOMAXPROCS, and it is capped at Connections.
	Threads int
	// Warmup is load applied before measuring; its requests are not
	// counted. Zero means no warm-up.
	Warmup time.Duration
	// Duration is how long requests are measured after the warm-up
	// (wrk -d); zero means DefaultDuration.
	Duration time.Duration
	// Timeout is the total deadline of one request, from send to the last
	// byte of the response (wrk --timeout); zero means DefaultTimeout.
	// Opening a connection is not part of it: see ConnectTimeout.
	// Requests are never retried. What the connection does once the
	// deadline fired is OnTimeout's choice.
	Timeout time.Duration
	// OnTimeout is what a connection does after a request's deadline
	// fired (the request counts as a KindTimeout error either way, when
	// the deadline fires): "" or TimeoutReconnect closes the connection and
	// opens a new one; TimeoutWait keeps it, sends nothing more on it until
	// the late answer has arrived (Result.LateResponses) and then reuses it.
	OnTimeout TimeoutPolicy
	// ConnectTimeout is how long opening one connection (for https the
	// TLS handshake included) may take before it counts as a connect
	// error; zero means DefaultConnectTimeout. wrk has
	// no such limit: a server whose accept queue is full drops SYNs and
	// the kernel retransmits them after 1 s, 3 s, 7 s, so a limit as short
	// as a 2 s request timeout would report an overloaded server's slow
	// accepts as connect errors where wrk reports none.
	ConnectTimeout time.Duration
	// Grace is how long, after Duration, requests in flight may still
	// finish; they are counted as in flight at end if they do not.
	// Zero means Timeout.
	Grace time.Duration
	// Rate, when positive, switches to open loop: requests start at this
	// many per second over the connection pool and latency is measured
	// from each request's intended start (coordinated omission corrected,
	// as wrk2). Zero means closed loop, as wrk. As in wrk2, each connection
	// carries Rate/Connections requests per second on a fixed schedule
	// (the connections' schedules staggered), one request at a time: a
	// request whose connection is still busy starts late (Result.StartedLate) and
	// its wait counts in its latency; requests still queued when Duration
	// ends are not sent, so Sent falls short of Rate × Duration.
	Rate float64
	// MaxBodyBytes caps the bytes of one response body that are read;
	// zero means DefaultMaxBodyBytes. Bodies are never kept: they are read
	// through a small buffer and dropped. A larger body still counts as a
	// response (its latency ends at the cap), but the rest of it is left
	// unread and its connection is closed and opened again.
	MaxBodyBytes int
	// InsecureSkipVerify, for an https URL, accepts any server certificate
	// (curl -k): for self-signed test servers only. False verifies it
	// against the system roots, or CAFile.
	InsecureSkipVerify bool
	// Expect is what a response must be to count as expected; its zero
	// value accepts any 2xx or 3xx status and checks no body, as wrk.
	// Responses it does not accept are counted in Result.Unexpected.
	Expect Expect
	// CAFile is a PEM file of the CA certificates that verify an https
	// server instead of the system roots; "" means the system roots. It is
	// read when the plan is checked.
	CAFile string
}

// TimeoutPolicy is what a connection does after a request's deadline
// (Plan.Timeout) fired; see Plan.OnTimeout. Its values are the words the
// configuration and the command line use.
type TimeoutPolicy string

// Timeout policies.
const (
	// TimeoutReconnect closes the connection and opens a new one for the
	// next request; the answer, if it ever comes, is not read. The zero
	// value "" means the same.
	TimeoutReconnect TimeoutPolicy = "reconnect"
	// TimeoutWait keeps the connection and sends nothing more on it until
	// the late answer has arrived, is read to its end and counted in
	// Result.LateResponses (never as a response); then the connection
	// carries the next request. wrk waits too, but counts the late answer
	// as a completed request and its time as latency. A connection still
	// waiting at the end of the grace, or whose late answer fails (the
	// server closes the connection, say), is closed and counted in
	// Result.LateResponsesPending. A write that times out closes the
	// connection as with TimeoutReconnect: no answer can follow a request
	// that was not sent whole.
	TimeoutWait TimeoutPolicy = "wait"
)

// Expect is what a response must be to count as expected (see
// Plan.Expect). A response may fail several checks; it is counted once in
// Result.Unexpected. Its zero value accepts any 2xx or 3xx status, so that
// Result.Unexpected equals wrk's "Non-2xx or 3xx responses".
type Expect struct {
	// Status lists the accepted status codes, each from 100 to 599; empty
	// means any code from 200 to 399.
	Status []int
	// BodyContains, when not empty, must occur in the body as read (after
	// chunked decoding, before any content decoding: the bytes of a
	// compressed body), within its first MaxBodyBytes. A match split
	// across reads is found.
	BodyContains string
	// BodyMinBytes and BodyMaxBytes bound the length of the body in bytes
	// (as read, as for BodyContains); zero means no bound. BodyMaxBytes,
	// when set, is at least BodyMinBytes and at most MaxBodyBytes, so that
	// a body cut at MaxBodyBytes fails it.
	BodyMinBytes, BodyMaxBytes int
}

// checksBody reports whether e checks the body at all.
func (e *Expect) checksBody() bool {
	return e.BodyContains != "" || e.BodyMinBytes > 0 || e.BodyMaxBytes > 0
}
