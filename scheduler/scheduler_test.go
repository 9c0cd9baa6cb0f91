package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/internal/testutil"
)

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort(t *testing.T) int { return testutil.FreePort(t) }

func parseConfig(t *testing.T, yaml, dir string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), dir)
	if err != nil {
		t.Fatalf("config:\n%s\nerror: %v", yaml, err)
	}
	return cfg
}

// recorder is an Observer that keeps everything it is told.
type recorder struct {
	mu       sync.Mutex
	starts   []*ScenarioStart
	events   []string // "start NAME i/n" and "finish NAME", in order
	results  []*ScenarioResult
	reports  []*RunReport
	skipped  int
	failed   []string
	targets  []string
	nextRuns []time.Time
}

func (r *recorder) RunStarted(context.Context, *RunInfo)   {}
func (r *recorder) TargetStarting(context.Context, string) {}
func (r *recorder) TargetFailed(_ context.Context, target string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, target)
}
func (r *recorder) TargetChanged(_ context.Context, target string, up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.targets = append(r.targets, fmt.Sprintf("%s=%v", target, up))
}
func (r *recorder) ScenarioStarted(_ context.Context, s *ScenarioStart) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, s)
	r.events = append(r.events, fmt.Sprintf("start %s %d/%d", s.Scenario.Name, s.Repeat, s.Repeats))
}
func (r *recorder) ScenarioFinished(_ context.Context, s *ScenarioResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "finish "+s.Scenario.Name)
	r.results = append(r.results, s)
}
func (r *recorder) RunFinished(_ context.Context, rep *RunReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, rep)
}
func (r *recorder) RunSkipped(context.Context, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipped++
}
func (r *recorder) NextRun(_ context.Context, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextRuns = append(r.nextRuns, at)
}

// TestRunTargetFailures runs a matrix of three managed targets with the real
// engine: one whose command exits at once, one that never becomes ready and
// a real HTTP server. The first two fail with their reason, the third still
// runs, and no process of any target is left afterwards.
func TestRunTargetFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	python, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Fatalf("needs /usr/bin/python3: apt-get install -y python3")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadPort, neverPort, okPort := freePort(t), freePort(t), freePort(t)
	marker := fmt.Sprintf("benchd-test-%d", os.Getpid())
	yaml := fmt.Sprintf(`
schedule: "@every 1h"
run_on_start: false
defaults: {connections: 4, threads: 1, duration: 500ms, warmup: 0s, timeout: 1s}
targets:
  - name: dies
    url: http://127.0.0.1:%[1]d
    process: {command: [/bin/sh, -c, "echo boom >&2; exit 3"], ready: /, ready_timeout: 5s}
  - name: never-ready
    url: http://127.0.0.1:%[2]d
    process: {command: [/bin/sh, -c, "sleep 300; echo %[5]s"], ready: /, ready_timeout: 1s, stop_timeout: 1s}
  - name: ok
    url: http://127.0.0.1:%[3]d
    process: {command: [%[4]s, -m, http.server, --bind, 127.0.0.1, "%[3]d"], ready: /, ready_timeout: 20s}
endpoints:
  - {name: index, path: /index.html}
`, deadPort, neverPort, okPort, python, marker)
	cfg := parseConfig(t, yaml, dir)
	rec := &recorder{}
	s, err := New(cfg, Options{Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("got %d results, want 3", len(rep.Results))
	}
	// A scenario whose target did not start is announced too.
	checkStarts(t, rec, map[string]int{"dies/-/index": 1, "never-ready/-/index": 1, "ok/-/index": 1})
	cases := []struct {
		name    string
		wantErr []string
	}{
		{"dies/-/index", []string{"dies", "code 3", "boom"}},
		{"never-ready/-/index", []string{"never-ready", "not ready"}},
		{"ok/-/index", nil},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rep.Results[i]
			if r.Scenario.Name != c.name {
				t.Fatalf("scenario %d is %s, want %s", i, r.Scenario.Name, c.name)
			}
			if c.wantErr == nil {
				if r.Err != nil {
					t.Fatalf("unexpected error: %v", r.Err)
				}
				if got := r.Result.Responses[engine.Class2xx]; got == 0 {
					t.Fatalf("no 2xx responses: %+v", r.Result)
				}
				if r.Target.RSSBytes == 0 {
					t.Errorf("target peak RSS not measured")
				}
				return
			}
			if r.Err == nil {
				t.Fatalf("want an error containing %q, got none", c.wantErr)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(r.Err.Error(), w) {
					t.Errorf("error %q does not contain %q", r.Err, w)
				}
			}
			if r.Result != nil {
				t.Errorf("a scenario whose target did not start has a result")
			}
		})
	}
	if got := strings.Join(rec.failed, ","); got != "dies,never-ready" {
		t.Errorf("TargetFailed for %q, want dies,never-ready", got)
	}
	if rep.Outcome() != "failed" {
		t.Errorf("outcome %s, want failed", rep.Outcome())
	}
	// Nothing of any target is left: the never-ready sleeper is gone and
	// the ports are free.
	out, _ := exec.Command("pgrep", "-f", marker).Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("processes left behind: %s", out)
	}
	testutil.AssertPortsFree(t, neverPort, okPort)
}

