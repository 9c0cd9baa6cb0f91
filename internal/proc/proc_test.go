package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	s, err := readStat(pid)
	return err == nil && s.state != 'Z' && s.state != 'X'
}

// startGroup starts sh with a child in its own process group, as a
// target left behind by a dead benchd, and returns the leader and child.
func startGroup(t *testing.T) (leader, child int) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", `sleep 300 & echo $! > child; wait`)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "child"))
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			if _, err := fmt.Sscan(string(b), &child); err != nil {
				t.Fatalf("child pid file %q: %v", b, err)
			}
			break
		}
		if i > 500 {
			t.Fatal("no child pid file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Reap the leader as soon as it dies, as init would.
	return cmd.Process.Pid, child
}

func TestTrackKillsLeftovers(t *testing.T) {
	dir := t.TempDir()
	leader, child := startGroup(t)
	start, err := StartTime(leader)
	if err != nil {
		t.Fatal(err)
	}
	other, otherChild := startGroup(t)
	otherStart, _ := StartTime(other)
	// Recorded by a dead benchd: the first group as it is; the second with
	// another start time, as if its PID had been recycled since.
	rec := fmt.Sprintf("%d %d %d %d target_a\n%d %d %d %d target_b\ngarbage line\n",
		leader, start, 999999999, 1, other, otherStart+1, 999999999, 1)
	if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := Track(dir, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	defer func() { records.mu.Lock(); records.path = ""; records.mu.Unlock() }()
	deadline := time.Now().Add(5 * time.Second)
	for (alive(leader) || alive(child)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(leader) || alive(child) {
		t.Errorf("leftover group %d: leader alive %v, child alive %v", leader, alive(leader), alive(child))
	}
	if !alive(other) || !alive(otherChild) {
		t.Errorf("group %d with another start time was killed", other)
	}
	if !strings.Contains(logs.String(), "killing processes left behind by a previous benchd") || !strings.Contains(logs.String(), "target_a") {
		t.Errorf("log: %s", logs.String())
	}
	// The record starts empty, then follows Record and forget.
	forget := Record(Entry{Name: "target x y", PGID: 4242, Start: 7, Supervisor: 4241, SupervisorStart: 6})
	got, err := readRecords(filepath.Join(dir, RecordFile))
	if err != nil || len(got) != 1 || got[0] != (Entry{Name: "target_x_y", PGID: 4242, Start: 7, Supervisor: 4241, SupervisorStart: 6}) {
		t.Errorf("record after Record: %+v, %v", got, err)
	}
	forget()
	if got, err := readRecords(filepath.Join(dir, RecordFile)); err != nil || len(got) != 0 {
		t.Errorf("record after forget: %+v, %v", got, err)
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		line string
		want Status
		ok   bool
	}{
		{"started 42 1234", Status{Started: true, PID: 42, StartTime: 1234}, true},
		{"exit 256", Status{Exited: true, WaitStatus: 256}, true},
		{"started 0 1", Status{}, false},
		{"started 42", Status{}, false},
		{"exit x", Status{}, false},
		{"hello", Status{}, false},
	}
	for _, tc := range tests {
		got, err := parseStatus(tc.line)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseStatus(%q) = %+v, %v; want %+v ok=%v", tc.line, got, err, tc.want, tc.ok)
		}
	}
	st, err := ReadStatus(bufio.NewReader(strings.NewReader("error exec: no such file\n")))
	if err != nil || st.Err == nil || st.Err.Error() != "exec: no such file" {
		t.Errorf("error status: %+v, %v", st, err)
	}
}

func TestStartTimeSelf(t *testing.T) {
	st, err := StartTime(os.Getpid())
	if err != nil || st == 0 {
		t.Fatalf("StartTime(self) = %d, %v", st, err)
	}
	if _, err := StartTime(1 << 30); !os.IsNotExist(err) {
		t.Errorf("StartTime of a missing pid: %v, want not exist", err)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("12 345 11 344 target_a")
	f.Add("1 2 3")
	f.Fuzz(func(t *testing.T, line string) {
		e, ok := parseRecord(line)
		if ok && (e.PGID <= 1 || e.Supervisor <= 1 || strings.ContainsAny(e.Name, " \n")) {
			t.Errorf("parseRecord(%q) = %+v", line, e)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (a b)) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 10"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseStat(b) })
}

func FuzzParseStatus(f *testing.F) {
	f.Add("started 42 1234")
	f.Add("exit 9")
	f.Fuzz(func(t *testing.T, line string) {
		st, err := parseStatus(line)
		if err == nil && st.Started && st.PID <= 0 {
			t.Errorf("parseStatus(%q) = %+v", line, st)
		}
	})
}
