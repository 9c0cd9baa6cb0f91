package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/testutil"
)

// TestServeProgress runs the daemon over three scenarios against a
// loopback server: /api/v1/status reports the run in progress with i of N,
// the scenario repeat in progress and an ETA, then the run's end and
// outcome; the log has matrix's progress line per scenario, and the
// progress gauges hold the finished run's counts.
func TestServeProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "benchd.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `
run_on_start: true
schedule: "@every 1h"
defaults: {connections: 1, threads: 1, duration: 700ms, warmup: 0s, timeout: 1s}
targets: [{name: t, url: %s}]
endpoints: [{name: a, path: /a}, {name: b, path: /b}, {name: c, path: /c}]
`, srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := benchd(ctx, t, "serve", "--config.file", cfg, "--storage.path", filepath.Join(dir, "data"),
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port))
	var stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	type status struct {
		Run *struct {
			ID               string    `json:"id"`
			Start            time.Time `json:"start"`
			Running          bool      `json:"running"`
			Target           string    `json:"target"`
			Done             int       `json:"scenarios_done"`
			Planned          int       `json:"scenarios_planned"`
			LastScenario     string    `json:"last_scenario"`
			LastStatus       string    `json:"last_status"`
			End              time.Time `json:"end"`
			Outcome          string    `json:"outcome"`
			RemainingSeconds float64   `json:"remaining_seconds"`
			ETA              time.Time `json:"eta"`
			Current          *struct {
				Name    string    `json:"scenario"`
				Repeat  int       `json:"repeat"`
				Repeats int       `json:"repeats"`
				Start   time.Time `json:"start"`
			} `json:"current"`
		} `json:"run"`
	}
	var mid, cur, end status
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			var st status
			getJSON(t, base+"/api/v1/status", &st)
			if r := st.Run; r != nil && r.Running && r.Done >= 1 && r.Done < r.Planned && mid.Run == nil {
				mid = st
			}
			if r := st.Run; r != nil && r.Running && r.Current != nil && cur.Run == nil {
				cur = st
			}
			if r := st.Run; r != nil && !r.Running {
				end = st
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := mid.Run; r == nil || r.Planned != 3 || r.Target != "t" || r.LastStatus != "ok" || !strings.HasPrefix(r.LastScenario, "t/-/") ||
		r.RemainingSeconds <= 0 && r.Done < 3 || r.ETA.IsZero() && r.RemainingSeconds > 0 {
		t.Errorf("status during the run: %+v\nstderr:\n%s", r, stderr.String())
	}
	// The scenario in progress: one of the three, its only repeat.
	if r := cur.Run; r == nil || !strings.HasPrefix(r.Current.Name, "t/-/") || r.Current.Repeat != 1 || r.Current.Repeats != 1 || r.Current.Start.Before(r.Start) {
		t.Errorf("status during the run, current scenario: %+v\nstderr:\n%s", r, stderr.String())
	}
	if r := end.Run; r == nil || r.Done != 3 || r.Planned != 3 || r.RemainingSeconds != 0 || !r.ETA.IsZero() ||
		r.Current != nil || r.Outcome != "success" || r.End.IsZero() {
		t.Fatalf("status after the run: %+v\nstderr:\n%s", r, stderr.String())
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// benchd's metrics carry its shard, 0 for one benchd (docs/metrics.md).
	for _, want := range []string{"\nbenchd_run_in_progress{shard=\"0\"} 0\n", "\nbenchd_run_scenarios_done{shard=\"0\"} 3\n",
		"\nbenchd_run_scenarios_planned{shard=\"0\"} 3\n", "\nbenchd_run_remaining_seconds{shard=\"0\"} 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(want))
		}
	}
	for _, want := range []string{`msg="run progress"`, "progress=1/3 scenario=t/-/a status=ok", "progress=3/3 scenario=t/-/c status=ok", `left="about 0s"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
}
