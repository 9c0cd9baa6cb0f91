package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/testutil"
)

// The tests re-execute the test binary as a helper process (the os/exec
// trick): TestProcessHelper does nothing unless helperEnv names a mode.
const (
	helperEnv    = "BENCHD_PROCESS_HELPER"
	helperArgEnv = "BENCHD_PROCESS_HELPER_ARG"
)

// helperCommand returns the argv that runs TestProcessHelper.
func helperCommand() []string {
	return []string{os.Args[0], "-test.run=^TestProcessHelper$", "-test.count=1"}
}

// helperEnvList returns the Env that selects a helper mode.
func helperEnvList(mode, arg string) []string {
	return []string{helperEnv + "=" + mode, helperArgEnv + "=" + arg}
}

// TestProcessHelper is not a test: it is the body of the helper processes
// started by the other tests, and returns at once in a normal test run.
func TestProcessHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	arg := os.Getenv(helperArgEnv)
	if err := runHelper(mode, arg); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runHelper(mode, arg string) error {
	switch mode {
	case "http":
		// arg: "ADDR DELAY": listen on ADDR after DELAY, serve /healthz.
		addr, delayText, _ := strings.Cut(arg, " ")
		delay, err := time.ParseDuration(delayText)
		if err != nil {
			return err
		}
		time.Sleep(delay)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "listening on", l.Addr())
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		return http.Serve(l, mux)
	case "rss":
		// arg: MiB to allocate and touch, then hold.
		mib, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		buf := make([]byte, mib<<20)
		for i := range buf {
			buf[i] = byte(i)
		}
		fmt.Println("allocated")
		for {
			time.Sleep(time.Hour)
			runtime.KeepAlive(buf)
		}
	case "nofile":
		// Started with a low soft RLIMIT_NOFILE: report what a plain
		// os/exec child and a managed child get.
		return helperNofile()
	case "orphan":
		// Start a managed process and exit without stopping it.
		p, err := Start(context.Background(), Spec{Name: "target orphan", Command: []string{"sleep", "300"}})
		if err != nil {
			return err
		}
		fmt.Printf("pid=%d\n", p.PID())
		os.Exit(0)
	case "orphan-stubborn":
		// Start a managed shell that ignores SIGTERM, with the default
		// 10 s stop timeout, and exit once its trap is set.
		p, err := Start(context.Background(), Spec{
			Name:    "target orphan-stubborn",
			Command: []string{"/bin/sh", "-c", `trap "" TERM; echo armed > ` + filepath.Join(arg, "armed") + `; while :; do sleep 1; done`},
		})
		if err != nil {
			return err
		}
		for i := 0; ; i++ {
			if b, err := os.ReadFile(filepath.Join(arg, "armed")); err == nil && strings.HasSuffix(string(b), "\n") {
				break
			}
			if i == 500 {
				return errors.New("the target set no trap")
			}
			time.Sleep(10 * time.Millisecond)
		}
		fmt.Printf("pid=%d\n", p.PID())
		os.Exit(0)
	case "orphan-tree":
		// Start a managed shell whose children (one in its group, one in
		// a session of its own, as a daemon) write their PIDs to files
		// in arg, then exit without stopping it.
		p, err := Start(context.Background(), Spec{
			Name:    "target orphan-tree",
			Command: []string{"/bin/sh", "-c", `sleep 300 & echo $! > worker; setsid sleep 300 & echo $! > daemon; wait`},
			Dir:     arg,
		})
		if err != nil {
			return err
		}
		for _, f := range []string{"worker", "daemon"} {
			for i := 0; ; i++ {
				if b, err := os.ReadFile(filepath.Join(arg, f)); err == nil && strings.HasSuffix(string(b), "\n") {
					break
				}
				if i == 500 {
					return fmt.Errorf("no %s pid file", f)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		fmt.Printf("pid=%d\n", p.PID())
		os.Exit(0)
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func helperNofile() error {
	var self syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &self); err != nil {
		return err
	}
	control := exec.Command("sleep", "30")
	if err := control.Start(); err != nil {
		return err
	}
	defer func() {
		_ = control.Process.Kill()
		_ = control.Wait()
	}()
	controlSoft, _, err := waitNofile(control.Process.Pid)
	if err != nil {
		return err
	}
	p, err := Start(context.Background(), Spec{Name: "target nofile", Command: []string{"sleep", "30"}})
	if err != nil {
		return err
	}
	defer func() { _ = p.Stop(context.Background()) }()
	soft, hard, err := waitNofile(p.PID())
	if err != nil {
		return err
	}
	fmt.Printf("self=%d control=%d managed=%d managed_hard=%d\n", self.Cur, controlSoft, soft, hard)
	return nil
}

// waitNofile waits until pid runs sleep (past the exec of any wrapper)
// and returns its RLIMIT_NOFILE from /proc/PID/limits.
func waitNofile(pid int) (soft, hard uint64, err error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			return 0, 0, err
		}
		if strings.TrimSpace(string(comm)) == "sleep" {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("pid %d still runs %q", pid, comm)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "Max open files")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			break
		}
		soft, err1 := strconv.ParseUint(f[0], 10, 64)
		hard, err2 := strconv.ParseUint(f[1], 10, 64)
		return soft, hard, errors.Join(err1, err2)
	}
	return 0, 0, fmt.Errorf("no Max open files line in /proc/%d/limits", pid)
}

