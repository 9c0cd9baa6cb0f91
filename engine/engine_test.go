package engine

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the child process of some tests.
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// checkInvariant fails t unless Sent = Completed + TotalErrors + InFlight,
// the latency histogram holds exactly the completed responses and the
// connect histogram at least one dial per connection established and,
// without a warm-up, at most one per request that did not fail to dial.
func checkInvariant(t *testing.T, res *Result) {
	t.Helper()
	if got := res.Completed() + res.TotalErrors() + res.InFlight; got != res.Sent {
		t.Errorf("invariant broken: Sent %d != Completed %d + Errors %d + InFlight %d",
			res.Sent, res.Completed(), res.TotalErrors(), res.InFlight)
	}
	if n := uint64(res.Latency.TotalCount()); n != res.Completed() {
		t.Errorf("latency histogram holds %d values, want Completed %d", n, res.Completed())
	}
	n := res.ConnectLatency.TotalCount()
	if n < int64(res.ConnectionsEstablished) {
		t.Errorf("connect histogram holds %d values for %d connections established", n, res.ConnectionsEstablished)
	}
	if res.Plan.Warmup == 0 && uint64(n) > res.Sent-res.Errors[KindConnect] {
		t.Errorf("connect histogram holds %d values for %d requests and %d failed dials",
			n, res.Sent, res.Errors[KindConnect])
	}
}

// env is what a case's check may look at besides the result.
type env struct {
	raw  *rawServer    // the raw server, if the case uses one
	hits *atomic.Int64 // requests the net/http handler saw, if it uses one
}

// neverAnswer reads requests and never answers them.
func neverAnswer(net.Conn, int) bool { return true }

