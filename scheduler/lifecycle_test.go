package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/internal/djangotest"
	"github.com/benchd/benchd/internal/proc"
	"github.com/benchd/benchd/internal/testutil"
)

// These tests run whole matrices with scheduler.New and RunOnce, the real
// engine and real servers on loopback, and break them on purpose: a target
// dies in the middle of a scenario, a service does not start, a port is
// taken. Every failure must be a scenario result with its reason, and the
// rest of the matrix must still run.

// wsgiApp is a minimal WSGI application for gunicorn.
const wsgiApp = `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
`

// requireTools fails the test, naming the package, when a program is
// missing.
func requireTools(t *testing.T, tools map[string]string) {
	t.Helper()
	for path, pkg := range tools {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("needs %s: apt-get install -y %s (or run scripts/setup.sh)", path, pkg)
		}
	}
}

// triggerEngine is the real engine, calling trigger once, in its own
// goroutine, shortly after the load of the scenario whose URL ends in
// suffix has started.
func triggerEngine(t *testing.T, suffix string, after time.Duration, trigger func() error) (Engine, func() error) {
	var (
		once sync.Once
		wg   sync.WaitGroup
		err  error
	)
	eng := EngineFunc(func(ctx context.Context, p engine.Plan) (*engine.Result, error) {
		if strings.HasSuffix(p.URL, suffix) {
			once.Do(func() {
				wg.Go(func() {
					select {
					case <-time.After(after):
						err = trigger()
					case <-ctx.Done():
						err = ctx.Err()
					}
				})
			})
		}
		return engine.Run(ctx, p, nil)
	})
	t.Cleanup(wg.Wait)
	return eng, func() error { wg.Wait(); return err }
}

// TestTargetDiesMidScenario kills a managed target while a scenario loads
// it: that scenario fails with how the target ended, the target is started
// again for its next scenario, and the matrix goes on to the next target.
func TestTargetDiesMidScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers")
	}
	requireTools(t, map[string]string{"/usr/bin/python3": "python3"})
	// gunicorn from the venv the tests share (Debian's is not installed).
	gunicorn := filepath.Join(djangotest.VenvBin(t), "gunicorn")
	tests := []struct {
		name string
		// process is the YAML of the target's process; PORT, DIR and
		// GUNICORN are replaced.
		process string
		// kill ends the server, given the test directory.
		kill    func(dir string) error
		wantErr string
	}{
		{
			name: "kill -9 of the gunicorn master",
			process: `{command: [GUNICORN, -w, "2", --no-control-socket, -b, "127.0.0.1:PORT", --pid, DIR/master.pid, app:application],
			           dir: DIR, ready: /, ready_timeout: 30s, stop_timeout: 5s}`,
			kill: func(dir string) error {
				b, err := os.ReadFile(filepath.Join(dir, "master.pid"))
				if err != nil {
					return err
				}
				var pid int
				if _, err := fmt.Sscan(string(b), &pid); err != nil {
					return fmt.Errorf("master.pid %q: %w", b, err)
				}
				return syscall.Kill(pid, syscall.SIGKILL)
			},
			wantErr: "target server: exited (signal killed)",
		},
		{
			// The leader, a shell, exits with code 3 once told to; the
			// HTTP server it started goes on until benchd stops the group.
			name: "the leader exits with code 3",
			process: `{command: [/bin/sh, -c, "/usr/bin/python3 -m http.server --bind 127.0.0.1 PORT &
			             while [ ! -e DIR/exit ]; do sleep 0.05; done; rm -f DIR/exit; exit 3"],
			           dir: DIR, ready: /, ready_timeout: 30s, stop_timeout: 5s}`,
			kill: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, "exit"), nil, 0o644)
			},
			wantErr: "target server: exited (code 3)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(wsgiApp), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("ok"), 0o644); err != nil {
				t.Fatal(err)
			}
			port, nextPort := freePort(t), freePort(t)
			process := strings.NewReplacer("PORT", strconv.Itoa(port), "DIR", dir, "GUNICORN", gunicorn).Replace(tt.process)
			cfg := parseConfig(t, fmt.Sprintf(`
schedule: "@every 1h"
run_on_start: false
defaults: {connections: 4, threads: 1, duration: 500ms, warmup: 0s, timeout: 1s}
targets:
  - name: server
    url: http://127.0.0.1:%[1]d
    process: %[2]s
  - name: next
    url: http://127.0.0.1:%[3]d
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[3]d"], dir: %[4]s, ready: /, ready_timeout: 30s}
endpoints:
  - {name: before, path: "/?before"}
  - {name: killed, path: "/?killed", duration: 2s}
  - {name: after, path: "/?after"}
`, port, process, nextPort, dir), dir)
			eng, triggerErr := triggerEngine(t, "?killed", 300*time.Millisecond, func() error { return tt.kill(dir) })
			rec := &recorder{}
			s, err := New(cfg, Options{Engine: eng, Observer: rec, UsageInterval: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			// The next target runs one scenario: enough to show the matrix
			// goes on.
			rep, err := s.RunOnce(t.Context(), TriggerManual, regexp.MustCompile(`^server/|^next/-/before$`))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				t.Logf("%s: %v (err %v)", r.Scenario.Name, r.End.Sub(r.Start).Round(time.Millisecond), r.Err)
			}
			if err := triggerErr(); err != nil {
				t.Fatalf("could not end the target: %v", err)
			}
			want := []struct {
				name    string
				wantErr string
			}{
				{"server/-/before", ""},
				{"server/-/killed", tt.wantErr},
				{"server/-/after", ""},
				{"next/-/before", ""},
			}
			if len(rep.Results) != len(want) {
				t.Fatalf("%d results, want %d", len(rep.Results), len(want))
			}
			for i, w := range want {
				r := rep.Results[i]
				if r.Scenario.Name != w.name {
					t.Errorf("result %d is %s, want %s", i, r.Scenario.Name, w.name)
					continue
				}
				switch {
				case w.wantErr == "" && r.Err != nil:
					t.Errorf("%s: unexpected error: %v", w.name, r.Err)
				case w.wantErr != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), w.wantErr)):
					t.Errorf("%s: error %v, want one containing %q", w.name, r.Err, w.wantErr)
				case w.wantErr != "" && !errors.Is(r.Err, proc.ErrExited):
					t.Errorf("%s: error %v does not wrap ErrExited", w.name, r.Err)
				}
				// The killed scenario ran (it has its partial result); the
				// others ran to the end and were answered.
				if r.Result == nil {
					t.Errorf("%s: no engine result", w.name)
					continue
				}
				if w.wantErr == "" && r.Result.Responses[engine.Class2xx] == 0 {
					t.Errorf("%s: no 2xx responses: %+v", w.name, r.Result)
				}
			}
			// Started, died and stopped, started again, stopped; then the
			// next target.
			if got, want := strings.Join(rec.targets, ","), "server=true,server=false,server=true,server=false,next=true,next=false"; got != want {
				t.Errorf("target transitions %s, want %s", got, want)
			}
			// The ports are free again: nothing of the dead server is left.
			testutil.AssertPortsFree(t, port, nextPort)
		})
	}
}

