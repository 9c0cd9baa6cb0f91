package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestReportSettingsChange runs a real matrix into a real history, edits
// one endpoint's connections and runs it again: `benchd report` shows
// that the edited scenario, and only it, starts a new baseline segment at
// the second run, and why.
func TestReportSettingsChange(t *testing.T) {
	cfg := compareConfig(t, "")
	dir := t.TempDir()
	matrix := func() {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir, "--format", "json"}, &stdout, &stderr); code != 0 {
			t.Fatalf("matrix: exit %d; stderr:\n%s", code, stderr.String())
		}
	}
	matrix()
	doc, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(doc), `path: "/myapp/{mode}/brotli"}`, `path: "/myapp/{mode}/brotli", connections: 3}`, 1)
	if edited == string(doc) {
		t.Fatal("the edit did not apply")
	}
	if err := os.WriteFile(cfg, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	matrix()
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"report", "--config.file", cfg, "--storage.path", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("report: exit %d; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	const line = "Baseline: a new segment starts at this run (settings changed: connections)"
	_, brotli, ok := strings.Cut(out, "== gunicorn-gevent/sync/brotli ==")
	if !ok {
		t.Fatalf("no brotli block in the report:\n%s", out)
	}
	if next := strings.Index(brotli, "\n== "); next > 0 {
		brotli = brotli[:next]
	}
	if strings.Count(out, "Baseline:") != 1 || !strings.Contains(brotli, line) {
		t.Errorf("report, want %q under brotli only:\n%s", line, out)
	}
}