func TestRun(t *testing.T) {
	const delay = 20 * time.Millisecond
	tests := []struct {
		name    string
		raw     behaviour        // a raw server, or
		handler http.HandlerFunc // a net/http server
		plan    Plan             // URL is filled in
		check   func(t *testing.T, res *Result, e env)
	}{
		{
			name: "fixed delay",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				time.Sleep(delay)
				_, _ = io.WriteString(w, "ok")
			},
			plan: Plan{Connections: 4, Threads: 2, Warmup: 200 * time.Millisecond, Duration: time.Second},
			check: func(t *testing.T, res *Result, _ env) {
				if res.TotalErrors() != 0 || res.InFlight != 0 {
					t.Errorf("errors %v, in flight %d; want none", res.Errors, res.InFlight)
				}
				if res.Responses[Class2xx] != res.Completed() {
					t.Errorf("responses %v, want all 2xx", res.Responses)
				}
				// Each connection completes at most Duration/delay + 1 requests.
				if maxSent := uint64(4 * (time.Second/delay + 1)); res.Sent > maxSent || res.Sent < maxSent/4 {
					t.Errorf("sent %d, want between %d and %d", res.Sent, maxSent/4, maxSent)
				}
				p50 := time.Duration(res.Latency.ValueAtQuantile(50)) * time.Microsecond
				if p50 < delay || p50 > delay+50*time.Millisecond {
					t.Errorf("p50 %s, want %s to %s", p50, delay, delay+50*time.Millisecond)
				}
				// net/http's answers here all have the same length.
				if res.Completed() == 0 || res.BytesRead == 0 || res.BytesRead%res.Completed() != 0 {
					t.Errorf("bytes read %d for %d equal responses", res.BytesRead, res.Completed())
				}
				// Two shards, one sample per 100 ms of one second each.
				if n := res.RequestsPerSecondSamples.TotalCount(); n < 2*8 || n > 2*10 {
					t.Errorf("%d rate samples, want 16 to 20", n)
				}
				// Two connections per shard, each at most 1/delay per second.
				if m := res.RequestsPerSecondSamples.Mean(); m <= 0 || m > 2*float64(time.Second/delay)*1.1 {
					t.Errorf("mean rate sample %.1f/s, want (0, %d]", m, 2*time.Second/delay)
				}
				if res.ConnectionsEstablished != 4 {
					t.Errorf("connections established %d, want 4", res.ConnectionsEstablished)
				}
				// The four dials happened in the warm-up, and count.
				if n := res.ConnectLatency.TotalCount(); n != 4 {
					t.Errorf("%d dials measured, want the 4 of the warm-up", n)
				}
				if res.Elapsed != time.Second || !res.End.Equal(res.Start.Add(time.Second)) {
					t.Errorf("elapsed %s from %s to %s, want 1s", res.Elapsed, res.Start, res.End)
				}
			},
		},
		{
			name:    "server errors are 5xx",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
			plan:    Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				if res.Completed() == 0 || res.Responses[Class5xx] != res.Completed() || res.Non2xx3xx() != res.Completed() {
					t.Errorf("responses %v, want only 5xx", res.Responses)
				}
				if res.ErrorRatio() != 1 {
					t.Errorf("error ratio %v, want 1", res.ErrorRatio())
				}
				// Warm-up is zero: the server saw the measured requests only.
				if !waitFor(time.Second, func() bool { return uint64(e.hits.Load()) == res.Sent }) {
					t.Errorf("server saw %d requests, engine sent %d", e.hits.Load(), res.Sent)
				}
			},
		},
		{
			name: "warm-up is not counted",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				time.Sleep(5 * time.Millisecond)
			},
			plan: Plan{Connections: 2, Warmup: 400 * time.Millisecond, Duration: 400 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				if res.Completed() == 0 || res.TotalErrors() != 0 {
					t.Fatalf("completed %d, errors %v", res.Completed(), res.Errors)
				}
				// Half the time was warm-up: the server saw about twice Sent.
				if got := uint64(e.hits.Load()); got < res.Sent+res.Sent/3 {
					t.Errorf("server saw %d requests, engine counted %d: warm-up counted?", got, res.Sent)
				}
				// Dials are the exception: the warm-up's count.
				if n := res.ConnectLatency.TotalCount(); n != 2 {
					t.Errorf("%d dials measured, want the 2 of the warm-up", n)
				}
			},
		},
		{
			name: "connection close after every response",
			raw: func(c net.Conn, _ int) bool {
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
				return false
			},
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				if res.Completed() == 0 || res.TotalErrors() != 0 {
					t.Errorf("completed %d, errors %v (%q); want responses only", res.Completed(), res.Errors, res.ErrorSamples)
				}
				if c, r := e.raw.conns.Load(), e.raw.requests.Load(); c != r {
					t.Errorf("server saw %d connections for %d requests, want one each", c, r)
				}
				// Every request dialled its own connection.
				if n := uint64(res.ConnectLatency.TotalCount()); n != res.Sent {
					t.Errorf("%d dials measured for %d requests, want one each", n, res.Sent)
				}
				// A loopback handshake takes microseconds, far below a second.
				if m := res.ConnectLatency.Max(); m < 1 || m > 1_000_000 {
					t.Errorf("slowest dial %dµs, want 1µs to 1s", m)
				}
			},
		},
		{
			name: "reset on a new connection is a read error",
			raw: func(c net.Conn, _ int) bool {
				_ = tcpOf(c).SetLinger(0)
				return false
			},
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, _ env) {
				if res.Errors[KindRead] == 0 || res.Completed() != 0 || res.Errors[KindClosed] != 0 {
					t.Errorf("errors %v, completed %d; want read errors only", res.Errors, res.Completed())
				}
				if !sampled(res, "read: ") {
					t.Errorf("samples %q, want a read error", res.ErrorSamples)
				}
			},
		},
		{
			name: "kept-alive connection closed before answering",
			raw: func(c net.Conn, n int) bool {
				if n == 0 {
					_, err := c.Write(okResponse)
					return err == nil
				}
				return false // FIN without an answer
			},
			plan:  Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: checkClosed,
		},
		{
			name: "kept-alive connection reset before answering",
			raw: func(c net.Conn, n int) bool {
				if n == 0 {
					_, err := c.Write(okResponse)
					return err == nil
				}
				_ = tcpOf(c).SetLinger(0)
				return false // RST without an answer
			},
			plan:  Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: checkClosed,
		},
		{
			name: "malformed response",
			raw: func(c net.Conn, _ int) bool {
				_, _ = c.Write([]byte("NOT HTTP AT ALL\r\n\r\n"))
				return true
			},
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, _ env) {
				if res.Errors[KindRead] == 0 || res.Errors[KindRead] != res.TotalErrors() || res.Completed() != 0 {
					t.Errorf("errors %v, completed %d; want read errors only", res.Errors, res.Completed())
				}
			},
		},
		{
			name: "slower than the timeout",
			raw:  neverAnswer,
			plan: Plan{Connections: 2, Duration: time.Second, Timeout: 200 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				if res.Errors[KindTimeout] != res.Sent || res.Completed() != 0 || res.InFlight != 0 {
					t.Errorf("sent %d, errors %v, completed %d, in flight %d; want timeouts only",
						res.Sent, res.Errors, res.Completed(), res.InFlight)
				}
				// One timeout per 200 ms per connection, plus the last one.
				if res.Sent < 2*4 || res.Sent > 2*6 {
					t.Errorf("sent %d, want 8 to 12", res.Sent)
				}
				if res.TimeoutRatio() != 1 {
					t.Errorf("timeout ratio %v, want 1", res.TimeoutRatio())
				}
				// No retries: the server saw exactly one request per timeout,
				// each on its own connection.
				if !waitFor(time.Second, func() bool { return uint64(e.raw.requests.Load()) == res.Sent }) {
					t.Errorf("server saw %d requests for %d timeouts", e.raw.requests.Load(), res.Sent)
				}
				if c := e.raw.conns.Load(); uint64(c) != res.Sent {
					t.Errorf("server saw %d connections for %d timeouts", c, res.Sent)
				}
			},
		},
		{
			name: "unanswered at the end of the grace",
			raw:  neverAnswer,
			plan: Plan{Connections: 3, Duration: 300 * time.Millisecond, Timeout: 5 * time.Second, Grace: 100 * time.Millisecond},
			check: func(t *testing.T, res *Result, _ env) {
				if res.InFlight != 3 || res.Sent != 3 || res.TotalErrors() != 0 {
					t.Errorf("sent %d, in flight %d, errors %v; want 3 in flight", res.Sent, res.InFlight, res.Errors)
				}
			},
		},
		{
			name: "body larger than the cap",
			raw:  bigBody(256 << 10),
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond, MaxBodyBytes: 1000},
			check: func(t *testing.T, res *Result, e env) {
				if res.Completed() == 0 || res.TotalErrors() != 0 {
					t.Fatalf("completed %d, errors %v (%q)", res.Completed(), res.Errors, res.ErrorSamples)
				}
				// Only the cap and one read buffer of each body were read.
				if limit := res.Completed() * (1000 + 2*readBufferBytes); res.BytesRead > limit {
					t.Errorf("read %d bytes for %d responses, want at most %d", res.BytesRead, res.Completed(), limit)
				}
				if !waitFor(time.Second, func() bool { return e.raw.conns.Load() == e.raw.requests.Load() }) {
					t.Errorf("server saw %d connections for %d requests, want a new one after each cut body",
						e.raw.conns.Load(), e.raw.requests.Load())
				}
			},
		},
		{
			name: "chunked body keeps the connection",
			raw:  respond([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")),
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				if res.Completed() == 0 || res.TotalErrors() != 0 {
					t.Errorf("completed %d, errors %v (%q)", res.Completed(), res.Errors, res.ErrorSamples)
				}
				if c := e.raw.conns.Load(); c != 2 {
					t.Errorf("server saw %d connections, want 2", c)
				}
			},
		},
		{
			name: "204 without a body keeps the connection",
			raw:  respond([]byte(noContent)),
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				checkBodyless(t, res, e, Class2xx, noContent)
			},
		},
		{
			// A 304 may carry the Content-Length of the representation it
			// stands for; it still has no body.
			name: "304 with a Content-Length keeps the connection",
			raw:  respond([]byte(notModified)),
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				checkBodyless(t, res, e, Class3xx, notModified)
			},
		},
		{
			name: "304 without a Content-Length keeps the connection",
			raw:  respond([]byte(notModifiedNoLength)),
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, e env) {
				checkBodyless(t, res, e, Class3xx, notModifiedNoLength)
			},
		},
		{
			name: "body until close",
			raw: func(c net.Conn, _ int) bool {
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n\r\nhello"))
				return false
			},
			plan: Plan{Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, _ env) {
				if res.Completed() == 0 || res.TotalErrors() != 0 {
					t.Errorf("completed %d, errors %v (%q)", res.Completed(), res.Errors, res.ErrorSamples)
				}
			},
		},
		{
			name: "HEAD has no body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				_, _ = w.Write(make([]byte, 1000))
			},
			plan: Plan{Method: "HEAD", Connections: 2, Duration: 300 * time.Millisecond},
			check: func(t *testing.T, res *Result, _ env) {
				if res.Completed() == 0 || res.TotalErrors() != 0 || res.ConnectionsEstablished != 2 {
					t.Errorf("completed %d, errors %v, connections %d", res.Completed(), res.Errors, res.ConnectionsEstablished)
				}
			},
		},
		{
			name: "method, headers and body are sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if r.Method != http.MethodPost || r.Host != "example.test" || r.Header.Get("X-Bench") != "1" ||
					string(body) != "payload" || r.URL.RawQuery != "q=1" {
					w.WriteHeader(http.StatusBadRequest)
				}
			},
			plan: Plan{
				Method: "POST", Body: []byte("payload"), Connections: 2, Duration: 300 * time.Millisecond,
				Headers: []Header{{Name: "host", Value: "example.test"}, {Name: "X-Bench", Value: "1"}},
			},
			check: func(t *testing.T, res *Result, _ env) {
				if res.Completed() == 0 || res.Responses[Class2xx] != res.Completed() {
					t.Errorf("responses %v, want all 2xx", res.Responses)
				}
			},
		},
	}
	// Every case runs over http and over https (verified with the test
	// CA): the engine's faults must look the same under TLS.
	for _, scheme := range []string{"http", "https"} {
		for _, tt := range tests {
			t.Run(scheme+"/"+tt.name, func(t *testing.T) {
				var e env
				p := tt.plan
				if scheme == "https" {
					p.CAFile = testCAFile(t)
				}
				switch {
				case tt.raw != nil && scheme == "https":
					e.raw = startRawTLS(t, tt.raw)
					p.URL = e.raw.url
				case tt.raw != nil:
					e.raw = startRaw(t, tt.raw)
					p.URL = e.raw.url
				default:
					e.hits = new(atomic.Int64)
					srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						e.hits.Add(1)
						tt.handler(w, r)
					}))
					if scheme == "https" {
						srv.TLS = serverTLS(t)
						srv.StartTLS()
					} else {
						srv.Start()
					}
					t.Cleanup(srv.Close)
					p.URL = srv.URL + "/path?q=1"
				}
				res, err := Run(t.Context(), p, nil)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				checkInvariant(t, res)
				tt.check(t, res, e)
			})
		}
	}
}