// mustProbe compiles a readiness check of a test's own making.
func mustProbe(s string) *Probe {
	p, err := ParseProbe(s, nil)
	if err != nil {
		panic(err)
	}
	return p
}

// freeAddr returns a loopback address with a port free a moment ago
// (testutil.FreePort: outside the range client connections take theirs).
func freeAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testutil.FreePort(t)))
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPIDFile waits for a file holding a PID and returns the PID.
func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, 5*time.Second, path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// startProcess starts spec and stops the process at the end of the test.
func startProcess(t *testing.T, spec Spec) *Process {
	t.Helper()
	p, err := Start(t.Context(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return p
}

func TestStartProcessFailures(t *testing.T) {
	// busy is a listener that makes its address "already in use".
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	busyAddr := busy.Addr().String()
	idleAddr := freeAddr(t)
	httpAddr := freeAddr(t)

	tests := []struct {
		name string
		spec Spec // Dir is set to a fresh temporary directory
		// wantPrefix is the start of the error text; wantText are
		// further substrings.
		wantPrefix string
		wantText   []string
		wantIs     []error
		wantCode   int  // exit code of the *ExitError, if > 0
		missingDir bool // Dir is a directory that does not exist
		// pidFile names a file where the command writes its PID, which
		// must be gone after the failure.
		pidFile string
		// marker must not exist: the command must not have run.
		marker string
		// maxDuration bounds the time Start takes.
		maxDuration time.Duration
	}{
		{
			name: "exits at once",
			spec: Spec{
				Name:         "target exits",
				Command:      []string{"/bin/sh", "-c", `echo $$ > pid; echo starting; echo "fatal: bad config" >&2; exit 3`},
				Ready:        mustProbe("tcp://" + idleAddr),
				ReadyTimeout: 20 * time.Second,
			},
			wantPrefix:  "scheduler: target exits: exited with code 3 before ready: ",
			wantText:    []string{"fatal: bad config", "starting"},
			wantIs:      []error{ErrExited},
			wantCode:    3,
			pidFile:     "pid",
			maxDuration: 5 * time.Second, // the exit is seen at once, not at ReadyTimeout
		},
		{
			name: "never ready",
			spec: Spec{
				Name:         "target idle",
				Command:      []string{"/bin/sh", "-c", `echo $$ > pid; echo waiting for nothing; exec sleep 30`},
				Ready:        mustProbe("tcp://" + idleAddr),
				ReadyTimeout: 300 * time.Millisecond,
			},
			wantPrefix:  "scheduler: target idle: not ready after 300ms (tcp://" + idleAddr + "): last check: ",
			wantText:    []string{"connection refused", "waiting for nothing"},
			wantIs:      []error{ErrNotReady, syscall.ECONNREFUSED},
			pidFile:     "pid",
			maxDuration: 5 * time.Second,
		},
		{
			name: "http answers 404",
			spec: Spec{
				Name:         "target lost",
				Command:      helperCommand(),
				Env:          helperEnvList("http", httpAddr+" 0s"),
				Ready:        mustProbe("http://" + httpAddr + "/missing"),
				ReadyTimeout: 2 * time.Second,
			},
			wantPrefix: "scheduler: target lost: not ready after 2s (http://" + httpAddr + "/missing): last check: status 404 Not Found",
			wantIs:     []error{ErrNotReady},
		},
		{
			name: "command not found",
			spec: Spec{
				Name:    "target nosuch",
				Command: []string{"benchd-no-such-command", "--flag"},
			},
			wantPrefix: `scheduler: target nosuch: start: exec: "benchd-no-such-command": executable file not found in $PATH`,
			wantIs:     []error{exec.ErrNotFound},
		},
		{
			name: "relative command not found",
			spec: Spec{
				Name:    "target nosuch",
				Command: []string{"./bin/server"},
			},
			wantPrefix: `scheduler: target nosuch: start: exec: "`,
			wantText:   []string{`/bin/server": stat `, "no such file or directory"},
			wantIs:     []error{os.ErrNotExist},
		},
		{
			// A config copied away from its Django project: os/exec
			// would blame python3 itself.
			name: "working directory missing",
			spec: Spec{
				Name:    "target gunicorn-gevent",
				Setup:   [][]string{{"/bin/sh", "-c", "touch ../marker"}},
				Command: []string{"/bin/sh", "-c", "touch ../marker; exec sleep 30"},
			},
			missingDir: true,
			wantPrefix: `scheduler: target gunicorn-gevent: setup step 1 ["/bin/sh" "-c" "touch ../marker"]: start: working directory (dir): stat `,
			wantText:   []string{"/django: no such file or directory"},
			wantIs:     []error{ErrSetup, os.ErrNotExist},
			marker:     "marker",
		},
		{
			name: "setup step fails",
			spec: Spec{
				Name: "target broken",
				Setup: [][]string{
					{"touch", "step1"},
					{"/bin/sh", "-c", "echo migrating; echo setup broke >&2; exit 2"},
				},
				Command: []string{"/bin/sh", "-c", "touch marker; exec sleep 30"},
			},
			wantPrefix: `scheduler: target broken: setup step 2 ["/bin/sh" "-c" "echo migrating; echo setup broke >&2; exit 2"]: exited with code 2: `,
			wantText:   []string{"setup broke"},
			wantIs:     []error{ErrSetup},
			wantCode:   2,
			marker:     "marker",
		},
		{
			name: "setup command not found",
			spec: Spec{
				Name:    "target broken",
				Setup:   [][]string{{"benchd-no-such-setup"}},
				Command: []string{"/bin/sh", "-c", "touch marker; exec sleep 30"},
			},
			wantPrefix: `scheduler: target broken: setup step 1 ["benchd-no-such-setup"]: start: exec: "benchd-no-such-setup": executable file not found in $PATH`,
			wantIs:     []error{ErrSetup, exec.ErrNotFound},
			marker:     "marker",
		},
		{
			name: "setup outlasts ready timeout",
			spec: Spec{
				Name:         "target slow",
				Setup:        [][]string{{"/bin/sh", "-c", "echo $$ > pid; exec sleep 30"}},
				Command:      []string{"/bin/sh", "-c", "touch marker; exec sleep 30"},
				ReadyTimeout: 300 * time.Millisecond,
			},
			wantPrefix:  `scheduler: target slow: not ready after 300ms (setup step 1 ["/bin/sh" "-c" "echo $$ > pid; exec sleep 30"] still running)`,
			wantIs:      []error{ErrNotReady},
			pidFile:     "pid",
			marker:      "marker",
			maxDuration: 5 * time.Second,
		},
		{
			name: "tcp port already in use",
			spec: Spec{
				Name:    "target gunicorn-gevent",
				Command: []string{"/bin/sh", "-c", "touch marker; exec sleep 30"},
				Ready:   mustProbe("tcp://" + busyAddr),
			},
			wantPrefix: "scheduler: target gunicorn-gevent: " + busyAddr + " is already in use by another process; stop it or change the target url",
			wantIs:     []error{ErrAddrInUse},
			marker:     "marker",
		},
		{
			name: "service port already in use",
			spec: Spec{
				Name:    "service redis",
				Command: []string{"/bin/sh", "-c", "touch marker; exec sleep 30"},
				Ready:   mustProbe("tcp://" + busyAddr),
			},
			wantPrefix: "scheduler: service redis: " + busyAddr + " is already in use by another process; stop it or change the service's ready address and command",
			wantIs:     []error{ErrAddrInUse},
			marker:     "marker",
		},
		{
			name: "http port already in use",
			spec: Spec{
				Name:    "target hypercorn",
				Command: []string{"/bin/sh", "-c", "touch marker; exec sleep 30"},
				Ready:   mustProbe("http://" + busyAddr + "/healthz"),
			},
			wantPrefix: "scheduler: target hypercorn: " + busyAddr + " is already in use by another process; stop it or change the target url",
			wantIs:     []error{ErrAddrInUse},
			marker:     "marker",
		},
		{
			name:       "empty command",
			spec:       Spec{Name: "service empty"},
			wantPrefix: "scheduler: service empty: empty command",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spec := tc.spec
			spec.Dir = dir
			if tc.missingDir {
				spec.Dir = filepath.Join(dir, "django")
			}
			begin := time.Now()
			p, err := Start(t.Context(), spec)
			took := time.Since(begin)
			if err == nil {
				_ = p.Stop(context.Background())
				t.Fatal("Start succeeded, want an error")
			}
			if p != nil {
				t.Errorf("Start returned a Process with its error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.wantPrefix) {
				t.Errorf("error = %q\nwant prefix %q", msg, tc.wantPrefix)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(msg, s) {
					t.Errorf("error = %q, want it to contain %q", msg, s)
				}
			}
			for _, target := range tc.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(err, %v) = false for %q", target, msg)
				}
			}
			if tc.wantCode > 0 {
				var ee *ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != tc.wantCode {
					t.Errorf("error %q: want an *ExitError with code %d", msg, tc.wantCode)
				}
			}
			if tc.maxDuration > 0 && took > tc.maxDuration {
				t.Errorf("Start took %s, want at most %s", took, tc.maxDuration)
			}
			if tc.pidFile != "" {
				pid := readPIDFile(t, filepath.Join(dir, tc.pidFile))
				if alive(pid) {
					t.Errorf("process %d still runs after the failed start", pid)
				}
			}
			if tc.marker != "" {
				if _, err := os.Stat(filepath.Join(dir, tc.marker)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the command ran although the start failed before it (stat %s: %v)", tc.marker, err)
				}
			}
		})
	}
}

