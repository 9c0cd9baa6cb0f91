package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment of the crash child: the storage directory and the prefix of
// the run IDs it writes.
const (
	crashDirEnv = "BENCHD_STORE_CRASH_CHILD_DIR"
	crashRunEnv = "BENCHD_STORE_CRASH_CHILD_RUN"
)

// Shape of the child's work: runs of crashScenarios scenarios, each with a
// histogram of crashHistValues latencies (a few KiB, several pages).
const (
	crashScenarios  = 5
	crashHistValues = 20_000
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(crashRunEnv)))
	}
	os.Exit(m.Run())
}

// crashChild writes runs into the store in dir until it is killed, printing
// one line after each write commits: "begin ID", "saved ID INDEX",
// "finished ID". A line is printed only after its write returned nil, so
// every line is a promise the parent can check. A saved line ends with the
// duration of the save in microseconds.
func crashChild(dir, prefix string) int {
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := bufio.NewWriter(os.Stdout)
	ack := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	for j := range 1000 {
		id := fmt.Sprintf("%s-%d", prefix, j)
		// Build the run's results first, so that after an acknowledgement
		// the child goes straight into its next write and the kill lands
		// inside it rather than in the histogram generation.
		scenarios := make([]Scenario, crashScenarios)
		for i := range scenarios {
			if scenarios[i], err = buildScenario(id, i, crashHistValues); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		if _, err := s.BeginRun(ctx, Run{ID: id, Trigger: "crash", Start: time.Now(), Version: "crash"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		ack("begin %s", id)
		for i, sc := range scenarios {
			t0 := time.Now()
			if err := s.SaveScenario(ctx, sc); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			ack("saved %s %d %d", id, i, time.Since(t0).Microseconds())
		}
		if err := s.FinishRun(ctx, id, time.Now(), OutcomeSuccess, ""); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		ack("finished %s", id)
	}
	return 0
}

// crashAcks is what a child promised: saved scenario count per begun run,
// and which runs it finished.
type crashAcks struct {
	saved    map[string]int
	finished map[string]bool
	order    []string
	// saveMicros are the durations of the acknowledged saves.
	saveMicros []int
}

// TestCrashKill9 starts a child process that writes runs in a loop and
// kills it with SIGKILL in the middle of its writes, at a different moment
// each round. After every kill the database must pass integrity_check, every
// write the child acknowledged must be there and whole, and the run that was
// cut short must read "aborted" once the store is opened again.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	ctx := t.Context()
	// Kill after this many acknowledgements, then after this extra delay,
	// so the signal lands in BeginRun, SaveScenario, FinishRun or between.
	rounds := []struct {
		acks  int
		delay time.Duration
	}{
		{1, 0},
		{2, 300 * time.Microsecond},
		{4, time.Millisecond},
		{7, 0},
		{9, 2 * time.Millisecond},
		{13, 700 * time.Microsecond},
		{16, 5 * time.Millisecond},
		{22, 1500 * time.Microsecond},
	}
	all := crashAcks{saved: map[string]int{}, finished: map[string]bool{}}
	unacknowledged := 0
	for n, round := range rounds {
		acks := killChildAfter(t, dir, fmt.Sprintf("round%d", n), round.acks, round.delay)
		for _, id := range acks.order {
			all.order = append(all.order, id)
			all.saved[id] = acks.saved[id]
			all.finished[id] = acks.finished[id]
		}
		all.saveMicros = append(all.saveMicros, acks.saveMicros...)

		// The file as the kill left it, before Open repairs anything.
		raw := rawDB(t, dir)
		var res string
		if err := raw.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Fatalf("round %d: integrity_check after kill -9 = %q, %v", n, res, err)
		}
		if err := raw.Close(); err != nil {
			t.Fatal(err)
		}

		s, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after kill -9: %v", n, err)
		}
		checkIntegrity(t, s)
		unacknowledged = checkCrashRuns(t, s, all) // a total over all runs so far
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %d acks + %v: %d runs so far", n, round.acks, round.delay, len(all.order))
	}
	slices.Sort(all.saveMicros)
	if len(all.saveMicros) > 0 {
		t.Logf("%d acknowledged saves, median %d µs, max %d µs; %d writes committed but killed before their acknowledgement",
			len(all.saveMicros), all.saveMicros[len(all.saveMicros)/2], all.saveMicros[len(all.saveMicros)-1], unacknowledged)
	}
}