// TestServiceAndPortFailures runs a matrix where a service does not start
// and a target's port is already taken: the scenarios that depend on them
// fail with a reason that names what failed, and the others run.
func TestServiceAndPortFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers")
	}
	requireTools(t, map[string]string{"/usr/bin/python3": "python3"})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Something else already listens where the "taken" target would.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyPort := busy.Addr().(*net.TCPAddr).Port
	brokenPort, svcPort, aPort, bPort := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := parseConfig(t, fmt.Sprintf(`
schedule: "@every 1h"
run_on_start: false
defaults: {connections: 2, threads: 1, duration: 300ms, warmup: 0s, timeout: 1s}
services:
  - name: broken
    command: [/bin/sh, -c, "echo 'broken: no such config file' >&2; exit 1"]
    ready: tcp://127.0.0.1:%[1]d
    ready_timeout: 10s
  - name: helper
    command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[2]d"]
    ready: tcp://127.0.0.1:%[2]d
targets:
  - name: needs-broken
    url: http://127.0.0.1:%[3]d
    services: [broken]
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[3]d"], ready: /}
  - name: taken
    url: http://127.0.0.1:%[4]d
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[4]d"], ready: /}
  - name: fine
    url: http://127.0.0.1:%[5]d
    services: [helper]
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[5]d"], ready: /}
  - name: needs-broken-too
    url: http://127.0.0.1:%[3]d
    services: [helper, broken]
    process: {command: [/usr/bin/python3, -m, http.server, --bind, 127.0.0.1, "%[3]d"], ready: /}
endpoints:
  - {name: one, path: /index.html}
  - {name: two, path: "/index.html?2"}
`, brokenPort, svcPort, aPort, busyPort, bPort), dir)
	rec := &recorder{}
	s, err := New(cfg, Options{Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	brokenWant := []string{"target needs-broken", "service broken: exited with code 1 before ready", "broken: no such config file"}
	tests := []struct {
		scenario string
		wantErr  []string // nil: the scenario ran
		wantIs   error
	}{
		{"needs-broken/-/one", brokenWant, proc.ErrExited},
		{"needs-broken/-/two", brokenWant, proc.ErrExited},
		{"taken/-/one", []string{"target taken", fmt.Sprintf("127.0.0.1:%d is already in use", busyPort)}, proc.ErrAddrInUse},
		{"taken/-/two", []string{"target taken", fmt.Sprintf("127.0.0.1:%d", busyPort)}, proc.ErrAddrInUse},
		{"fine/-/one", nil, nil},
		{"fine/-/two", nil, nil},
		// Not tried again in the same run: the same reason.
		{"needs-broken-too/-/one", []string{"target needs-broken-too", "service broken: exited with code 1 before ready"}, proc.ErrExited},
		{"needs-broken-too/-/two", []string{"service broken"}, proc.ErrExited},
	}
	if len(rep.Results) != len(tests) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			r := rep.Results[i]
			if r.Scenario.Name != tt.scenario {
				t.Fatalf("result %d is %s", i, r.Scenario.Name)
			}
			if tt.wantErr == nil {
				if r.Err != nil {
					t.Fatalf("unexpected error: %v", r.Err)
				}
				if r.Result.Responses[engine.Class2xx] == 0 {
					t.Errorf("no 2xx responses")
				}
				return
			}
			if r.Err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(r.Err.Error(), w) {
					t.Errorf("error %q lacks %q", r.Err, w)
				}
			}
			if !errors.Is(r.Err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", r.Err, tt.wantIs)
			}
			if r.Result != nil || r.Up() {
				t.Errorf("a scenario that applied no load has a result")
			}
		})
	}
	// The helper service ran and was stopped at the end of the run.
	testutil.AssertPortsFree(t, svcPort)
}

