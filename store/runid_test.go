package store

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRunIDAcrossRestarts begins a run, closes the store, reopens it and
// begins another run with the ID the scheduler proposes for the same start
// second (a daemon restarted within the second): both must be stored under
// distinct IDs, take all their scenarios and finish, and sort by ID as by
// time.
func TestRunIDAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	start := time.Date(2026, 12, 1, 19, 30, 5, 0, time.UTC)
	proposed := start.Format("20060102T150405Z")
	var ids []string
	for i := range 3 {
		s, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		id, err := s.BeginRun(ctx, Run{ID: proposed, Trigger: "test", Start: at})
		if err != nil {
			t.Fatalf("process %d: BeginRun(%s): %v", i, proposed, err)
		}
		for k := range 2 {
			saveScenario(ctx, t, s, makeScenario(t, id, k, 100))
		}
		if err := s.FinishRun(ctx, id, at.Add(time.Millisecond), OutcomeSuccess, ""); err != nil {
			t.Fatalf("process %d: FinishRun(%s): %v", i, id, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	want := []string{proposed, proposed + "-1", proposed + "-2"}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("IDs %q, want %q", ids, want)
		}
	}
	s := openStore(t, dir)
	runs, err := s.Runs(ctx, RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("%d runs stored, want 3", len(runs))
	}
	for i, r := range runs { // newest first
		if r.ID != want[2-i] || r.Outcome != OutcomeSuccess {
			t.Errorf("run %d: %s %s, want %s success (ID order = time order)", i, r.ID, r.Outcome, want[2-i])
		}
		got, err := s.Run(ctx, r.ID)
		if err != nil || len(got.Scenarios) != 2 {
			t.Errorf("run %s: %v, scenarios %d, want 2", r.ID, err, len(got.Scenarios))
		}
	}
	// A proposal with a suffix already taken gets the next free one after
	// the highest, so a later run never sorts before an earlier one.
	id, err := s.BeginRun(ctx, Run{ID: proposed + "-1", Start: start.Add(time.Second / 2)})
	if err != nil || id != proposed+"-3" {
		t.Errorf("BeginRun(%s-1) = %q, %v; want %s-3", proposed, id, err, proposed)
	}
}

func TestSplitID(t *testing.T) {
	for _, tc := range []struct {
		id, base string
		n        int
	}{
		{"20261201T193005Z", "20261201T193005Z", 0},
		{"20261201T193005Z-1", "20261201T193005Z", 1},
		{"20261201T193005Z-12", "20261201T193005Z", 12},
		{"20261201T193005Z-0", "20261201T193005Z-0", 0},
		{"20261201T193005Z-01", "20261201T193005Z-01", 0},
		{"20261201T193005Z-", "20261201T193005Z-", 0},
		{"-3", "-3", 0},
		{"run-abc", "run-abc", 0},
		{"20261201T193005Z-999999999", "20261201T193005Z", 999999999},
		{"20261201T193005Z-1000000000", "20261201T193005Z-1000000000", 0},
		{"20261201T193005Z-9223372036854775807", "20261201T193005Z-9223372036854775807", 0},
		{"20261201T193005Z--9223372036854775808", "20261201T193005Z--9223372036854775808", 0},
		{"20261201T193005Z-+5", "20261201T193005Z-+5", 0},
	} {
		if b, n := splitID(tc.id); b != tc.base || n != tc.n {
			t.Errorf("splitID(%q) = %q, %d; want %q, %d", tc.id, b, n, tc.base, tc.n)
		}
	}
}

// TestRunIDSuffixTooLong: a taken ID of 200 bytes cannot take a suffix.
func TestRunIDSuffixTooLong(t *testing.T) {
	s := openStore(t, t.TempDir())
	long := strings.Repeat("x", 200)
	beginRun(t, s, long, base)
	if id, err := s.BeginRun(t.Context(), Run{ID: long, Start: base}); err == nil || !strings.Contains(err.Error(), "longer than 200") {
		t.Errorf("BeginRun(taken 200-byte id) = %q, %v; want an error", id, err)
	}
}

