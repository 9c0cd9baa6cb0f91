package scheduler

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/internal/djangotest"
	"github.com/benchd/benchd/result"
)

// TestSendRequests: the lane's request loop sends exactly n requests, never
// more than in.Connections at once, and sorts what comes back as the engine
// does: classes, unexpected (the endpoint's expect), socket errors by kind.
func TestSendRequests(t *testing.T) {
	var inFlight, most atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(time.Millisecond)
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		default:
			_, _ = w.Write([]byte(`{"message": "Hello, World!"}`))
		}
	}))
	t.Cleanup(srv.Close)
	closed := freePort(t) // nothing listens
	tests := []struct {
		name        string
		url         string
		expect      config.Expect
		connections int
		n           int
		class       engine.Class
		unexpected  uint64
		kind        engine.ErrorKind
		errors      uint64
	}{
		{name: "ok", url: srv.URL + "/json", connections: 3, n: 40, class: engine.Class2xx},
		{name: "body check fails", url: srv.URL + "/json", expect: config.Expect{BodyContains: "Goodbye"}, connections: 1, n: 5, class: engine.Class2xx, unexpected: 5},
		{name: "404", url: srv.URL + "/missing", connections: 2, n: 7, class: engine.Class4xx, unexpected: 7},
		{name: "404 expected", url: srv.URL + "/missing", expect: config.Expect{Status: []int{404}}, connections: 2, n: 7, class: engine.Class4xx},
		{name: "refused", url: fmt.Sprintf("http://127.0.0.1:%d/", closed), connections: 2, n: 4, kind: engine.KindConnect, errors: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			most.Store(0)
			in := &config.Instructions{Requests: tt.n, Connections: tt.connections, Timeout: 5 * time.Second}
			sc := config.Scenario{Name: "t/-/e", URL: tt.url, Load: config.LoadSpec{Method: http.MethodGet}, Expect: tt.expect, Instructions: in}
			client := laneClient(in, nil)
			defer client.CloseIdleConnections()
			r := sendRequests(t.Context(), client, sc, tt.n)
			if r.Sent != uint64(tt.n) {
				t.Errorf("sent %d, want %d", r.Sent, tt.n)
			}
			if tt.errors == 0 && r.Responses[tt.class] != uint64(tt.n) {
				t.Errorf("responses %v, want %d of class %s", r.Responses, tt.n, tt.class)
			}
			if r.Unexpected != tt.unexpected {
				t.Errorf("unexpected %d, want %d", r.Unexpected, tt.unexpected)
			}
			if r.Errors[tt.kind] != tt.errors || r.TotalErrors() != tt.errors {
				t.Errorf("errors %v, want %d of kind %s (samples %q)", r.Errors, tt.errors, tt.kind, r.ErrorSamples)
			}
			if m := most.Load(); m > int64(tt.connections) {
				t.Errorf("%d requests at once, want at most %d", m, tt.connections)
			}
			if tt.errors == 0 && (r.Latency.TotalCount() != int64(tt.n) || r.ConnectionsEstablished != tt.connections) {
				t.Errorf("latency count %d, connections %d; want %d, %d", r.Latency.TotalCount(), r.ConnectionsEstablished, tt.n, tt.connections)
			}
		})
	}
}

// TestInstructionLaneWithoutValgrind: a lane whose callgrind_control is
// missing fails its scenarios with the install command, and never starts
// the server uninstrumented.
func TestInstructionLaneWithoutValgrind(t *testing.T) {
	old := callgrindControl
	callgrindControl = "/nonexistent/callgrind_control"
	t.Cleanup(func() { callgrindControl = old })
	cfg := parseConfig(t, `
targets:
  - name: lane
    url: http://127.0.0.1:1
    process: {command: [/bin/false]}
    instructions: {endpoints: [json]}
endpoints:
  - {name: json, path: /json}
`, t.TempDir())
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Err == nil || !strings.Contains(rep.Results[0].Err.Error(), "apt-get install -y valgrind") {
		t.Fatalf("results %+v, want one failed with the install command", rep.Results)
	}
	if rec := rep.Results[0].Record; rec.Valid || rec.Instructions != nil {
		t.Errorf("record valid %v, instructions %+v: want invalid, none", rec.Valid, rec.Instructions)
	}
}

// laneRun starts the reference Django project in django under gunicorn's
// sync worker under callgrind, through a scheduler run of an instruction
// lane on the json view, with env added to the server's, and returns the
// run's instructions per request.
func laneRun(t *testing.T, django string, env map[string]string) float64 {
	t.Helper()
	gunicorn := filepath.Join(djangotest.VenvBin(t), "gunicorn")
	port := freePort(t)
	var envYAML []string
	for k, v := range env {
		envYAML = append(envYAML, fmt.Sprintf("%s: %q", k, v))
	}
	cfg := parseConfig(t, fmt.Sprintf(`
targets:
  - name: callgrind
    url: http://127.0.0.1:%[1]d
    process:
      command: [%[2]s, -k, sync, -w, "1", --timeout, "600", --no-control-socket, -b, "127.0.0.1:%[1]d", proj.wsgi:application]
      dir: %[3]s
      env: {PYTHONDONTWRITEBYTECODE: "1", %[4]s}
      ready: /healthz
      ready_timeout: 120s
    modes: [sync]
    instructions: {endpoints: [json], requests: 60, warmup_requests: 20}
endpoints:
  - {name: json, path: "/myapp/{mode}/json", expect: {body_contains: "Hello"}}
`, port, gunicorn, django, strings.Join(envYAML, ", ")), t.TempDir())
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	in := r.Record.Instructions
	if in == nil || in.Requests != 60 || in.Processes != 1 || !r.Record.Valid {
		t.Fatalf("record instructions %+v, valid %v: want 60 requests over 1 process (the worker), valid", in, r.Record.Valid)
	}
	return in.PerRequest
}