// checkClosed checks a server that answers the first request of each
// connection and drops the second unanswered.
func checkClosed(t *testing.T, res *Result, _ env) {
	t.Helper()
	if res.Errors[KindClosed] == 0 || res.Completed() == 0 || res.Errors[KindRead] != 0 {
		t.Errorf("errors %v, completed %d (%q); want responses and closed", res.Errors, res.Completed(), res.ErrorSamples)
	}
	// Each connection alternates: one response, one closed.
	if d := int64(res.Errors[KindClosed]) - int64(res.Completed()); d < -2*2 || d > 2*2 {
		t.Errorf("closed %d and completed %d should alternate", res.Errors[KindClosed], res.Completed())
	}
}

// Responses without a body: a 204 without a length, a 304 announcing the
// length of the body it does not send, and one announcing none.
const (
	noContent           = "HTTP/1.1 204 No Content\r\nDate: Sun, 29 Nov 2026 18:00:00 GMT\r\n\r\n"
	notModified         = "HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\nContent-Length: 1234\r\n\r\n"
	notModifiedNoLength = "HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n\r\n"
)

// checkBodyless checks a server answering every request with resp, which
// has no body: all responses of class want, no errors, exactly the head's
// bytes read per response, and each connection kept alive.
func checkBodyless(t *testing.T, res *Result, e env, want Class, resp string) {
	t.Helper()
	if res.Completed() == 0 || res.Responses[want] != res.Completed() || res.TotalErrors() != 0 {
		t.Errorf("responses %v, errors %v (%q); want %s only", res.Responses, res.Errors, res.ErrorSamples, want)
	}
	if res.BytesRead != res.Completed()*uint64(len(resp)) {
		t.Errorf("read %d bytes for %d responses of %d bytes", res.BytesRead, res.Completed(), len(resp))
	}
	if c := e.raw.conns.Load(); c != 2 || res.ConnectionsEstablished != 2 {
		t.Errorf("server saw %d connections, engine opened %d; want 2 kept alive", c, res.ConnectionsEstablished)
	}
	// The dials of the two connections, no more.
	if n := res.ConnectLatency.TotalCount(); n != 2 {
		t.Errorf("%d dials measured, want 2", n)
	}
}

