package pipeline

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"

	"github.com/benchd/benchd/internal/testutil"
)

// TestHistoryEndOnFullDisk: the disk fills in the middle of a run, so its
// last scenario and its end cannot be stored. They stay in memory,
// reported by Status; a restart-free retry after space is freed stores the
// run whole, finished with its real outcome (not "running", not aborted).
// Stopping with the disk still full reports the lost writes.
func TestHistoryEndOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	dir := testutil.SmallTmpfs(t, "512k")
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := exporters.NewMetrics()
	h := NewHistory(HistoryOptions{Store: st, Metrics: m})
	start := time.Now()
	sc := func(i int) *scheduler.ScenarioResult {
		r := &scheduler.ScenarioResult{Scenario: config.Scenario{Name: "t/-/e", Target: "t", Endpoint: "e"}, Index: i,
			Start: start, End: start.Add(time.Second), Err: errors.New("target down")}
		r.Record = r.BuildRecord(regress.ValidityOptions{})
		return r
	}
	run := func() *scheduler.RunReport {
		info := scheduler.RunInfo{ID: start.UTC().Format("20060102T150405Z"), Trigger: "test", Start: start}
		info.ID = h.RecordRun(info)
		rep := &scheduler.RunReport{RunInfo: info}
		for i := range 2 {
			r := sc(i)
			r.RunID = info.ID
			if i == 1 {
				testutil.FillDisk(t, dir)
			}
			h.ScenarioFinished(t.Context(), r)
			rep.Results = append(rep.Results, r)
		}
		rep.End = start.Add(2 * time.Second)
		h.RunFinished(t.Context(), rep)
		return rep
	}
	rep := run()
	s := h.Status()
	if !strings.Contains(s.LastError, "disk full") || s.PendingWrites != 2 || len(s.PendingRuns) != 1 || s.PendingRuns[0] != rep.ID {
		t.Fatalf("status with the disk full: %+v, want disk full, 2 writes of %s pending", s, rep.ID)
	}
	if err := os.Remove(dir + "/filler"); err != nil {
		t.Fatal(err)
	}
	h.retry() // what the daemon does every minute

	got, err := st.Run(context.Background(), rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != store.OutcomeFailed || len(got.Scenarios) != 2 || !strings.Contains(got.Err, "history write failed: disk full") {
		t.Errorf("run after the retry: outcome %s, %d scenarios, error %q; want failed (its scenarios failed), 2, and the history-write note",
			got.Outcome, len(got.Scenarios), got.Err)
	}
	if s := h.Status(); s.LastError != "" || s.PendingWrites != 0 {
		t.Errorf("status after the retry: %+v, want healthy", s)
	}

	// Stopping with the disk still full says what is lost.
	start = start.Add(time.Minute)
	run()
	if err := h.Close(); err == nil || !strings.Contains(err.Error(), "history write failed") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close with the disk full: %v, want the lost writes named", err)
	}
}

// TestHistoryCountsInvalidResults: a result the detector leaves out
// counts under each of its reasons in benchd_invalid_results_total; a
// valid one and a failed one (its error is the alert) do not.
func TestHistoryCountsInvalidResults(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := exporters.NewMetrics()
	h := NewHistory(HistoryOptions{Store: st, Metrics: m})
	start := time.Now()
	info := scheduler.RunInfo{ID: "r", Trigger: "test", Start: start}
	info.ID = h.RecordRun(info)
	loaded := &engine.Result{ConnectionsEstablished: 1, Elapsed: time.Second}
	for i, r := range []*scheduler.ScenarioResult{
		{Result: loaded}, // valid
		{Result: loaded, SchedLatencyP99: time.Second},           // benchd starved
		{Result: loaded, SchedLatencyP99: 50 * time.Millisecond}, // again
		{},                               // no load applied
		{Err: errors.New("target died")}, // failed: not counted
		// Other work took the CPUs during the repeat: one busy CPU's worth
		// on top of the two considered ones' full load.
		{Result: loaded, RepeatUsage: []scheduler.RepeatUsage{{Managed: true, CPUs: 2, Start: start, End: start.Add(time.Second), BusyCPUSeconds: 2}}},
	} {
		r.Scenario = config.Scenario{Name: "t/-/e", Target: "t", Mode: "-", Endpoint: "e"}
		r.RunID, r.Index, r.Start, r.End = info.ID, i, start, start.Add(time.Second)
		r.Record = r.BuildRecord(regress.ValidityOptions{})
		h.ScenarioFinished(t.Context(), r)
	}
	want := `
# HELP benchd_invalid_results_total Scenario results left out of the regression detector's baselines and tests, by reason: target_failed, target_died, open_loop_late, scheduler_latency (benchd itself starved of CPU), foreign_cpu (other work took the CPUs); a result with several reasons counts under each.
# TYPE benchd_invalid_results_total counter
benchd_invalid_results_total{reason="foreign_cpu"} 1
benchd_invalid_results_total{reason="open_loop_late"} 0
benchd_invalid_results_total{reason="scheduler_latency"} 2
benchd_invalid_results_total{reason="target_died"} 0
benchd_invalid_results_total{reason="target_failed"} 1
`
	if err := promtestutil.CollectAndCompare(m, strings.NewReader(want), "benchd_invalid_results_total"); err != nil {
		t.Error(err)
	}
}

