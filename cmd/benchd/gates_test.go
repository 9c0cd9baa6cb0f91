package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gateRun runs the benchd binary with args and returns its exit code,
// stdout and stderr.
func gateRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := benchd(ctx, t, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatalf("benchd %v: %v", args, err)
	}
	return 0, out.String(), errOut.String()
}

// TestGates runs the CI gates end to end, with the benchd binary against a
// loopback HTTP server: bench --threshold, matrix with the configuration's
// thresholds, runs, and report --diff with run references and --fail-on.
func TestGates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchd")
	}
	var delay atomic.Int64 // nanoseconds each answer waits
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		select {
		case <-time.After(time.Duration(delay.Load())):
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)

	t.Run("bench", func(t *testing.T) {
		cases := []struct {
			name       string
			args       []string
			wantCode   int
			wantStderr []string
			notStderr  []string
		}{
			{"all pass", []string{"--threshold", "latency_p99<10s", "--threshold", "throughput>1", "--threshold", "error_ratio<1%", srv.URL + "/"}, 0, nil, []string{"FAILED"}},
			{"each failure named", []string{"--threshold", "latency_p99<1us", "--threshold", "throughput>1e9", "--threshold", "error_ratio<1%", "--threshold", "timeout_ratio<0.5", srv.URL + "/fail"}, exitGateFailed,
				[]string{"FAILED throughput>1e+09: got ", "FAILED latency_p99<1µs: got ", "FAILED error_ratio<0.01: got 100%", "3 of 4 thresholds failed"}, []string{"timeout_ratio"}},
			{"wrong side", []string{"--threshold", "throughput<1000", srv.URL + "/"}, 2, []string{`--threshold: "throughput<1000": a throughput threshold is a minimum: write throughput>1000`}, nil},
			{"unknown signal", []string{"--threshold", "latency_p95<1s", srv.URL + "/"}, 2, []string{`did you mean "latency_p99"?`}, nil},
			{"abbreviated signal", []string{"--threshold", "thruput>1000", srv.URL + "/"}, 2, []string{`--threshold: unknown signal "thruput" (did you mean "throughput"?)`}, nil},
			{"twice", []string{"--threshold", "latency_p99<1s", "--threshold", "latency_p99<2s", srv.URL + "/"}, 2, []string{"latency_p99 has a threshold already, latency_p99<1s"}, nil},
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) {
				code, out, stderr := gateRun(t, append([]string{"bench", "-c", "2", "-d", "300ms"}, tt.args...)...)
				if code != tt.wantCode {
					t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, stderr)
				}
				for _, w := range tt.wantStderr {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr lacks %q:\n%s", w, stderr)
					}
				}
				for _, w := range tt.notStderr {
					if strings.Contains(stderr, w) {
						t.Errorf("stderr has %q:\n%s", w, stderr)
					}
				}
			})
		}
	})

	dir := t.TempDir()
	cfg := filepath.Join(dir, "benchd.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `
defaults: {connections: 2, threads: 1, duration: 300ms, warmup: 0s, timeout: 2s}
targets:
  - {name: t, url: %s}
endpoints:
  - {name: a, path: /a, thresholds: {throughput: 1e9, error_ratio: 1%%}}
  - {name: b, path: /b, thresholds: {latency_p99: 10s}}
`, srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "data")
	matrix := func(t *testing.T) {
		t.Helper()
		code, _, stderr := gateRun(t, "matrix", "--config.file", cfg, "--storage.path", storage)
		if code != exitGateFailed {
			t.Fatalf("matrix: exit %d, want %d\n%s", code, exitGateFailed, stderr)
		}
		for _, w := range []string{"FAILED t/-/a: throughput>1e+09: got ", "1 of 3 thresholds failed"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("matrix stderr lacks %q:\n%s", w, stderr)
			}
		}
		if strings.Contains(stderr, "t/-/b:") || strings.Contains(stderr, "error_ratio") {
			t.Errorf("matrix stderr names a threshold that held:\n%s", stderr)
		}
	}
	// Run 1 answers at once, run 2 after 20 ms: throughput falls by ~99 %.
	matrix(t)
	delay.Store(int64(20 * time.Millisecond))
	matrix(t)

	code, out, stderr := gateRun(t, "runs", "--storage.path", storage)
	if code != 0 {
		t.Fatalf("runs: exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], " last ") || !strings.Contains(lines[2], " last~1 ") || !strings.Contains(lines[1], "success") {
		t.Errorf("runs: want a header and two runs, last and last~1:\n%s", out)
	}

	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"throughput fell", []string{"--diff", "last~1", "--diff", "last", "--fail-on", "throughput<-5%", "--fail-on", "latency_p99>+100%"}, exitGateFailed,
			[]string{"A = run ", "t/-/a"},
			[]string{"FAILED t/-/a: throughput<-5%: ", "FAILED t/-/b: throughput<-5%: ", "FAILED t/-/b: latency_p99>+100%: ", "requests/s → "}},
		{"within the gate", []string{"--diff", "last~1", "--diff", "last", "--fail-on", "throughput>+50%"}, 0, []string{"t/-/b"}, nil},
		{"reversed", []string{"--diff", "last", "--diff", "last~1", "--fail-on", "throughput<-5%"}, 0, nil, nil},
		{"bad change", []string{"--diff", "last~1", "--diff", "last", "--fail-on", "throughput<-5"}, 2, nil, []string{"want a change in percent"}},
		{"abbreviated signal", []string{"--diff", "last~1", "--diff", "last", "--fail-on", "thruput<-5%"}, 2, nil, []string{`--fail-on: unknown signal "thruput" (did you mean "throughput"?)`}},
		{"fail-on without diff", []string{"--fail-on", "throughput<-5%"}, 2, nil, []string{"--fail-on compares two runs"}},
		{"too far back", []string{"--run", "last~2"}, 1, nil, []string{"run last~2: fewer than 3 runs have ended"}},
		{"bad reference", []string{"--run", "last~x"}, 1, nil, []string{`want last, or last~N`}},
		{"last", []string{"--run", "last", "--summary"}, 0, []string{"a"}, nil},
	}
	for _, tt := range cases {
		t.Run("report "+tt.name, func(t *testing.T) {
			code, out, stderr := gateRun(t, append([]string{"report", "--storage.path", storage}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