func TestStartProcessReady(t *testing.T) {
	tests := []struct {
		name string
		// spec builds the spec for a free loopback address.
		spec func(addr string) Spec
		// check proves the process is ready when Start returns.
		check func(t *testing.T, addr string)
		// wantLine is an output line that must reach the logger.
		wantLine string
		// wantExit is ExitErr after Stop.
		wantExit string
	}{
		{
			name: "tcp",
			spec: func(addr string) Spec {
				return Spec{
					Name:    "target tcp",
					Command: helperCommand(),
					Env:     helperEnvList("http", addr+" 300ms"),
					Ready:   mustProbe("tcp://" + addr),
				}
			},
			check: func(t *testing.T, addr string) {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatalf("not listening after ready: %v", err)
				}
				conn.Close()
			},
			wantLine: "listening on ",
			wantExit: "scheduler: target tcp: exited (signal terminated)",
		},
		{
			name: "http",
			spec: func(addr string) Spec {
				return Spec{
					Name:    "target http",
					Command: helperCommand(),
					Env:     helperEnvList("http", addr+" 300ms"),
					Ready:   mustProbe("http://" + addr + "/healthz"),
				}
			},
			check: func(t *testing.T, addr string) {
				resp, err := http.Get("http://" + addr + "/healthz")
				if err != nil {
					t.Fatalf("not serving after ready: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d after ready", resp.StatusCode)
				}
			},
			wantLine: "listening on ",
			wantExit: "scheduler: target http: exited (signal terminated)",
		},
		{
			name: "no ready check",
			spec: func(string) Spec {
				return Spec{
					Name:    "service plain",
					Command: []string{"/bin/sh", "-c", `echo "hello $GREETING"; exec sleep 30`},
					Env:     []string{"GREETING=from env"},
				}
			},
			check:    func(*testing.T, string) {},
			wantLine: "hello from env",
			wantExit: "scheduler: service plain: exited (signal terminated)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := freeAddr(t)
			var logs testutil.SyncBuffer
			spec := tc.spec(addr)
			spec.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			p, err := Start(t.Context(), spec)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			tc.check(t, addr)
			if !alive(p.PID()) {
				t.Fatalf("leader %d not alive after ready", p.PID())
			}
			if err := p.ExitErr(); err != nil {
				t.Errorf("ExitErr before exit = %v, want nil", err)
			}
			waitFor(t, 5*time.Second, "output line in the log", func() bool {
				return strings.Contains(logs.String(), tc.wantLine)
			})
			if err := p.Stop(t.Context()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if alive(p.PID()) {
				t.Errorf("leader %d alive after Stop", p.PID())
			}
			if err := p.Stop(t.Context()); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			if err := p.ExitErr(); err == nil || err.Error() != tc.wantExit {
				t.Errorf("ExitErr = %v, want %q", err, tc.wantExit)
			}
			text := logs.String()
			wantRecord := fmt.Sprintf("msg=\"process output\" process=%q", spec.Name)
			if !strings.Contains(text, wantRecord) || !strings.Contains(text, "level=DEBUG") {
				t.Errorf("log lacks a debug record with %s:\n%s", wantRecord, text)
			}
			if !strings.Contains(p.Output(), tc.wantLine) {
				t.Errorf("Output() = %q, want it to contain %q", p.Output(), tc.wantLine)
			}
		})
	}
}

