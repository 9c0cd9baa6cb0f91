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
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/testutil"
)

// TestMatrixInterrupted: Ctrl-C on `benchd matrix` calls the run and the
// scenario it cut short "interrupted" everywhere a user reads it: the
// progress line, stderr, the stored run as `benchd report --summary` shows
// it; never "failed", "aborted" or "cut short".
func TestMatrixInterrupted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "benchd.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
defaults: {connections: 2, threads: 1, warmup: 0s, timeout: 1s}
targets: [{name: t, url: %s}]
endpoints:
  - {name: quick, path: /q, duration: 300ms}
  - {name: long, path: /l, duration: 30s}
`, srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := benchd(ctx, t, "matrix", "--config.file", cfg, "--storage.path", storage)
	var stdout, stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && !strings.Contains(stderr.String(), "[1/2]"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // into the long scenario
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 130 {
		t.Errorf("exit: %v, want exit status 130", err)
	}
	errOut := stderr.String()
	if !strings.Contains(errOut, "[2/2] t/-/long interrupted") || !strings.HasSuffix(errOut, "benchd: interrupted\n") {
		t.Errorf("stderr lacks the interrupted scenario or ends otherwise:\n%s", errOut)
	}
	var summary bytes.Buffer
	rc := benchd(ctx, t, "report", "--summary", "--storage.path", storage)
	rc.Stdout, rc.Stderr = &summary, &summary
	if err := rc.Run(); err != nil {
		t.Fatalf("report --summary: %v\n%s", err, summary.String())
	}
	if !strings.Contains(summary.String(), "(interrupted)") || !strings.Contains(summary.String(), " interrupted |") {
		t.Errorf("report --summary does not call the run and its long cell interrupted:\n%s", summary.String())
	}
	for _, out := range []string{errOut, stdout.String(), summary.String()} {
		for _, word := range []string{"aborted", "FAILED", "failed", "cut short"} {
			if strings.Contains(out, word) {
				t.Errorf("output says %q:\n%s", word, out)
			}
		}
	}
}
