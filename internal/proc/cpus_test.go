package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpusAllowed returns Cpus_allowed_list of /proc/<pid>/status, or of
// /proc/<pid>/task/<tid>/status when tid > 0.
func cpusAllowed(pid, tid int) (string, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	if tid > 0 {
		path = fmt.Sprintf("/proc/%d/task/%d/status", pid, tid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("Cpus_allowed_list:")); ok {
			return string(bytes.TrimSpace(rest)), nil
		}
	}
	return "", fmt.Errorf("%s: no Cpus_allowed_list", path)
}

// selfMasks returns the Cpus_allowed_list of every thread of this process.
func selfMasks(t *testing.T) map[int]string {
	t.Helper()
	tids, err := threadIDs()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, tid := range tids {
		if m, err := cpusAllowed(os.Getpid(), tid); err == nil {
			out[tid] = m
		}
	}
	return out
}

// TestStartProcessCPUs starts a process pinned to CPU 0 that starts a child
// of its own: both run on CPU 0 only, and no thread of benchd keeps that
// mask once the process is gone.
func TestStartProcessCPUs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	own, err := cpusAllowed(os.Getpid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	tests := []struct {
		name    string
		cpus    string
		want    string // the mask of the leader and its child
		wantErr string // or the start error
	}{
		{name: "pinned to CPU 0", cpus: "0", want: "0"},
		{name: "not pinned", cpus: "", want: own},
		{name: "a CPU the machine lacks", cpus: "1023", wantErr: "start: set CPU affinity [1023]: invalid argument"},
		{name: "a malformed list", cpus: "0-", wantErr: `cpus "0-": "0-": "" is not a CPU number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := Spec{
				Name:        "target pinned",
				Command:     []string{"/bin/sh", "-c", `sleep 60 & echo $! > "$1"; wait`, "sh", pidFile},
				CPUs:        tt.cpus,
				StopTimeout: 2 * time.Second,
			}
			_ = os.Remove(pidFile)
			p, err := Start(t.Context(), spec)
			if tt.wantErr != "" {
				if err == nil {
					_ = p.Stop(t.Context())
					t.Fatalf("Start succeeded, want %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "scheduler: target pinned: ") {
					t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "invalid argument") && !errors.Is(err, syscall.EINVAL) {
					t.Errorf("error %v does not wrap EINVAL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Stop(t.Context()) })
			waitFor(t, 10*time.Second, "the child's pid file", func() bool {
				b, err := os.ReadFile(pidFile)
				return err == nil && bytes.HasSuffix(b, []byte("\n"))
			})
			b, _ := os.ReadFile(pidFile)
			child, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			for _, pid := range []int{p.PID(), child} {
				got, err := cpusAllowed(pid, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("pid %d runs on CPUs %q, want %q", pid, got, tt.want)
				}
			}
			if err := p.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			// The thread that forked the pinned process ends with it: every
			// thread of benchd is back on its own CPUs.
			waitFor(t, 10*time.Second, "benchd's threads on their own CPUs", func() bool {
				for _, m := range selfMasks(t) {
					if m != own {
						return false
					}
				}
				return true
			})
		})
	}
}

// pinSelfEnv makes TestPinSelfHelper pin the test binary to the CPUs it
// names and print every thread's mask.
const pinSelfEnv = "BENCHD_PIN_SELF_HELPER"

// TestPinSelfHelper is not a test: it is the body of the process that
// TestPinSelf starts, and returns at once in a normal test run.
func TestPinSelfHelper(t *testing.T) {
	cpus := os.Getenv(pinSelfEnv)
	if cpus == "" {
		return
	}
	if err := PinSelf(cpus); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for tid, m := range selfMasks(t) {
		fmt.Printf("thread %d: %s\n", tid, m)
	}
	os.Exit(0)
}

// TestPinSelf pins a copy of the test binary (PinSelf changes the whole
// process) and checks every one of its threads.
func TestPinSelf(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	if err := PinSelf(""); err != nil {
		t.Errorf(`PinSelf("") = %v, want nil`, err)
	}
	tests := []struct {
		cpus    string
		want    string
		wantErr string
	}{
		{cpus: "0", want: "0"},
		{cpus: "1023", wantErr: "scheduler: pin benchd to CPUs \"1023\": thread"},
		{cpus: "x", wantErr: `scheduler: pin benchd to CPUs "x": "x": "x" is not a CPU number`},
	}
	for _, tt := range tests {
		t.Run(tt.cpus, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPinSelfHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), pinSelfEnv+"="+tt.cpus)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(stderr.String(), tt.wantErr) {
					t.Fatalf("err %v, stderr %q; want a failure with %q", err, stderr.String(), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) < 2 {
				t.Fatalf("helper printed %q, want a line per thread (a Go program has several)", out)
			}
			for _, l := range lines {
				if !strings.HasSuffix(l, ": "+tt.want) {
					t.Errorf("%s, want CPUs %s", l, tt.want)
				}
			}
		})
	}
}
