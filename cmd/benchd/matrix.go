package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/internal/logging"
	"github.com/benchd/benchd/internal/proc"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
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
	// A dry run may print the whole assignment without knowing its index.
	if err := applyShard(cfg, &f.shard, f.matrix.dryRun); err != nil {
		return err
	}
	if err := cfg.CheckRetention(f.retention); err != nil {
		return usageError{err}
	}
	if f.matrix.dryRun {
		// Before the history opens: a dry run writes none (opening it
		// would migrate an older one).
		sched, err := scheduler.New(cfg, scheduler.Options{Logger: logger.With("component", "scheduler")})
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		plan := sched.Scenarios(only)
		if len(plan) == 0 {
			return usageError{fmt.Errorf("--only %q matches no scenario", f.matrix.only)}
		}
		if err := report.WritePlan(stdout, plan, cfg); err != nil {
			return err
		}
		if cfg.Shard().Count > 1 {
			return writeShardAssignment(stdout, cfg)
		}
		return nil
	}
	tracing, err := exporters.NewTracing(ctx, version.Version, nil)
	if err != nil {
		return err
	}
	defer shutdownTracing(tracing, logger)
	progress := &pipeline.Progress{Format: f.matrix.format, Out: stdout, Progress: stderr}
	// The run goes into the history too, unless a daemon holds it.
	var hist *pipeline.History
	if st, err := openStore(ctx, f, logger, matrixStoreWait); err != nil {
		if errors.Is(err, store.ErrDiskFull) && !f.matrix.dryRun { // as serve: a run it cannot record is lost
			return err
		}
		logger.Warn("this run is not recorded in the run history", "err", err)
		progress.Unrecorded = true
	} else {
		defer st.Close()
		// Under the storage lock, as in serve.
		if err := proc.Track(f.storagePath, logger.With("component", "proc")); err != nil {
			logger.Warn("processes of this run are not recorded for clean-up after a crash", "err", err)
		}
		hist = pipeline.NewHistory(pipeline.HistoryOptions{Store: st, Logger: logger.With("component", "history"),
			Retention: f.retention, MaxBytes: f.retainBytes, Version: version.Version, Marker: f.marker,
			ConfigHash: func() string { return pipeline.ConfigHash(cfg) }})
	}
	pipe := pipeline.New(pipeline.Options{Tracer: exporters.NewRunTracer(tracing.Provider()), History: hist,
		Extra: []scheduler.Observer{progress}})
	schedLog := logger.With("component", "scheduler")
	if f.log.Level.Level() > slog.LevelDebug {
		schedLog = slog.New(logging.WithoutErrors(schedLog.Handler()))
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
		err = report.WriteMarkdown(stdout, cfg.Title, report.Entries(records, report.Titles(cfg)))
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
	// The CI gate: every scenario's thresholds (the configuration's
	// thresholds key).
	thresholds := map[string]config.Thresholds{}
	for _, sc := range cfg.Scenarios() {
		thresholds[sc.Name] = sc.Thresholds
	}
	var breaches []pipeline.Breach
	n := 0
	for i := range records {
		ts := thresholds[records[i].Name]
		n += len(ts)
		breaches = append(breaches, pipeline.Breaches(&records[i], ts)...)
	}
	return gate(breaches, "run "+rep.ID, n)
}

// matrixStoreWait is how long `benchd matrix` and `benchd baseline accept`
// wait for a run history another benchd holds: long enough for a killed
// one to go away, short enough not to stall behind a running daemon.
const matrixStoreWait = 10 * time.Second