// TestInstructionLaneDjango runs the reference Django target's json view
// under gunicorn's sync worker under callgrind through the scheduler: its
// instructions per request are plausible (measured 0.98–1.16 M), two runs
// (the server restarted) differ by less than 1 %, and the burn knob's
// +2 % (BENCHD_DJANGO_BURN_LOOPS, about 1,000 instructions a round) shows
// as +1 to +4 %.
func TestInstructionLaneDjango(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real Django target under callgrind")
	}
	requireTools(t, map[string]string{"/usr/bin/valgrind": "valgrind", "/usr/bin/callgrind_control": "valgrind", "/usr/bin/setarch": "util-linux"})
	django := djangotest.PrepareDjango(t)
	a := laneRun(t, django, nil)
	b := laneRun(t, django, nil)
	t.Logf("instructions per request: %.0f, %.0f (%.3f %% apart)", a, b, 100*math.Abs(b/a-1))
	if a < 3e5 || a > 5e6 {
		t.Errorf("%.0f instructions per request, want 0.3 M to 5 M", a)
	}
	if d := math.Abs(b/a - 1); d >= 0.01 {
		t.Errorf("two runs %.0f and %.0f differ by %.2f %%, want < 1 %%", a, b, 100*d)
	}
	loops := int(math.Round(0.02 * a / 1000))
	c := laneRun(t, django, map[string]string{"BENCHD_DJANGO_BURN_LOOPS": strconv.Itoa(loops)})
	up := c/math.Min(a, b) - 1
	t.Logf("BENCHD_DJANGO_BURN_LOOPS=%d: %.0f instructions per request, %+.3f %%", loops, c, 100*up)
	if up < 0.01 || up > 0.04 {
		t.Errorf("burn of %d rounds (+2 %% intended) moved instructions per request by %+.2f %%, want +1 to +4 %%", loops, 100*up)
	}
}

// TestInstructionsRecord: the record holds each repeat's instruction count
// and their sum, per request from the sums; a load scenario has none.
func TestInstructionsRecord(t *testing.T) {
	sc := config.Scenario{Name: "cg/sync/json", Target: "cg", Mode: "sync", Endpoint: "json", URL: "http://127.0.0.1:1/json",
		Load: config.LoadSpec{Method: http.MethodGet, Repeats: 2}, Instructions: &config.Instructions{Requests: 100, Connections: 1, Timeout: time.Second}}
	plan := engine.Plan{URL: sc.URL, Method: http.MethodGet, Connections: 1, Threads: 1, Timeout: time.Second}
	r := &ScenarioResult{RunID: "r", Scenario: sc,
		Repeats: []*engine.Result{{Plan: plan}, {Plan: plan}},
		RepeatInstructions: []InstructionCount{
			{Instructions: 100_000_000, Requests: 100, Processes: 1},
			{Instructions: 102_000_000, Requests: 100, Processes: 1},
		}}
	var err error
	if r.Result, err = engine.Merge(r.Repeats...); err != nil {
		t.Fatal(err)
	}
	rec := r.BuildRecord(ValidityOptions(&config.Config{}))
	want := result.Instructions{Count: 202_000_000, Requests: 200, Processes: 1, PerRequest: 1_010_000}
	if rec.Instructions == nil || *rec.Instructions != want {
		t.Fatalf("instructions %+v, want %+v", rec.Instructions, want)
	}
	if len(rec.Repeats) != 2 || rec.Repeats[1].Instructions == nil || rec.Repeats[1].Instructions.PerRequest != 1_020_000 {
		t.Errorf("repeats %+v, want the second at 1.02 M per request", rec.Repeats)
	}
	if got := r.InstructionsPerRequest(); got != 1_010_000 {
		t.Errorf("InstructionsPerRequest() = %g, want 1.01e6", got)
	}
	load := &ScenarioResult{RunID: "r", Scenario: config.Scenario{Name: "g/sync/json", URL: sc.URL}, Result: &engine.Result{Plan: plan}}
	if rec := load.BuildRecord(ValidityOptions(&config.Config{})); rec.Instructions != nil {
		t.Errorf("a load scenario's record has instructions %+v", rec.Instructions)
	}
}

// TestRemoveStaleCallgrindDirs: a lane's dump directory whose benchd is
// gone (kill -9) is removed at the next lane's start; those of running
// processes (this one, init) and other names are kept.
func TestRemoveStaleCallgrindDirs(t *testing.T) {
	tmp := t.TempDir()
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{ // name: kept
		fmt.Sprintf("benchd-callgrind-%d-123", dead.Process.Pid): false,
		fmt.Sprintf("benchd-callgrind-%d-456", os.Getpid()):      true,
		"benchd-callgrind-1-789":                                 true,
		"benchd-callgrind-x-1":                                   true,
		"other-dir":                                              true,
	}
	for n := range names {
		if err := os.MkdirAll(filepath.Join(tmp, n, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleCallgrindDirs(tmp)
	for n, kept := range names {
		if _, err := os.Stat(filepath.Join(tmp, n)); (err == nil) != kept {
			t.Errorf("%s: exists %v, want %v", n, err == nil, kept)
		}
	}
}
