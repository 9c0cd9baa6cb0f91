package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchd/benchd/engine"
)

func TestScenarioRoundTrip(t *testing.T) {
	full := makeScenario(t, "r", 0, 5000)
	tests := []struct {
		name string
		in   func(Scenario) Scenario
		// want is what must come back; nil means the input itself.
		want func(Scenario) Scenario
	}{
		{name: "every field set", in: func(s Scenario) Scenario { return s }},
		{name: "zero values", in: func(s Scenario) Scenario {
			return Scenario{RunID: s.RunID, Name: "t/-/e"}
		}},
		{name: "negative floats", in: func(s Scenario) Scenario {
			l := *s.Latency
			l.Stdev = -0.5
			s.Latency = &l
			return s
		}},
		{name: "largest counts", in: func(s Scenario) Scenario {
			// The record is JSON: counts keep all 64 bits (the old
			// columns stopped at int64).
			s.Sent, s.BytesRead, s.ClientPeakRSSBytes = math.MaxInt64, math.MaxUint64, math.MaxUint64-1
			s.Errors[engine.KindClosed], s.Responses[engine.Class5xx] = math.MaxInt64, math.MaxInt64
			return s
		}},
		{
			name: "local times come back as the same instant in UTC",
			in: func(s Scenario) Scenario {
				loc := time.FixedZone("UTC+5:30", 5*3600+1800)
				s.Start, s.End = s.Start.In(loc), s.End.In(loc)
				return s
			},
		},
		{name: "times before 1970 and near 2262", in: func(s Scenario) Scenario {
			s.Start = time.Date(1800, 1, 1, 0, 0, 0, 1, time.UTC)
			s.End = time.Date(2262, 1, 1, 0, 0, 0, 999_999_999, time.UTC)
			return s
		}},
		{
			name: "empty histogram comes back as none",
			in:   func(s Scenario) Scenario { s.LatencyHistogram = []byte{}; return s },
			want: func(s Scenario) Scenario { s.LatencyHistogram = nil; return s },
		},
		{name: "unicode and quotes in text", in: func(s Scenario) Scenario {
			s.Error = "read: connection reset by peer 'x' \"y\" ✓ \x00 nul"
			s.URL = "http://[::1]:8000/ä?q='1'"
			return s
		}},
	}
	s := openStore(t, t.TempDir())
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runID := fmt.Sprintf("run-%d", i)
			beginRun(t, s, runID, base)
			in := tc.in(full)
			in.RunID = runID
			saveScenario(t.Context(), t, s, in)
			want := in
			if tc.want != nil {
				want = tc.want(in)
			}
			r, err := s.Run(t.Context(), runID)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Scenarios) != 1 {
				t.Fatalf("run has %d scenarios, want 1", len(r.Scenarios))
			}
			if d := diffScenario(r.Scenarios[0], want); d != "" {
				t.Errorf("Run: %s", d)
			}
			h, err := s.History(t.Context(), want.Name, HistoryQuery{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			idx := slices.IndexFunc(h, func(x Scenario) bool { return x.RunID == runID })
			if idx < 0 {
				t.Fatalf("History(%q) lacks run %s", want.Name, runID)
			}
			if d := diffScenario(h[idx], want); d != "" {
				t.Errorf("History: %s", d)
			}
			if want.LatencyHistogram != nil {
				orig, err := in.LatencyHistogram.Decode()
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Scenarios[0].LatencyHistogram.Decode()
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equals(orig) {
					t.Errorf("decoded histogram differs: count %d p99 %d, want count %d p99 %d",
						got.TotalCount(), got.ValueAtQuantile(99), orig.TotalCount(), orig.ValueAtQuantile(99))
				}
			}
		})
	}
}

