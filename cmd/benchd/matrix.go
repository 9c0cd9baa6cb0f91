package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/internal/proc"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
)

// matrixFlags are the flags of `benchd matrix`.
type matrixFlags struct {
	only   string
	format string
	dryRun bool
}

func addMatrixFlags(c *kingpin.CmdClause, f *matrixFlags) {
	c.Flag("only", "Run only the scenarios whose name target/mode/endpoint matches this regular expression, e.g. 'gunicorn-gevent/sync/json$'.").
		PlaceHolder("REGEX").StringVar(&f.only)
	c.Flag("format", "Output: text (a wrk block per scenario as it ends), markdown (the seed document's layout, at the end) or json.").
		Default("text").EnumVar(&f.format, "text", "markdown", "json")
	c.Flag("dry-run", "Print the plan (scenarios, their settings, the estimated duration) and exit without applying load.").BoolVar(&f.dryRun)
}

// runMatrix runs the matrix once and prints it. It returns an error when
// the run was cut short or a scenario failed (target not started, target
// died, engine error); timeouts and error responses are results, not
// failures.
func runMatrix(ctx context.Context, f *flags, stdout, stderr io.Writer, logger *slog.Logger) error {
	var only *regexp.Regexp
	if f.matrix.only != "" {
		re, err := regexp.Compile(f.matrix.only)
		if err != nil {
			return usageError{fmt.Errorf("--only %q: %w", f.matrix.only, err)}
		}
		only = re
	}
	cfg, err := loadConfig(ctx, f, logger, !f.matrix.dryRun)
	if err != nil {
		return err
	}
	if err := checkRetention(f.retention, cfg); err != nil {
		return err
	}
	tracing, err := exporters.NewTracing(ctx, version.Version, nil)
	if err != nil {
		return err
	}
	defer shutdownTracing(tracing, logger)
	progress := &matrixObserver{format: f.matrix.format, out: stdout, progress: stderr}
	// The run goes into the history too, unless a daemon holds it.
	var hist *pipeline.History
	if st, err := openStore(ctx, f, logger, matrixStoreWait); err != nil {
		logger.Warn("this run is not recorded in the run history", "err", err)
		progress.unrecorded = true
	} else {
		defer st.Close()
		// Under the storage lock, as in serve.
		if err := proc.Track(f.storagePath, logger.With("component", "proc")); err != nil {
			logger.Warn("processes of this run are not recorded for clean-up after a crash", "err", err)
		}
		hist = pipeline.NewHistory(pipeline.HistoryOptions{Store: st, Logger: logger.With("component", "history"),
			Retention: f.retention, MaxBytes: f.retainBytes, Version: version.Version, Marker: f.marker,
			ConfigHash: func() string { return configHash(cfg) }})
	}
	pipe := pipeline.New(pipeline.Options{Tracer: exporters.NewRunTracer(tracing.Provider()), History: hist,
		Extra: []scheduler.Observer{progress}})
	schedLog := logger.With("component", "scheduler")
	if f.log.Level.Level() > slog.LevelDebug {
		schedLog = slog.New(progressReported{schedLog.Handler()})
	}
	sched, err := scheduler.New(cfg, scheduler.Options{
		Observer: pipe,
		Recorder: pipe,
		Logger:   schedLog,
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	plan := sched.Scenarios(only)
	if len(plan) == 0 {
		return usageError{fmt.Errorf("--only %q matches no scenario", f.matrix.only)}
	}
	if f.matrix.dryRun {
		return writePlan(stdout, plan)
	}
	rep, err := sched.RunOnce(ctx, scheduler.TriggerMatrix, only)
	if err != nil {
		return err
	}
	records := make([]result.Scenario, 0, len(rep.Results))
	for _, r := range rep.Results {
		records = append(records, *r.Record)
	}
	switch f.matrix.format {
	case "markdown":
		err = report.WriteMarkdown(stdout, cfg.Title, entries(cfg, records))
	case "json":
		err = report.WriteScenariosJSON(stdout, records)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if hist != nil {
		if err := hist.Close(); err != nil {
			return fmt.Errorf("run %s: %w", rep.ID, err)
		}
	}
	if rep.Err != nil {
		return fmt.Errorf("run %s interrupted: %w", rep.ID, rep.Err)
	}
	if n := rep.Failed(); n > 0 {
		return fmt.Errorf("run %s: %d of %d scenarios failed", rep.ID, n, len(rep.Results))
	}
	return nil
}

// writePlan prints the scenarios of a run with their load settings and the
// least time the run takes: warm-up, duration and one timeout of grace per
// repeat of each scenario (starting targets and services comes on top).
func writePlan(w io.Writer, plan []config.Scenario) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tconnections\tthreads\twarmup\tduration\ttimeout\trate\trepeats\turl")
	var total time.Duration
	for _, sc := range plan {
		l := sc.Load
		rate := "closed loop"
		if l.Rate > 0 {
			rate = fmt.Sprintf("%g/s", l.Rate)
		}
		threads := "GOMAXPROCS"
		if l.Threads > 0 {
			threads = strconv.Itoa(l.Threads)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", sc.Name, l.Connections, threads, l.Warmup, l.Duration, l.Timeout, rate, l.Repeats, sc.URL)
		total += time.Duration(l.Repeats) * (l.Warmup + l.Duration + l.Timeout)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s, at least %s\n", plural(len(plan), "scenario"), total)
	return err
}

// matrixObserver prints progress on stderr and, in text format, each
// scenario's wrk block on stdout as it ends.
type matrixObserver struct {
	scheduler.NopObserver
	format   string
	out      io.Writer
	progress io.Writer
	start    time.Time
	// unrecorded says the run is not in the history (another benchd holds
	// it): its ID is not reserved there and may be another run's too.
	unrecorded bool
	// done counts the scenarios finished so far: with interleaved repeats
	// they do not finish in matrix order (ScenarioResult.Index).
	done int
}

func (o *matrixObserver) RunStarted(info *scheduler.RunInfo) {
	o.start = info.Start
	o.done = 0
	note := ""
	if o.unrecorded {
		note = " (not recorded)"
	}
	fmt.Fprintf(o.progress, "run %s%s: %s\n", info.ID, note, plural(len(info.Scenarios), "scenario"))
}

func (o *matrixObserver) ScenarioFinished(r *scheduler.ScenarioResult) {
	status := "ok"
	switch {
	case errors.Is(r.Err, scheduler.ErrInterrupted):
		status = "interrupted"
	case r.Err != nil:
		status = "FAILED: " + r.Err.Error()
	}
	elapsed := time.Since(o.start).Round(time.Second)
	eta := time.Duration(0)
	o.done++
	if o.done < r.Total {
		eta = (elapsed / time.Duration(o.done) * time.Duration(r.Total-o.done)).Round(time.Second)
	}
	fmt.Fprintf(o.progress, "[%d/%d] %s %s (elapsed %s, about %s left)\n", o.done, r.Total, r.Scenario.Name, status, elapsed, eta)
	if o.format != "text" {
		return
	}
	fmt.Fprintf(o.out, "== %s ==\n", r.Scenario.Name)
	if r.Record.Ran() {
		_ = report.WriteWrk(o.out, r.Record, report.WrkOptions{})
	}
	switch {
	case errors.Is(r.Err, scheduler.ErrInterrupted):
		fmt.Fprintln(o.out, "Interrupted")
	case r.Err != nil:
		fmt.Fprintf(o.out, "Failed: %v\n", r.Err)
	}
	fmt.Fprintln(o.out)
}

// plural is "1 scenario" or "N scenarios" (English plurals in -s only).
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// entries are the Markdown report's entries of records, titled by cfg
// (names where cfg has no title).
func entries(cfg *config.Config, records []result.Scenario) []report.Entry {
	out := make([]report.Entry, len(records))
	for i := range records {
		e := report.Entry{Scenario: &records[i]}
		if t := cfg.Target(e.Target); t != nil {
			e.TargetTitle = t.Title
		}
		if ep := cfg.Endpoint(e.Endpoint); ep != nil {
			e.EndpointTitle = ep.Title
		}
		out[i] = e
	}
	return out
}

// matrixStoreWait is how long `benchd matrix` and `benchd baseline accept`
// wait for a run history another benchd holds: long enough for a killed
// one to go away, short enough not to stall behind a running daemon.
const matrixStoreWait = 10 * time.Second

// progressReported leaves out the scheduler's error records: each is a
// scenario's failure (its target or a service did not start, the engine
// failed), which the progress line on stderr and the report on stdout
// already show. --log.level=debug keeps them.
type progressReported struct{ slog.Handler }

func (h progressReported) Enabled(ctx context.Context, l slog.Level) bool {
	return l < slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h progressReported) WithAttrs(as []slog.Attr) slog.Handler {
	return progressReported{h.Handler.WithAttrs(as)}
}

func (h progressReported) WithGroup(name string) slog.Handler {
	return progressReported{h.Handler.WithGroup(name)}
}
