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

// Progress follows the run in progress for the now page: a
// [scheduler.Observer] to add to the pipeline's extra observers. It is
// safe for concurrent use; the zero value is not: use [NewProgress].
type Progress struct {
	scheduler.NopObserver

	mu        sync.Mutex
	now       func() time.Time
	state     ProgressState
	started   time.Time
	listeners []func(*result.Scenario)
}

// ProgressState is what the now page shows. Durations are rounded to the
// second.
type ProgressState struct {
	// Running is true between a run's start and its end.
	Running bool
	// RunID and Start identify the run in progress, or the last one.
	RunID string
	Start time.Time
	// End is when the last run ended; zero while one runs.
	End time.Time
	// Outcome is the last run's (success, failed, interrupted); "" while
	// one runs.
	Outcome string
	// Done counts the scenarios finished; Planned the run's scenarios.
	Done, Planned int
	// Elapsed is the run's time so far; ETA the time left at the mean
	// time per finished scenario so far (zero before the first).
	Elapsed, ETA time.Duration
	// Recent are the last finished cells, newest first.
	Recent []FinishedCell
}

// FinishedCell is a finished scenario, as the now page lists it.
type FinishedCell struct {
	Index    int // 1-based
	Name     string
	RunID    string
	Status   string // ok, invalid or failed
	Why      string
	RPS, P99 string
	Elapsed  time.Duration // since the run's start
}

// NewProgress returns a Progress that reads the clock now (nil means
// time.Now).
func NewProgress(now func() time.Time) *Progress {
	if now == nil {
		now = time.Now
	}
	return &Progress{now: now}
}

// RunStarted starts following info's run.
func (p *Progress) RunStarted(_ context.Context, info *scheduler.RunInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = p.now()
	p.state = ProgressState{Running: true, RunID: info.ID, Start: info.Start, Planned: len(info.Scenarios)}
}

// listen makes f get each result record that passes; f must not block.
func (p *Progress) listen(f func(*result.Scenario)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listeners = append(p.listeners, f)
}

// ScenarioFinished counts r, adds it to the recent cells and hands its
// record to the UI.
func (p *Progress) ScenarioFinished(_ context.Context, r *scheduler.ScenarioResult) {
	p.mu.Lock()
	listeners := p.listeners
	p.finished(r)
	p.mu.Unlock()
	if r.Record != nil {
		for _, f := range listeners {
			f(r.Record)
		}
	}
}

// finished is ScenarioFinished's count; p.mu must be held.
func (p *Progress) finished(r *scheduler.ScenarioResult) {
	p.state.Done++
	if r.Total > 0 {
		p.state.Planned = r.Total
	}
	c := FinishedCell{Index: r.Index + 1, Name: r.Scenario.Name, RunID: r.RunID, Status: "ok", RPS: "-", P99: "-",
		Elapsed: p.now().Sub(p.started).Round(time.Second)}
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
	p.state.Recent = append([]FinishedCell{c}, p.state.Recent...)
	if len(p.state.Recent) > DefaultRecentCells {
		p.state.Recent = p.state.Recent[:DefaultRecentCells]
	}
}

// RunFinished marks the run ended.
func (p *Progress) RunFinished(_ context.Context, r *scheduler.RunReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Running = false
	p.state.End = r.End
	p.state.Outcome = r.Outcome()
	p.state.Elapsed = r.End.Sub(r.Start).Round(time.Second)
	p.state.ETA = 0
}

// State returns the progress at now: a copy the caller owns.
func (p *Progress) State(now time.Time) ProgressState {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.state
	s.Recent = append([]FinishedCell(nil), s.Recent...)
	if s.Running {
		s.Elapsed = now.Sub(p.started).Round(time.Second)
		if s.Done > 0 {
			s.ETA = (s.Elapsed / time.Duration(s.Done) * time.Duration(max(s.Planned-s.Done, 0))).Round(time.Second)
		}
	}
	return s
}

// Progress is a scheduler observer (a method whose signature drifted from
// the interface would otherwise never be called).
var _ scheduler.Observer = (*Progress)(nil)
