package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/testutil"
)

// TestMatrixInterrupted: Ctrl-C on `benchd matrix` calls the run and the
// scenario it cut short "interrupted" everywhere a user reads it: the
// progress line, stderr, the stored run as `benchd report --summary` and
// `--compare` show it, its record (no target_died: its target was
// stopped) and `benchd runs` (interrupted by SIGINT);
// never "failed", "aborted" or "cut short".
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
	// The comparison with a document labels the long cell interrupted.
	var compare, compareErr bytes.Buffer
	cc := benchd(ctx, t, "report", "--compare", "seed", "--config.file", cfg, "--storage.path", storage)
	cc.Stdout, cc.Stderr = &compare, &compareErr
	if err := cc.Run(); err != nil {
		t.Fatalf("report --compare: %v\n%s", err, compareErr.String())
	}
	if row := lineWith(compare.String(), "t/-/long "); !strings.Contains(row, "interrupted") {
		t.Errorf("report --compare: long row %q, want it labelled interrupted:\n%s", row, compare.String())
	}
	// The cell's record says interrupted (its error), not target_died:
	// its target was stopped with the run.
	var records, recordsErr bytes.Buffer
	rj := benchd(ctx, t, "report", "--format", "json", "--config.file", cfg, "--storage.path", storage)
	rj.Stdout, rj.Stderr = &records, &recordsErr
	if err := rj.Run(); err != nil {
		t.Fatalf("report --format json: %v\n%s", err, recordsErr.String())
	}
	type record struct {
		Name    string   `json:"scenario"`
		Error   string   `json:"error"`
		Reasons []string `json:"invalid_reasons"`
	}
	var recs []record
	if err := json.Unmarshal(records.Bytes(), &recs); err != nil {
		t.Fatalf("%v in:\n%s", err, records.String())
	}
	i := slices.IndexFunc(recs, func(r record) bool { return r.Name == "t/-/long" })
	if i < 0 {
		t.Fatalf("no t/-/long record in:\n%s", records.String())
	}
	if r := recs[i]; !strings.HasPrefix(r.Error, "interrupted: ") || slices.Contains(r.Reasons, "target_died") || slices.Contains(r.Reasons, "target_failed") {
		t.Errorf("long cell: error %q, invalid_reasons %q; want interrupted, no target_died or target_failed", r.Error, r.Reasons)
	}
	// The run says which signal stopped it.
	var runs bytes.Buffer
	rr := benchd(ctx, t, "runs", "--format", "json", "--storage.path", storage)
	rr.Stdout, rr.Stderr = &runs, &runs
	if err := rr.Run(); err != nil {
		t.Fatalf("runs: %v\n%s", err, runs.String())
	}
	if want := `"error": "benchd was interrupted by SIGINT before the run finished"`; !strings.Contains(runs.String(), want) {
		t.Errorf("runs --format json lacks %s:\n%s", want, runs.String())
	}
	for _, out := range []string{errOut, stdout.String(), summary.String(), compare.String()} {
		for _, word := range []string{"aborted", "FAILED", "failed", "cut short"} {
			if strings.Contains(out, word) {
				t.Errorf("output says %q:\n%s", word, out)
			}
		}
	}
}

// lineWith returns the first line of text that starts with prefix, "" if
// none does.
func lineWith(text, prefix string) string {
	for l := range strings.Lines(text) {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimRight(l, "\n")
		}
	}
	return ""
}
