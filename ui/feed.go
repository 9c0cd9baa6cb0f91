package ui

import (
	"context"
	"sync"
	"time"

	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
)

// DefaultRecentCells is how many finished cells the now page lists.
const DefaultRecentCells = 10

// Feed passes the UI the pipeline's results as they end: it keeps the
// last finished cells of the run for the now page and hands each result
// record to the UI's result cache, so that no page after the first reads
// the history; and, through [Feed.Loaded], the history the daemon's
// detector read at start, so that the first page does not either. It is
// a [scheduler.Observer] to add to the pipeline's extra observers (after
// the run history, which stores what it passes). It follows no progress:
// the run's i of N, current scenario and time left are
// pipeline.Progress's ([Options.Progress]). A Feed is safe for concurrent
// use; create it with [NewFeed].
type Feed struct {
	scheduler.NopObserver

	mu        sync.Mutex
	runStart  time.Time
	recent    []FinishedCell // newest first
	listeners []func(*result.Scenario)
	loaders   []func(string, []summary)
	preload   map[string][]summary // what Loaded took before a UI listened
}

// FinishedCell is a finished scenario, as the now page lists it.
type FinishedCell struct {
	Index    int // 1-based, in the run's matrix
	Name     string
	RunID    string
	Status   string // ok, invalid or failed
	Why      string
	RPS, P99 string
	Elapsed  time.Duration // from the run's start to the scenario's end, to the second
}

// NewFeed returns a Feed with no run.
func NewFeed() *Feed { return &Feed{} }

// RunStarted forgets the previous run's cells.
func (f *Feed) RunStarted(_ context.Context, info *scheduler.RunInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runStart = info.Start
	f.recent = nil
}

// listen makes fn get each result record that passes; fn must not block.
func (f *Feed) listen(fn func(*result.Scenario)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listeners = append(f.listeners, fn)
}

// ScenarioFinished adds r to the recent cells and hands its record to the
// UI.
func (f *Feed) ScenarioFinished(_ context.Context, r *scheduler.ScenarioResult) {
	end := r.End
	if end.IsZero() {
		end = time.Now()
	}
	c := FinishedCell{Index: r.Index + 1, Name: r.Scenario.Name, RunID: r.RunID, Status: VerdictOK, RPS: "-", P99: "-"}
	if rec := r.Record; rec != nil {
		if rec.Ran() {
			c.RPS, c.P99 = formatRate(rec.RequestsPerSecond), formatSeconds(rec.P99())
		}
		if !rec.Valid {
			c.Status = VerdictInvalid
		}
	}
	if r.Err != nil {
		c.Status, c.Why = "failed", r.Err.Error()
	}
	f.mu.Lock()
	c.Elapsed = max(end.Sub(f.runStart), 0).Round(time.Second)
	f.recent = append([]FinishedCell{c}, f.recent...)
	if len(f.recent) > DefaultRecentCells {
		f.recent = f.recent[:DefaultRecentCells]
	}
	listeners := f.listeners
	f.mu.Unlock()
	if r.Record != nil {
		for _, fn := range listeners {
			fn(r.Record)
		}
	}
}

// Recent returns the last finished cells of the run in progress (or of
// the last run), newest first, at most [DefaultRecentCells]: a copy the
// caller owns.
func (f *Feed) Recent() []FinishedCell {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FinishedCell(nil), f.recent...)
}

// Feed is a scheduler observer (a method whose signature drifted from the
// interface would otherwise never be called).
var _ scheduler.Observer = (*Feed)(nil)

// Loaded takes scenario's history as the daemon's regression detector
// read it (pipeline.DetectorOptions.Loaded: the newest results, oldest
// first), so that the UI's result cache starts from it instead of reading
// the history again at its first page. It keeps summaries of hist, not
// hist.
func (f *Feed) Loaded(scenario string, hist []result.Scenario) {
	h := make([]summary, len(hist))
	for i := range hist {
		h[i] = summarize(&hist[i])
	}
	f.mu.Lock()
	loaders := f.loaders
	if len(loaders) == 0 {
		if f.preload == nil {
			f.preload = map[string][]summary{}
		}
		f.preload[scenario] = h
	}
	f.mu.Unlock()
	for _, fn := range loaders {
		fn(scenario, h)
	}
}

// listenLoaded makes fn get the summaries of each history Loaded takes,
// first those it took before; fn must not block.
func (f *Feed) listenLoaded(fn func(string, []summary)) {
	f.mu.Lock()
	pre := f.preload
	f.preload = nil // a later UI reads the history itself: it may have grown since
	f.loaders = append(f.loaders, fn)
	f.mu.Unlock()
	for name, h := range pre {
		fn(name, h)
	}
}