// TestRunCancelStopsProcesses cancels a run while its target is under load
// and checks the run ends promptly with the target stopped.
func TestRunCancelStopsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	port := freePort(t)
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
schedule: "@every 1h"
defaults: {connections: 2, threads: 1, duration: 30s, warmup: 0s, timeout: 1s}
targets:
  - name: py
    url: http://127.0.0.1:%[1]d
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[1]d"], ready: /, ready_timeout: 20s}
endpoints:
  - {name: root, path: /}
`, port)
	cfg := parseConfig(t, yaml, dir)
	rec := &recorder{}
	var logs testutil.SyncBuffer
	s, err := New(cfg, Options{Observer: rec, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for {
			rec.mu.Lock()
			started := len(rec.targets) > 0
			rec.mu.Unlock()
			if started {
				time.Sleep(300 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	start := time.Now()
	rep, err := s.RunOnce(ctx, TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("cancelled run took %s", took)
	}
	if rep.Err == nil {
		t.Errorf("report of a cancelled run has no error")
	}
	// One word for a run stopped from outside: interrupted, not failed.
	if rep.Outcome() != OutcomeInterrupted {
		t.Errorf("outcome %q, want %q", rep.Outcome(), OutcomeInterrupted)
	}
	for _, want := range []string{`msg="scenario interrupted" run_id=`, `msg="run finished" run_id=`, " outcome=interrupted "} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "cut_short") || strings.Contains(logs.String(), "outcome=failed") {
		t.Errorf("log calls the interrupted run failed or cut short:\n%s", logs.String())
	}
	if got := strings.Join(rec.targets, ","); got != "py=true,py=false" {
		t.Errorf("target transitions %q, want py=true,py=false", got)
	}
	testutil.AssertPortsFree(t, port)
}

// TestScheduleSkipsOverlappingTicks drives the cron loop in a synctest
// bubble: runs take 90 s on an @every 1m schedule, so every other tick
// fires while a run is in progress and is skipped, not queued.
func TestScheduleSkipsOverlappingTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := parseConfig(t, `
schedule: "@every 1m"
run_on_start: true
targets:
  - {name: t, url: "http://127.0.0.1:1"}
endpoints:
  - {name: e, path: /}
`, "")
		var mu sync.Mutex
		runs := 0
		eng := EngineFunc(func(ctx context.Context, p engine.Plan) (*engine.Result, error) {
			mu.Lock()
			runs++
			mu.Unlock()
			select {
			case <-time.After(90 * time.Second):
			case <-ctx.Done():
			}
			return &engine.Result{Plan: p, ConnectionsEstablished: 1}, nil
		})
		rec := &recorder{}
		s, err := New(cfg, Options{Engine: eng, Observer: rec})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		// t=0 start run (ends 90s); t=60 tick skipped; t=120 run (ends
		// 210); t=180 skipped; t=240 run (ends 330); t=300 skipped.
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if runs != 3 {
			t.Errorf("runs = %d, want 3 (t=0, 2m, 4m)", runs)
		}
		if rec.skipped != 3 {
			t.Errorf("skipped = %d, want 3 (t=1m, 3m, 5m)", rec.skipped)
		}
		if len(rec.reports) != 3 {
			t.Errorf("reports = %d, want 3", len(rec.reports))
		}
		if len(rec.nextRuns) == 0 || rec.nextRuns[0].Sub(time.Unix(946684800, 0)) != time.Minute {
			t.Errorf("first next run %v, want 1m after the bubble's start", rec.nextRuns)
		}
	})
}

// TestRunOnceWhileRunning checks RunOnce refuses a second concurrent run.
func TestRunOnceWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := parseConfig(t, `
targets:
  - {name: t, url: "http://127.0.0.1:1"}
endpoints:
  - {name: e, path: /}
