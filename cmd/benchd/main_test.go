package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/benchd/benchd/deploy"
	"github.com/benchd/benchd/internal/djangotest"
	"github.com/benchd/benchd/internal/testutil"
	"github.com/benchd/benchd/store"
)

// TestMain runs benchd's main instead of the tests when the test binary is
// started with BENCHD_TEST_MAIN=1, so whole-binary tests can run benchd as
// a real process (as Prometheus' cmd/prometheus tests do).
func TestMain(m *testing.M) {
	if os.Getenv("BENCHD_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// benchd returns a command running benchd with args.
func benchd(ctx context.Context, t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BENCHD_TEST_MAIN=1", "PYTHONDONTWRITEBYTECODE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// startServe starts `benchd serve args...` listening on 127.0.0.1:port,
// killed (its process group) at the test's end, and waits until it serves
// /metrics; it returns the command and its stderr.
func startServe(ctx context.Context, t *testing.T, port int, args ...string) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	cmd := benchd(ctx, t, append(append([]string{"serve"}, args...), "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port))...)
	stderr := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	for i := 0; scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port)) == nil; i++ {
		if i > 100 {
			t.Fatalf("benchd did not come up; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cmd, stderr
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort(t *testing.T) int { return testutil.FreePort(t) }

// requireDjangoStack fails (never skips) when the Django stack is missing.
func requireDjangoStack(t *testing.T) { djangotest.RequireDjangoStack(t) }

// e2eConfig writes a small matrix over the real Django target under two
// server configs (WSGI gevent and ASGI hypercorn/asyncio), two endpoints,
// sync and async, run from the tests' shared venv, and returns its path.
func e2eConfig(t *testing.T) (path string, ports []int) {
	t.Helper()
	dir := t.TempDir()
	django := filepath.Join(dir, "django")
	if err := deploy.UnpackDjango(django); err != nil {
		t.Fatal(err)
	}
	p1, p2 := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`
schedule: "@every 1h"
run_on_start: true
title: Django Workers
defaults: {connections: 8, threads: 2, duration: 2s, warmup: 500ms, timeout: 2s}
targets:
  - name: gunicorn-gevent
    url: http://127.0.0.1:%[1]d
    modes: [sync]
    process:
      dir: django
      command: ["%[3]s/gunicorn", -k, gevent, -w, "1", --worker-connections, "100", --no-control-socket, -b, "127.0.0.1:%[1]d", proj.wsgi:application]
      setup: [["%[3]s/python", manage.py, migrate, --noinput], ["%[3]s/python", manage.py, seed_rows]]
      ready: /healthz
      ready_timeout: 60s
  - name: hypercorn-asyncio
    url: http://127.0.0.1:%[2]d
    modes: [sync, async]
    process:
      dir: django
      command: ["%[3]s/hypercorn", -k, asyncio, -w, "1", -b, "127.0.0.1:%[2]d", proj.asgi:application]
      setup: [["%[3]s/python", manage.py, migrate, --noinput], ["%[3]s/python", manage.py, seed_rows]]
      ready: /healthz
      ready_timeout: 60s
endpoints:
  - {name: json, path: "/myapp/{mode}/json"}
  - {name: json_query, path: "/myapp/{mode}/json_query", repeats: 2}
api:
  token_file: token
# The tests of this package, and other packages', share the machine's
# cores with these servers: foreign CPU and late scheduling are the rule
# here, and have their own tests (TestForeignCPUInvalidates, the
# scheduler-latency cases of regress.TestValidity).
regression: {max_foreign_cpu: -1, max_scheduler_latency: 10s}
`, p1, p2, djangotest.VenvBin(t))
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "benchd.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, []int{p1, p2}
}

var e2eScenarios = []string{
	"gunicorn-gevent/sync/json",
	"gunicorn-gevent/sync/json_query",
	"hypercorn-asyncio/sync/json",
	"hypercorn-asyncio/async/json",
	"hypercorn-asyncio/sync/json_query",
	"hypercorn-asyncio/async/json_query",
}

// TestMatrixEndToEnd runs `benchd matrix --format markdown` over the real
// Django target and checks every scenario's wrk block: requests made, no
// socket errors, no non-2xx responses.
func TestMatrixEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real Django target")
	}
	requireDjangoStack(t)
	cfg, _ := e2eConfig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	storage := t.TempDir()
	cmd := benchd(ctx, t, "matrix", "--config.file", cfg, "--format", "markdown", "--storage.path", storage)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("benchd matrix: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, h := range []string{"# Django Workers", "## gunicorn-gevent", "## hypercorn-asyncio", "#### Sync", "#### Async"} {
		if !strings.Contains(out, h) {
			t.Errorf("markdown lacks %q", h)
		}
	}
	blocks := regexp.MustCompile("(?s)```bash\n(.*?)```").FindAllStringSubmatch(out, -1)
	if len(blocks) != len(e2eScenarios) {
		t.Fatalf("got %d wrk blocks, want %d:\n%s", len(blocks), len(e2eScenarios), out)
	}
	reqs := regexp.MustCompile(`(?m)^\s+(\d+) requests in `)
	for i, b := range blocks {
		block := b[1]
		m := reqs.FindStringSubmatch(block)
		if m == nil {
			t.Errorf("block %d has no request count:\n%s", i, block)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("block %d made no requests:\n%s", i, block)
		}
		for _, bad := range []string{"Socket errors", "Non-2xx"} {
			if strings.Contains(block, bad) {
				t.Errorf("block %d of a healthy endpoint reports %s:\n%s", i, bad, block)
			}
		}
		// json_query runs twice per run: one block of both repeats.
		repeated := strings.Contains(block, "/json_query\n")
		if got := strings.Contains(block, "  2 repeats, Requests/sec each: ") && strings.HasPrefix(block, "Running 4s test"); got != repeated {
			t.Errorf("block %d: repeats line and 4s = %v, want %v:\n%s", i, got, repeated, block)
		}
	}
	for _, sc := range e2eScenarios {
		if !strings.Contains(stderr.String(), sc+" ok") {
			t.Errorf("progress on stderr lacks %q:\n%s", sc+" ok", stderr.String())
		}
	}

	// The run is in the history: benchd report renders it again.
	report := func(args ...string) string {
		t.Helper()
		var o, e bytes.Buffer
		if code := runWith(ctx, append([]string{"report", "--storage.path", storage}, args...), &o, &e); code != 0 {
			t.Fatalf("benchd report %v: exit %d: %s", args, code, e.String())
		}
		return o.String()
	}
	md := report("--format", "markdown")
	if got := strings.Count(md, "```bash"); got != len(e2eScenarios) {
		t.Errorf("report --format markdown has %d wrk blocks, want %d:\n%s", got, len(e2eScenarios), md)
	}
	for i, b := range regexp.MustCompile("(?s)```bash\n(.*?)```").FindAllStringSubmatch(md, -1) {
		if b[1] != blocks[i][1] {
			t.Errorf("stored block %d differs from the live one:\n%s\nvs\n%s", i, b[1], blocks[i][1])
		}
	}
	sum := report("--summary")
	for _, w := range []string{"| endpoint | mode | gunicorn-gevent | hypercorn-asyncio |", "| json | sync |", "| json_query | async |"} {
		if !strings.Contains(sum, w) {
			t.Errorf("summary lacks %q:\n%s", w, sum)
		}
	}
	var runs []string
	for l := range strings.SplitSeq(sum, "\n") {
		// Not the line above the table, "run ID: 4 of 83 scenarios …".
		if id, ok := strings.CutPrefix(l, "run "); ok && !strings.HasSuffix(strings.Fields(id)[0], ":") {
			runs = append(runs, strings.Fields(id)[0])
		}
	}
	if len(runs) == 1 {
		diff := report("--diff", runs[0], "--diff", runs[0])
		if strings.Count(diff, "1.00") < len(e2eScenarios) {
			t.Errorf("a run diffed with itself should have ratios of 1.00:\n%s", diff)
		}
	}
}

// TestServeEndToEnd runs `benchd serve` as a real process over the real
// Django target, scrapes /metrics after its start-up run, checks values for
// every scenario, then stops benchd with SIGTERM and checks it exits 0 and
// leaves no target process behind.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real Django target")
	}
	requireDjangoStack(t)
	cfg, targetPorts := e2eConfig(t)
	port := freePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	storage := t.TempDir()
	cmd := benchd(ctx, t, "serve", "--config.file", cfg, "--storage.path", storage,
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port))
	var stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	var families map[string]*dto.MetricFamily
	deadline := time.Now().Add(4 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no finished run on /metrics in time; stderr:\n%s", stderr.String())
		}
		time.Sleep(time.Second)
		families = scrape(t, url)
		if families == nil {
			continue
		}
		if v := value(families, "benchd_runs_total", map[string]string{"result": "success"}); v >= 1 {
			break
		}
		if v := value(families, "benchd_runs_total", map[string]string{"result": "failed"}); v >= 1 {
			t.Fatalf("start-up run failed; stderr:\n%s", stderr.String())
		}
	}
	for _, sc := range e2eScenarios {
		parts := strings.Split(sc, "/")
		l := map[string]string{"target": parts[0], "mode": parts[1], "endpoint": parts[2]}
		with := func(k, v string) map[string]string {
			m := map[string]string{k: v}
			maps.Copy(m, l)
			return m
		}
		if v := value(families, "benchd_requests_total", with("class", "2xx")); v <= 0 {
			t.Errorf("%s: benchd_requests_total{class=2xx} = %v, want > 0", sc, v)
		}
		for _, kind := range []string{"connect", "read", "write", "timeout", "closed"} {
			if v := value(families, "benchd_request_errors_total", with("kind", kind)); v != 0 {
				t.Errorf("%s: benchd_request_errors_total{kind=%s} = %v, want 0", sc, kind, v)
			}
		}
		if v := value(families, "benchd_scenario_requests_per_second", l); v <= 0 {
			t.Errorf("%s: benchd_scenario_requests_per_second = %v, want > 0", sc, v)
		}
		if v := value(families, "benchd_scenario_up", l); v != 1 {
			t.Errorf("%s: benchd_scenario_up = %v, want 1", sc, v)
		}
		if v := value(families, "benchd_scenario_up", with("shard", "0")); v != 1 {
			t.Errorf("%s: benchd_scenario_up{shard=\"0\"} = %v, want 1 (one benchd is shard 0)", sc, v)
		}
		if v := histogramCount(families, "benchd_request_duration_seconds", l); v == 0 {
			t.Errorf("%s: benchd_request_duration_seconds has no observations", sc)
		}
	}
	if _, ok := families["benchd_build_info"]; !ok {
		t.Errorf("benchd_build_info missing")
	}
	promtoolCheckMetrics(t, url)
	if v := value(families, "benchd_config_last_reload_successful", nil); v != 1 {
		t.Errorf("benchd_config_last_reload_successful = %v, want 1", v)
	}

	// The run history of the start-up run, through the API.
	var runs struct {
		Runs []struct {
			ID, Outcome string
		} `json:"runs"`
	}
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/runs", port), &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].Outcome != "success" {
		t.Errorf("GET /api/v1/runs: %+v, want one successful run", runs)
	} else {
		var run struct {
			Scenarios []struct {
				Scenario string            `json:"scenario"`
				Valid    bool              `json:"valid"`
				Why      []string          `json:"invalid_reasons"`
				Resp     map[string]uint64 `json:"responses"`
				Repeats  []struct {
					RequestsPerSecond float64 `json:"requests_per_second"`
				} `json:"repeats"`
			} `json:"scenarios"`
		}
		getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/runs/%s", port, runs.Runs[0].ID), &run)
		// One record, one schema: the API's scenarios are what `benchd
		// report --format json` prints of the same run, key for key.
		var api struct {
			Scenarios []map[string]any `json:"scenarios"`
		}
		getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/runs/%s", port, runs.Runs[0].ID), &api)
		var o, e bytes.Buffer
		if code := runWith(ctx, []string{"report", "--storage.path", storage, "--run", runs.Runs[0].ID, "--format", "json"}, &o, &e); code != 0 {
			t.Fatalf("report --format json: exit %d: %s", code, e.String())
		}
		var reported []map[string]any
		if err := json.Unmarshal(o.Bytes(), &reported); err != nil {
			t.Fatalf("report --format json: %v\n%s", err, o.String())
		}
		if len(api.Scenarios) == 0 || !reflect.DeepEqual(api.Scenarios, reported) {
			t.Errorf("GET /api/v1/runs/%s scenarios differ from report --format json:\napi:    %v\nreport: %v", runs.Runs[0].ID, api.Scenarios, reported)
		}
		if len(run.Scenarios) != len(e2eScenarios) {
			t.Errorf("run has %d scenarios in the history, want %d", len(run.Scenarios), len(e2eScenarios))
		}
		for _, sc := range run.Scenarios {
			if !sc.Valid || sc.Resp["2xx"] == 0 {
				t.Errorf("history of %s: valid %v %q, 2xx %d", sc.Scenario, sc.Valid, sc.Why, sc.Resp["2xx"])
			}
			want := 0
			if strings.HasSuffix(sc.Scenario, "/json_query") {
				want = 2 // repeats: 2
			}
			if len(sc.Repeats) != want || (want > 0 && sc.Repeats[1].RequestsPerSecond <= 0) {
				t.Errorf("history of %s: repeats %+v, want %d with requests", sc.Scenario, sc.Repeats, want)
			}
		}
	}
	var hist struct {
		Results []struct {
			RunID string `json:"run_id"`
		} `json:"results"`
	}
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/scenarios/hypercorn-asyncio/async/json/history", port), &hist)
	if len(hist.Results) != 1 {
		t.Errorf("scenario history has %d results, want 1", len(hist.Results))
	}

	// SIGHUP reloads the configuration.
	before := value(families, "benchd_config_last_reload_success_timestamp_seconds", nil)
	time.Sleep(10 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		f := scrape(t, url)
		if value(f, "benchd_config_last_reload_success_timestamp_seconds", nil) > before {
			break
		}
		if i == 50 {
			t.Fatalf("SIGHUP did not reload; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The write API: token required; a second trigger during a run is refused.
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/runs", port)
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, api, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Errorf("POST /api/v1/runs without token: %d, want 401", code)
	}
	if code := post("s3cret"); code != http.StatusAccepted {
		t.Errorf("POST /api/v1/runs: %d, want 202", code)
	}
	if code := post("s3cret"); code != http.StatusConflict {
		t.Errorf("POST /api/v1/runs during a run: %d, want 409", code)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("benchd exited with %v after SIGTERM; stderr:\n%s", err, stderr.String())
	}
	if err := syscall.Kill(-cmd.Process.Pid, 0); err == nil {
		t.Errorf("a process of benchd's group is still alive after it exited")
	}
	for _, p := range targetPorts {
		out, _ := exec.Command("pgrep", "-f", fmt.Sprintf("127.0.0.1:%d", p)).Output()
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("target processes on port %d left behind: %s", p, s)
		}
	}
}

