package ui

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// WriteReport writes the matrix page and the run page of runID as one
// self-contained HTML file (styles and SVG plots inline, no script, no
// link out), for CI artifacts: `benchd report --format html > run.html`.
// The matrix is the history's as of now, read from o.Store, of the
// configured scenarios (the run's when o.Config is nil; o.Feed, o.Progress and
// o.WriteEnabled are ignored); a matrix cell links to its scenario's
// section of the run. It returns the store's errors (an unknown runID
// wraps store.ErrNotFound) and w's.
func WriteReport(ctx context.Context, w io.Writer, o Options, runID string) error {
	l := links{Static: true}
	run, err := runView(ctx, o.Store, runID, l)
	if err != nil {
		return fmt.Errorf("ui: run %s: %w", runID, err)
	}
	names, err := scenarioNames(ctx, o)
	if err != nil {
		return err
	}
	if o.Config == nil { // the run's own cells
		names = names[:0]
		for _, s := range run.Scenarios {
			names = append(names, s.Name)
		}
	}
	snap, err := newCache().refresh(ctx, o, names)
	if err != nil {
		return err
	}
	p := &page{Title: title(o), Nav: "report", Static: true, Style: style, Matrix: snap.matrix(l), Run: run}
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, "report", p); err != nil {
		return fmt.Errorf("ui: report: %w", err)
	}
	_, err = io.WriteString(w, b.String())
	return err
}
