package report

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/benchd/benchd/store"
)

// RunAlerts is what `benchd report --alerts` shows, and its JSON form.
type RunAlerts struct {
	RunID string    `json:"run_id"`
	Since time.Time `json:"since"`
	// Until is the next run's start; null for the newest run (until now).
	Until  *time.Time    `json:"until"`
	Alerts []store.Alert `json:"alerts"`
}

// Alerts is what --alerts reads of the run history ([store.SQLite] has it).
type Alerts interface {
	Runs
	Alerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error)
}

// maxAlertsListed bounds the alerts --alerts lists (the newest ones).
const maxAlertsListed = 1000

// WriteRunAlerts lists the alerts received from run's start to the start
// of the run after it (or now), oldest first (the newest maxAlertsListed),
// as JSON (a [RunAlerts]) when format is "json", else as text. It returns
// st's errors as they are.
func WriteRunAlerts(ctx context.Context, w io.Writer, st Alerts, run *store.Run, format string) error {
	until, err := nextRunStart(ctx, st, run)
	if err != nil {
		return err
	}
	list, err := st.Alerts(ctx, store.AlertQuery{Since: run.Start, Until: until, Limit: maxAlertsListed})
	if err != nil {
		return err
	}
	slices.Reverse(list)
	out := RunAlerts{RunID: run.ID, Since: run.Start, Alerts: list}
	if !until.IsZero() {
		out.Until = &until
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	end := "now"
	if out.Until != nil {
		end = out.Until.Format(time.RFC3339) + " (the next run)"
	}
	fmt.Fprintf(w, "Alerts received during run %s: %s to %s\n", run.ID, run.Start.Format(time.RFC3339), end)
	if len(list) == 0 {
		fmt.Fprintln(w, "none")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tSTATUS\tALERT\tRECEIVER\tSCENARIO\tSUMMARY")
	for _, a := range list {
		scenario := "-"
		if a.Labels["target"] != "" {
			scenario = a.Labels["target"] + "/" + cmp.Or(a.Labels["mode"], "*") + "/" + cmp.Or(a.Labels["endpoint"], "*")
			if sig := a.Labels["signal"]; sig != "" {
				scenario += " " + sig
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Received.Format(time.RFC3339), a.Status, a.Name, a.Receiver, scenario,
			cmp.Or(a.Annotations["summary"], "-"))
	}
	return tw.Flush()
}

// nextRunStart returns the start of the first run after run, zero if run
// is the newest. It pages through the runs newest first.
func nextRunStart(ctx context.Context, st Alerts, run *store.Run) (time.Time, error) {
	var next time.Time
	before := time.Time{}
	for range 10_000 { // pages of 1000: ten million runs
		runs, err := st.Runs(ctx, store.RunQuery{Limit: 1000, Before: before})
		if err != nil {
			return time.Time{}, err
		}
		for _, r := range runs {
			if !r.Start.After(run.Start) {
				return next, nil
			}
			next = r.Start
		}
		if len(runs) < 1000 {
			return next, nil
		}
		before = runs[len(runs)-1].Start
	}
	return next, nil
}