// killChildAfter runs a crash child on dir, waits for its acks-th
// acknowledgement plus delay, kills it with SIGKILL and returns everything it
// acknowledged before dying.
func killChildAfter(t *testing.T, dir, prefix string, acks int, delay time.Duration) crashAcks {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRunEnv+"="+prefix)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	got := crashAcks{saved: map[string]int{}, finished: map[string]bool{}}
	record := func(line string) {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "begin":
			got.order = append(got.order, f[1])
			got.saved[f[1]] = 0
		case len(f) == 4 && f[0] == "saved":
			i, err := strconv.Atoi(f[2])
			if err != nil || i != got.saved[f[1]] {
				t.Errorf("child acknowledged %q out of order", line)
			}
			got.saved[f[1]] = i + 1
			if us, err := strconv.Atoi(f[3]); err == nil {
				got.saveMicros = append(got.saveMicros, us)
			}
		case len(f) == 2 && f[0] == "finished":
			got.finished[f[1]] = true
		default:
			t.Errorf("child printed %q", line)
		}
	}
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
	for n := range acks {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("child exited after %d acknowledgements: %s", n, stderr.String())
			}
			record(line)
		case <-timeout.C:
			_ = cmd.Process.Kill()
			t.Fatalf("child gave %d of %d acknowledgements in 2 minutes", n, acks)
		}
	}
	if delay > 0 {
		// A busy wait: timers this short would be rounded up.
		for until := time.Now().Add(delay); time.Now().Before(until); {
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		record(line) // acknowledged before the signal landed
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr: %s", err, stderr.String())
	}
	return got
}

// checkIntegrity runs SQLite's integrity_check and foreign_key_check on s.
func checkIntegrity(t *testing.T, s *SQLite) {
	t.Helper()
	var res string
	if err := s.reader.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
	rows, err := s.reader.QueryContext(t.Context(), "PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Fatal("foreign_key_check found scenarios without a run")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// checkCrashRuns compares the store with what the children acknowledged and
// returns how many scenario saves committed without being acknowledged (the
// kill landed between commit and print).
func checkCrashRuns(t *testing.T, s *SQLite, acks crashAcks) (unacknowledged int) {
	t.Helper()
	runs, err := s.Runs(t.Context(), RunQuery{Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, r := range runs {
		stored[r.ID] = true
		if r.Outcome == OutcomeRunning {
			t.Errorf("run %s is still running after Open", r.ID)
		}
		if _, ok := acks.saved[r.ID]; !ok {
			// Begun, committed, killed before it could say so: allowed,
			// but it must be aborted.
			if r.Outcome != OutcomeAborted {
				t.Errorf("unacknowledged run %s has outcome %q", r.ID, r.Outcome)
			}
		}
	}
	for _, id := range acks.order {
		if !stored[id] {
			t.Errorf("acknowledged run %s is missing", id)
			continue
		}
		r, err := s.Run(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		n := len(r.Scenarios)
		switch {
		case acks.finished[id]:
			if r.Outcome != OutcomeSuccess || n != crashScenarios {
				t.Errorf("finished run %s: outcome %q with %d scenarios", id, r.Outcome, n)
			}
		case r.Outcome == OutcomeSuccess:
			// FinishRun committed but the acknowledgement was lost.
			if n != crashScenarios {
				t.Errorf("run %s is success with %d scenarios", id, n)
			}
		case r.Outcome != OutcomeAborted:
			t.Errorf("interrupted run %s has outcome %q, want aborted", id, r.Outcome)
		}
		// At most one save may have committed without being acknowledged.
		if n < acks.saved[id] || n > acks.saved[id]+1 {
			t.Errorf("run %s has %d scenarios, %d were acknowledged", id, n, acks.saved[id])
		}
		if n == acks.saved[id]+1 && !acks.finished[id] && r.Outcome != OutcomeSuccess {
			unacknowledged++
		}
		for i, sc := range r.Scenarios {
			if d := diffScenario(sc, makeScenario(t, id, i, crashHistValues)); d != "" {
				t.Errorf("run %s scenario %d is not whole: %s", id, i, d)
			}
		}
	}
	return unacknowledged
}