// TestStopKillsWholeGroup stops a leader whose grandchild ignores SIGTERM:
// Stop must wait the grace, SIGKILL the group and leave nothing behind.
func TestStopKillsWholeGroup(t *testing.T) {
	dir := t.TempDir()
	const grace = 400 * time.Millisecond
	p := startProcess(t, Spec{
		Name: "target stubborn",
		// The grandchild writes its PID once it ignores SIGTERM, so that a
		// Stop cannot reach it before the trap is set.
		Command:     []string{"/bin/sh", "-c", `/bin/sh -c 'trap "" TERM; echo $$ > grandchild; exec sleep 300' & wait`},
		Dir:         dir,
		StopTimeout: grace,
	})
	grandchild := readPIDFile(t, filepath.Join(dir, "grandchild"))
	if !alive(grandchild) {
		t.Fatalf("grandchild %d not running", grandchild)
	}
	if s, err := readProcStat(grandchild); err != nil || s.pgrp != p.PID() {
		t.Fatalf("grandchild %d: pgrp %d, err %v; want group %d", grandchild, s.pgrp, err, p.PID())
	}

	// Two concurrent Stops: both wait for the same result.
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = p.Stop(t.Context()) })
	}
	wg.Wait()
	took := time.Since(begin)
	for i, err := range errs {
		if err != nil {
			t.Errorf("Stop %d: %v", i, err)
		}
	}
	if alive(p.PID()) || alive(grandchild) {
		t.Errorf("after Stop: leader alive %v, grandchild alive %v", alive(p.PID()), alive(grandchild))
	}
	if groupAlive(p.PID()) {
		t.Errorf("process group %d still has live members", p.PID())
	}
	// The leader died of SIGTERM at once; the grandchild needed SIGKILL
	// after the grace, and Stop waited for it.
	if took < grace || took > grace+3*time.Second {
		t.Errorf("Stop took %s, want between %s and %s", took, grace, grace+3*time.Second)
	}
	if err := p.ExitErr(); err == nil || !strings.HasSuffix(err.Error(), "exited (signal terminated)") {
		t.Errorf("ExitErr = %v, want exited (signal terminated)", err)
	}
}

