package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/benchd/benchd/store"
)

// TestRetentionFlag: a retention below one schedule period, or negative,
// is refused before anything runs, naming the flag and the schedule.
func TestRetentionFlag(t *testing.T) {
	cfg := smallConfig(t, "@every 1h")
	cases := []struct {
		name      string
		retention string
		wantCode  int
		want      []string
	}{
		{"below one period", "1ns", 2, []string{"--storage.retention 1ns", "shorter than one period (1h0m0s)", `"@every 1h"`}},
		{"just below", "59m", 2, []string{"--storage.retention 59m0s", "@every 1h"}},
		{"negative", "-1h", 2, []string{"--storage.retention -1h0m0s is negative", "0 to keep"}},
		{"one period", "1h", 0, nil},
		{"forever", "0", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", t.TempDir(),
				"--storage.retention=" + tc.retention, "--only", "t/-/a"}, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// TestRetentionSize: with --storage.retention.size below what one run
// takes, each run deletes the older ones, keeping the newest.
func TestRetentionSize(t *testing.T) {
	cfg := smallConfig(t, "@every 1h")
	dir := t.TempDir()
	var last string
	for i := range 3 {
		var stdout, stderr bytes.Buffer
		if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir,
			"--storage.retention.size", "1KB", "--format", "json"}, &stdout, &stderr); code != 0 {
			t.Fatalf("matrix %d: exit %d; stderr:\n%s", i, code, stderr.String())
		}
		last = stderr.String()
	}
	st, err := store.Open(t.Context(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(t.Context(), store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !strings.Contains(last, runs[0].ID) {
		t.Errorf("%d runs kept (%v), want only the newest; last stderr:\n%s", len(runs), runs, last)
	}
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir,
		"--storage.retention.size", "12XB"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "storage.retention.size") {
		t.Errorf("--storage.retention.size 12XB: exit %d, stderr %q; want 2 naming the flag", code, stderr.String())
	}
}