// TestRunIDLikeWildcards: '_' and '%' in an ID are not wildcards.
func TestRunIDLikeWildcards(t *testing.T) {
	s := openStore(t, t.TempDir())
	beginRun(t, s, "a_b-5", base)
	if id, err := s.BeginRun(t.Context(), Run{ID: "axb", Start: base}); err != nil || id != "axb" {
		t.Errorf("BeginRun(axb) = %q, %v; want axb", id, err)
	}
}

// TestPruneToSize: the oldest finished runs go until the history fits;
// running runs and the newest finished run stay.
func TestPruneToSize(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	for i := range 10 {
		id := fmt.Sprintf("r%d", i)
		beginRun(t, s, id, base.Add(time.Duration(i)*time.Hour))
		for k := range 5 {
			saveScenario(ctx, t, s, makeScenario(t, id, k, 20_000))
		}
		if i < 9 {
			if err := s.FinishRun(ctx, id, base.Add(time.Duration(i)*time.Hour+time.Minute), OutcomeSuccess, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	full, err := s.usedBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneToSize(ctx, full/2)
	if err != nil || n == 0 || n > 7 {
		t.Fatalf("PruneToSize(half of %d) = %d, %v; want a few runs deleted", full, n, err)
	}
	runs, _ := s.Runs(ctx, RunQuery{})
	if len(runs) != 10-n || runs[len(runs)-1].ID != fmt.Sprintf("r%d", n) {
		t.Errorf("after deleting %d: %d runs, oldest %s; want the oldest gone", n, len(runs), runs[len(runs)-1].ID)
	}
	if used, _ := s.usedBytes(ctx); used > full/2 {
		t.Errorf("used %d bytes, want <= %d", used, full/2)
	}
	// A bound nothing can meet keeps the running run and the newest finished.
	if _, err := s.PruneToSize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	runs, _ = s.Runs(ctx, RunQuery{})
	if len(runs) != 2 || runs[0].ID != "r9" || runs[1].ID != "r8" {
		t.Errorf("after PruneToSize(1): %v, want r9 (running) and r8 (newest finished)", runs)
	}
}

// TestRunIDSuffixOverflow: with a run stored under the largest int64
// suffix (a hand-made row, or a history from elsewhere), the next runs of
// that second get free IDs of their own: no suffix overflows into
// "--9223372036854775808", none collides with a stored run, and each run
// takes its own scenarios and end.
func TestRunIDSuffixOverflow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		taken []string // besides the base
	}{
		{"int64 max", []string{"-9223372036854775807"}},
		{"int64 max - 1", []string{"-9223372036854775806"}},
		{"beyond uint64", []string{"-99999999999999999999999"}},
		{"bound and below", []string{"-1", "-2", "-999999999"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			ctx := t.Context()
			const sec = "20261202T010203Z"
			stored := map[string]bool{sec: true}
			beginRun(t, s, sec, base)
			for i, suffix := range tc.taken {
				beginRun(t, s, sec+suffix, base.Add(time.Duration(i+1)))
				stored[sec+suffix] = true
			}
			for i := range 4 {
				at := base.Add(time.Second + time.Duration(i))
				id, err := s.BeginRun(ctx, Run{ID: sec, Trigger: "test", Start: at})
				if err != nil {
					t.Fatalf("run %d: BeginRun(%s) = %q, %v; want a free ID", i, sec, id, err)
				}
				if stored[id] || strings.Contains(id, "--") || len(id) > len(sec)+11 {
					t.Fatalf("run %d: BeginRun(%s) = %q: taken, overflowed or unbounded (stored: %v)", i, sec, id, stored)
				}
				stored[id] = true
				saveScenario(ctx, t, s, makeScenario(t, id, 0, 10))
				if err := s.FinishRun(ctx, id, at.Add(time.Millisecond), OutcomeSuccess, ""); err != nil {
					t.Fatalf("run %d: FinishRun(%s): %v", i, id, err)
				}
			}
			runs, err := s.Runs(ctx, RunQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != len(stored) {
				t.Errorf("%d runs stored, want %d", len(runs), len(stored))
			}
		})
	}
}
