package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/report"
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
	failOn     []string
}

// runsFlags are the flags of `benchd runs`.
type runsFlags struct {
	limit  int
	format string
}

func addRunsFlags(c *kingpin.CmdClause, f *runsFlags) {
	c.Flag("limit", "Most runs to list.").Default("20").IntVar(&f.limit)
	c.Flag("format", "text (a table) or json.").Default("text").EnumVar(&f.format, "text", "json")
}

// runRuns lists the runs of the history under --storage.path, opened
// read-only so that it works beside a running daemon.
func runRuns(ctx context.Context, f *flags, stdout io.Writer) error {
	if f.runs.limit < 1 {
		return usageError{fmt.Errorf("--limit %d: want at least 1", f.runs.limit)}
	}
	st, err := store.Open(ctx, f.storagePath, store.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open the run history (--storage.path %s): %w", f.storagePath, err)
	}
	defer st.Close()
	runs, err := st.Runs(ctx, store.RunQuery{Limit: f.runs.limit})
	if err != nil {
		return err
	}
	return report.WriteRuns(stdout, runs, f.runs.format)
}

func addReportFlags(c *kingpin.CmdClause, f *reportFlags) {
	c.Flag("run", "Run to render: an ID or last, last~1 … (benchd runs lists them); default the newest ended run with results, or the newest run (one in progress) when none has ended.").StringVar(&f.run)
	c.Flag("format", "text (a wrk block per scenario), markdown (the seed document's layout), json, or html (the matrix and run pages of the results UI as one file, docs/ui.md); --summary and --compare take json too (docs/reports.md).").
		Default("text").EnumVar(&f.format, "text", "markdown", "json", "html")
	c.Flag("summary", "Print the comparison table instead: endpoint × server (sync and async) with requests/s, p99, timeouts and errors.").BoolVar(&f.summary)
	c.Flag("diff", "Compare two runs scenario by scenario, with ratios: --diff RUN_A --diff RUN_B (IDs or last, last~1 …).").PlaceHolder("RUN").StringsVar(&f.diff)
	c.Flag("fail-on", "With --diff, CI gate: SIGNAL<CHANGE% or SIGNAL>CHANGE%, the change from A to B that fails, such as throughput<-5% or latency_p99>+10%; repeatable. Exit 3, naming each scenario, when one fails (docs/reports.md).").
		PlaceHolder("EXPR").StringsVar(&f.failOn)
	c.Flag("compare", "Compare the run (--run, default the newest) with a Markdown document of wrk outputs, such as one written by hand or by matrix --format markdown: requests/s with ratios, p99 and timeouts per scenario. \"seed\" (or \"\") is the seed document built into benchd.").
		PlaceHolder("FILE.md").IsSetByUser(&f.compareSet).StringVar(&f.compare)
	c.Flag("alerts", "List the alerts Alertmanager sent benchd's webhook while the run (--run, default the newest) was the newest: from its start to the next run's start, or now; text or json.").BoolVar(&f.alerts)
}