`, "")
		release := make(chan struct{})
		eng := EngineFunc(func(ctx context.Context, p engine.Plan) (*engine.Result, error) {
			<-release
			return &engine.Result{Plan: p}, nil
		})
		s, err := New(cfg, Options{Engine: eng})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = s.RunOnce(t.Context(), TriggerManual, nil) }()
		synctest.Wait()
		if _, err := s.RunOnce(t.Context(), TriggerManual, nil); !errors.Is(err, ErrRunning) {
			t.Errorf("second RunOnce: %v, want ErrRunning", err)
		}
		close(release)
		synctest.Wait()
	})
}

// TestSettleRestartsAWedgedTarget runs two scenarios on a managed target
// whose readiness check turns slow once it has served load (as a server
// still working through abandoned requests does): benchd waits at most
// SettleTimeout, restarts the target, and the second scenario runs on a
// fresh one.
func TestSettleRestartsAWedgedTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	port := freePort(t)
	dir := t.TempDir()
	script := `
import http.server, sys, time
loaded = False
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        global loaded
        if self.path == "/healthz" and loaded:
            time.sleep(3)
        if self.path == "/load":
            loaded = True
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`
	if err := os.WriteFile(filepath.Join(dir, "wedge.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, fmt.Sprintf(`
defaults: {connections: 2, threads: 1, duration: 300ms, warmup: 0s, timeout: 1s}
targets:
  - name: wedge
    url: http://127.0.0.1:%[1]d
    process: {command: [/usr/bin/python3, wedge.py, "%[1]d"], ready: /healthz, ready_timeout: 20s, stop_timeout: 1s}
endpoints:
  - {name: a, path: /load}
  - {name: b, path: /load}
`, port), dir)
	rec := &recorder{}
	s, err := New(cfg, Options{Observer: rec, SettleTimeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Err != nil || r.Result.Responses[engine.Class2xx] == 0 {
			t.Errorf("%s: err %v, result %+v", r.Scenario.Name, r.Err, r.Result)
		}
	}
	if got := strings.Join(rec.targets, ","); got != "wedge=true,wedge=false,wedge=true,wedge=false" {
		t.Errorf("target transitions %q, want a restart between the scenarios", got)
	}
}

// TestTriggerNowAndPause drives the loop in a synctest bubble: a paused
// schedule starts no scheduled run, TriggerNow still starts one, and a
// second TriggerNow during it is refused.
func TestTriggerNowAndPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := parseConfig(t, `
schedule: "@every 1m"
run_on_start: false
targets:
  - {name: t, url: "http://127.0.0.1:1"}
endpoints:
  - {name: e, path: /}
`, "")
		rec := &recorder{}
		eng := EngineFunc(func(ctx context.Context, p engine.Plan) (*engine.Result, error) {
			select {
			case <-time.After(30 * time.Second):
			case <-ctx.Done():
			}
			return &engine.Result{Plan: p}, nil
		})
		s, err := New(cfg, Options{Engine: eng, Observer: rec})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.TriggerNow(t.Context()); !errors.Is(err, ErrNotRunning) {
			t.Errorf("TriggerNow before Run: %v, want ErrNotRunning", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		synctest.Wait()
		s.Pause()
		time.Sleep(2*time.Minute + time.Second) // two ticks, both paused
		synctest.Wait()
		if err := s.TriggerNow(ctx); err != nil {
			t.Fatalf("TriggerNow: %v", err)
		}
		synctest.Wait()
		if !s.Running() {
			t.Errorf("no run in progress after TriggerNow")
		}
		if err := s.TriggerNow(ctx); !errors.Is(err, ErrRunning) {
			t.Errorf("TriggerNow during a run: %v, want ErrRunning", err)
		}
		time.Sleep(31 * time.Second)
		synctest.Wait()
		s.Resume()
		time.Sleep(time.Minute) // next tick runs
		synctest.Wait()
		cancel()
		_ = <-done // the loop's error after cancel is context.Canceled
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var triggers []string
		for _, r := range rec.reports {
			triggers = append(triggers, r.Trigger)
		}
		if got := strings.Join(triggers, ","); got != "manual,schedule" {
			t.Errorf("runs by trigger %q, want manual,schedule", got)
		}
		if rec.skipped != 0 {
			t.Errorf("paused ticks counted as skipped: %d", rec.skipped)
		}
	})
}

func TestSchedLatencyP99(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}
	h := func(counts ...uint64) *metrics.Float64Histogram {
		return &metrics.Float64Histogram{Counts: counts, Buckets: buckets}
	}
	cases := []struct {
		name          string
		before, after *metrics.Float64Histogram
		want          time.Duration
	}{
		{"nothing recorded", h(5, 5, 5, 5), h(5, 5, 5, 5), 0},
		{"all fast", h(0, 0, 0, 0), h(100, 0, 0, 0), time.Millisecond},
		{"1 % slow is still p99 of the fast", h(0, 0, 0, 0), h(99, 1, 0, 0), time.Millisecond},
		{"2 % slow", h(0, 0, 0, 0), h(98, 2, 0, 0), 10 * time.Millisecond},
		{"only the delta counts", h(0, 50, 0, 0), h(100, 50, 0, 0), time.Millisecond},
		{"open last bucket reports its lower bound", h(0, 0, 0, 0), h(0, 0, 0, 10), 100 * time.Millisecond},
		{"unknown", nil, h(1, 0, 0, 0), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := schedLatencyP99(c.before, c.after); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if readSchedLatencies() == nil {
		t.Errorf("the Go runtime has no %s", schedLatencies)
	}
}

// TestRepeats runs one scenario three times and another once against a
// managed real server: the first gets the three results and their merge,
// the second a plain result.
func TestRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	port := freePort(t)
	cfg := parseConfig(t, fmt.Sprintf(`