// TestStopLogsSIGKILL checks that a stop that needed SIGKILL is logged at
// info level with the grace the process exceeded, and one that did not is
// not.
func TestStopLogsSIGKILL(t *testing.T) {
	for _, stubborn := range []bool{true, false} {
		t.Run(fmt.Sprintf("stubborn=%v", stubborn), func(t *testing.T) {
			var logs testutil.SyncBuffer
			script := "exec sleep 300"
			if stubborn {
				script = `trap "" TERM; echo armed; sleep 300 & wait; wait`
			}
			p := startProcess(t, Spec{
				Name:        "target stubborn",
				Command:     []string{"/bin/sh", "-c", script},
				StopTimeout: 300 * time.Millisecond,
				Logger:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			})
			if stubborn {
				waitFor(t, 5*time.Second, "the trap", func() bool { return strings.Contains(p.Output(), "armed") })
			}
			if err := p.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := logs.String()
			want := `level=INFO msg="process needed SIGKILL: still running after the SIGTERM grace" process="target stubborn"`
			if stubborn && (!strings.Contains(got, want) || !strings.Contains(got, "stop_timeout=300ms")) {
				t.Errorf("log:\n%s\nwant a record %s ... stop_timeout=300ms", got, want)
			}
			if !stubborn && strings.Contains(got, "SIGKILL") {
				t.Errorf("log after a clean stop:\n%s", got)
			}
		})
	}
}

// TestStopKillsDaemon stops a target that daemonized: its leader exited
// at once, leaving a process in a session and group of its own, which
// Stop must kill too.
func TestStopKillsDaemon(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, Spec{
		Name:    "target daemon",
		Command: []string{"/bin/sh", "-c", `setsid sleep 300 & echo $! > daemon`},
		Dir:     dir,
	})
	daemon := readPIDFile(t, filepath.Join(dir, "daemon"))
	t.Cleanup(func() { _ = syscall.Kill(daemon, syscall.SIGKILL) })
	<-p.Exited()
	if err := p.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if alive(daemon) {
		t.Errorf("daemon %d alive after Stop", daemon)
	}
}

// TestProcessEnv starts env(1) and reads the environment it got.
func TestProcessEnv(t *testing.T) {
	t.Setenv("BENCHD_TEST_SECRET", "s3cret")
	t.Setenv("LANG", "C.UTF-8")
	tests := []struct {
		name      string
		clean     bool
		allow     []string
		want      []string // lines env must print
		wantNoKey []string // variables it must not have
	}{
		{"inherit", false, nil, []string{"BENCHD_TEST_SECRET=s3cret", "LANG=C.UTF-8", "EXTRA=1", "LANG_OVERRIDE=x"}, nil},
		{"clean default allowlist", true, nil, []string{"LANG=C.UTF-8", "PATH=" + os.Getenv("PATH"), "EXTRA=1"}, []string{"BENCHD_TEST_SECRET", "BENCHD_SUPERVISOR"}},
		{"clean own allowlist", true, []string{"BENCHD_TEST_SECRET"}, []string{"BENCHD_TEST_SECRET=s3cret", "EXTRA=1"}, []string{"LANG", "PATH"}},
		{"clean nothing allowed", true, []string{}, []string{"EXTRA=1"}, []string{"LANG", "PATH", "BENCHD_TEST_SECRET"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, Spec{
				Name:     "target env",
				Command:  []string{"/usr/bin/env"},
				Env:      []string{"EXTRA=1", "LANG_OVERRIDE=x"},
				CleanEnv: tc.clean,
				EnvAllow: tc.allow,
			})
			<-p.Exited()
			if err := p.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(p.Output()), "\n")
			for _, w := range tc.want {
				if !slices.Contains(lines, w) {
					t.Errorf("environment lacks %s:\n%s", w, p.Output())
				}
			}
			for _, k := range tc.wantNoKey {
				if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, k+"=") }) {
					t.Errorf("environment has %s:\n%s", k, p.Output())
				}
			}
		})
	}
}

func TestStopAfterExit(t *testing.T) {
	tests := []struct {
		name    string
		command string
		// kill, if set, is the signal the test sends to the leader.
		kill     syscall.Signal
		wantExit string
		wantCode int
	}{
		{
			name:     "exit code",
			command:  "sleep 0.3; exit 4",
			wantExit: "scheduler: target quits: exited (code 4)",
			wantCode: 4,
		},
		{
			name:     "signal",
			command:  "exec sleep 30",
			kill:     syscall.SIGKILL,
			wantExit: "scheduler: target quits: exited (signal killed)",
			wantCode: -1,
		},
		{
			name:     "exit leaves a grandchild",
			command:  "sleep 300 & echo $! > grandchild; sleep 0.3; exit 5",
			wantExit: "scheduler: target quits: exited (code 5)",
			wantCode: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := startProcess(t, Spec{
				Name:    "target quits",
				Command: []string{"/bin/sh", "-c", tc.command},
				Dir:     dir,
			})
			if err := p.ExitErr(); err != nil {
				t.Fatalf("ExitErr while running = %v", err)
			}
			if _, err := p.Usage(); err != nil {
				t.Fatalf("Usage while running: %v", err)
			}
			grandchild := 0
			if strings.Contains(tc.command, "grandchild") {
				grandchild = readPIDFile(t, filepath.Join(dir, "grandchild"))
			}
			if tc.kill != 0 {
				if err := syscall.Kill(p.PID(), tc.kill); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case <-p.Exited():
			case <-time.After(5 * time.Second):
				t.Fatal("Exited not closed")
			}
			err := p.ExitErr()
			if err == nil || err.Error() != tc.wantExit {
				t.Fatalf("ExitErr = %v, want %q", err, tc.wantExit)
			}
			var ee *ExitError
			if !errors.Is(err, ErrExited) || !errors.As(err, &ee) || ee.ExitCode() != tc.wantCode {
				t.Errorf("ExitErr %v: want ErrExited and an *ExitError with code %d", err, tc.wantCode)
			}
			if _, err := p.Usage(); !errors.Is(err, ErrExited) {
				t.Errorf("Usage after exit: err = %v, want ErrExited", err)
			}
			if grandchild != 0 && !alive(grandchild) {
				t.Fatalf("grandchild %d died with the leader; the test proves nothing", grandchild)
			}
			begin := time.Now()
			if err := p.Stop(t.Context()); err != nil {
				t.Fatalf("Stop after exit: %v", err)
			}
			if took := time.Since(begin); took > 2*time.Second {
				t.Errorf("Stop after exit took %s", took)
			}
			if grandchild != 0 && alive(grandchild) {
				t.Errorf("grandchild %d survived Stop", grandchild)
			}
		})
	}
}