func TestRunRoundTrip(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	start := base.In(time.FixedZone("X", -7*3600))
	in := Run{ID: "2026-03-14T15:09:26Z-abc", Trigger: "schedule", Start: start, ConfigHash: "sha256:0123", Version: "1.2.3",
		End: base.Add(time.Hour), Outcome: OutcomeSuccess, Err: "ignored", Scenarios: []Scenario{{Name: "ignored"}}}
	if _, err := s.BeginRun(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.Run(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := Run{ID: in.ID, Trigger: "schedule", Start: base, Outcome: OutcomeRunning, ConfigHash: "sha256:0123", Version: "1.2.3"}
	if !got.Start.Equal(want.Start) || got.Start.Location() != time.UTC || !got.End.IsZero() || got.Outcome != want.Outcome ||
		got.Trigger != want.Trigger || got.ConfigHash != want.ConfigHash || got.Version != want.Version || got.Err != "" || len(got.Scenarios) != 0 {
		t.Fatalf("after BeginRun: %+v, want %+v", got, want)
	}
	// Scenarios come back ordered by Index, whatever the save order.
	for _, i := range []int{2, 0, 1} {
		saveScenario(ctx, t, s, makeScenario(t, in.ID, i, 100))
	}
	end := base.Add(5*time.Minute + 1)
	if err := s.FinishRun(ctx, in.ID, end, OutcomeFailed, "target gunicorn-gevent not ready"); err != nil {
		t.Fatal(err)
	}
	got, err = s.Run(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.End.Equal(end) || got.Outcome != OutcomeFailed || got.Err != "target gunicorn-gevent not ready" {
		t.Errorf("after FinishRun: end %v outcome %q err %q", got.End, got.Outcome, got.Err)
	}
	for i, sc := range got.Scenarios {
		if d := diffScenario(sc, makeScenario(t, in.ID, i, 100)); d != "" {
			t.Errorf("scenario %d: %s", i, d)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	beginRun(t, s, "running", base)
	beginRun(t, s, "done", base)
	saveScenario(ctx, t, s, makeScenario(t, "running", 0, 10))
	if err := s.FinishRun(ctx, "done", base.Add(time.Minute), OutcomeSuccess, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		do      func() error
		wantIs  error
		wantMsg string
	}{
		{"save into unknown run", func() error { return s.SaveScenario(ctx, makeScenario(t, "nope", 1, 10)) }, ErrNotFound, `run "nope"`},
		{"save into finished run", func() error { return s.SaveScenario(ctx, makeScenario(t, "done", 1, 10)) }, ErrNotRunning, "it is success"},
		{"duplicate index", func() error { return s.SaveScenario(ctx, makeScenario(t, "running", 0, 10)) }, nil, "UNIQUE"},
		{"negative index", func() error { return s.SaveScenario(ctx, makeScenario(t, "running", -1, 10)) }, nil, "index -1 is negative"},
		{"empty name", func() error { return s.SaveScenario(ctx, Scenario{RunID: "running", Index: 9}) }, nil, "name is empty"},
		{"NaN CPU seconds", func() error {
			sc := makeScenario(t, "running", 6, 10)
			sc.TargetCPUSeconds = math.NaN()
			return s.SaveScenario(ctx, sc)
		}, nil, "target_cpu_seconds"},
		{"finish unknown run", func() error { return s.FinishRun(ctx, "nope", base, OutcomeSuccess, "") }, ErrNotFound, `"nope"`},
		{"finish finished run", func() error { return s.FinishRun(ctx, "done", base, OutcomeFailed, "") }, ErrNotRunning, `"done"`},
		{"finish with bad outcome", func() error { return s.FinishRun(ctx, "running", base, OutcomeRunning, "") }, nil, `outcome "running" is not`},
		{"finish with zero end", func() error { return s.FinishRun(ctx, "running", time.Time{}, OutcomeSuccess, "") }, nil, "end time is zero"},
		{"begin empty id", func() error { _, err := s.BeginRun(ctx, Run{Start: base}); return err }, nil, "run id is empty"},
		{"begin zero start", func() error { _, err := s.BeginRun(ctx, Run{ID: "z"}); return err }, nil, "start time is zero"},
		{"begin overlong id", func() error { _, err := s.BeginRun(ctx, Run{ID: strings.Repeat("x", 201), Start: base}); return err }, nil, "longer than 200"},
		{"begin time out of range", func() error {
			_, err := s.BeginRun(ctx, Run{ID: "y", Start: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
			return err
		}, nil, "out of range"},
		{"read unknown run", func() error { _, err := s.Run(ctx, "nope"); return err }, ErrNotFound, `"nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %q", err, tc.wantIs)
			}
			if !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q lacks the prefix \"store: \" or %q", err, tc.wantMsg)
			}
		})
	}
	// None of the failed writes left anything behind.
	r, err := s.Run(ctx, "running")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 1 || r.Outcome != OutcomeRunning {
		t.Errorf("run has %d scenarios and outcome %q after failed writes, want 1 and running", len(r.Scenarios), r.Outcome)
	}
	if d := diffScenario(r.Scenarios[0], makeScenario(t, "running", 0, 10)); d != "" {
		t.Errorf("first scenario changed by the duplicate: %s", d)
	}
}

func TestCancelledWriteLeavesNothing(t *testing.T) {
	s := openStore(t, t.TempDir())
	beginRun(t, s, "r", base)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.SaveScenario(ctx, makeScenario(t, "r", 0, 10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("SaveScenario with a cancelled context: %v, want context.Canceled", err)
	}
	if err := s.FinishRun(ctx, "r", base, OutcomeSuccess, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("FinishRun with a cancelled context: %v, want context.Canceled", err)
	}
	r, err := s.Run(t.Context(), "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 0 || r.Outcome != OutcomeRunning {
		t.Errorf("after cancelled writes: %d scenarios, outcome %q", len(r.Scenarios), r.Outcome)
	}
	// The store is still usable.
	saveScenario(t.Context(), t, s, makeScenario(t, "r", 0, 10))
}

func TestRunsOrderAndLimit(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	// Saved out of order; two runs share a start time.
	offsets := []int{5, 1, 9, 3, 7, 0, 8, 2, 6, 4, 4}
	for i, o := range offsets {
		id := fmt.Sprintf("run-%02d-%d", o, i)
		beginRun(t, s, id, base.Add(time.Duration(o)*time.Hour))
		saveScenario(ctx, t, s, makeScenario(t, id, 0, 10))
	}
	all, err := s.Runs(ctx, RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID)
		if r.Scenarios != nil {
			t.Errorf("Runs returned scenarios for %s", r.ID)
		}
	}
	want := []string{"run-09-2", "run-08-6", "run-07-4", "run-06-8", "run-05-0", "run-04-9", "run-04-10", "run-03-3", "run-02-7", "run-01-1", "run-00-5"}
	if !slices.Equal(ids, want) {
		t.Fatalf("Runs order %v, want %v", ids, want)
	}
	tests := []struct {
		name string
		q    RunQuery
		want []string
	}{
		{"limit", RunQuery{Limit: 3}, want[:3]},
		{"limit above count", RunQuery{Limit: 100}, want},
		{"negative limit means default", RunQuery{Limit: -1}, want},
		{"before", RunQuery{Before: base.Add(4 * time.Hour)}, want[7:]},
		{"before and limit", RunQuery{Before: base.Add(7 * time.Hour), Limit: 2}, want[3:5]},
		{"before everything", RunQuery{Before: base}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Runs(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Runs(%+v) = %v, want %v", tc.q, ids, tc.want)
			}
		})
	}
	// Paging with Before visits every run once.
	var paged []string
	q := RunQuery{Limit: 4}
	for {
		page, err := s.Runs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			paged = append(paged, r.ID)
		}
		q.Before = page[len(page)-1].Start
	}
	// Runs with the same start as a page boundary are skipped by a strict
	// Before cursor; here the shared start (4h) is not at a boundary.
	if !slices.Equal(paged, want) {
		t.Errorf("paged %v, want %v", paged, want)
	}
}

func TestHistory(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	const name = "gunicorn-gevent/sync/json"
	// Six runs an hour apart, each with the scenario at index 1 and another
	// scenario at index 0; runs saved newest first.
	for i := 5; i >= 0; i-- {
		id := fmt.Sprintf("run-%d", i)
		start := base.Add(time.Duration(i) * time.Hour)
		beginRun(t, s, id, start)
		other := makeScenario(t, id, 0, 10)
		other.Name = "hypercorn-uvloop/async/json"
		saveScenario(ctx, t, s, other)
		sc := makeScenario(t, id, 1, 10)
		sc.Name, sc.Start, sc.End = name, start.Add(time.Minute), start.Add(2*time.Minute)
		if i == 2 {
			sc.Start, sc.End, sc.Valid = time.Time{}, time.Time{}, false // failed before it started
		}
		saveScenario(ctx, t, s, sc)
		if i%2 == 0 {
			if err := s.FinishRun(ctx, id, start.Add(time.Hour), OutcomeSuccess, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name     string
		scenario string
		q        HistoryQuery
		want     []string // run IDs, oldest first
	}{
		{"all", name, HistoryQuery{}, []string{"run-0", "run-1", "run-2", "run-3", "run-4", "run-5"}},
		{"newest three, oldest first", name, HistoryQuery{Limit: 3}, []string{"run-3", "run-4", "run-5"}},
		{"since", name, HistoryQuery{Since: base.Add(3*time.Hour + time.Minute)}, []string{"run-3", "run-4", "run-5"}},
		{"since just after", name, HistoryQuery{Since: base.Add(3*time.Hour + time.Minute + 1)}, []string{"run-4", "run-5"}},
		{"scenario without start sorts at its run's start", name, HistoryQuery{Since: base.Add(2 * time.Hour), Limit: 2}, []string{"run-4", "run-5"}},
		{"without start included by since", name, HistoryQuery{Since: base.Add(2 * time.Hour)}, []string{"run-2", "run-3", "run-4", "run-5"}},
		{"since and limit", name, HistoryQuery{Since: base.Add(time.Hour + 2*time.Minute), Limit: 10}, []string{"run-2", "run-3", "run-4", "run-5"}},
		{"before", name, HistoryQuery{Before: base.Add(3*time.Hour + time.Minute)}, []string{"run-0", "run-1", "run-2"}},
		{"before and limit: the page before", name, HistoryQuery{Before: base.Add(4*time.Hour + time.Minute), Limit: 2}, []string{"run-2", "run-3"}},
		{"since and before", name, HistoryQuery{Since: base.Add(time.Hour), Before: base.Add(3 * time.Hour)}, []string{"run-1", "run-2"}},
		{"other scenario", "hypercorn-uvloop/async/json", HistoryQuery{Limit: 2}, []string{"run-4", "run-5"}},
		{"unknown scenario", "nope/-/x", HistoryQuery{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.History(ctx, tc.scenario, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, sc := range got {
				ids = append(ids, sc.RunID)
				if sc.Name != tc.scenario {
					t.Errorf("History(%q) returned scenario %q", tc.scenario, sc.Name)
				}
				if len(sc.LatencyHistogram) == 0 {
					t.Errorf("History(%q) of %s has no histogram", tc.scenario, sc.RunID)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("History(%q, %+v) = %v, want %v", tc.scenario, tc.q, ids, tc.want)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := t.Context()
	now := base.Add(365 * 24 * time.Hour)
	ages := map[string]time.Duration{
		"old-1": 200 * 24 * time.Hour, "old-2": 91 * 24 * time.Hour, "edge": 90 * 24 * time.Hour,
		"new-1": 89 * 24 * time.Hour, "new-2": time.Hour, "old-running": 100 * 24 * time.Hour,
	}
	for id, age := range ages {
		beginRun(t, s, id, now.Add(-age))
		for i := range 3 {
			sc := makeScenario(t, id, i, 10)
			sc.Name = "p/-/e"
			saveScenario(ctx, t, s, sc)
		}
		if id != "old-running" {
			if err := s.FinishRun(ctx, id, now.Add(-age+time.Minute), OutcomeSuccess, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	cutoff := now.Add(-90 * 24 * time.Hour)
	n, err := s.Prune(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Prune deleted %d runs, want 2", n)
	}
	for id := range ages {
		_, err := s.Run(ctx, id)
		gone := id == "old-1" || id == "old-2"
		if gone != errors.Is(err, ErrNotFound) || (!gone && err != nil) {
			t.Errorf("Run(%s) after Prune: %v, want gone=%v", id, err, gone)
		}
	}
	h, err := s.History(ctx, "p/-/e", HistoryQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4*3 {
		t.Errorf("History has %d results after Prune, want 12", len(h))
	}
	// The scenarios went with their runs (no orphans below the API).
	var orphans int
	if err := rawDB(t, dir).QueryRowContext(ctx, `SELECT count(*) FROM scenarios WHERE run_id NOT IN (SELECT id FROM runs)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d orphan scenarios after Prune", orphans)
	}
	if n, err := s.Prune(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v, want 0, nil", n, err)
	}
	if n, err := s.Prune(ctx, time.Time{}); err != nil || n != 0 {
		t.Errorf("Prune(zero time) = %d, %v, want 0, nil", n, err)
	}
}

func TestConcurrentReadersWhileWriting(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	const (
		runID     = "busy"
		scenarios = 40
		readers   = 4
	)
	beginRun(t, s, runID, base)
	// Built here: t.Fatal must not be called from the other goroutines.
	want := make([]Scenario, scenarios)
	for i := range want {
		want[i] = makeScenario(t, runID, i, 2000)
	}
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Go(func() {
		defer close(done)
		for i := range scenarios {
			if err := s.SaveScenario(ctx, want[i]); err != nil {
				t.Errorf("SaveScenario %d: %v", i, err)
				return
			}
		}
		if err := s.FinishRun(ctx, runID, base.Add(time.Hour), OutcomeSuccess, ""); err != nil {
			t.Errorf("FinishRun: %v", err)
		}
	})
	reads := make([]int, readers)
	for w := range readers {
		wg.Go(func() {
			last := -1
			for {
				select {
				case <-done:
					return
				default:
				}
				r, err := s.Run(ctx, runID)
				if err != nil {
					t.Errorf("reader %d: Run: %v", w, err)
					return
				}
				reads[w]++
				// A reader sees a prefix of the saves, never fewer than before,
				// and every scenario whole.
				if len(r.Scenarios) < last {
					t.Errorf("reader %d saw %d scenarios after %d", w, len(r.Scenarios), last)
				}
				last = len(r.Scenarios)
				if r.Outcome == OutcomeSuccess && len(r.Scenarios) != scenarios {
					t.Errorf("reader %d saw a finished run with %d scenarios", w, len(r.Scenarios))
				}
				for i, sc := range r.Scenarios {
					if sc.Index != i {
						t.Errorf("reader %d: scenario %d has index %d", w, i, sc.Index)
					}
				}
				if n := len(r.Scenarios); n > 0 {
					if d := diffScenario(r.Scenarios[n-1], want[n-1]); d != "" {
						t.Errorf("reader %d: scenario %d: %s", w, n-1, d)
					}
				}
				if _, err := s.History(ctx, "target-1/sync/json", HistoryQuery{}); err != nil {
					t.Errorf("reader %d: History: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("reads per reader while %d scenarios were saved: %v", scenarios, reads)
	r, err := s.Run(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != scenarios || r.Outcome != OutcomeSuccess {
		t.Errorf("final run: %d scenarios, outcome %q", len(r.Scenarios), r.Outcome)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	beginRun(t, s, "finished", base)
	saveScenario(ctx, t, s, makeScenario(t, "finished", 0, 100))
	if err := s.FinishRun(ctx, "finished", base.Add(time.Hour), OutcomeSuccess, ""); err != nil {
		t.Fatal(err)
	}
	beginRun(t, s, "interrupted", base.Add(2*time.Hour))
	last := makeScenario(t, "interrupted", 0, 100)
	saveScenario(ctx, t, s, last)
	beginRun(t, s, "empty", base.Add(3*time.Hour))

	// A second writer is refused while the first has the directory.
	if s2, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrInUse) || !strings.Contains(fmt.Sprint(err), dir) {
		if s2 != nil {
			_ = s2.Close()
		}
		t.Fatalf("second Open: %v, want ErrInUse naming %s", err, dir)
	}
	// A reader may open beside the writer, sees the runs, and cannot write.
	ro, err := Open(ctx, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ro.Run(ctx, "interrupted"); err != nil || r.Outcome != OutcomeRunning || len(r.Scenarios) != 1 {
		t.Errorf("read-only Run: %+v, %v", r, err)
	}
	for name, err := range map[string]error{
		"BeginRun":     func() error { _, err := ro.BeginRun(ctx, Run{ID: "x", Start: base}); return err }(),
		"SaveScenario": ro.SaveScenario(ctx, makeScenario(t, "interrupted", 1, 10)),
		"FinishRun":    ro.FinishRun(ctx, "interrupted", base, OutcomeSuccess, ""),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("read-only %s: %v, want ErrReadOnly", name, err)
		}
	}
	if _, err := ro.Prune(ctx, base.Add(100*time.Hour)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Prune: %v, want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Run(ctx, "finished"); err == nil {
		t.Error("Run after Close: no error")
	}

	s = openStore(t, dir)
	got, err := s.Run(ctx, "finished")
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != OutcomeSuccess || len(got.Scenarios) != 1 {
		t.Errorf("finished run after reopen: outcome %q, %d scenarios", got.Outcome, len(got.Scenarios))
	}
	if d := diffScenario(got.Scenarios[0], makeScenario(t, "finished", 0, 100)); d != "" {
		t.Errorf("finished run's scenario after reopen: %s", d)
	}
	tests := []struct {
		id        string
		wantEnd   time.Time
		scenarios int
	}{
		{"interrupted", last.End, 1},          // ends where its last saved scenario ended
		{"empty", base.Add(3 * time.Hour), 0}, // no scenario: ends at its start
	}
	for _, tc := range tests {
		got, err := s.Run(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome != OutcomeAborted || got.Err != abortedReason || !got.End.Equal(tc.wantEnd) || len(got.Scenarios) != tc.scenarios {
			t.Errorf("run %s after reopen: outcome %q err %q end %v scenarios %d, want aborted, %q, %v, %d",
				tc.id, got.Outcome, got.Err, got.End, len(got.Scenarios), abortedReason, tc.wantEnd, tc.scenarios)
		}
	}
	if err := s.SaveScenario(ctx, makeScenario(t, "interrupted", 1, 10)); !errors.Is(err, ErrNotRunning) {
		t.Errorf("SaveScenario into an aborted run: %v, want ErrNotRunning", err)
	}
}

func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := t.Context()
	beginRun(t, s, "done", base)
	for i := range 3 {
		saveScenario(ctx, t, s, makeScenario(t, "done", i, 1000))
	}
	if err := s.FinishRun(ctx, "done", base.Add(time.Minute), OutcomeSuccess, ""); err != nil {
		t.Fatal(err)
	}
	beginRun(t, s, "busy", base.Add(time.Hour))
	busy := make([]Scenario, 30)
	for i := range busy {
		busy[i] = makeScenario(t, "busy", i, 1000)
	}
	done, started := make(chan error), make(chan struct{})
	go func() {
		var err error
		for i := 0; i < len(busy) && err == nil; i++ {
			err = s.SaveScenario(ctx, busy[i])
			if i == 4 {
				close(started)
			}
		}
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("SaveScenario: %v", err)
	}
	backupDir := t.TempDir()
	dst := filepath.Join(backupDir, DBFile)
	if err := s.Backup(ctx, dst); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("SaveScenario during Backup: %v", err)
	}
	if err := s.Backup(ctx, dst); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), dst) {
		t.Errorf("Backup onto an existing file: %v, want fs.ErrExist naming %s", err, dst)
	}

	b := openStore(t, backupDir)
	checkIntegrity(t, b)
	r, err := b.Run(ctx, "done")
	if err != nil || r.Outcome != OutcomeSuccess || len(r.Scenarios) != 3 {
		t.Fatalf("finished run in the backup: %+v, %v", r, err)
	}
	r, err = b.Run(ctx, "busy")
	if err != nil {
		t.Fatal(err)
	}
	// The backup is a snapshot: a prefix of the saves, each whole; the run
	// was running in it, so opening the backup marked it aborted.
	t.Logf("backup caught %d of 30 scenarios of the busy run", len(r.Scenarios))
	if len(r.Scenarios) < 5 {
		t.Errorf("backup has %d scenarios of the busy run, want at least the 5 saved before it began", len(r.Scenarios))
	}
	if r.Outcome != OutcomeAborted {
		t.Errorf("busy run in the backup: outcome %q, want aborted", r.Outcome)
	}
	for i, sc := range r.Scenarios {
		if d := diffScenario(sc, busy[i]); d != "" {
			t.Errorf("backup scenario %d: %s", i, d)
		}
	}
}

// TestAcceptAndMarker records a deploy marker with a run and accepts a
// scenario's newest result as its new baseline.
func TestAcceptAndMarker(t *testing.T) {
	ctx := t.Context()
	s := openStore(t, t.TempDir())
	if _, err := s.Accept(ctx, "t/sync/json", time.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("accept with no result: %v, want ErrNotFound", err)
	}
	t0 := time.Unix(1700000000, 0).UTC()
	for i, id := range []string{"r1", "r2"} {
		start := t0.Add(time.Duration(i) * time.Hour)
		if _, err := s.BeginRun(ctx, Run{ID: id, Trigger: "manual", Start: start, Marker: "app-v" + id}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveScenario(ctx, Scenario{RunID: id, Name: "t/sync/json", Target: "t", Mode: "sync", Endpoint: "json",
			Start: start, End: start.Add(time.Second), Valid: true}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, id, start.Add(time.Minute), OutcomeSuccess, ""); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Run(ctx, "r2")
	if err != nil || r.Marker != "app-vr2" {
		t.Errorf("marker of r2 = %q, %v", r.Marker, err)
	}
	id, err := s.Accept(ctx, "t/sync/json", t0.Add(3*time.Hour))
	if err != nil || id != "r2" {
		t.Fatalf("accept = %q, %v, want r2", id, err)
	}
	acc, err := s.Accepted(ctx, "t/sync/json")
	if err != nil || len(acc) != 1 || !acc["r2"] {
		t.Errorf("accepted = %v, %v, want r2", acc, err)
	}
	if acc, _ := s.Accepted(ctx, "t/async/json"); len(acc) != 0 {
		t.Errorf("another scenario has accepts: %v", acc)
	}
}

// withoutHistograms returns sc with its histograms and its repeats' left
// out, as a read with HistoryQuery.NoHistograms returns it.
func withoutHistograms(sc Scenario) Scenario {
	sc.LatencyHistogram, sc.RateHistogram, sc.ConnectLatencyHistogram = nil, nil, nil
	if sc.Repeats != nil {
		sc.Repeats = slices.Clone(sc.Repeats)
		for i := range sc.Repeats {
			m := &sc.Repeats[i].Measurement
			m.LatencyHistogram, m.RateHistogram, m.ConnectLatencyHistogram = nil, nil, nil
		}
	}
	return sc
}

// TestHistoryNoHistograms: a history read without histograms holds the
// records as stored but for their histograms and their repeats', which
// are empty; the same read with them has them.
func TestHistoryNoHistograms(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := t.Context()
	var want []Scenario
	for i := range 3 {
		id := fmt.Sprintf("run-%d", i)
		start := base.Add(time.Duration(i) * time.Hour)
		beginRun(t, s, id, start)
		sc := makeScenario(t, id, 0, 50)
		sc.Start, sc.End = start.Add(time.Minute), start.Add(2*time.Minute)
		sc.Repeats[0].LatencyHistogram = sc.LatencyHistogram
		saveScenario(ctx, t, s, sc)
		want = append(want, withoutHistograms(sc))
	}
	full, err := s.History(ctx, want[0].Name, HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx, want[0].Name, HistoryQuery{NoHistograms: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(full) != len(want) {
		t.Fatalf("%d and %d results, want %d", len(got), len(full), len(want))
	}
	for i := range got {
		if d := diffScenario(got[i], want[i]); d != "" {
			t.Errorf("result %d without histograms: %s", i, d)
		}
		if len(full[i].LatencyHistogram) == 0 || len(full[i].Repeats[0].LatencyHistogram) == 0 {
			t.Errorf("result %d with histograms: the latency histogram or its first repeat's is missing", i)
		}
	}
}