// scrape fetches and parses a Prometheus text exposition; nil if not yet up.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// find returns the metric of name whose labels include want.
func find(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// value returns a counter or gauge value, or -1 when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m := find(fams, name, labels)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return -1
}

func histogramCount(fams map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	m := find(fams, name, labels)
	if m == nil || m.Histogram == nil {
		return 0
	}
	return m.Histogram.GetSampleCount()
}

// promtoolCheckMetrics lints a live scrape with Debian's promtool: it must
// pass with no warnings.
func promtoolCheckMetrics(t *testing.T, url string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is missing: apt-get install -y prometheus (or make setup)")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// getJSON GETs url and decodes its JSON body into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestKillDuringRun kills a real benchd with SIGKILL in the middle of a
// run: the history file stays intact, the finished scenarios of the run are
// kept, the run reads "aborted", and no target process outlives benchd.
func TestKillDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "benchd.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
schedule: "@every 1h"
defaults: {connections: 2, threads: 1, duration: 1s, warmup: 0s, timeout: 1s}
targets:
  - name: py
    url: http://127.0.0.1:%[1]d
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[1]d"], ready: /, ready_timeout: 20s}
endpoints:
  - {name: a, path: /}
  - {name: b, path: /}
  - {name: long, path: /, duration: 60s}
`, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	web := freePort(t)
	cmd := benchd(ctx, t, "serve", "--config.file", cfg, "--storage.path", storage, "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", web))
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first two scenarios are stored and the long one runs.
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", web)
	for i := 0; ; i++ {
		f := scrape(t, url)
		if f != nil && value(f, "benchd_scenario_up", map[string]string{"endpoint": "b"}) == 1 {
			break
		}
		if i > 300 {
			t.Fatalf("scenarios did not run; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Pdeathsig takes the target down with benchd.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-f", fmt.Sprintf("http.server --bind 127.0.0.1 %d", port)).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target outlived a killed benchd: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The history: intact, run aborted (Open marks it), two scenarios whole.
	var o, e bytes.Buffer
	if code := runWith(ctx, []string{"report", "--storage.path", storage, "--format", "json"}, &o, &e); code != 0 {
		t.Fatalf("report after kill: exit %d: %s", code, e.String())
	}
	var entries []struct {
		Scenario string `json:"scenario"`
		Requests uint64 `json:"requests"`
		Sent     uint64 `json:"sent"`
	}
	if err := json.Unmarshal(o.Bytes(), &entries); err != nil {
		t.Fatalf("%v\n%s", err, o.String())
	}
	if len(entries) != 2 || entries[0].Requests == 0 || entries[1].Sent == 0 {
		t.Errorf("stored scenarios after the kill: %s", o.String())
	}
	// A new benchd opens the same history and marks the run aborted.
	st, err := store.Open(ctx, storage, store.Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer st.Close()
	runs, err := st.Runs(ctx, store.RunQuery{})
	if err != nil || len(runs) != 1 || runs[0].Outcome != store.OutcomeAborted {
		t.Errorf("runs after kill: %+v %v, want one aborted run", runs, err)
	}
}