// TestStartProcessCancel cancels ctx while Start waits for ready:
// the leader and its grandchild must be gone when it returns.
func TestStartProcessCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		// Cancel once the process runs, well before ReadyTimeout.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if b, err := os.ReadFile(filepath.Join(dir, "grandchild")); err == nil && bytes.HasSuffix(b, []byte("\n")) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	begin := time.Now()
	p, err := Start(ctx, Spec{
		Name:         "target cancelled",
		Command:      []string{"/bin/sh", "-c", `echo $$ > pid; sleep 300 & echo $! > grandchild; wait`},
		Dir:          dir,
		Ready:        mustProbe("tcp://" + freeAddr(t)),
		ReadyTimeout: 20 * time.Second,
	})
	if err == nil {
		_ = p.Stop(context.Background())
		t.Fatal("Start succeeded after cancel")
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Start took %s after cancel", took)
	}
	want := "scheduler: target cancelled: start canceled before ready: context canceled"
	if err.Error() != want || !errors.Is(err, context.Canceled) {
		t.Errorf("error = %q, want %q wrapping context.Canceled", err, want)
	}
	for _, name := range []string{"pid", "grandchild"} {
		if pid := readPIDFile(t, filepath.Join(dir, name)); alive(pid) {
			t.Errorf("%s %d still runs after the cancelled start", name, pid)
		}
	}
}

// TestStartProcessRaisesNofile checks that the managed child gets the hard
// RLIMIT_NOFILE as its soft limit, although Go gives os/exec children the
// soft limit benchd started with.
func TestStartProcessRaisesNofile(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 4096 {
		t.Skipf("hard RLIMIT_NOFILE %d is too low to tell raised from not", lim.Max)
	}

	t.Run("this process", func(t *testing.T) {
		p := startProcess(t, Spec{Name: "target nofile", Command: []string{"sleep", "30"}})
		soft, hard, err := waitNofile(p.PID())
		if err != nil {
			t.Fatal(err)
		}
		if soft != lim.Max || hard != lim.Max {
			t.Errorf("child RLIMIT_NOFILE = %d/%d, want %d/%d", soft, hard, lim.Max, lim.Max)
		}
	})

	// The limit restoration only shows when benchd starts with a soft
	// limit below its hard one (Go records it then): start a helper
	// benchd with a soft limit of 1024.
	t.Run("soft limit 1024 at start", func(t *testing.T) {
		args := append([]string{"-c", `ulimit -S -n 1024 && exec "$0" "$@"`}, helperCommand()...)
		cmd := exec.CommandContext(t.Context(), "/bin/sh", args...)
		cmd.Env = append(os.Environ(), helperEnvList("nofile", "")...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, stderr.String())
		}
		var self, control, managed, managedHard uint64
		if _, err := fmt.Sscanf(string(out), "self=%d control=%d managed=%d managed_hard=%d",
			&self, &control, &managed, &managedHard); err != nil {
			t.Fatalf("helper output %q: %v", out, err)
		}
		t.Logf("Go process soft limit %d (hard %d), plain os/exec child %d, managed child %d/%d",
			self, lim.Max, control, managed, managedHard)
		if control != 1024 {
			t.Fatalf("plain os/exec child got %d, not the original 1024: Go no longer restores the limit and this test must be revisited", control)
		}
		if managed != lim.Max || managedHard != lim.Max {
			t.Errorf("managed child RLIMIT_NOFILE = %d/%d, want %d/%d", managed, managedHard, lim.Max, lim.Max)
		}
	})
}

// TestPdeathsigKillsOrphan lets a helper benchd start a managed process
// and exit without stopping it: Pdeathsig must kill the process.
func TestPdeathsigKillsOrphan(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), helperCommand()[0], helperCommand()[1:]...)
	cmd.Env = append(os.Environ(), helperEnvList("orphan", "")...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(out), "pid=%d", &pid); err != nil || pid <= 0 {
		t.Fatalf("helper output %q: %v", out, err)
	}
	waitFor(t, 5*time.Second, fmt.Sprintf("orphan %d to die", pid), func() bool { return !alive(pid) })
}