// heldRuns runs n runs of two successful scenarios through h, seconds
// apart, with the disk of dir full from the start, so that every write is
// held in memory, and returns their reports.
func heldRuns(t *testing.T, h *History, dir string, n int) []*scheduler.RunReport {
	t.Helper()
	testutil.FillDisk(t, dir)
	start := time.Now().Truncate(time.Second)
	var reps []*scheduler.RunReport
	for k := range n {
		at := start.Add(time.Duration(k) * 4 * time.Second)
		info := scheduler.RunInfo{ID: at.UTC().Format("20060102T150405Z"), Trigger: "schedule", Start: at}
		info.ID = h.RecordRun(info)
		rep := &scheduler.RunReport{RunInfo: info}
		for i := range 2 {
			r := &scheduler.ScenarioResult{Scenario: config.Scenario{Name: "t/-/e", Target: "t", Mode: "-", Endpoint: "e"},
				RunID: info.ID, Index: i, Start: at.Add(time.Duration(i) * time.Second), End: at.Add(time.Duration(i+1) * time.Second),
				Result: &engine.Result{ConnectionsEstablished: 1, Elapsed: time.Second}}
			r.Record = r.BuildRecord(regress.ValidityOptions{})
			h.ScenarioFinished(t.Context(), r)
			rep.Results = append(rep.Results, r)
		}
		rep.End = at.Add(3 * time.Second)
		h.RunFinished(t.Context(), rep)
		reps = append(reps, rep)
	}
	return reps
}

// TestHistoryEveryHeldRunSaysSo: several runs end while the disk is full
// (a short schedule); the first one's writes fail, the later ones' wait
// behind them. Once space is back every one of them is stored whole with
// its real outcome and the note that its history write was held, not only
// the first.
func TestHistoryEveryHeldRunSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	dir := testutil.SmallTmpfs(t, "512k")
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := NewHistory(HistoryOptions{Store: st})
	reps := heldRuns(t, h, dir, 3)
	if s := h.Status(); len(s.PendingRuns) != 3 {
		t.Fatalf("status with the disk full: %+v, want the 3 runs pending", s)
	}
	if err := os.Remove(dir + "/filler"); err != nil {
		t.Fatal(err)
	}
	h.retry()
	for _, rep := range reps {
		got, err := st.Run(t.Context(), rep.ID)
		if err != nil {
			t.Fatalf("run %s: %v", rep.ID, err)
		}
		if got.Outcome != store.OutcomeSuccess || len(got.Scenarios) != 2 ||
			got.Err != "history write failed: disk full (the run was kept in memory and stored once space was back)" {
			t.Errorf("run %s stored: %s, %d scenarios, error %q; want success, 2, and the held-write note", rep.ID, got.Outcome, len(got.Scenarios), got.Err)
		}
	}
}

