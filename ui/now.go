package ui

import (
	"time"

	"github.com/benchd/benchd/pipeline"
)

// nowPage is the now page: the run in progress (or the last one) as
// pipeline.Progress reports it, at the time of the request, and the
// Feed's last finished cells.
type nowPage struct {
	// Known is false before the first run.
	Known   bool
	Running bool
	RunID   string
	RunURL  string
	Outcome string
	End     string // UTC, after the run
	Target  string
	Current pipeline.CurrentScenario
	// CurrentFor is how long the current repeat has run.
	CurrentFor    time.Duration
	Done, Planned int
	// Elapsed is the run's time so far (its whole time after it ended);
	// Left the time to the progress's ETA, ETA its clock time (UTC);
	// HasETA is false before the first scenario ends.
	Elapsed, Left time.Duration
	ETA           string
	HasETA        bool
	Recent        []FinishedCell
}

// nowView builds the now page at now from st (ok false: no run yet) and
// the recent cells.
func nowView(st pipeline.RunStatus, ok bool, recent []FinishedCell, now time.Time) *nowPage {
	v := &nowPage{Known: ok, Recent: recent}
	if !ok {
		return v
	}
	v.Running, v.RunID, v.RunURL, v.Outcome = st.Running, st.RunID, RunPath(st.RunID), st.Outcome
	v.Target, v.Current, v.Done, v.Planned = st.Target, st.Current, st.Done, st.Planned
	if !st.Running {
		v.Elapsed = st.End.Sub(st.Start).Round(time.Second)
		v.End = st.End.UTC().Format("2006-01-02 15:04:05 MST")
		v.Current = pipeline.CurrentScenario{}
		return v
	}
	v.Elapsed = max(now.Sub(st.Start), 0).Round(time.Second)
	if st.Current.Name != "" {
		v.CurrentFor = max(now.Sub(st.Current.Start), 0).Round(time.Second)
	}
	if eta := st.ETA(); !eta.IsZero() {
		v.HasETA = true
		v.Left = max(eta.Sub(now), 0).Round(time.Second)
		v.ETA = eta.UTC().Format("15:04:05 MST")
	}
	return v
}
