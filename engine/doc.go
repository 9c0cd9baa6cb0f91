// Package engine runs one HTTP/1.1 load test against one URL and returns what
// it measured: a wrk-class load generator with an event loop per thread
// for http and fasthttp's response codec for https.
//
// # What it does
//
// [Run] takes a [Plan] and keeps Plan.Connections keep-alive connections
// busy. In the closed loop (Plan.Rate zero, like wrk) each connection sends
// its next request as soon as the previous one has ended. A run has three
// phases: a warm-up whose requests are not counted, the measured Duration,
// and a bounded grace in which requests sent during the measurement may
// still finish; those that do not are reported as in flight at end, so
// that Result.Sent = Completed() + TotalErrors() + InFlight always holds.
//
// Every request has one total deadline (Plan.Timeout) and is never retried.
// When it fires the request counts as a timeout, and the connection is
// either closed and opened again (Plan.OnTimeout reconnect, the default)
// or kept, idle, until the late answer has arrived (wait); late answers are
// counted apart (Result.LateResponses), never as responses. Each response
// is checked against Plan.Expect (by default: a 2xx or 3xx status);
// those it does not accept count in Result.Unexpected.
// Failures are sorted into the bounded kinds of [ErrorKind] and responses
// into the status classes of [Class]; latencies, and apart from them the
// time each new connection took to open, go into HDR histograms, one per
// shard (Plan.Threads), merged into the [Result] at the end.
//
// # What it does not do
//
// It speaks HTTP/1.1 only, over TCP or TLS (https URLs, crypto/tls on the
// engine's own connections; no HTTP/2), sends the same request
// on every connection, does not pipeline, and keeps no response bodies: it
// reads them to their end (up to Plan.MaxBodyBytes) and counts their bytes,
// matching Plan.Expect's body checks on the way when there are any.
// It knows nothing of schedules, configuration files, Prometheus or
// tracing; progress is reported through the small [Observer] interface,
// and the bounds of the measured interval to the hooks of a [Trace] the
// context carries (see [WithTrace]).
//
// # Concurrency model
//
// A plain http run has one event loop per shard (wrk's thread), each a
// goroutine locked to its OS thread that owns its connections: sockets
// made non-blocking and watched with edge-triggered epoll, the request
// bytes built once per run and written as they are, one read buffer per
// loop from which responses are parsed as they arrive (status line,
// headers, Content-Length, chunked or close-delimited bodies), a few
// hundred bytes of state per connection, and one deadline heap per loop
// for request and connect deadlines, connect backoffs and the open loop's
// schedule. A request on a kept-alive connection costs one write and one
// read, and its share of one epoll_wait; nothing is allocated.
//
// An https connection is owned by one goroutine that dials it and does
// the TLS handshake (within the connect deadline), writes the request
// bytes and reads the response with fasthttp's Response.ReadLimitBody on
// its own bufio.Reader: crypto/tls wants a blocking net.Conn. On systems
// without epoll plain http takes this path too.
//
// There is no connection pool and no lock on the request path except the
// shard's histogram lock. One more goroutine samples the per-shard
// request rate every 100 ms and calls the Observer. Run returns only
// after all of them have ended. Run may be called concurrently; runs
// share nothing.
package engine