func sampled(res *Result, substr string) bool {
	for _, s := range res.ErrorSamples {
		if strings.Contains(s, substr) {
			return true
		}
	}
	return false
}

func TestRunClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	const conns, duration = 2, 500 * time.Millisecond
	res, err := Run(t.Context(), Plan{URL: "http://" + addr + "/", Connections: conns, Duration: duration}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if res.Errors[KindConnect] != res.Sent || res.Sent < conns {
		t.Errorf("sent %d, errors %v; want connect errors only", res.Sent, res.Errors)
	}
	// The backoff bounds the attempts: no busy loop.
	if limit := uint64(conns * (duration/minConnectBackoff + 1)); res.Sent > limit {
		t.Errorf("%d connect attempts in %s, want at most %d", res.Sent, duration, limit)
	}
	if res.ConnectionsEstablished != 0 {
		t.Errorf("connections established %d, want 0", res.ConnectionsEstablished)
	}
	if !sampled(res, "connect: ") || !sampled(res, "refused") {
		t.Errorf("samples %q, want connection refused", res.ErrorSamples)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	const stopAfter = 300 * time.Millisecond
	tests := []struct {
		name      string
		ctx       func(parent context.Context) (context.Context, context.CancelFunc)
		want      error
		abandoned uint64        // requests in flight when stopped
		elapsed   time.Duration // measured before the stop
	}{
		{
			name: "cancel",
			ctx: func(parent context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(parent)
				stop := time.AfterFunc(stopAfter, cancel)
				return ctx, func() { stop.Stop(); cancel() }
			},
			want: context.Canceled, abandoned: 3, elapsed: stopAfter,
		},
		{
			name: "deadline",
			ctx: func(parent context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(parent, stopAfter)
			},
			want: context.DeadlineExceeded, abandoned: 3, elapsed: stopAfter,
		},
		{
			name: "cancelled before the start",
			ctx: func(parent context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(parent)
				cancel()
				return ctx, cancel
			},
			want: context.Canceled, abandoned: 0, elapsed: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRaw(t, neverAnswer)
			ctx, cancel := tt.ctx(t.Context())
			t.Cleanup(cancel)
			began := time.Now()
			res, err := Run(ctx, Plan{URL: srv.url, Connections: 3, Duration: 10 * time.Second, Timeout: 5 * time.Second}, nil)
			if took := time.Since(began); took > tt.elapsed+2*time.Second {
				t.Errorf("Run took %s after a stop at %s", took, tt.elapsed)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if res == nil {
				t.Fatal("no partial result")
			}
			checkInvariant(t, res)
			if res.Sent != tt.abandoned || res.InFlight != tt.abandoned {
				t.Errorf("sent %d, in flight %d; want %d abandoned", res.Sent, res.InFlight, tt.abandoned)
			}
			// The stop is timed when ctx's AfterFunc runs: late on a busy machine.
			if res.Elapsed < tt.elapsed*8/10 || res.Elapsed > tt.elapsed+time.Second {
				t.Errorf("elapsed %s, want about %s", res.Elapsed, tt.elapsed)
			}
		})
	}
}

// recorder is an Observer that keeps what it is given.
type recorder struct {
	mu    sync.Mutex
	snaps []Snapshot
}

func (r *recorder) Progress(s Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snaps = append(r.snaps, s)
}

func TestRunObserver(t *testing.T) {
	srv := startRaw(t, respond(okResponse))
	var obs recorder
	const warmup, duration = 500 * time.Millisecond, 1700 * time.Millisecond
	res, err := Run(t.Context(), Plan{URL: srv.url, Connections: 2, Warmup: warmup, Duration: duration}, &obs)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	// Calls come at most once a second: at about 1 s and 2 s of 2.2 s.
	if len(obs.snaps) < 1 || len(obs.snaps) > 2 {
		t.Fatalf("%d snapshots in %s, want 1 or 2 (one per second)", len(obs.snaps), warmup+duration)
	}
	var prev Snapshot
	for i, s := range obs.snaps {
		if s.Phase != PhaseMeasure || s.Sent == 0 || s.Sent > res.Sent || s.Completed > s.Sent ||
			s.Elapsed <= 0 || s.Elapsed > duration || s.OpenConnections != 2 {
			t.Errorf("snapshot %d %+v, want the measurement under way on 2 connections (final sent %d)", i, s, res.Sent)
		}
		if s.Sent < prev.Sent || s.Elapsed < prev.Elapsed+900*time.Millisecond && i > 0 {
			t.Errorf("snapshot %d %+v after %+v: want later and not fewer", i, s, prev)
		}
		prev = s
	}
}

func TestRunOpenLoop(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		plan  Plan
		check func(t *testing.T, res *Result)
	}{
		{
			name:  "server keeps up",
			delay: 2 * time.Millisecond,
			plan:  Plan{Rate: 200, Connections: 4, Duration: time.Second},
			check: func(t *testing.T, res *Result) {
				if res.Sent < 150 || res.Sent > 201 || res.TotalErrors() != 0 {
					t.Errorf("sent %d, errors %v; want 200 requests at 200/s for 1s", res.Sent, res.Errors)
				}
				if res.StartedLate > res.Sent/4 {
					t.Errorf("%d of %d requests late, server is fast enough", res.StartedLate, res.Sent)
				}
			},
		},
		{
			// One connection, 20 ms per answer, asked for 100/s: the
			// connection is always busy and the queue grows. wrk would
			// report ~20 ms; the corrected latency grows to ~Duration/2.
			name:  "coordinated omission corrected",
			delay: 20 * time.Millisecond,
			plan:  Plan{Rate: 100, Connections: 1, Duration: time.Second, Timeout: time.Second},
			check: func(t *testing.T, res *Result) {
				if res.StartedLate == 0 || res.StartedLate > res.Sent {
					t.Errorf("late %d of %d, want most", res.StartedLate, res.Sent)
				}
				// Requests are sent in order: the queue is capped by the
				// run's end, so fewer than Rate × Duration go out.
				if res.Sent >= 100 || res.Sent < 20 {
					t.Errorf("sent %d, want 20 to 99", res.Sent)
				}
				u := res.LatencyUncorrected.ValueAtQuantile(99)
				c := res.Latency.ValueAtQuantile(99)
				if c < 10*u || c < 200_000 {
					t.Errorf("p99 corrected %dµs, uncorrected %dµs; want corrected ≫ uncorrected", c, u)
				}
				if res.LatencyUncorrected.TotalCount() != res.Latency.TotalCount() {
					t.Errorf("histograms hold %d and %d values", res.Latency.TotalCount(), res.LatencyUncorrected.TotalCount())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(tt.delay) }))
			t.Cleanup(srv.Close)
			p := tt.plan
			p.URL = srv.URL
			res, err := Run(t.Context(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, res)
			if res.LatencyUncorrected == nil {
				t.Fatal("no uncorrected histogram in open loop")
			}
			tt.check(t, res)
		})
	}
}

