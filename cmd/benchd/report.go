package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/store"
)

// reportFlags are the flags of `benchd report`.
type reportFlags struct {
	run     string
	format  string
	summary bool
	diff    []string
}

func addReportFlags(c *kingpin.CmdClause, f *reportFlags) {
	c.Flag("run", "Run ID to render (see GET /api/v1/runs); default the newest run.").StringVar(&f.run)
	c.Flag("format", "text (a wrk block per scenario), markdown (the seed document's layout) or json.").
		Default("text").EnumVar(&f.format, "text", "markdown", "json")
	c.Flag("summary", "Print the comparison table instead: endpoint × server (sync and async) with requests/s, p99, timeouts and errors.").BoolVar(&f.summary)
	c.Flag("diff", "Compare two runs scenario by scenario, with ratios: --diff RUN_A --diff RUN_B.").PlaceHolder("RUN").StringsVar(&f.diff)
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
			runs, err := st.Runs(ctx, store.RunQuery{Limit: 1})
			if err != nil {
				return nil, err
			}
			if len(runs) == 0 {
				return nil, fmt.Errorf("no run in the history under %s", f.storagePath)
			}
			id = runs[0].ID
		}
		run, err := st.Run(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("run %q: %w", id, err)
		}
		return run, nil
	}
	switch {
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
		return writeSummary(stdout, run)
	}
	run, err := load(rf.run)
	if err != nil {
		return err
	}
	titles := reportTitles(f)
	entries := make([]report.Entry, len(run.Scenarios))
	for i := range run.Scenarios {
		entries[i] = storedEntry(&run.Scenarios[i])
		entries[i].TargetTitle = titles[entries[i].Target]
		entries[i].EndpointTitle = titles["/"+entries[i].Endpoint]
	}
	switch rf.format {
	case "markdown":
		return report.WriteMarkdown(stdout, entries)
	case "json":
		return report.WriteEntriesJSON(stdout, entries)
	}
	for _, e := range entries {
		fmt.Fprintf(stdout, "== %s ==\n", e.Scenario)
		if e.Result != nil {
			if err := report.WriteWrk(stdout, e.Result, report.WrkOptions{Latency: true, RepeatRequestsPerSecond: e.RepeatRequestsPerSecond}); err != nil {
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

// reportTitles returns the section titles of the current configuration
// (--config.file, or the embedded default) for the Markdown report: target
// names map to their titles, "/"+endpoint names to theirs. A configuration
// that does not load gives none, and the report uses the names.
func reportTitles(f *flags) map[string]string {
	cfg, err := config.Default()
	if f.configFile != "" {
		cfg, err = config.Load(f.configFile)
	}
	titles := map[string]string{}
	if err != nil {
		return titles
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
	return titles
}

// storedEntry rebuilds a report entry from a stored scenario: the history
// keeps the latency histogram and the per-thread rate samples, so the wrk
// block of a stored run reads as it did live.
func storedEntry(s *store.Scenario) report.Entry {
	e := report.Entry{
		Scenario: s.Name, Target: s.Target, Mode: s.Mode, Endpoint: s.Endpoint, Error: s.Error,
		TargetCPUSeconds: s.TargetCPUSeconds, TargetPeakRSSBytes: s.TargetPeakRSSBytes,
		ClientCPUSeconds: s.ClientCPUSeconds, ClientPeakRSSBytes: s.ClientPeakRSSBytes,
	}
	for _, r := range s.Repeats {
		e.RepeatRequestsPerSecond = append(e.RepeatRequestsPerSecond, r.RequestsPerSecond)
	}
	if s.ConnectionsEstablished == 0 && s.Sent == 0 {
		return e
	}
	elapsed := time.Duration(s.DurationSeconds * float64(time.Second))
	r := &engine.Result{
		Plan: engine.Plan{URL: s.URL, Connections: s.Connections, Threads: s.Threads,
			Duration: elapsed.Round(time.Second), Timeout: time.Duration(s.TimeoutSeconds * float64(time.Second))},
		Start: s.Start, End: s.Start.Add(elapsed), Elapsed: elapsed,
		Sent: s.Sent, Responses: s.Responses, Errors: s.Errors, InFlight: s.InFlight, BytesRead: s.BytesRead,
		ConnectionsEstablished: s.ConnectionsEstablished,
	}
	if h, err := store.DecodeHistogram(s.Histogram); err == nil {
		r.Latency = h
	}
	if h, err := store.DecodeHistogram(s.RateHistogram); err == nil {
		r.RequestsPerSecondSamples = h
	}
	e.Result = r
	return e
}

// writeSummary prints the table users compare servers with: one row per
// endpoint and mode, one column per target, each cell requests/s, p99,
// timeouts and errors of that scenario.
func writeSummary(w io.Writer, run *store.Run) error {
	var targets []string
	seen := map[string]bool{}
	type rowKey struct{ endpoint, mode string }
	var rows []rowKey
	seenRow := map[rowKey]bool{}
	cells := map[rowKey]map[string]*store.Scenario{}
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		if !seen[s.Target] {
			seen[s.Target] = true
			targets = append(targets, s.Target)
		}
		k := rowKey{s.Endpoint, s.Mode}
		if !seenRow[k] {
			seenRow[k] = true
			rows = append(rows, k)
			cells[k] = map[string]*store.Scenario{}
		}
		cells[k][s.Target] = s
	}
	fmt.Fprintf(w, "run %s (%s), cells: requests/s · p99 · timeouts · errors\n\n", run.ID, store.ShownOutcome(run.Outcome))
	fmt.Fprintf(w, "| endpoint | mode | %s |\n", strings.Join(targets, " | "))
	fmt.Fprintf(w, "|---|---|%s\n", strings.Repeat("---|", len(targets)))
	for _, k := range rows {
		fmt.Fprintf(w, "| %s | %s |", k.endpoint, k.mode)
		for _, t := range targets {
			s := cells[k][t]
			switch {
			case s == nil:
				fmt.Fprint(w, " |")
			case interrupted(s):
				fmt.Fprint(w, " interrupted |")
			case s.Error != "" && s.Sent == 0:
				fmt.Fprint(w, " failed |")
			default:
				errs := uint64(0)
				for _, n := range s.Errors {
					errs += n
				}
				errs += s.Responses[store.Class4xx] + s.Responses[store.Class5xx]
				p99 := math.NaN() // no response, no latency
				if s.Requests > 0 {
					p99 = s.P99
				}
				failed := ""
				if s.Error != "" {
					failed = " (failed)" // cut short or the target died: see the report
				}
				fmt.Fprintf(w, " %.0f · %s · %d · %d%s |", s.RequestsPerSecond, seconds(p99), s.Errors[store.ErrorTimeout], errs, failed)
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
			rpsA, p99A, toA = sa.RequestsPerSecond, sa.P99, strconv.FormatUint(sa.Errors[store.ErrorTimeout], 10)
		}
		if sb != nil {
			rpsB, p99B, toB = sb.RequestsPerSecond, sb.P99, strconv.FormatUint(sb.Errors[store.ErrorTimeout], 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", n, num(rpsA), num(rpsB), ratio(rpsB, rpsA),
			seconds(p99A), seconds(p99B), ratio(p99B, p99A), toA, toB)
	}
	return tw.Flush()
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
