package report

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/benchd/benchd/store"
)

// runListing is one run of [WriteRuns]'s json.
type runListing struct {
	ID       string    `json:"id"`
	Ref      string    `json:"ref,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end,omitzero"`
	Outcome  string    `json:"outcome"`
	Trigger  string    `json:"trigger"`
	Marker   string    `json:"marker,omitempty"`
	Version  string    `json:"version,omitempty"`
	Error    string    `json:"error,omitempty"`
	Duration float64   `json:"duration_seconds,omitempty"`
}

// WriteRuns writes runs, newest first as [store.SQLite.Runs] returns
// them, for `benchd runs`: in format "text" a table of ID, reference
// (last, last~1 … as [ParseRunRef] reads; none for a run still running),
// start, duration, outcome, trigger and marker; in "json" an array of
// objects with those fields and the error. Errors are w's.
func WriteRuns(w io.Writer, runs []store.Run, format string) error {
	list := make([]runListing, len(runs))
	ended := 0
	for i, r := range runs {
		l := runListing{ID: r.ID, Start: r.Start, End: r.End, Outcome: store.ShownOutcome(r.Outcome), Trigger: r.Trigger,
			Marker: r.Marker, Version: r.Version, Error: r.Err}
		if r.Outcome != store.OutcomeRunning {
			l.Ref = "last"
			if ended > 0 {
				l.Ref = fmt.Sprintf("last~%d", ended)
			}
			ended++
		}
		if !r.End.IsZero() {
			l.Duration = r.End.Sub(r.Start).Seconds()
		}
		list[i] = l
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tREF\tSTART\tDURATION\tOUTCOME\tTRIGGER\tMARKER")
	for _, l := range list {
		d := "-"
		if l.Duration > 0 {
			d = time.Duration(l.Duration * float64(time.Second)).Round(time.Second).String()
		}
		ref, marker := l.Ref, l.Marker
		if ref == "" {
			ref = "-"
		}
		if marker == "" {
			marker = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, ref, l.Start.UTC().Format(time.RFC3339), d, l.Outcome, l.Trigger, marker)
	}
	return tw.Flush()
}
