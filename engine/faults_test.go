package engine

import (
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestRunServerRestart kills the server mid-run (its listener and every
// connection closed) and starts it again on the same port: each
// connection fails once on its dead connection, the dials meanwhile are
// refused with a bounded backoff, and responses resume on new connections.
func TestRunServerRestart(t *testing.T) {
	const conns = 4
	const killAt, down, duration = 400 * time.Millisecond, 300 * time.Millisecond, 1500 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	first := serveRaw(t, ln, respond(okResponse))

	var (
		second     *rawServer
		downFor    time.Duration
		restartErr error
		wg         sync.WaitGroup
	)
	timer := time.NewTimer(killAt)
	defer timer.Stop()
	wg.Go(func() {
		<-timer.C
		first.stop()
		killed := time.Now()
		time.Sleep(down)
		// The port is free again, but give the kernel a moment if not.
		for {
			ln, err := net.Listen("tcp", first.addr)
			if err == nil {
				downFor = time.Since(killed)
				second = serveRaw(t, ln, respond(okResponse))
				return
			}
			if time.Since(killed) > down+time.Second {
				restartErr = err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	res, err := Run(t.Context(), Plan{URL: first.url, Connections: conns, Duration: duration}, nil)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if restartErr != nil {
		t.Fatalf("restart on %s: %v", first.addr, restartErr)
	}
	checkInvariant(t, res)

	// Each connection failed once when the server died, on a read (or a
	// write) sorted as read or closed; no timeouts.
	e := res.Errors
	if e[KindRead]+e[KindClosed] != conns || e[KindWrite] != 0 || e[KindTimeout] != 0 {
		t.Errorf("errors %v (%q), want %d read or closed, then connect errors only", e, res.ErrorSamples, conns)
	}
	// While the port was closed, each connection retried with a backoff
	// growing to maxConnectBackoff: a handful of refused dials, not a busy loop.
	if limit := uint64(conns * (downFor/maxConnectBackoff + 6)); e[KindConnect] < conns || e[KindConnect] > limit {
		t.Errorf("%d connect errors in %s down, want %d to %d", e[KindConnect], downFor, conns, limit)
	}
	if !sampled(res, "connect: ") || !sampled(res, "refused") {
		t.Errorf("samples %q, want connection refused", res.ErrorSamples)
	}
	// Responses resumed: every connection came back to the new server.
	before, after := first.requests.Load(), second.requests.Load()
	if after == 0 || second.conns.Load() != conns || res.Completed() <= uint64(before) {
		t.Errorf("server answered %d requests before and %d after on %d new connections; engine completed %d",
			before, after, second.conns.Load(), res.Completed())
	}
	if res.ConnectionsEstablished != conns {
		t.Errorf("%d connections established, want %d", res.ConnectionsEstablished, conns)
	}
	// The first dials and the reconnections, all measured.
	if n, want := res.ConnectLatency.TotalCount(), first.conns.Load()+second.conns.Load(); n != want {
		t.Errorf("%d dials measured, want %d", n, want)
	}
}

// TestRunLargeBody reads bodies of several MiB to their end on kept-alive
// connections without keeping them: the engine's allocations during the
// whole run stay below the size of one body.
func TestRunLargeBody(t *testing.T) {
	const size, conns = 8 << 20, 2
	srv := startRaw(t, bigBody(size))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := Run(t.Context(), Plan{URL: srv.url, Connections: conns, Duration: 500 * time.Millisecond}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if res.Completed() == 0 || res.TotalErrors() != 0 || res.InFlight != 0 {
		t.Fatalf("completed %d, errors %v (%q), in flight %d", res.Completed(), res.Errors, res.ErrorSamples, res.InFlight)
	}
	// Whole bodies were read: each response is its body plus a short head.
	if lo, hi := res.Completed()*size, res.Completed()*(size+100); res.BytesRead < lo || res.BytesRead > hi {
		t.Errorf("read %d bytes for %d responses of %d bytes", res.BytesRead, res.Completed(), size)
	}
	if c := srv.conns.Load(); c != conns {
		t.Errorf("server saw %d connections, want %d kept alive", c, conns)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d responses, %d MiB read, %d KiB allocated", res.Completed(), res.BytesRead>>20, allocated>>10)
	if allocated > size/2 {
		t.Errorf("%d KiB allocated to read %d MiB: bodies are kept", allocated>>10, res.BytesRead>>20)
	}
}
