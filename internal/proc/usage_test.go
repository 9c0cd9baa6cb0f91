package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// Fields after the name: state ppid pgrp session tty_nr tpgid flags
	// minflt cminflt majflt cmajflt utime stime cutime cstime ...
	const rest = " S 10 12 12 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 1000 10000 300 18446744073709551615\n"
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{
			name: "plain",
			in:   "42 (gunicorn)" + rest,
			want: procStat{pid: 42, state: 'S', ppid: 10, pgrp: 12, utime: 250, stime: 50, cutime: 7, cstime: 3},
		},
		{
			name: "name with spaces and parentheses",
			in:   "43 (a) b (c) d)" + rest,
			want: procStat{pid: 43, state: 'S', ppid: 10, pgrp: 12, utime: 250, stime: 50, cutime: 7, cstime: 3},
		},
		{
			name: "zombie",
			in:   "44 (sleep) Z 1 44 44 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 1000 0 0",
			want: procStat{pid: 44, state: 'Z', ppid: 1, pgrp: 44},
		},
		{name: "no name", in: "45 S 1 2 3", wantErr: true},
		{name: "too short", in: "46 (x) S 1 2 3", wantErr: true},
		{name: "bad pid", in: "x (y)" + rest, wantErr: true},
		{name: "negative cutime", in: "47 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 -5 0 20 0 1 0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseProcStat(%q) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseProcStat(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("parseProcStat(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{name: "present", in: "Name:\tsleep\nVmHWM:\t    2048 kB\nVmRSS:\t    1536 kB\nThreads:\t1\n", want: 1536 << 10},
		{name: "kernel thread", in: "Name:\tkthreadd\nThreads:\t1\n", want: 0},
		{name: "malformed", in: "VmRSS:\t12 pages\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmRSS([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseVmRSS = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestTreeUsageCPU starts a tree whose grandchild spins and checks that the
// tree's CPU seconds rise by about the wall time.
func TestTreeUsageCPU(t *testing.T) {
	p := startProcess(t, Spec{
		Name:    "target busy",
		Command: []string{"/bin/sh", "-c", `/bin/sh -c 'while :; do :; done' & wait`},
	})
	var before Usage
	waitFor(t, 5*time.Second, "the spinning grandchild", func() bool {
		var err error
		before, err = TreeUsage(p.PID())
		return err == nil && before.Processes >= 2
	})
	begin := time.Now()
	var after Usage
	waitFor(t, 10*time.Second, "CPU seconds to rise by 0.3", func() bool {
		var err error
		after, err = TreeUsage(p.PID())
		if err != nil {
			t.Fatalf("TreeUsage: %v", err)
		}
		return after.CPUSeconds-before.CPUSeconds >= 0.3
	})
	// One spinning process cannot use more CPU than wall time (plus the
	// 10 ms tick resolution of each sample).
	wall := time.Since(begin).Seconds()
	if used := after.CPUSeconds - before.CPUSeconds; used > wall+0.05 {
		t.Errorf("tree used %.2f CPU seconds in %.2f s of wall time", used, wall)
	}
	pu, err := p.Usage()
	if err != nil {
		t.Fatalf("Process.Usage: %v", err)
	}
	if pu.Processes != after.Processes || pu.CPUSeconds < after.CPUSeconds {
		t.Errorf("Process.Usage = %+v, TreeUsage = %+v: want the same tree", pu, after)
	}
}

// TestTreeUsageReapedCPU checks that the CPU of an exited, reaped child
// shows in ReapedCPUSeconds. The child does a fixed amount of work, whose
// CPU time is first measured by running it alone.
func TestTreeUsageReapedCPU(t *testing.T) {
	const burn = `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done`
	alone := exec.CommandContext(t.Context(), "/bin/sh", "-c", burn)
	if err := alone.Run(); err != nil {
		t.Fatal(err)
	}
	want := (alone.ProcessState.UserTime() + alone.ProcessState.SystemTime()).Seconds()
	if want < 0.05 {
		t.Fatalf("the burner used only %.3f CPU seconds: too little to measure", want)
	}
	p := startProcess(t, Spec{
		Name:    "target reaps",
		Command: []string{"/bin/sh", "-c", `/bin/sh -c "$0"; echo burned; exec sleep 30`, burn},
	})
	waitFor(t, 20*time.Second, "the child to burn and exit", func() bool {
		return strings.Contains(p.Output(), "burned")
	})
	u, err := p.Usage()
	if err != nil {
		t.Fatal(err)
	}
	// The same work costs more CPU on a busy machine (shared caches,
	// SMT): accept a wide band, which still catches a wrong unit or a
	// missing term.
	if lo, hi := want/2, 2.5*want+0.05; u.ReapedCPUSeconds < lo || u.ReapedCPUSeconds > hi {
		t.Errorf("ReapedCPUSeconds = %.3f, want %.3f to %.3f (the same work alone used %.3f)", u.ReapedCPUSeconds, lo, hi, want)
	}
	if u.CPUSeconds > want/2 {
		t.Errorf("CPUSeconds = %.3f for a tree of one sleeping process", u.CPUSeconds)
	}
}

// TestProcessUsageSupervised checks that Process.Usage counts a daemon
// that left the target's group and session, and not the supervisor.
func TestProcessUsageSupervised(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, Spec{
		Name:    "target daemonizing",
		Command: []string{"/bin/sh", "-c", `(setsid sleep 300 & echo $! > daemon); exec sleep 300`},
		Dir:     dir,
	})
	daemon := readPIDFile(t, filepath.Join(dir, "daemon"))
	waitFor(t, 5*time.Second, "the leader to exec sleep", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.PID()))
		return strings.TrimSpace(string(b)) == "sleep"
	})
	u, err := p.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.Processes != 2 {
		t.Errorf("Processes = %d, want 2 (the leader and the daemon %d, not the supervisor)", u.Processes, daemon)
	}
	// The supervisor, a Go program, holds megabytes; two sleeps do not.
	if u.RSSBytes > 8<<20 {
		t.Errorf("RSSBytes = %d KiB: the supervisor seems counted", u.RSSBytes>>10)
	}
}

