package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/djangotest"
)

// requireTool fails (never skips) when a tool a test runs is missing.
func requireTool(t *testing.T, path, install string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: %s (or run scripts/setup.sh)", path, install)
	}
}

// nginxConfig writes an nginx config (testdata/nginx.conf.tmpl: two
// workers on 127.0.0.1:port) under prefix and returns its path.
func nginxConfig(t *testing.T, prefix string, port int, daemon bool) string {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/nginx.conf.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := "daemon off;"
	if daemon {
		d = "daemon on;"
	}
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, fmt.Appendf(nil, string(tmpl), port, d), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// descendants lists the PIDs of the live descendants of root, from the
// ppid links of /proc/*/stat.
func descendants(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := children[root]
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}

// liveProcs returns those of pids still alive (not zombies), with their
// command lines.
func liveProcs(pids []int) []string {
	var out []string
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		out = append(out, fmt.Sprintf("%d %s", p, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	}
	return out
}

// TestKillLeavesNoTargetTree kills a real `benchd serve` with SIGKILL
// while it loads a multi-process target (hypercorn with two workers, nginx
// with two workers): 5 s later no process of the target may be alive, its
// port must be free, and the next benchd must start the target again.
func TestKillLeavesNoTargetTree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	hypercornBin := filepath.Join(djangotest.VenvBin(t), "hypercorn")
	requireTool(t, "/usr/sbin/nginx", "apt-get install nginx-light")
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	hypercorn := func(t *testing.T, dir string, port int) string {
		return fmt.Sprintf(`{dir: %q, command: [%q, -w, "2", -b, "127.0.0.1:%d", "asgi_app:app"], ready: /, ready_timeout: 30s}`, testdata, hypercornBin, port)
	}
	tests := []struct {
		name    string
		process func(t *testing.T, dir string, port int) string // the process: YAML block
		// killSupervisor also kills the supervisors with SIGKILL (as an
		// OOM kill of everything would): the next benchd must kill the
		// leftovers it finds in its record.
		killSupervisor bool
	}{
		{"hypercorn-w2", hypercorn, false},
		{"nginx-2-workers", func(t *testing.T, dir string, port int) string {
			prefix := filepath.Join(dir, "nginx")
			conf := nginxConfig(t, prefix, port, false)
			return fmt.Sprintf(`{command: [/usr/sbin/nginx, -p, %q, -c, %q, -e, stderr], ready: /, ready_timeout: 30s}`, prefix, conf)
		}, false},
		{"hypercorn-w2 supervisor killed too", hypercorn, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cfg := filepath.Join(dir, "benchd.yml")
			if err := os.WriteFile(cfg, fmt.Appendf(nil, `
schedule: "@every 1h"
defaults: {connections: 4, threads: 1, duration: 1s, warmup: 0s, timeout: 1s}
targets:
  - name: t
    url: http://127.0.0.1:%d
    process: %s
endpoints:
  - {name: a, path: /}
  - {name: long, path: /, duration: 60s}
`, port, tc.process(t, dir, port)), 0o644); err != nil {
				t.Fatal(err)
			}
			storage := filepath.Join(dir, "data")
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()

			// serve starts benchd and waits until scenario a is done and
			// the long one loads the target.
			serve := func() (*exec.Cmd, *bytes.Buffer) {
				web := freePort(t)
				cmd := benchd(ctx, t, "serve", "--config.file", cfg, "--storage.path", storage,
					"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", web))
				stderr := new(bytes.Buffer)
				cmd.Stdout, cmd.Stderr = io.Discard, stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					pids := descendants(cmd.Process.Pid)
					_ = cmd.Process.Kill()
					for _, p := range pids {
						_ = syscall.Kill(p, syscall.SIGKILL)
					}
				})
				url := fmt.Sprintf("http://127.0.0.1:%d/metrics", web)
				for i := 0; ; i++ {
					f := scrape(t, url)
					if f != nil && value(f, "benchd_scenario_up", map[string]string{"endpoint": "a"}) == 1 {
						break
					}
					if i > 400 {
						_ = cmd.Process.Kill()
						_ = cmd.Wait()
						t.Fatalf("scenario a did not run; stderr:\n%s", stderr)
					}
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(500 * time.Millisecond)
				return cmd, stderr
			}

			cmd, _ := serve()
			tree := descendants(cmd.Process.Pid)
			t.Cleanup(func() {
				for _, p := range tree {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			})
			if len(tree) < 3 {
				t.Fatalf("target tree under benchd: %v, want a leader and two workers at least", liveProcs(tree))
			}
			if tc.killSupervisor {
				// Stopped first, so that none of them reacts to the
				// others' death before its own.
				var sups []int
				for _, p := range liveProcs(tree) {
					if strings.Contains(p, " __supervise ") {
						pid, _ := strconv.Atoi(strings.Fields(p)[0])
						sups = append(sups, pid)
					}
				}
				for _, pid := range append(sups, cmd.Process.Pid) {
					_ = syscall.Kill(pid, syscall.SIGSTOP)
				}
				for _, pid := range sups {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if tc.killSupervisor {
				// Workers outlive their supervisor; the next benchd on
				// the same storage kills them before it starts the
				// target again.
				time.Sleep(time.Second)
				if len(liveProcs(tree)) == 0 {
					t.Fatal("nothing left behind: the test shows nothing")
				}
				cmd, stderr := serve()
				_ = cmd.Process.Signal(syscall.SIGTERM)
				_ = cmd.Wait()
				if left := liveProcs(tree); len(left) > 0 {
					t.Errorf("the next benchd left processes of the killed one alive:\n%s", strings.Join(left, "\n"))
				}
				if !strings.Contains(stderr.String(), "killing processes left behind by a previous benchd") {
					t.Errorf("second benchd did not log the leftovers it killed:\n%s", stderr)
				}
				return
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(liveProcs(tree)) > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if left := liveProcs(tree); len(left) > 0 {
				t.Fatalf("5s after kill -9 of benchd, processes of the target are alive:\n%s", strings.Join(left, "\n"))
			}
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatalf("port of the target after kill -9 of benchd: %v", err)
			}
			_ = l.Close()

			// The next benchd on the same storage starts the target again.
			cmd, stderr := serve()
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			if strings.Contains(stderr.String(), "already in use") {
				t.Errorf("second benchd: %s", stderr)
			}
		})
	}
}
