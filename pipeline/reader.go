package pipeline

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/benchd/benchd/store"
)

// HistoryReader reads the run history as the API shows it: the store,
// overlaid with the runs whose writes the [History] holds in memory (a
// full disk), so that they show their real outcome, their scenarios and
// the held write's error instead of a stale "running" or "not found". It
// implements the API's History (Run, Runs, History with the store's
// contracts) and is safe for concurrent use.
type HistoryReader struct{ h *History }

// Reader returns the history's [HistoryReader].
func (h *History) Reader() *HistoryReader { return &HistoryReader{h} }

// held returns copies of the runs some of whose writes are held in
// memory, by announced ID, with their scenarios so far, as the store will
// hold them once the writes land.
func (h *History) held() map[string]store.Run {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]store.Run{}
	for _, w := range h.pending {
		r := h.runs[w.runID]
		if r == nil {
			continue
		}
		if _, ok := out[w.runID]; ok {
			continue
		}
		v := r.run
		v.Scenarios = slices.Clone(r.run.Scenarios)
		for i := range v.Scenarios {
			v.Scenarios[i].RunID = v.ID
		}
		v.Err = joinErr(r.msg, heldNote(r.writeErr))
		out[w.runID] = v
	}
	return out
}

// Run returns the run with the given ID: the one held in memory if its
// writes are held, else the store's ([store.ErrNotFound] if neither).
func (hr *HistoryReader) Run(ctx context.Context, id string) (*store.Run, error) {
	if r, ok := hr.h.held()[id]; ok {
		return &r, nil
	}
	return hr.h.st.Run(ctx, id)
}

// Baselines returns the stored baseline segments, as
// [store.Store.Baselines]. A held run's segment starts (a settings change)
// are recorded with its results, so they show once its writes land.
func (hr *HistoryReader) Baselines(ctx context.Context, q store.BaselineQuery) ([]store.Baseline, error) {
	return hr.h.st.Baselines(ctx, q)
}

// Runs returns runs newest first, as [store.Store.Runs], the held ones in
// place of (or beside) their stored rows.
func (hr *HistoryReader) Runs(ctx context.Context, q store.RunQuery) ([]store.Run, error) {
	held := hr.h.held()
	runs, err := hr.h.st.Runs(ctx, q)
	if err != nil || len(held) == 0 {
		return runs, err
	}
	runs = slices.DeleteFunc(runs, func(r store.Run) bool { _, ok := held[r.ID]; return ok })
	for _, r := range held {
		if q.Before.IsZero() || r.Start.Before(q.Before) {
			r.Scenarios = nil
			runs = append(runs, r)
		}
	}
	slices.SortFunc(runs, func(a, b store.Run) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultRunsLimit
	}
	return runs[:min(len(runs), limit)], nil
}

// History returns the newest results of scenarioName, oldest first, as
// [store.Store.History], with the results of held runs in place of their
// stored ones.
func (hr *HistoryReader) History(ctx context.Context, scenarioName string, q store.HistoryQuery) ([]store.Scenario, error) {
	held := hr.h.held()
	list, err := hr.h.st.History(ctx, scenarioName, q)
	if err != nil || len(held) == 0 {
		return list, err
	}
	list = slices.DeleteFunc(list, func(s store.Scenario) bool { _, ok := held[s.RunID]; return ok })
	// Sort keys: a result's Start; a stored one without a Start keeps its
	// place (the store put it at its run's start), a held one goes to its
	// run's start.
	type keyed struct {
		at time.Time
		s  store.Scenario
	}
	all := make([]keyed, 0, len(list))
	var prev time.Time
	for _, s := range list {
		if !s.Start.IsZero() {
			prev = s.Start
		}
		all = append(all, keyed{prev, s})
	}
	for _, r := range held {
		for _, s := range r.Scenarios {
			at := cmp.Or(s.Start, r.Start)
			if s.Name == scenarioName && (q.Since.IsZero() || !at.Before(q.Since)) && (q.Before.IsZero() || at.Before(q.Before)) {
				all = append(all, keyed{at, s})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b keyed) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		if c := strings.Compare(a.s.RunID, b.s.RunID); c != 0 {
			return c
		}
		return a.s.Index - b.s.Index
	})
	list = list[:0]
	for _, k := range all {
		list = append(list, k.s)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultHistoryLimit
	}
	return list[max(0, len(list)-limit):], nil
}