// TestTreeUsageRSS checks that a grandchild's resident memory is counted.
func TestTreeUsageRSS(t *testing.T) {
	const mib = 64
	p := startProcess(t, Spec{
		Name:    "target fat",
		Command: append([]string{"/bin/sh", "-c", `"$0" "$@" & wait`}, helperCommand()...),
		Env:     helperEnvList("rss", "64"),
	})
	waitFor(t, 15*time.Second, "the helper to allocate", func() bool {
		return strings.Contains(p.Output(), "allocated")
	})
	u, err := p.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.Processes != 2 {
		t.Errorf("Processes = %d, want 2 (sh and the helper)", u.Processes)
	}
	if u.RSSBytes < mib<<20 {
		t.Errorf("RSSBytes = %d MiB, want at least %d MiB", u.RSSBytes>>20, mib)
	}
	leader, err := readRSSBytes(strconv.Itoa(p.PID()))
	if err != nil {
		t.Fatal(err)
	}
	if leader >= mib<<20 {
		t.Errorf("the sh leader alone has %d MiB: the test does not show the grandchild is counted", leader>>20)
	}
}

func TestTreeUsageNoProcess(t *testing.T) {
	// Above the largest pid_max (2^22).
	_, err := TreeUsage(1 << 30)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TreeUsage(no such pid): err = %v, want os.ErrNotExist", err)
	}
}

func TestSelfUsage(t *testing.T) {
	before, err := SelfUsage()
	if err != nil {
		t.Fatal(err)
	}
	// Spin until this process has used 0.1 s more CPU; a SelfUsage that
	// does not see it fails at the deadline.
	begin := time.Now()
	var after Usage
	for {
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		}
		after, err = SelfUsage()
		if err != nil {
			t.Fatal(err)
		}
		if after.CPUSeconds-before.CPUSeconds >= 0.1 {
			break
		}
		if time.Since(begin) > 5*time.Second {
			t.Fatalf("CPUSeconds rose by %.3f in 5 s of spinning", after.CPUSeconds-before.CPUSeconds)
		}
	}
	// Bounded by wall time on every CPU, plus rusage granularity.
	limit := time.Since(begin).Seconds()*float64(runtime.NumCPU()) + 0.05
	if used := after.CPUSeconds - before.CPUSeconds; used > limit {
		t.Errorf("CPUSeconds rose by %.3f, more than %.3f possible", used, limit)
	}
	if after.RSSBytes < 1<<20 || after.Processes != 1 {
		t.Errorf("SelfUsage = %+v, want RSS of at least 1 MiB and 1 process", after)
	}
}
