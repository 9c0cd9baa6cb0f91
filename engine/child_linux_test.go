package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childFileLimit lowers the child's own RLIMIT_NOFILE, then runs 200
// connections against a server of its own and prints what came of it.
// "fdlimit-hard" lowers both limits to 64: a lowered hard limit cannot be
// raised again without CAP_SYS_RESOURCE, and the child drops it too, so Run
// must refuse. "fdlimit-soft" lowers the soft limit only (hard 1024): Run
// must raise it and open all the connections.
func childFileLimit(mode string) int {
	lim := syscall.Rlimit{Cur: 64, Max: 64}
	if mode == "fdlimit-soft" {
		lim.Max = 1024
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var accepted int
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				accepted++ // ConnState runs on the accepting goroutine for StateNew.
			}
		},
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	res, err := Run(context.Background(), Plan{
		// The warm-up gives 200 dials time to finish under the race detector
		// while the first connections already apply load.
		URL: "http://" + ln.Addr().String() + "/", Connections: 200, Threads: 2,
		Warmup: time.Second, Duration: 300 * time.Millisecond,
	}, nil)
	_ = srv.Close()
	<-served
	var now syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
	fmt.Printf("err=%v\n", err)
	fmt.Printf("file_limit_error=%t\n", errors.Is(err, ErrFileLimit))
	fmt.Printf("soft_limit=%d\n", now.Cur)
	fmt.Printf("accepted=%d\n", accepted)
	if res != nil {
		fmt.Printf("established=%d\n", res.ConnectionsEstablished)
		fmt.Printf("completed=%d\n", res.Completed())
		fmt.Printf("errors=%d\n", res.TotalErrors())
	}
	return 0
}

// TestRunFileLimit runs more connections than the descriptor limit allows,
// in a child process whose limit is lowered (the test process keeps its
// own). Run refuses up front, naming the limit and the fix, rather than
// degrading to fewer connections than asked: a test run with 64 instead of
// 200 connections would read as a result for 200.
func TestRunFileLimit(t *testing.T) {
	tests := []struct {
		mode  string
		check func(t *testing.T, v map[string]string)
	}{
		{"fdlimit-hard", func(t *testing.T, v map[string]string) {
			// 200 connections + fileLimitMargin descriptors.
			for _, want := range []string{"engine: open file limit too low", "RLIMIT_NOFILE hard limit is 64", "need 456", "ulimit -Hn 456", "fewer connections"} {
				if !strings.Contains(v["err"], want) {
					t.Errorf("error %q does not say %q", v["err"], want)
				}
			}
			if v["file_limit_error"] != "true" {
				t.Errorf("error is not ErrFileLimit")
			}
			if _, ok := v["established"]; ok {
				t.Errorf("a result for a run that cannot run: %v", v)
			}
			if v["accepted"] != "0" {
				t.Errorf("server accepted %s connections, want none: the limit is checked before dialling", v["accepted"])
			}
		}},
		{"fdlimit-soft", func(t *testing.T, v map[string]string) {
			if v["err"] != "<nil>" {
				t.Fatalf("Run: %s", v["err"])
			}
			if v["soft_limit"] != "1024" {
				t.Errorf("soft limit %s after the run, want raised to the hard limit 1024", v["soft_limit"])
			}
			if v["established"] != "200" || v["accepted"] != "200" {
				t.Errorf("%s connections established, %s accepted; want 200", v["established"], v["accepted"])
			}
			if n, _ := strconv.Atoi(v["completed"]); n == 0 || v["errors"] != "0" {
				t.Errorf("%s responses, %s errors; want responses only", v["completed"], v["errors"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			tt.check(t, childValues(t, tt.mode))
		})
	}
}

// fullBacklog returns the address of a loopback socket that listens with a
// backlog of one and never accepts: once its accept queue is full, the
// kernel drops new SYNs.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

func TestRunFullBacklog(t *testing.T) {
	const conns, duration, timeout = 8, time.Second, 300 * time.Millisecond
	addr := fullBacklog(t)
	began := time.Now()
	res, err := Run(t.Context(), Plan{
		URL: "http://" + addr + "/", Connections: conns, Duration: duration,
		Timeout: timeout, ConnectTimeout: timeout,
	}, nil)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	t.Logf("took %s: sent %d, errors %v, %d connections established", took, res.Sent, res.Errors, res.ConnectionsEstablished)
	// Run waits at most a timeout after the duration.
	if took > duration+timeout+time.Second {
		t.Errorf("Run took %s, want about %s", took, duration+timeout)
	}
	if res.Completed() != 0 {
		t.Errorf("%d responses from a server that never accepts", res.Completed())
	}
	// Dials into the full queue time out (connect); the few that got into
	// it send a request that is never answered (timeout).
	if res.Errors[KindConnect] == 0 || res.Errors[KindConnect]+res.Errors[KindTimeout] != res.TotalErrors() {
		t.Errorf("errors %v (%q), want connect errors and timeouts only", res.Errors, res.ErrorSamples)
	}
	if res.ConnectionsEstablished == 0 || res.ConnectionsEstablished >= conns {
		t.Errorf("%d connections established, want some but not all %d", res.ConnectionsEstablished, conns)
	}
	// Each attempt waits for its timeout: no busy loop.
	if limit := uint64(conns * (duration/timeout + 2)); res.Sent > limit {
		t.Errorf("%d requests sent in %s, want at most %d", res.Sent, duration, limit)
	}
	// Every request needed a new connection: one dial measured per request
	// that did not fail to dial (in-flight ones may or may not have).
	dialled := res.Sent - res.Errors[KindConnect]
	if n := uint64(res.ConnectLatency.TotalCount()); n > dialled || n < dialled-res.InFlight || n == 0 {
		t.Errorf("%d dials measured, want %d to %d (%d sent, %d connect errors, %d in flight)",
			n, dialled-res.InFlight, dialled, res.Sent, res.Errors[KindConnect], res.InFlight)
	}
}