func TestRunInvalidPlan(t *testing.T) {
	ok := Plan{URL: "http://127.0.0.1:1/"}
	tests := []struct {
		name  string
		edit  func(p *Plan)
		field string
	}{
		{"no URL", func(p *Plan) { p.URL = "" }, "URL"},
		{"missing CA file", func(p *Plan) { p.URL, p.CAFile = "https://127.0.0.1/", "/nonexistent/ca.pem" }, "CAFile: cannot read"},
		{"CA file without certificates", func(p *Plan) { p.CAFile = "engine_test.go" }, "CAFile: engine_test.go holds no PEM certificate"},
		{"not http", func(p *Plan) { p.URL = "ftp://127.0.0.1/" }, "URL"},
		{"relative", func(p *Plan) { p.URL = "/path" }, "URL"},
		{"no host", func(p *Plan) { p.URL = "http:///path" }, "URL"},
		{"bad URL", func(p *Plan) { p.URL = "http://[::1/" }, "URL"},
		{"user info", func(p *Plan) { p.URL = "http://user:secret@127.0.0.1/" }, "URL: user info"},
		{"white space in URL", func(p *Plan) { p.URL = "http://127.0.0.1:80/a b" }, "URL: contains white space"},
		{"port out of range", func(p *Plan) { p.URL = "http://127.0.0.1:99999/" }, "URL: port \"99999\""},
		{"no scheme", func(p *Plan) { p.URL = "127.0.0.1:8000/" }, "write it as http://host:port/path"},
		{"negative connections", func(p *Plan) { p.Connections = -1 }, "Connections"},
		{"negative threads", func(p *Plan) { p.Threads = -2 }, "Threads"},
		{"negative warmup", func(p *Plan) { p.Warmup = -time.Second }, "Warmup"},
		{"negative duration", func(p *Plan) { p.Duration = -time.Second }, "Duration"},
		{"negative timeout", func(p *Plan) { p.Timeout = -time.Second }, "Timeout"},
		{"negative grace", func(p *Plan) { p.Grace = -time.Second }, "Grace"},
		{"negative rate", func(p *Plan) { p.Rate = -1 }, "Rate"},
		{"NaN rate", func(p *Plan) { p.Rate = math.NaN() }, "Rate"},
		{"negative body cap", func(p *Plan) { p.MaxBodyBytes = -1 }, "MaxBodyBytes"},
		{"bad method", func(p *Plan) { p.Method = "GE T" }, "Method"},
		{"bad header name", func(p *Plan) { p.Headers = []Header{{Name: "X Y", Value: "1"}} }, "Headers[0]"},
		{"header injection", func(p *Plan) { p.Headers = []Header{{Name: "X", Value: "1\r\nY: 2"}} }, "Headers[0]"},
		{"empty host header", func(p *Plan) { p.Headers = []Header{{Name: "Host", Value: ""}} }, "Headers[0]"},
		{"unknown timeout policy", func(p *Plan) { p.OnTimeout = "retry" }, `OnTimeout: "retry" is not a timeout policy (want "reconnect" or "wait")`},
		{"status below 100", func(p *Plan) { p.Expect.Status = []int{200, 99} }, "Expect.Status[1]: 99 is not an HTTP status code"},
		{"status above 599", func(p *Plan) { p.Expect.Status = []int{600} }, "Expect.Status[0]: 600"},
		{"negative body minimum", func(p *Plan) { p.Expect.BodyMinBytes = -1 }, "Expect.BodyMinBytes: must not be negative"},
		{"negative body maximum", func(p *Plan) { p.Expect.BodyMaxBytes = -1 }, "Expect.BodyMaxBytes: must not be negative"},
		{"body maximum below minimum", func(p *Plan) { p.Expect.BodyMinBytes, p.Expect.BodyMaxBytes = 10, 9 }, "Expect.BodyMaxBytes: 9 is less than Expect.BodyMinBytes 10"},
		{"body maximum over the cap", func(p *Plan) { p.MaxBodyBytes, p.Expect.BodyMaxBytes = 100, 101 }, "Expect.BodyMaxBytes: 101 is more than MaxBodyBytes 100"},
		{"body minimum over the default cap", func(p *Plan) { p.Expect.BodyMinBytes = DefaultMaxBodyBytes + 1 }, "Expect.BodyMinBytes"},
		{"body check on HEAD", func(p *Plan) { p.Method, p.Expect.BodyContains = "HEAD", "x" }, "Expect.BodyContains: a response to HEAD has no body"},
		{"content length header", func(p *Plan) {
			p.Headers = []Header{{Name: "A", Value: "1"}, {Name: "content-length", Value: "1"}}
		}, "Headers[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.edit(&p)
			res, err := Run(t.Context(), p, nil)
			if !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err %v, want ErrInvalidPlan naming %q", err, tt.field)
			}
			if res != nil {
				t.Errorf("result %+v for an invalid plan", res)
			}
		})
	}
}

