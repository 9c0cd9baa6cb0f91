package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIErrorsPlain runs the real binary: a CLI subcommand prints its
// error once, as "benchd: <error>" on stderr, never as a log record; the
// daemon keeps its structured logs.
func TestCLIErrorsPlain(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.yml")
	if err := os.WriteFile(dead, []byte(`targets:
  - name: dead
    url: http://127.0.0.1:1
    process: {command: [/bin/false], ready_timeout: 5s}
endpoints: [{name: root, path: /, duration: 1s, timeout: 1s}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		wantCode int
		// wantErr is the whole of stderr's last line; once is a cause
		// stderr holds exactly once.
		wantErr string
		once    string
	}{
		{"config check", []string{"config", "check", "--config.file", "../../config/testdata/unknown-key.bad.yml"}, 1, "", ""},
		{"matrix of a target that cannot start", []string{"matrix", "--config.file", dead, "--storage.path", filepath.Join(dir, "data")}, 1,
			"benchd: run * 1 of 1 scenarios failed", "exited with code 1 before ready"},
		{"report of an unknown run", []string{"report", "--run", "nope", "--storage.path", filepath.Join(dir, "data2")}, 1, "benchd: *", ""},
		{"dashboards into a file", []string{"dashboards", "--out", dead}, 1, "benchd: *", ""},
		{"baseline accept of an unknown scenario", []string{"baseline", "accept", "no/such/scenario", "--config.file", dead, "--storage.path", filepath.Join(dir, "data3")}, 2, "benchd: *", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := benchd(ctx, t, c.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != c.wantCode {
				t.Errorf("exit: %v, want exit status %d", err, c.wantCode)
			}
			errOut := stderr.String()
			if strings.Contains(errOut, "level=ERROR") || strings.Contains(errOut, "benchd failed") {
				t.Errorf("stderr has an error log record:\n%s", errOut)
			}
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			last := lines[len(lines)-1]
			switch {
			case c.wantErr == "" && errOut != "":
				t.Errorf("stderr is not empty (stdout already reports the problem):\n%s", errOut)
			case c.wantErr != "":
				prefix, suffix, _ := strings.Cut(c.wantErr, "*")
				if !strings.HasPrefix(last, prefix) || !strings.HasSuffix(last, suffix) || strings.Count(errOut, "benchd: ") != 1 {
					t.Errorf("stderr does not end in one line %q:\n%s", c.wantErr, errOut)
				}
			}
			if c.once != "" && strings.Count(errOut, c.once) != 1 {
				t.Errorf("stderr has %q %d times, want once:\n%s", c.once, strings.Count(errOut, c.once), errOut)
			}
		})
	}
}

// TestBenchInterrupted: Ctrl-C on `benchd bench` prints what was measured
// and exits 130 with one quiet line, not the engine's "context canceled".
func TestBenchInterrupted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := benchd(ctx, t, "bench", "-c", "2", "-d", "30s", srv.URL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 130 {
		t.Errorf("exit: %v, want exit status 130", err)
	}
	if !strings.Contains(stdout.String(), "Requests/sec:") {
		t.Errorf("stdout lacks the partial result:\n%s", stdout.String())
	}
	if got := stderr.String(); got != "benchd: interrupted\n" {
		t.Errorf("stderr = %q, want %q", got, "benchd: interrupted\n")
	}
}

// TestServeErrorLogged: the daemon reports a failure to start as a log
// record, as before.
func TestServeErrorLogged(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := benchd(ctx, t, "serve", "--config.file", "../../config/testdata/unknown-key.bad.yml", "--storage.path", t.TempDir(), "--web.listen-address", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 1 {
		t.Errorf("exit: %v, want exit status 1", err)
	}
	if !strings.Contains(string(out), "level=ERROR") || !strings.Contains(string(out), `unknown key \"procss\"`) {
		t.Errorf("serve did not log its error as a record:\n%s", out)
	}
}