// runReport renders a stored run from the history under --storage.path,
// opened read-only so that it works beside a running daemon.
func runReport(ctx context.Context, f *flags, stdout, stderr io.Writer) error {
	rf := &f.report
	st, err := store.Open(ctx, f.storagePath, store.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open the run history (--storage.path %s): %w", f.storagePath, err)
	}
	defer st.Close()
	load := func(id string) (*store.Run, error) { return report.LoadRun(ctx, st, id, f.storagePath) }
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
		if rf.format == "markdown" {
			return usageError{errors.New("--alerts --format markdown: use text or json")}
		}
		return report.WriteRunAlerts(ctx, stdout, st, run, rf.format)
	}
	var changes []config.Change
	for _, expr := range rf.failOn {
		c, err := config.ParseChange(expr)
		if err != nil {
			return usageError{fmt.Errorf("--fail-on: %w", err)}
		}
		changes = append(changes, c)
	}
	if len(changes) > 0 && len(rf.diff) == 0 {
		return usageError{errors.New("--fail-on compares two runs: give them with --diff RUN_A --diff RUN_B (such as --diff last~1 --diff last)")}
	}
	title, titles := reportTitles(f)
	switch {
	case rf.compareSet:
		doc, name, err := report.ReadComparisonDocument(rf.compare)
		if err != nil {
			return err
		}
		run, err := load(rf.run)
		if err != nil {
			return err
		}
		noteTitles(stderr, f, run)
		return report.WriteComparison(stdout, report.CompareRun(run, doc, name, titles), rf.format)
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
		if err := report.WriteDiff(stdout, a, b); err != nil {
			return err
		}
		fails, compared := pipeline.ChangeFailures(a.Scenarios, b.Scenarios, changes)
		if len(fails) == 0 {
			return nil
		}
		failed := make([]string, len(fails))
		for i, fl := range fails {
			failed[i] = fl.String()
		}
		return gateError{failed: failed, what: fmt.Sprintf("diff %s → %s: %d of %s failed", a.ID, b.ID, len(fails), report.Plural(compared, "check"))}
	case rf.summary:
		run, err := load(rf.run)
		if err != nil {
			return err
		}
		if rf.format != "json" {
			prev, err := report.PreviousRun(ctx, st, run)
			if err != nil {
				return err
			}
			if line := report.SummaryScope(run, configScenarios(f), prev); line != "" {
				fmt.Fprintf(stdout, "%s\n\n", line)
			}
		}
		return report.WriteSummary(stdout, run, rf.format)
	}
	run, err := load(rf.run)
	if err != nil {
		return err
	}
	entries := report.Entries(run.Scenarios, titles)
	switch rf.format {
	case "markdown":
		noteTitles(stderr, f, run)
		return report.WriteMarkdown(stdout, title, entries)
	case "json":
		return report.WriteScenariosJSON(stdout, run.Scenarios)
	case "html":
		return ui.WriteReport(ctx, stdout, ui.Options{Store: st}, run.ID)
	}
	segments, err := st.Baselines(ctx, store.BaselineQuery{RunID: run.ID})
	if err != nil {
		return err
	}
	return report.WriteWrkBlocks(stdout, entries, segments)
}

// reportTitles returns the titles of the current configuration
// (--config.file, or the embedded default) for the Markdown report: the
// document's, and its sections' ([report.Titles]). A configuration that
// does not load gives config.DefaultTitle and no section titles, and the
// report uses the names.
func reportTitles(f *flags) (string, map[string]string) {
	cfg, err := config.Default()
	if f.configFile != "" {
		cfg, err = config.Load(f.configFile)
	}
	if err != nil {
		return config.DefaultTitle, map[string]string{}
	}
	return cfg.Title, report.Titles(cfg)
}

// configScenarios returns the scenario names of the current configuration
// (--config.file, or the embedded default); nil when it does not load.
func configScenarios(f *flags) []string {
	cfg, err := config.Default()
	if f.configFile != "" {
		cfg, err = config.Load(f.configFile)
	}
	if err != nil {
		return nil
	}
	var names []string
	for _, sc := range cfg.Scenarios() {
		names = append(names, sc.Name)
	}
	return names
}

// noteTitles says on stderr whose titles a Markdown report or --compare
// of run uses when no --config.file was given: the embedded default
// matrix's, unless run was a run of that matrix (its config_hash is
// [embeddedConfigHash]'s), whose titles they are.
func noteTitles(stderr io.Writer, f *flags, run *store.Run) {
	if f.configFile != "" || run.ConfigHash != "" && run.ConfigHash == embeddedConfigHash(f.storagePath) {
		return
	}
	// Titles are not stored with a run: say whose they are.
	fmt.Fprintln(stderr, "benchd: titles from the embedded default matrix; give the run's --config.file for its own")
}

// embeddedConfigHash returns the config_hash a run of the embedded
// default matrix under storagePath stores: that matrix as loadConfig
// prepares it there (its directory, its {venv}), without unpacking or
// making anything; "" when it does not load.
func embeddedConfigHash(storagePath string) string {
	cfg, err := config.Default()
	if err != nil || strings.TrimSpace(storagePath) == "" {
		return ""
	}
	dir, err := filepath.Abs(storagePath)
	if err != nil {
		return ""
	}
	cfg.Dir = dir
	if cfg.UsesVenv() {
		cfg.ExpandVenv(filepath.Join(dir, "venv"))
	}
	return pipeline.ConfigHash(cfg)
}