// TestBenchdDeathKillsTree lets a helper benchd start a managed process
// with a worker in its group and a daemon in a session of its own, and
// exit without stopping it: the whole tree must die, not only the leader.
func TestBenchdDeathKillsTree(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), helperCommand()[0], helperCommand()[1:]...)
	cmd.Env = append(os.Environ(), helperEnvList("orphan-tree", dir)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(out), "pid=%d", &pid); err != nil || pid <= 0 {
		t.Fatalf("helper output %q: %v", out, err)
	}
	pids := map[string]int{"leader": pid}
	for _, f := range []string{"worker", "daemon"} {
		pids[f] = readPIDFile(t, filepath.Join(dir, f))
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	for what, pid := range pids {
		waitFor(t, 5*time.Second, fmt.Sprintf("%s %d to die", what, pid), func() bool { return !alive(pid) })
	}
}

// TestBenchdDeathSIGKILLsSoon lets a helper benchd start a managed shell
// that ignores SIGTERM, with the default stop timeout of 10 s, and exit
// without stopping it: with benchd gone nothing waits for the target, so
// the supervisor's grace is OrphanGrace and the shell is gone within 5 s
// (the reliability issue's bound), not after 10.
func TestBenchdDeathSIGKILLsSoon(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), helperCommand()[0], helperCommand()[1:]...)
	cmd.Env = append(os.Environ(), helperEnvList("orphan-stubborn", dir)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(out), "pid=%d", &pid); err != nil || pid <= 0 {
		t.Fatalf("helper output %q: %v", out, err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	waitFor(t, 5*time.Second, fmt.Sprintf("stubborn orphan %d to die", pid), func() bool { return !alive(pid) })
}

// TestOutputDoesNotBlock checks that a child writing far more than a pipe
// holds is not blocked, and that the last OutputBytes are kept.
func TestOutputDoesNotBlock(t *testing.T) {
	p := startProcess(t, Spec{
		Name:    "target chatty",
		Command: []string{"/bin/sh", "-c", `head -c 1048576 /dev/zero | tr '\0' x; echo; echo done writing; exec sleep 30`},
	})
	waitFor(t, 10*time.Second, "the child to write 1 MiB", func() bool {
		return strings.HasSuffix(p.Output(), "done writing\n")
	})
	out := p.Output()
	if len(out) != OutputBytes {
		t.Errorf("kept %d bytes of output, want %d", len(out), OutputBytes)
	}
	if strings.Trim(out, "x\n") != "done writing" {
		t.Errorf("output holds more than x's and the last line: %q", out[len(out)-40:])
	}
}

// TestExitedBeforeReadyTail checks that the output quoted in the error of
// a process that exited before ready starts at the start of a line: a line
// longer than the reader's buffer, or cut by the quote's byte cap, is not
// quoted from its middle.
func TestExitedBeforeReadyTail(t *testing.T) {
	long := strings.Repeat("a", 6000) + "END"
	script := fmt.Sprintf(`echo starting; echo %s; echo "error: boom"; exit 3`, long)
	_, err := Start(t.Context(), Spec{
		Name:    "target tail",
		Command: []string{"/bin/sh", "-c", script},
		Ready:   mustProbe("tcp://" + freeAddr(t)),
	})
	if err == nil {
		t.Fatal("Start succeeded")
	}
	msg := err.Error()
	_, tail, ok := strings.Cut(msg, "before ready: ")
	if !ok {
		t.Fatalf("error %q: no output quoted", msg)
	}
	for line := range strings.SplitSeq(tail, "\n") {
		if line != "starting" && line != long && line != "error: boom" {
			t.Errorf("quoted line %.40q... (%d bytes) is not a whole line of the output; error:\n%.300s", line, len(line), msg)
		}
	}
	if !strings.HasSuffix(tail, "error: boom") {
		t.Errorf("quoted output does not end with the last line: %.300q", tail)
	}
}

// TestExitedBeforeReadyTailPrintable: a target whose output carries
// terminal escapes, NULs and carriage returns has it quoted printable
// (escapes dropped, other control bytes as \xNN, a CR as a line break),
// newlines kept, so the error neither drives the terminal nor hides text.
func TestExitedBeforeReadyTailPrintable(t *testing.T) {
	script := `printf 'plain\n\033[31mred\033[0m \033]0;title\007x\r\nnul\000here\rover\n\033[2J\001end\n'; exit 3`
	_, err := Start(t.Context(), Spec{
		Name:    "target raw",
		Command: []string{"/bin/sh", "-c", script},
		Ready:   mustProbe("tcp://" + freeAddr(t)),
	})
	if err == nil {
		t.Fatal("Start succeeded")
	}
	_, tail, ok := strings.Cut(err.Error(), "before ready: ")
	if want := "plain\nred x\nnul\\x00here\nover\n\\x01end"; !ok || tail != want {
		t.Errorf("quoted output %q, want %q", tail, want)
	}
}

func TestOutputRing(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		lines     []string
		wantBytes string
		maxLines  int
		maxBytes  int
		wantTail  string
	}{
		{
			name:      "empty",
			size:      16,
			wantBytes: "",
			maxLines:  3, maxBytes: 100,
			wantTail: "",
		},
		{
			name:      "fits",
			size:      16,
			lines:     []string{"a\n", "bb"},
			wantBytes: "a\nbb\n",
			maxLines:  3, maxBytes: 100,
			wantTail: "a\nbb",
		},
		{
			name:      "wraps",
			size:      8,
			lines:     []string{"one\n", "two\n", "three\n"},
			wantBytes: "o\nthree\n",
			maxLines:  5, maxBytes: 100,
			wantTail: "three", // "o" is the end of "two"
		},
		{
			name:      "exactly full",
			size:      8,
			lines:     []string{"abc\n", "def\n"},
			wantBytes: "abc\ndef\n",
			maxLines:  1, maxBytes: 100,
			wantTail: "def",
		},
		{
			name:      "longer than the ring",
			size:      4,
			lines:     []string{"abcdefgh\n"},
			wantBytes: "fgh\n",
			maxLines:  5, maxBytes: 100,
			wantTail: "…fgh",
		},
		{
			name:      "byte cap drops the cut line",
			size:      64,
			lines:     []string{"first line\n", "second\n", "third\n"},
			wantBytes: "first line\nsecond\nthird\n",
			maxLines:  5, maxBytes: 10,
			wantTail: "third",
		},
		{
			name:      "byte cap cuts the only line",
			size:      64,
			lines:     []string{"x\n", "0123456789abcdef\n"},
			wantBytes: "x\n0123456789abcdef\n",
			maxLines:  5, maxBytes: 10,
			wantTail: "…6789abcdef",
		},
		{
			name:      "control bytes made printable",
			size:      64,
			lines:     []string{"a\x1b[1;31mb\x1b[0m\r\n", "c\x00d\x7f\xff\n"},
			wantBytes: "a\x1b[1;31mb\x1b[0m\r\nc\x00d\x7f\xff\n",
			maxLines:  5, maxBytes: 100,
			wantTail: "ab\nc\\x00d\\x7f\ufffd",
		},
		{
			name:      "a line in pieces",
			size:      64,
			lines:     []string{"ab", "cd\n", "ef"},
			wantBytes: "abcd\nef\n",
			maxLines:  5, maxBytes: 100,
			wantTail: "abcd\nef",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newOutputRing(tc.size)
			for i, l := range tc.lines {
				// A piece without a newline ends a line only if last.
				r.writeLine([]byte(l), strings.HasSuffix(l, "\n") || i == len(tc.lines)-1)
			}
			if got := string(r.bytes()); got != tc.wantBytes {
				t.Errorf("bytes() = %q, want %q", got, tc.wantBytes)
			}
			if got := r.tail(tc.maxLines, tc.maxBytes); got != tc.wantTail {
				t.Errorf("tail(%d, %d) = %q, want %q", tc.maxLines, tc.maxBytes, got, tc.wantTail)
			}
		})
	}
}