func TestClassOf(t *testing.T) {
	tests := []struct {
		code int
		want Class
	}{
		{100, Class5xx}, {199, Class5xx}, {200, Class2xx}, {204, Class2xx}, {299, Class2xx},
		{301, Class3xx}, {399, Class3xx}, {404, Class4xx}, {499, Class4xx},
		{500, Class5xx}, {599, Class5xx}, {600, Class5xx}, {0, Class5xx},
	}
	for _, tt := range tests {
		if got := classOf(tt.code); got != tt.want {
			t.Errorf("classOf(%d) = %s, want %s", tt.code, got, tt.want)
		}
	}
}

func TestRunWriteError(t *testing.T) {
	// A server that resets each connection once the request has begun to
	// arrive: a body far larger than the socket buffers cannot be written.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		buf := make([]byte, 1024)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(buf)
			_ = tcpOf(c).SetLinger(0)
			_ = c.Close()
		}
	})
	body := make([]byte, 16<<20)
	res, err := Run(t.Context(), Plan{
		URL: "http://" + ln.Addr().String() + "/", Method: "POST", Body: body,
		Connections: 1, Duration: 300 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if res.Errors[KindWrite] == 0 || res.Errors[KindWrite] != res.TotalErrors() || res.Completed() != 0 {
		t.Errorf("errors %v (%q), completed %d; want write errors only", res.Errors, res.ErrorSamples, res.Completed())
	}
}

// TestRunTrace: the hooks of a Trace in ctx bound the measured interval,
// warm-up excluded, also when the run is cancelled; a run cancelled in its
// warm-up calls neither.
func TestRunTrace(t *testing.T) {
	const warmup, duration = 400 * time.Millisecond, 600 * time.Millisecond
	tests := []struct {
		name      string
		stopAfter time.Duration // 0: not cancelled
		wantCalls int
	}{
		{name: "whole run", wantCalls: 2},
		{name: "cancelled while measuring", stopAfter: warmup + duration/2, wantCalls: 2},
		{name: "cancelled in the warm-up", stopAfter: warmup / 2, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRaw(t, respond(okResponse))
			ctx, cancel := context.WithCancel(t.Context())
			t.Cleanup(cancel)
			if tt.stopAfter > 0 {
				stop := time.AfterFunc(tt.stopAfter, cancel)
				t.Cleanup(func() { stop.Stop() })
			}
			var start, end time.Time
			calls := 0
			ctx = WithTrace(ctx, &Trace{
				MeasureStart: func(at time.Time) { start = at; calls++ },
				MeasureEnd:   func(at time.Time) { end = at; calls++ },
			})
			res, _ := Run(ctx, Plan{URL: srv.url, Connections: 2, Warmup: warmup, Duration: duration}, nil)
			if res == nil {
				t.Fatal("no result")
			}
			// Written by the hooks, read here: Run waited for them.
			if calls != tt.wantCalls {
				t.Fatalf("%d hook calls, want %d", calls, tt.wantCalls)
			}
			if calls == 0 {
				return
			}
			const slack = 200 * time.Millisecond
			if d := start.Sub(res.Start); d < 0 || d > slack {
				t.Errorf("MeasureStart %s after Result.Start, want within [0, %s]", d, slack)
			}
			if d := end.Sub(res.End); d < -slack || d > slack {
				t.Errorf("MeasureEnd %s after Result.End, want within ±%s", d, slack)
			}
		})
	}
}
