package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

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
		{"days", "90d", 0, nil},
		{"weeks", "2w", 0, nil},
		{"a year, as Prometheus", "1y", 0, nil},
		{"years and days", "1y2d", 0, nil},
		{"unknown unit", "3q", 2, []string{"--storage.retention", "3q", "90d"}},
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

// TestReloadRetention: a reload whose schedule makes the running
// --storage.retention shorter than one period is refused, as a start with
// it would be (exit 2): the old configuration stays,
// benchd_config_last_reload_successful reads 0, the log says why; a later
// good reload succeeds again.
func TestReloadRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchd")
	}
	cfg := smallConfig(t, "@every 1h")
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd, stderr := startServe(ctx, t, port, "--config.file", cfg, "--storage.path", t.TempDir(), "--storage.retention=1h")
	reload := func(schedule string, want float64) {
		t.Helper()
		old, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		doc := regexp.MustCompile(`schedule: ".*"`).ReplaceAllString(string(old), fmt.Sprintf("schedule: %q", schedule))
		if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		before := value(scrape(t, url), "benchd_config_last_reload_success_timestamp_seconds", nil)
		failures := strings.Count(stderr.String(), "config reload failed")
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			if strings.Count(stderr.String(), "config reload failed") > failures ||
				value(scrape(t, url), "benchd_config_last_reload_success_timestamp_seconds", nil) > before {
				break
			}
			if i == 100 {
				t.Fatalf("SIGHUP: no reload; stderr:\n%s", stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := value(scrape(t, url), "benchd_config_last_reload_successful", nil); got != want {
			t.Errorf("reload to %q: benchd_config_last_reload_successful %v, want %v; stderr:\n%s", schedule, got, want, stderr.String())
		}
	}
	reload("@every 3h", 0)
	if log := stderr.String(); !strings.Contains(log, "config reload failed") || !strings.Contains(log, "shorter than one period (3h0m0s)") {
		t.Errorf("refused reload not logged with its reason:\n%s", log)
	}
	reload("@every 30m", 1)
}