defaults: {connections: 2, threads: 1, duration: 300ms, warmup: 0s, timeout: 1s}
targets:
  - name: py
    url: http://127.0.0.1:%[1]d
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[1]d"], ready: /, ready_timeout: 20s, stop_timeout: 1s}
endpoints:
  - {name: a, path: /, repeats: 3}
  - {name: b, path: /}
`, port), t.TempDir())
	s, err := New(cfg, Options{Observer: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	a, b := rep.Results[0], rep.Results[1]
	if a.Err != nil || b.Err != nil {
		t.Fatalf("errors: %v, %v", a.Err, b.Err)
	}
	if len(a.Repeats) != 3 || b.Repeats != nil {
		t.Fatalf("repeats: a %d, b %d; want 3 and none", len(a.Repeats), len(b.Repeats))
	}
	var completed uint64
	for i, r := range a.Repeats {
		if r.Completed() == 0 {
			t.Errorf("repeat %d completed nothing", i+1)
		}
		if i > 0 && !r.Start.After(a.Repeats[i-1].End) {
			t.Errorf("repeat %d started before repeat %d ended", i+1, i)
		}
		completed += r.Completed()
	}
	if a.Result.Completed() != completed || a.Result.Plan.Duration != 900*time.Millisecond {
		t.Errorf("merged: %d completed over %s, want %d over 900ms", a.Result.Completed(), a.Result.Plan.Duration, completed)
	}
	if b.Result == nil || b.Result.Plan.Duration != 300*time.Millisecond {
		t.Errorf("single run: %+v", b.Result)
	}
}

// TestShardRunsItsCells runs one matrix of six scenarios as each of three
// shards against a real loopback server: each shard runs only the
// scenarios config.ShardOf gives it, and together they run each scenario
// once.
func TestShardRunsItsCells(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	yaml := fmt.Sprintf(`
shards: {count: 3}
defaults: {connections: 1, threads: 1, duration: 50ms, warmup: 0s, timeout: 1s}
targets:
  - {name: a, url: %[1]q}
  - {name: b, url: %[1]q}
endpoints:
  - {name: x, path: /x}
  - {name: y, path: /y}
  - {name: z, path: /z}
`, srv.URL)
	ran := map[string]int{}
	for i := range 3 {
		rep, err := newShard(t, yaml, i).RunOnce(t.Context(), TriggerManual, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Scenarios) != len(rep.Results) {
			t.Errorf("shard %d: %d results of %d scenarios", i, len(rep.Results), len(rep.Scenarios))
		}
		for _, r := range rep.Results {
			if got := config.ShardOf(r.Scenario.Name, 3); got != i {
				t.Errorf("shard %d ran %s, which is shard %d's", i, r.Scenario.Name, got)
			}
			if r.Err != nil || !r.Up() {
				t.Errorf("shard %d: %s: err %v, up %v", i, r.Scenario.Name, r.Err, r.Up())
			}
			ran[r.Scenario.Name]++
		}
	}
	if len(ran) != 6 {
		t.Errorf("%d scenarios ran over the three shards, want 6: %v", len(ran), ran)
	}
	for name, n := range ran {
		if n != 1 {
			t.Errorf("%s ran %d times, want once", name, n)
		}
	}
}