func TestParseReady(t *testing.T) {
	tests := []struct {
		in       string
		wantAddr string
		wantTCP  bool
		wantLoop bool
		wantErr  bool
	}{
		{in: "tcp://127.0.0.1:8000", wantAddr: "127.0.0.1:8000", wantTCP: true, wantLoop: true},
		{in: "http://127.0.0.1:8000/healthz", wantAddr: "127.0.0.1:8000", wantLoop: true},
		{in: "http://localhost/healthz", wantAddr: "localhost:80", wantLoop: true},
		{in: "https://[::1]/", wantAddr: "[::1]:443", wantLoop: true},
		{in: "tcp://10.0.0.5:6379", wantAddr: "10.0.0.5:6379", wantTCP: true},
		{in: "tcp://127.0.0.1", wantErr: true},
		{in: "tcp://127.0.0.1:80/path", wantErr: true},
		{in: "127.0.0.1:8000", wantErr: true},
		{in: "http:///healthz", wantErr: true},
		{in: "ftp://127.0.0.1:21", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := parseReady(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseReady(%q) = %+v, want an error", tc.in, r)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseReady(%q): %v", tc.in, err)
			}
			if r.addr != tc.wantAddr || r.tcp != tc.wantTCP || r.loopback != tc.wantLoop {
				t.Errorf("parseReady(%q) = addr %q tcp %v loopback %v, want %q %v %v",
					tc.in, r.addr, r.tcp, r.loopback, tc.wantAddr, tc.wantTCP, tc.wantLoop)
			}
		})
	}
}

// TestSetupLeavesNoDaemon: a setup step that daemonizes out of its process
// group (setsid) leaves nothing running once it is done; before the steps
// ran under the supervisor, the daemon lived on, recorded nowhere.
func TestSetupLeavesNoDaemon(t *testing.T) {
	dir := t.TempDir()
	startProcess(t, Spec{
		Name:        "target setup-daemon",
		Setup:       [][]string{{"/bin/sh", "-c", `setsid /bin/sh -c 'echo $$ > daemon; exec sleep 300' > /dev/null 2>&1 & exit 0`}},
		Command:     []string{"/bin/sh", "-c", "exec sleep 300"},
		Dir:         dir,
		StopTimeout: time.Second,
	})
	daemon := readPIDFile(t, filepath.Join(dir, "daemon"))
	waitFor(t, 5*time.Second, "the setup step's daemon to be gone", func() bool { return !alive(daemon) })
}
