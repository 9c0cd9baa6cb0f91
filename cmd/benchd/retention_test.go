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
// is refused before anything runs, naming the flag and the schedule at its
// YAML path; config check refuses the same with the same message (one
// rule: config.Config.CheckRetention), also with the default retention.
func TestRetentionFlag(t *testing.T) {
	hourly, yearly := smallConfig(t, "@every 1h"), smallConfig(t, "@yearly")
	cases := []struct {
		name      string
		cfg       string
		retention string // "" for the default
		wantCode  int    // of matrix
		checkCode int    // of config check: 1 (invalid) where matrix refuses the value
		want      []string
	}{
		{"below one period", hourly, "1ns", 2, 1, []string{`schedule: --storage.retention 1ns is shorter than one period (1h0m0s) of the schedule "@every 1h"`}},
		{"just below", hourly, "59m", 2, 1, []string{"--storage.retention 59m0s", "@every 1h"}},
		{"yearly schedule, default retention", yearly, "", 2, 1, []string{`schedule: --storage.retention 2160h0m0s is shorter than one period (8760h0m0s) of the schedule "@yearly"`}},
		{"yearly schedule, a year", yearly, "1y", 0, 0, nil},
		{"negative", hourly, "-1h", 2, 1, []string{"--storage.retention -1h0m0s is negative", "0 to keep"}},
		{"one period", hourly, "1h", 0, 0, nil},
		{"days", hourly, "90d", 0, 0, nil},
		{"weeks", hourly, "2w", 0, 0, nil},
		{"a year, as Prometheus", hourly, "1y", 0, 0, nil},
		{"years and days", hourly, "1y2d", 0, 0, nil},
		{"unknown unit", hourly, "3q", 2, 2, []string{"--storage.retention", "3q", "90d"}},
		{"forever", hourly, "0", 0, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var flag []string
			if tc.retention != "" {
				flag = []string{"--storage.retention=" + tc.retention}
			}
			for _, args := range [][]string{
				append([]string{"matrix", "--config.file", tc.cfg, "--storage.path", t.TempDir(), "--only", "t/-/a"}, flag...),
				append([]string{"config", "check", "--config.file", tc.cfg}, flag...),
			} {
				want := tc.wantCode
				if args[0] == "config" {
					want = tc.checkCode
				}
				var stdout, stderr bytes.Buffer
				code := runWith(t.Context(), args, &stdout, &stderr)
				if code != want {
					t.Fatalf("%s: exit %d, want %d; stdout:\n%s\nstderr:\n%s", args[0], code, want, stdout.String(), stderr.String())
				}
				for _, w := range tc.want {
					if out := stdout.String() + stderr.String(); !strings.Contains(out, w) {
						t.Errorf("%s: output lacks %q:\n%s", args[0], w, out)
					}
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
