package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
	"github.com/benchd/benchd/ui"
)

// reportFlags are the flags of `benchd report`.
type reportFlags struct {
	run     string
	format  string
	summary bool
	diff    []string
	// compare is the document of --compare; compareSet tells "" (the
	// seed) from no --compare.
	compare    string
	compareSet bool
	alerts     bool
}

func addReportFlags(c *kingpin.CmdClause, f *reportFlags) {
	c.Flag("run", "Run ID to render (see GET /api/v1/runs); default the newest run.").StringVar(&f.run)
	c.Flag("format", "text (a wrk block per scenario), markdown (the seed document's layout), json, or html (the matrix and run pages of the results UI as one file, docs/ui.md); --summary and --compare take json too (docs/reports.md).").
		Default("text").EnumVar(&f.format, "text", "markdown", "json", "html")
	c.Flag("summary", "Print the comparison table instead: endpoint × server (sync and async) with requests/s, p99, timeouts and errors.").BoolVar(&f.summary)
	c.Flag("diff", "Compare two runs scenario by scenario, with ratios: --diff RUN_A --diff RUN_B.").PlaceHolder("RUN").StringsVar(&f.diff)
	c.Flag("compare", "Compare the run (--run, default the newest) with a Markdown document of wrk outputs, such as one written by hand or by matrix --format markdown: requests/s with ratios, p99 and timeouts per scenario. \"seed\" (or \"\") is the seed document built into benchd.").
		PlaceHolder("FILE.md").IsSetByUser(&f.compareSet).StringVar(&f.compare)
	c.Flag("alerts", "List the alerts Alertmanager sent benchd's webhook while the run (--run, default the newest) was the newest: from its start to the next run's start, or now; text or json.").BoolVar(&f.alerts)
}

