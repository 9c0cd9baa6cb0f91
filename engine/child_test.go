package engine

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv names the environment variable that makes the test binary run
// as a child process of a test (see TestMain) instead of running tests; its
// value is the child's mode.
const childEnv = "BENCHD_ENGINE_TEST_CHILD"

// runChild is the whole life of a child process in mode; it returns the
// exit code. A child writes what the parent checks to stdout, one
// "key=value" line each.
func runChild(mode string) int {
	switch mode {
	case "server":
		return childServer()
	case "fdlimit-hard", "fdlimit-soft":
		return childFileLimit(mode)
	}
	fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
	return 2
}

// childServer serves a 200 "ok" on a loopback port, prints "addr=host:port"
// and serves until its stdin ends (the parent closes it, or dies).
func childServer() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("addr=%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// childValues runs the test binary as a child in mode to its end and
// returns the "key=value" lines it printed; it fails t if the child fails
// or takes more than 30 s.
func childValues(t *testing.T, mode string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.WaitDelay = time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\nstdout:\n%s\nstderr:\n%s", mode, err, out, stderr.String())
	}
	values := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
			values[k] = v
		}
	}
	return values
}