// TestScenarioUsage checks the resource use recorded per scenario against
// a target whose CPU use is known: a server that burns CPU on every
// request uses CPU seconds in proportion to the load, and its tree's peak
// RSS includes a worker that holds 64 MiB.
func TestScenarioUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers")
	}
	requireTools(t, map[string]string{"/usr/bin/python3": "python3"})
	dir := t.TempDir()
	// A parent that starts a child holding 64 MiB, then serves requests
	// that each burn about 5 ms of CPU.
	server := `import http.server, subprocess, sys, time
hold = subprocess.Popen([sys.executable, "-c", "b = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nimport time; time.sleep(600)"])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        end = time.process_time() + 0.005
        while time.process_time() < end:
            pass
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
`
	if err := os.WriteFile(filepath.Join(dir, "server.py"), []byte(server), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := parseConfig(t, fmt.Sprintf(`
schedule: "@every 1h"
defaults: {connections: 2, threads: 1, duration: 2s, warmup: 500ms, timeout: 2s}
targets:
  - name: burner
    url: http://127.0.0.1:%[1]d
    process: {command: [/usr/bin/python3, server.py, "%[1]d"], ready: /, ready_timeout: 30s}
endpoints:
  - {name: burn, path: /}
`, port), dir)
	s, err := New(cfg, Options{UsageInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	served := float64(r.Result.Responses[engine.Class2xx])
	if served == 0 {
		t.Fatal("no responses")
	}
	// At least the burnt CPU of the requests served (5 ms each), and not
	// more than the wall time on every core.
	if least, most := served*0.005*0.9, (r.End.Sub(r.Start)).Seconds()*float64(numCPU()); r.Target.CPUSeconds < least || r.Target.CPUSeconds > most {
		t.Errorf("target CPU %.3f s for %.0f responses of 5 ms each, want between %.3f and %.3f", r.Target.CPUSeconds, served, least, most)
	}
	// Over the measured interval alone (warm-up excluded): about 5 ms of
	// the target's CPU per request, and no more than the whole scenario's.
	if len(r.RepeatUsage) != 1 {
		t.Fatalf("%d repeat usages, want 1", len(r.RepeatUsage))
	}
	u := r.RepeatUsage[0]
	if w := u.WindowSeconds(); w < 1.9 || w > 2.3 {
		t.Errorf("window %.3f s, want the 2 s measured interval", w)
	}
	if u.Requests != r.Result.Completed() || u.TargetCPUSeconds > r.Target.CPUSeconds+0.02 {
		t.Errorf("repeat usage %+v: want %d requests and at most the scenario's %.3f target CPU s", u, r.Result.Completed(), r.Target.CPUSeconds)
	}
	if c := u.CPUSecondsPerRequest(); c < 0.005*0.9 || c > 0.05 || r.CPUSecondsPerRequest() != c {
		t.Errorf("target CPU per request %.4f s (scenario %.4f), want about the 5 ms each burns", c, r.CPUSecondsPerRequest())
	}
	if !u.Managed || u.CPUs != numCPU() || u.BusyCPUSeconds < u.TargetCPUSeconds {
		t.Errorf("machine: %d CPUs, %.3f busy CPU s; want %d CPUs, at least the target's %.3f", u.CPUs, u.BusyCPUSeconds, numCPU(), u.TargetCPUSeconds)
	}
	if r.Target.RSSBytes < 64<<20 {
		t.Errorf("target peak RSS %d bytes, want at least the 64 MiB a child holds", r.Target.RSSBytes)
	}
	// benchd applied the load: some CPU, and its own RSS, far below the
	// target's.
	if r.Self.CPUSeconds <= 0 || r.Self.RSSBytes == 0 {
		t.Errorf("self usage %+v, want CPU and RSS", r.Self)
	}
}

// numCPU is the number of CPUs this process may run on.
func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 1
	}
	var n int
	if _, err := fmt.Sscan(string(out), &n); err != nil || n < 1 {
		return 1
	}
	return n
}
