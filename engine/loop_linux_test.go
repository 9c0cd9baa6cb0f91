//go:build linux

package engine

import (
	"net"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newTestLoop returns the event loop of a run with one connection to a
// server that answers every request with okResponse, lasting an hour,
// after its first response: the loop's steady state.
func newTestLoop(tb testing.TB, e Expect) *loop {
	tb.Helper()
	srv := startRaw(tb, respond(okResponse))
	tg, err := compile(Plan{URL: srv.url, Connections: 1, Timeout: 5 * time.Second, Expect: e})
	if err != nil {
		tb.Fatal(err)
	}
	r := newRunner(tg)
	r.start = time.Now()
	r.warmEnd = r.start
	r.measureEnd = r.start.Add(time.Hour)
	r.graceEnd = r.measureEnd.Add(tg.plan.Grace)
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = unix.Close(wake) })
	l, err := newLoop(r, 0, wake, resolve(tb.Context(), tg.addr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(l.close)
	l.start()
	l.responses(tb, 1)
	return l
}

// responses steps l until its shard has counted n more 2xx responses, and
// fails tb on any error or unexpected response.
func (l *loop) responses(tb testing.TB, n uint64) {
	want := l.sh.responses[Class2xx].Load() + n
	for l.sh.responses[Class2xx].Load() < want {
		if l.step() {
			tb.Fatal("the loop stopped")
		}
	}
	var errs uint64
	for i := range l.sh.errors {
		errs += l.sh.errors[i].Load()
	}
	if errs != 0 || l.sh.unexpected.Load() != 0 {
		tb.Fatalf("%d errors (%q), %d unexpected responses", errs, l.r.samples, l.sh.unexpected.Load())
	}
}

// BenchmarkEventLoop measures one request/response on a kept-alive
// loopback connection of an event loop: its whole path (epoll_wait, read,
// parse, check, record, the next request's deadline and write), against
// a server that does not allocate. BenchmarkRequestLoop is the same for
// the goroutine path (https).
func BenchmarkEventLoop(b *testing.B) {
	l := newTestLoop(b, Expect{})
	b.ReportAllocs()
	for b.Loop() {
		l.responses(b, 1)
	}
}

// BenchmarkEventLoopBodyCheck is BenchmarkEventLoop with a body check
// (status set, substring, size range) on every response.
func BenchmarkEventLoopBodyCheck(b *testing.B) {
	l := newTestLoop(b, Expect{Status: []int{200}, BodyContains: "ok", BodyMinBytes: 1, BodyMaxBytes: 10})
	b.ReportAllocs()
	for b.Loop() {
		l.responses(b, 1)
	}
}

// TestRunManyConnections runs thousands of connections on two loops: all
// are opened and kept, each carries requests, none fails. The server is
// in this process too, so both ends take a descriptor per connection.
func TestRunManyConnections(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	conns := int(min(3000, (lim.Max-2*fileLimitMargin)/2))
	srv := startRaw(t, respond(okResponse))
	res, err := Run(t.Context(), Plan{URL: srv.url, Connections: conns, Threads: 2, Warmup: time.Second, Duration: 500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if res.TotalErrors() != 0 || res.Completed() < uint64(conns) || res.InFlight != 0 {
		t.Errorf("completed %d, errors %v (%q), in flight %d; want at least one response per connection and no errors",
			res.Completed(), res.Errors, res.ErrorSamples, res.InFlight)
	}
	if res.ConnectionsEstablished != conns || srv.conns.Load() != int64(conns) {
		t.Errorf("%d connections established, %d accepted; want %d kept alive", res.ConnectionsEstablished, srv.conns.Load(), conns)
	}
}

// TestRunSplitResponses reads answers whose heads and framing arrive in
// pieces, and answers after an interim 100 Continue: the loop keeps a
// head cut by a read until the rest comes, on a kept-alive connection.
func TestRunSplitResponses(t *testing.T) {
	chunked := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	interim := []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	tests := []struct {
		name   string
		server behaviour
		bytes  int // per response
	}{
		{"head in three pieces", inPieces(okResponse, 5, 30), len(okResponse)},
		{"head cut before its empty line", inPieces(okResponse, len(okResponse)-4), len(okResponse)},
		{"chunk size line cut", inPieces(chunked, 48, 49), len(chunked)},
		{"interim response", respond(interim), len(interim)},
		{"interim response cut", inPieces(interim, 20), len(interim)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRaw(t, tt.server)
			res, err := Run(t.Context(), Plan{URL: srv.url, Connections: 2, Threads: 1, Duration: 200 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, res)
			if res.Completed() == 0 || res.Responses[Class2xx] != res.Completed() || res.TotalErrors() != 0 {
				t.Fatalf("responses %v, errors %v (%q); want 2xx only", res.Responses, res.Errors, res.ErrorSamples)
			}
			if res.BytesRead != res.Completed()*uint64(tt.bytes) {
				t.Errorf("read %d bytes for %d responses of %d", res.BytesRead, res.Completed(), tt.bytes)
			}
			if c := srv.conns.Load(); c != 2 {
				t.Errorf("server saw %d connections, want 2 kept alive", c)
			}
		})
	}
}

// TestRunIdleClose: in the open loop a connection sits idle between
// requests; a server that closes it meanwhile (its keep-alive timeout)
// makes the next request fail as closed, and the one after goes out on a
// new connection, as on the goroutine path.
func TestRunIdleClose(t *testing.T) {
	srv := startRaw(t, func(c net.Conn, _ int) bool {
		_, _ = c.Write(okResponse)
		return false // FIN right after the answer, with Content-Length and no Connection: close
	})
	res, err := Run(t.Context(), Plan{URL: srv.url, Rate: 20, Connections: 1, Duration: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if res.Completed() == 0 || res.Errors[KindClosed] == 0 || res.Errors[KindClosed]+res.Errors[KindWrite] != res.TotalErrors() {
		t.Errorf("completed %d, errors %v (%q); want responses and closed", res.Completed(), res.Errors, res.ErrorSamples)
	}
	if d := int64(res.Errors[KindClosed]) - int64(res.Completed()); d < -1 || d > 1 {
		t.Errorf("closed %d and completed %d should alternate", res.Errors[KindClosed], res.Completed())
	}
}

// TestConnSize guards the memory of a connection on a loop: its state
// and its deadline heap entry (24 bytes) stay within a few hundred bytes.
func TestConnSize(t *testing.T) {
	if size := unsafe.Sizeof(conn{}); size > 192 {
		t.Errorf("a loop's connection takes %d bytes, want at most 192", size)
	}
}
