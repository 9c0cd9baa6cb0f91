//go:build unix

package engine

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// child is a child process started by a test.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startChild starts the test binary as a child in mode and stops it (closes
// its stdin, then kills it if it has not ended within 5 s) when the test
// ends.
func startChild(t *testing.T, mode string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A stopped child would not read its stdin's end.
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("child %s: %v", mode, err)
			}
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			_ = <-done // killed: its exit status says so
			t.Errorf("child %s did not end when its stdin closed", mode)
		}
	})
	return &child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
}

// value reads the child's stdout up to the line "key=value" and returns value.
func (c *child) value(t *testing.T, key string) string {
	t.Helper()
	for c.out.Scan() {
		if v, ok := strings.CutPrefix(c.out.Text(), key+"="); ok {
			return v
		}
	}
	t.Fatalf("child ended its output without %s= (%v)", key, c.out.Err())
	return ""
}

// TestRunServerPaused stops a server process with SIGSTOP for longer than
// the timeout, in the open loop: the requests it holds time out (counted
// once each, on fresh connections after each one), and the pause shows in
// the corrected latency (the requests queued behind it waited for it) but
// not in the uncorrected one.
func TestRunServerPaused(t *testing.T) {
	const conns, rate = 4, 400
	const pauseAt, pause = 800 * time.Millisecond, 1500 * time.Millisecond
	const duration, timeout = 3 * time.Second, 500 * time.Millisecond
	c := startChild(t, "server")
	addr := c.value(t, "addr")
	pid := c.cmd.Process.Pid

	var paused time.Duration
	var signalErr error
	var wg sync.WaitGroup
	timer := time.NewTimer(pauseAt)
	defer timer.Stop()
	wg.Go(func() {
		<-timer.C
		if signalErr = syscall.Kill(pid, syscall.SIGSTOP); signalErr != nil {
			return
		}
		stopped := time.Now()
		time.Sleep(pause)
		signalErr = syscall.Kill(pid, syscall.SIGCONT)
		paused = time.Since(stopped)
	})
	res, err := Run(t.Context(), Plan{
		URL: "http://" + addr + "/", Rate: rate, Connections: conns, Duration: duration, Timeout: timeout,
	}, nil)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if signalErr != nil {
		t.Fatalf("signal the child: %v", signalErr)
	}
	checkInvariant(t, res)

	// Each connection's request timed out at least once during the pause,
	// and at most once per timeout of it (plus the one cut by the resume).
	e := res.Errors
	if limit := uint64(conns * (paused/timeout + 2)); e[KindTimeout] < conns || e[KindTimeout] > limit {
		t.Errorf("%d timeouts in a %s pause, want %d to %d", e[KindTimeout], paused, conns, limit)
	}
	if e[KindTimeout] != res.TotalErrors() {
		t.Errorf("errors %v (%q), want timeouts only", e, res.ErrorSamples)
	}
	// The requests due during the pause went out late, after it.
	if res.StartedLate < uint64(rate*pause/time.Second/2) {
		t.Errorf("%d late requests, want at least half of the %d due during the pause", res.StartedLate, rate*pause/time.Second)
	}
	// About half the requests were queued behind the pause, with waits
	// spread from ~0 to the pause: the corrected p99 is near the pause.
	// Uncorrected, a request never waited more than the timeout, and
	// almost all were answered at once.
	corrected := time.Duration(res.Latency.ValueAtQuantile(99)) * time.Microsecond
	uncorrected := time.Duration(res.LatencyUncorrected.ValueAtQuantile(99)) * time.Microsecond
	t.Logf("sent %d, late %d, timeouts %d, p99 corrected %s, uncorrected %s, pause %s",
		res.Sent, res.StartedLate, e[KindTimeout], corrected, uncorrected, paused)
	if corrected < paused*2/3 || corrected > paused+timeout {
		t.Errorf("corrected p99 %s, want about the %s pause", corrected, paused)
	}
	if uncorrected > paused/5 || uncorrected*3 > corrected {
		t.Errorf("uncorrected p99 %s, want far below the %s pause (corrected p99 %s)", uncorrected, paused, corrected)
	}
	if m := time.Duration(res.LatencyUncorrected.Max()) * time.Microsecond; m > timeout+timeout/10 {
		t.Errorf("uncorrected max %s, above the %s timeout", m, timeout)
	}
}