// TestHistoryReaderShowsHeldRuns: while the disk is full, the API's reads
// (the History's Reader) show the runs held in memory as they will be
// stored: their real outcome and end, their scenarios, and the held
// write's error, also for a run whose start could not be stored (which
// the store alone answers "not found"); the scenario history includes
// their results. Once stored, the store's rows are read.
func TestHistoryReaderShowsHeldRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	dir := testutil.SmallTmpfs(t, "512k")
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := NewHistory(HistoryOptions{Store: st})
	reps := heldRuns(t, h, dir, 2)
	rd := h.Reader()
	ctx := t.Context()
	const note = "history write failed: disk full (the run is kept in memory and stored once space is back)"
	for _, rep := range reps {
		if _, err := st.Run(ctx, rep.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("store's run %s: %v, want not found (its start is held)", rep.ID, err)
		}
		got, err := rd.Run(ctx, rep.ID)
		if err != nil {
			t.Fatalf("reader's run %s: %v", rep.ID, err)
		}
		if got.Outcome != store.OutcomeSuccess || !got.End.Equal(rep.End) || len(got.Scenarios) != 2 || got.Err != note {
			t.Errorf("reader's run %s: %s, end %s, %d scenarios, error %q; want success, %s, 2, %q", rep.ID, got.Outcome, got.End, len(got.Scenarios), got.Err, rep.End, note)
		}
	}
	runs, err := rd.Runs(ctx, store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != reps[1].ID || runs[1].ID != reps[0].ID || runs[0].Outcome != store.OutcomeSuccess || runs[0].Err != note {
		t.Errorf("reader's runs: %+v, want both held runs, newest first, success, with the note", runs)
	}
	if runs, _ := rd.Runs(ctx, store.RunQuery{Before: reps[1].Start}); len(runs) != 1 || runs[0].ID != reps[0].ID {
		t.Errorf("reader's runs before the second: %+v, want the first", runs)
	}
	hist, err := rd.History(ctx, "t/-/e", store.HistoryQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].RunID != reps[0].ID || hist[0].Index != 1 || hist[2].RunID != reps[1].ID || hist[2].Index != 1 {
		t.Errorf("reader's history: %d results, want the newest 3 of the held runs, oldest first", len(hist))
	}

	if err := os.Remove(dir + "/filler"); err != nil {
		t.Fatal(err)
	}
	h.retry()
	got, err := rd.Run(ctx, reps[0].ID)
	if err != nil || got.Outcome != store.OutcomeSuccess || len(got.Scenarios) != 2 || !strings.Contains(got.Err, "stored once space was back") {
		t.Errorf("reader's run %s once stored: %+v, %v; want the stored row", reps[0].ID, got, err)
	}
}

// TestHistoryCloseNamesDroppedRuns: a run whose writes failed for another
// reason than a full disk (here a store closed under the history) is not
// stored, its later writes are skipped, and Close says which run is lost,
// so that benchd matrix exits 1 rather than 0.
func TestHistoryCloseNamesDroppedRuns(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHistory(HistoryOptions{Store: st})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	info := scheduler.RunInfo{ID: "r", Trigger: "test", Start: start}
	info.ID = h.RecordRun(info)
	r := &scheduler.ScenarioResult{Scenario: config.Scenario{Name: "t/-/e", Target: "t", Mode: "-", Endpoint: "e"},
		RunID: info.ID, Start: start, End: start.Add(time.Second), Result: &engine.Result{ConnectionsEstablished: 1, Elapsed: time.Second}}
	r.Record = r.BuildRecord(regress.ValidityOptions{})
	h.ScenarioFinished(t.Context(), r)
	h.RunFinished(t.Context(), &scheduler.RunReport{RunInfo: info, Results: []*scheduler.ScenarioResult{r}, End: start.Add(time.Second)})
	if err := h.Close(); err == nil || !strings.Contains(err.Error(), "history write failed: runs r not stored whole") {
		t.Errorf("Close = %v, want the lost run named", err)
	}
}

// TestHistoryStoppedBySignal: a run stopped by a signal is stored aborted
// with the signal's name; stopped otherwise, with the old text; a run that
// ended is not aborted.
func TestHistoryStoppedBySignal(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := NewHistory(HistoryOptions{Store: st})
	start := time.Now()
	for i, tt := range []struct {
		name    string
		cause   error // of the run's context; nil: not cancelled
		outcome string
		want    string
	}{
		{"SIGINT", SignalCause{Signal: os.Interrupt}, store.OutcomeAborted, "benchd was interrupted by SIGINT before the run finished"},
		{"SIGTERM", SignalCause{Signal: syscall.SIGTERM}, store.OutcomeAborted, "benchd was interrupted by SIGTERM before the run finished"},
		{"cancelled without a signal", context.Canceled, store.OutcomeAborted, "benchd stopped before the run finished"},
		{"ended", nil, store.OutcomeSuccess, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			info := scheduler.RunInfo{ID: start.Add(time.Duration(i) * time.Second).UTC().Format("20060102T150405Z"), Trigger: "test", Start: start}
			info.ID = h.RecordRun(info)
			rep := &scheduler.RunReport{RunInfo: info, End: start.Add(time.Second)}
			if tt.cause != nil {
				cancel(tt.cause)
				rep.Err = ctx.Err()
			}
			h.RunFinished(ctx, rep)
			got, err := st.Run(t.Context(), info.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome != tt.outcome || got.Err != tt.want {
				t.Errorf("outcome %q, error %q; want %q, %q", got.Outcome, got.Err, tt.outcome, tt.want)
			}
		})
	}
}