// runReport renders a stored run from the history under --storage.path,
// opened read-only so that it works beside a running daemon.
func runReport(ctx context.Context, f *flags, stdout io.Writer) error {
	rf := &f.report
	st, err := store.Open(ctx, f.storagePath, store.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open the run history (--storage.path %s): %w", f.storagePath, err)
	}
	defer st.Close()
	load := func(id string) (*store.Run, error) {
		if id == "" {
			// The newest run that has ended: a run still "running" is in
			// progress (a daemon's), or was left so by a killed benchd
			// until the next start marks it aborted.
			runs, err := st.Runs(ctx, store.RunQuery{Limit: 20})
			if err != nil {
				return nil, err
			}
			if len(runs) == 0 {
				return nil, fmt.Errorf("no run in the history under %s", f.storagePath)
			}
			id = runs[0].ID
			for _, r := range runs {
				if r.Outcome != store.OutcomeRunning {
					id = r.ID
					break
				}
			}
		}
		run, err := st.Run(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("run %q is not in the history under %s (GET /api/v1/runs or benchd report lists the runs)", id, f.storagePath)
		}
		if err != nil {
			return nil, fmt.Errorf("run %q: %w", id, err)
		}
		if len(run.Scenarios) == 0 {
			return nil, fmt.Errorf("run %s has no scenario results (outcome %s%s): give an earlier one with --run (GET /api/v1/runs lists them)", run.ID, run.Outcome, stillRunning(run))
		}
		return run, nil
	}
	if rf.compareSet && (len(rf.diff) > 0 || rf.summary) {
		return usageError{errors.New("--compare cannot go with --diff or --summary: it compares one run (--run) with a document")}
	}
	if rf.alerts {
		if rf.compareSet || len(rf.diff) > 0 || rf.summary {
			return usageError{errors.New("--alerts cannot go with --compare, --diff or --summary: it lists the alerts of one run (--run)")}
		}
		run, err := load(rf.run)
		if err != nil {
			return err
		}
		return writeRunAlerts(ctx, stdout, st, run, rf.format)
	}
	title, titles := reportTitles(f)
	switch {
	case rf.compareSet:
		doc, name, err := readComparisonDocument(rf.compare)
		if err != nil {
			return err
		}
		run, err := load(rf.run)
		if err != nil {
			return err
		}
		return writeComparison(stdout, compareRun(run, doc, name, titles), rf.format)
	case len(rf.diff) > 0:
		if len(rf.diff) != 2 {
			return usageError{errors.New("--diff takes two runs: --diff RUN_A --diff RUN_B")}
		}
		a, err := load(rf.diff[0])
		if err != nil {
			return err
		}
		b, err := load(rf.diff[1])
		if err != nil {
			return err
		}
		return writeDiff(stdout, a, b)
	case rf.summary:
		run, err := load(rf.run)
		if err != nil {
			return err
		}
		return writeSummary(stdout, run, rf.format)
	}
	run, err := load(rf.run)
	if err != nil {
		return err
	}
	entries := make([]report.Entry, len(run.Scenarios))
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		entries[i] = report.Entry{Scenario: s, TargetTitle: titles[s.Target], EndpointTitle: titles["/"+s.Endpoint]}
	}
	switch rf.format {
	case "markdown":
		return report.WriteMarkdown(stdout, title, entries)
	case "json":
		return report.WriteScenariosJSON(stdout, run.Scenarios)
	case "html":
		return ui.WriteReport(ctx, stdout, ui.Options{Store: st}, run.ID)
	}
	for _, e := range entries {
		fmt.Fprintf(stdout, "== %s ==\n", e.Name)
		if e.Ran() {
			if err := report.WriteWrk(stdout, e.Scenario, report.WrkOptions{Latency: true}); err != nil {
				return err
			}
		}
		if e.Error != "" {
			fmt.Fprintf(stdout, "Failed: %s\n", e.Error)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// reportTitles returns the titles of the current configuration
// (--config.file, or the embedded default) for the Markdown report: the
// document's, and its sections': target names map to their titles,
// "/"+endpoint names to theirs. A configuration that does not load gives
// config.DefaultTitle and no section titles, and the report uses the names.
func reportTitles(f *flags) (string, map[string]string) {
	cfg, err := config.Default()
	if f.configFile != "" {
		cfg, err = config.Load(f.configFile)
	}
	titles := map[string]string{}
	if err != nil {
		return config.DefaultTitle, titles
	}
	for _, t := range cfg.Targets {
		if t.Title != "" {
			titles[t.Name] = t.Title
		}
	}
	for _, e := range cfg.Endpoints {
		if e.Title != "" {
			titles["/"+e.Name] = e.Title
		}
	}
	return cfg.Title, titles
}

// summaryTable is the table of `benchd report --summary`, and its JSON
// form: one row per endpoint and mode, in run order, one cell per target
// that ran it.
type summaryTable struct {
	RunID   string `json:"run_id"`
	Outcome string `json:"outcome"`
	// Targets are the column order: targets in run order.
	Targets []string     `json:"targets"`
	Rows    []summaryRow `json:"rows"`
}

// summaryRow is one endpoint and mode of a [summaryTable]; Cells maps a
// target name to its scenario, absent when the target did not run it.
type summaryRow struct {
	Endpoint string                  `json:"endpoint"`
	Mode     string                  `json:"mode"`
	Cells    map[string]*summaryCell `json:"cells"`
}

// summaryCell is one scenario of a [summaryTable]. P99Seconds is null
// without a completed request; Errors counts connection errors of every
// kind (timeouts included) and 4xx and 5xx responses; Error says why the
// scenario failed, and Sent is 0 when it applied no load.
type summaryCell struct {
	RequestsPerSecond float64  `json:"requests_per_second"`
	P99Seconds        *float64 `json:"p99_seconds"`
	Timeouts          uint64   `json:"timeouts"`
	Errors            uint64   `json:"errors"`
	Sent              uint64   `json:"sent"`
	Error             string   `json:"error,omitempty"`
}

func newSummaryTable(run *store.Run) summaryTable {
	st := summaryTable{RunID: run.ID, Outcome: store.ShownOutcome(run.Outcome), Targets: []string{}, Rows: []summaryRow{}}
	seen := map[string]bool{}
	type rowKey struct{ endpoint, mode string }
	rows := map[rowKey]int{}
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		if !seen[s.Target] {
			seen[s.Target] = true
			st.Targets = append(st.Targets, s.Target)
		}
		k := rowKey{s.Endpoint, s.Mode}
		r, ok := rows[k]
		if !ok {
			r = len(st.Rows)
			rows[k] = r
			st.Rows = append(st.Rows, summaryRow{Endpoint: s.Endpoint, Mode: s.Mode, Cells: map[string]*summaryCell{}})
		}
		c := &summaryCell{RequestsPerSecond: s.RequestsPerSecond, Timeouts: s.Errors[engine.KindTimeout],
			Sent: s.Sent, Error: s.Error}
		for _, n := range s.Errors {
			c.Errors += n
		}
		c.Errors += s.Unexpected // by default the 4xx and 5xx responses
		if v := p99(s); !math.IsNaN(v) {
			c.P99Seconds = &v
		}
		st.Rows[r].Cells[s.Target] = c
	}
	return st
}

// writeSummary prints the table users compare servers with: one row per
// endpoint and mode, one column per target, each cell requests/s, p99,
// timeouts and errors of that scenario. As json, a [summaryTable];
// otherwise a Markdown table, which reads as text too.
func writeSummary(w io.Writer, run *store.Run, format string) error {
	st := newSummaryTable(run)
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(w, "run %s (%s), cells: requests/s · p99 · timeouts · errors\n\n", st.RunID, st.Outcome)
	fmt.Fprintf(w, "| endpoint | mode | %s |\n", strings.Join(st.Targets, " | "))
	fmt.Fprintf(w, "|---|---|%s\n", strings.Repeat("---|", len(st.Targets)))
	for _, r := range st.Rows {
		fmt.Fprintf(w, "| %s | %s |", r.Endpoint, r.Mode)
		for _, t := range st.Targets {
			c := r.Cells[t]
			switch {
			case c == nil:
				fmt.Fprint(w, " |")
			case interrupted(c.Error):
				fmt.Fprint(w, " interrupted |")
			case c.Error != "" && c.Sent == 0:
				fmt.Fprint(w, " failed |")
			default:
				p99 := math.NaN()
				if c.P99Seconds != nil {
					p99 = *c.P99Seconds
				}
				failed := ""
				if c.Error != "" {
					failed = " (failed)" // cut short or the target died: see the report
				}
				fmt.Fprintf(w, " %.0f · %s · %d · %d%s |", c.RequestsPerSecond, seconds(p99), c.Timeouts, c.Errors, failed)
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// writeDiff prints, per scenario present in either run, requests/s and
// p99 of both runs and their ratios B/A.
func writeDiff(w io.Writer, a, b *store.Run) error {
	index := func(r *store.Run) map[string]*store.Scenario {
		m := map[string]*store.Scenario{}
		for i := range r.Scenarios {
			m[r.Scenarios[i].Name] = &r.Scenarios[i]
		}
		return m
	}
	ma, mb := index(a), index(b)
	var names []string
	for i := range a.Scenarios {
		names = append(names, a.Scenarios[i].Name)
	}
	for i := range b.Scenarios {
		if ma[b.Scenarios[i].Name] == nil {
			names = append(names, b.Scenarios[i].Name)
		}
	}
	fmt.Fprintf(w, "A = run %s, B = run %s; ratios are B/A\n\n", a.ID, b.ID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\treq/s A\treq/s B\tratio\tp99 A\tp99 B\tratio\ttimeouts A\ttimeouts B\t")
	for _, n := range names {
		sa, sb := ma[n], mb[n]
		rpsA, rpsB, p99A, p99B := math.NaN(), math.NaN(), math.NaN(), math.NaN()
		toA, toB := "-", "-"
		if sa != nil {
			rpsA, p99A, toA = sa.RequestsPerSecond, p99(sa), strconv.FormatUint(sa.Errors[engine.KindTimeout], 10)
		}
		if sb != nil {
			rpsB, p99B, toB = sb.RequestsPerSecond, p99(sb), strconv.FormatUint(sb.Errors[engine.KindTimeout], 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", n, num(rpsA), num(rpsB), ratio(rpsB, rpsA),
			seconds(p99A), seconds(p99B), ratio(p99B, p99A), toA, toB)
	}
	return tw.Flush()
}

// p99 returns s's 99th percentile latency in seconds, NaN (printed "-")
// when no request completed: without a response there is no latency, and
// the stored 0 is no measurement.
func p99(s *store.Scenario) float64 {
	return s.P99()
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func ratio(b, a float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || a == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", b/a)
}

// seconds prints a latency in the unit wrk would use.
func seconds(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 1:
		return fmt.Sprintf("%.2fs", v)
	case v >= 1e-3:
		return fmt.Sprintf("%.2fms", v*1e3)
	}
	return fmt.Sprintf("%.0fus", v*1e6)
}

// stillRunning explains a run whose outcome is running.
func stillRunning(r *store.Run) string {
	if r.Outcome != store.OutcomeRunning {
		return ""
	}
	return ": in progress, or left running by a benchd that was killed, until the next start marks it aborted"
}

// runAlerts is what `benchd report --alerts` shows, and its JSON form.
type runAlerts struct {
	RunID string    `json:"run_id"`
	Since time.Time `json:"since"`
	// Until is the next run's start; null for the newest run (until now).
	Until  *time.Time    `json:"until"`
	Alerts []store.Alert `json:"alerts"`
}

// maxAlertsListed bounds the alerts --alerts lists (the newest ones).
const maxAlertsListed = 1000

// writeRunAlerts lists the alerts received from run's start to the start
// of the run after it (or now), oldest first, as text or JSON.
func writeRunAlerts(ctx context.Context, w io.Writer, st *store.SQLite, run *store.Run, format string) error {
	until, err := nextRunStart(ctx, st, run)
	if err != nil {
		return err
	}
	list, err := st.Alerts(ctx, store.AlertQuery{Since: run.Start, Until: until, Limit: maxAlertsListed})
	if err != nil {
		return err
	}
	slices.Reverse(list)
	out := runAlerts{RunID: run.ID, Since: run.Start, Alerts: list}
	if !until.IsZero() {
		out.Until = &until
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "markdown":
		return usageError{errors.New("--alerts --format markdown: use text or json")}
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
func nextRunStart(ctx context.Context, st *store.SQLite, run *store.Run) (time.Time, error) {
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

// interrupted tells whether a stored scenario's error text says it was cut
// short by its run's stop (the scheduler's [scheduler.ErrInterrupted]).
func interrupted(errText string) bool {
	return strings.HasPrefix(errText, scheduler.ErrInterrupted.Error()+": ")
}
