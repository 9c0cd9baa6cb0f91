// Command benchd runs HTTP load-test matrices on a schedule and exports what
// it measured as Prometheus metrics.
//
//	benchd [serve]            the daemon: runs the matrix at start-up and on its cron schedule
//	benchd matrix             one run over the matrix, then exit
//	benchd bench URL          one load test, printed like wrk
//	benchd config check       validate a configuration file
//	benchd upstream           serve the reference target's upstream payload
//	benchd dashboards         write the Grafana dashboards as JSON
//	benchd baseline accept S  accept scenario S's current results as its new baseline
//	benchd report             render a stored run, a summary table or the diff of two runs
//	benchd runs               list the stored runs
//
// Without --config.file, benchd uses its embedded default matrix (the Django
// workers matrix) and unpacks the reference Django project under
// --storage.path.
package main

import (
	"context"
	_ "embed" // the usage template
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/benchd/benchd/api"
	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/deploy"
	"github.com/benchd/benchd/grafana"
	"github.com/benchd/benchd/internal/logging"
	"github.com/benchd/benchd/internal/proc"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags holds the parsed command line.
type flags struct {
	configFile  string
	storagePath string
	retention   time.Duration
	retainBytes int64
	log         promslog.Config
	web         *web.FlagConfig

	matrix   matrixFlags
	bench    benchFlags
	upstream upstreamFlags

	dashboardsOut string
	report        reportFlags
	runs          runsFlags
	baseline      baselineFlags
	marker        string
	shard         shardFlags
}

// run parses args, runs the chosen subcommand and returns the exit code:
// 0 on success, 1 on an error (or, for matrix, a failed scenario), 2 on a
// bad command line, 3 on a failed CI gate ([exitGateFailed]).
func run(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			cancel(pipeline.SignalCause{Signal: s})
		case <-ctx.Done():
		}
	}()
	return runWith(ctx, args, stdout, stderr)
}

// interruptedCode is the exit code of a subcommand stopped by ctx: 128 plus
// the signal's number, as a shell reports it (130 for Ctrl-C); 130 when ctx
// ended otherwise.
func interruptedCode(ctx context.Context) int {
	if c, ok := errors.AsType[pipeline.SignalCause](context.Cause(ctx)); ok {
		if n, ok := c.Signal.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	return 130
}

// runWith is run with a context: when ctx is done, the subcommand stops
// (the daemon shuts down, a matrix run or load test is cut short).
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f flags
	app := kingpin.New("benchd", "Always-on HTTP performance regression monitoring: runs a matrix of load tests on a schedule and exports the results to Prometheus.")
	app.Writer(stdout)
	app.ErrorWriter(stderr)
	// --help and --version print and "terminate": record it rather than
	// exit, so that run can return, and so that parsing does not go on
	// into the default command (the daemon).
	terminated := false
	app.Terminate(func(int) { terminated = true })
	app.UsageWriter(stdout)
	app.Version(version.Print("benchd"))
	app.HelpFlag.Short('h')
	app.Flag("config.file", "Configuration file (YAML). Empty: the embedded default matrix.").
		PlaceHolder("FILE").StringVar(&f.configFile)
	app.Flag("storage.path", "Directory for benchd's state: the unpacked reference Django project and run history.").
		Default("data/").StringVar(&f.storagePath)
	f.log = promslog.Config{}
	promslogflag.AddFlags(app, &f.log)
	var logLevelSet bool
	app.GetFlag("log.level").IsSetByUser(&logLevelSet)
	// The flags every subcommand takes are the app's; the others are their
	// subcommand's, so that `benchd bench --help` lists bench's first. The
	// daemon's (web, retention, marker) are serve's: `benchd --web.… ADDR`
	// still works, as kingpin hands a flag unknown to the app to the
	// default command.
	app.UsageTemplate(usageTemplate)

	serveCmd := app.Command("serve", "Run the daemon: the matrix at start-up and on its schedule, results on /metrics.").Default()
	f.web = kingpinflag.AddFlags(serveCmd, api.DefaultListenAddress)
	addRunFlags(serveCmd, &f)
	matrixCmd := app.Command("matrix", "Run the matrix once, print the results, exit.")
	addMatrixFlags(matrixCmd, &f.matrix)
	addRunFlags(matrixCmd, &f)
	benchCmd := app.Command("bench", "Run one load test against URL and print it like wrk.")
	addBenchFlags(benchCmd, &f.bench)
	upstreamCmd := app.Command("upstream", "Serve a fixed ~24 KiB JSON payload: the local upstream of the reference target's requests/httpx/aiohttp endpoints.")
	addUpstreamFlags(upstreamCmd, &f.upstream)
	reportCmd := app.Command("report", "Render a stored run: wrk blocks, the seed's Markdown, JSON, a summary table, or the diff of two runs.")
	addReportFlags(reportCmd, &f.report)
	runsCmd := app.Command("runs", "List the stored runs, newest first, with the references (last, last~1 …) that report --run and --diff take; no daemon needed.")
	addRunsFlags(runsCmd, &f.runs)
	baselineCmd := app.Command("baseline", "Regression baselines.")
	acceptCmd := baselineCmd.Command("accept", "Accept a scenario's current results as its new baseline (an intended change).")
	addBaselineFlags(acceptCmd, &f.baseline)
	dashboardsCmd := app.Command("dashboards", "Write the Grafana dashboards (JSON) into a directory.")
	dashboardsCmd.Flag("out", "Directory to write into.").Default("grafana/dashboards").StringVar(&f.dashboardsOut)
	configCmd := app.Command("config", "Configuration tools.")
	checkCmd := configCmd.Command("check", "Validate the configuration: print every problem with its YAML path; exit 1 if invalid.")
	addRetentionFlag(checkCmd, &f, "The --storage.retention that serve and matrix will run with, e.g. 90d (0 keeps the history forever): a schedule whose runs are further apart is a problem, as they refuse it.")

	cmd, err := app.Parse(args)
	if terminated { // --help or --version printed; a missing argument does not matter then
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "benchd: %v (see benchd --help)\n", err)
		return 2
	}
	if terminated || cmd == "" { // --help or --version was handled
		return 0
	}
	// The daemons (serve, upstream) log; a CLI subcommand prints its
	// output and its error, and logs only warnings unless --log.level is
	// given.
	daemon := cmd == serveCmd.FullCommand() || cmd == upstreamCmd.FullCommand()
	if !daemon && !logLevelSet {
		_ = f.log.Level.Set("warn")
	}
	f.log.Writer = stderr
	logger := logging.New(&f.log)

	switch cmd {
	case serveCmd.FullCommand():
		err = serve(ctx, &f, logger)
	case matrixCmd.FullCommand():
		err = runMatrix(ctx, &f, stdout, stderr, logger)
	case benchCmd.FullCommand():
		err = runBench(ctx, &f.bench, stdout)
	case upstreamCmd.FullCommand():
		err = runUpstream(ctx, &f.upstream, logger)
	case reportCmd.FullCommand():
		err = runReport(ctx, &f, stdout, stderr)
	case runsCmd.FullCommand():
		err = runRuns(ctx, &f, stdout)
	case acceptCmd.FullCommand():
		err = runBaselineAccept(ctx, &f, stdout, logger)
	case dashboardsCmd.FullCommand():
		err = grafana.Write(f.dashboardsOut)
	case checkCmd.FullCommand():
		err = checkConfig(&f, stdout)
	}
	if err == nil {
		return 0
	}
	if _, ok := errors.AsType[usageError](err); ok {
		fmt.Fprintf(stderr, "benchd: %v\n", err)
		return 2
	}
	if daemon {
		logger.Error("benchd failed", "err", err)
		return 1
	}
	if ctx.Err() != nil { // Ctrl-C or SIGTERM: what follows from it is no news
		fmt.Fprintln(stderr, "benchd: interrupted")
		return interruptedCode(ctx)
	}
	if ge, ok := errors.AsType[gateError](err); ok {
		for _, fail := range ge.failed {
			fmt.Fprintf(stderr, "benchd: FAILED %s\n", fail)
		}
		fmt.Fprintf(stderr, "benchd: %s\n", ge.what)
		return exitGateFailed
	}
	if _, ok := errors.AsType[reportedError](err); !ok {
		fmt.Fprintf(stderr, "benchd: %v\n", err)
	}
	return 1
}

// exitGateFailed is the exit code of a CI gate that failed: a load test or
// run that completed but breached a --threshold, a configured threshold
// or a --fail-on change (docs/reports.md, "Exit codes"). An error (1) or
// a bad command line (2) takes precedence.
const exitGateFailed = 3

// gateError is a CI gate that failed: what failed, one line each, and a
// summary (what was checked).
type gateError struct {
	failed []string
	what   string
}

func (e gateError) Error() string { return e.what + ": " + strings.Join(e.failed, "; ") }

// addRunFlags adds the flags of the subcommands that run the matrix and
// record it (serve, matrix) to c.
func addRunFlags(c *kingpin.CmdClause, f *flags) {
	addRetentionFlag(c, f, "How long run history is kept, e.g. 90d, 2w, 1y (365d); 0 keeps it forever.")
	c.Flag("storage.retention.size", "Most space the run history may use, e.g. 512MB (units of 1024): the oldest runs are deleted after each run until it fits; 0 means no bound. With --storage.retention, whichever deletes more wins.").
		Default("0").SetValue(sizeFlag{"storage.retention.size", &f.retainBytes})
	c.Flag("run.marker", "Deploy marker recorded with every run (e.g. the target's version), so that a shift can be tied to a deploy.").
		Envar("BENCHD_RUN_MARKER").StringVar(&f.marker)
	addShardFlags(c, &f.shard)
}

// addRetentionFlag adds --storage.retention to c, with help.
func addRetentionFlag(c *kingpin.CmdClause, f *flags, help string) {
	c.Flag("storage.retention", help).
		Default(pipeline.FormatRetention(pipeline.DefaultRetention)).SetValue(retentionFlag{&f.retention})
}

// sizeFlag is a kingpin value of a size in bytes, parsed by
// github.com/alecthomas/units (as Prometheus' --storage.tsdb.retention.size:
// 512MB, 1GB, units of 1024), whose errors name the flag and the fix.
type sizeFlag struct {
	name string
	v    *int64
}

func (f sizeFlag) Set(s string) error {
	n, err := pipeline.ParseSize(s)
	if err != nil {
		return fmt.Errorf("--%s %q: %w", f.name, s, err)
	}
	*f.v = n
	return nil
}

func (f sizeFlag) String() string { return units.Base2Bytes(*f.v).String() }

// retentionFlag is --storage.retention, parsed by pipeline.ParseRetention.
type retentionFlag struct{ v *time.Duration }

func (f retentionFlag) Set(s string) (err error) {
	if *f.v, err = pipeline.ParseRetention(s); err != nil {
		return fmt.Errorf("--storage.retention %q: %w", s, err)
	}
	return nil
}

func (f retentionFlag) String() string { return pipeline.FormatRetention(*f.v) }

// usageTemplate is kingpin's default usage template, except that a
// subcommand's help lists its own flags before the global ones, and the
// app's help adds the flags of the default command (serve).
//
//go:embed usage.tmpl
var usageTemplate string

// usageError marks an error in the command line's values.
type usageError struct{ error }

// reportedError marks an error the subcommand has already printed: benchd
// exits 1 without printing it again.
type reportedError struct{ error }

// loadConfig loads --config.file, or the embedded default matrix, whose
// paths resolve under --storage.path. When the configuration names
// {venv}, it becomes <storage.path>/venv. With prepare, loadConfig also
// makes what a run needs there before any server starts: the default
// matrix's reference Django project and write token, and the venv
// (deploy.EnsureVenv: once per requirements change, about a minute).
// Without, it writes nothing (a dry run, baseline accept).
func loadConfig(ctx context.Context, f *flags, logger *slog.Logger, prepare bool) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if f.configFile != "" {
		cfg, err = config.LoadWith(f.configFile, scheduler.CheckPlans)
		if err != nil {
			return nil, fmt.Errorf("load --config.file %s: %w", f.configFile, err)
		}
	} else {
		if strings.TrimSpace(f.storagePath) == "" {
			return nil, usageError{errors.New("--storage.path is empty: the embedded default matrix unpacks its Django project there (give a directory, such as data/)")}
		}
		cfg, err = config.DefaultWith(scheduler.CheckPlans)
		if err != nil {
			return nil, fmt.Errorf("load the embedded default config: %w", err)
		}
		dir, err := filepath.Abs(f.storagePath)
		if err != nil {
			return nil, fmt.Errorf("--storage.path %s: %w", f.storagePath, err)
		}
		if prepare {
			if err := deploy.PrepareDefault(cfg, dir, logger); err != nil {
				return nil, err
			}
			if cfg.API.TokenFile != "" {
				if err := deploy.MakeToken(cfg.ResolvePath(cfg.API.TokenFile), logger); err != nil {
					return nil, fmt.Errorf("the embedded default matrix's api.token_file under --storage.path %s: %w", f.storagePath, err)
				}
			}
		} else {
			deploy.PlanDefault(cfg, dir)
		}
	}
	if cfg.UsesVenv() {
		if strings.TrimSpace(f.storagePath) == "" {
			return nil, usageError{fmt.Errorf("--storage.path is empty: the configuration's %s is the Python venv benchd makes there (give a directory, such as data/)", config.PlaceholderVenv)}
		}
		dir, err := filepath.Abs(f.storagePath)
		if err != nil {
			return nil, fmt.Errorf("--storage.path %s: %w", f.storagePath, err)
		}
		if err := deploy.PrepareVenv(ctx, cfg, filepath.Join(dir, "venv"), prepare, logger); err != nil {
			return nil, err
		}
	}
	for _, w := range cfg.Warnings() {
		logger.Warn("config warning", "warning", w)
	}
	// Pinning outlives the config: a reload can move benchd to other CPUs,
	// but only a restart undoes it.
	if err := proc.PinSelf(cfg.CPUs); err != nil {
		return nil, fmt.Errorf("cpus: %w", err)
	}
	if cfg.CPUs != "" {
		logger.Info("benchd pinned to CPUs", "cpus", cfg.CPUs)
	}
	return cfg, nil
}

func checkConfig(f *flags, stdout io.Writer) error {
	// The engine's own check of every scenario, as each run makes it, and
	// the retention's, as serve and matrix make it at start.
	check := func(c *config.Config) []error {
		errs := scheduler.CheckPlans(c)
		if err := c.CheckRetention(f.retention); err != nil {
			errs = append(errs, err)
		}
		return errs
	}
	var cfg *config.Config
	var err error
	name := f.configFile
	if name == "" {
		name = "embedded default"
		cfg, err = config.DefaultWith(check)
		if err == nil && strings.TrimSpace(f.storagePath) != "" {
			// What serve makes under --storage.path at start (the project,
			// the token) is not missing: plan it, as a dry run does.
			dir, aerr := filepath.Abs(f.storagePath)
			if aerr != nil {
				return fmt.Errorf("--storage.path %s: %w", f.storagePath, aerr)
			}
			deploy.PlanDefault(cfg, dir)
		}
	} else {
		cfg, err = config.LoadWith(f.configFile, check)
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s: INVALID\n", name)
		for _, line := range config.Problems(err) {
			fmt.Fprintf(stdout, "  - %s\n", line)
		}
		return reportedError{fmt.Errorf("config check: %s is invalid", name)}
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stdout, "  warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "%s: OK, %s, %s, %s\n", name, report.Plural(len(cfg.Targets), "target"),
		report.Plural(len(cfg.Endpoints), "endpoint"), report.Plural(len(cfg.Scenarios()), "scenario"))
	return nil
}

// openStore opens the run history under --storage.path, creating the
// directory, waiting up to wait while another benchd holds it
// ([store.OpenWait]). The caller must close it.
func openStore(ctx context.Context, f *flags, logger *slog.Logger, wait time.Duration) (*store.SQLite, error) {
	if strings.TrimSpace(f.storagePath) == "" {
		return nil, usageError{errors.New("--storage.path is empty: the run history lives there (give a directory, such as data/)")}
	}
	if err := os.MkdirAll(f.storagePath, 0o755); err != nil {
		return nil, fmt.Errorf("--storage.path %s: %w", f.storagePath, err)
	}
	st, err := store.OpenWait(ctx, f.storagePath, store.Options{Logger: logger}, wait)
	if err != nil {
		return nil, fmt.Errorf("open the run history (--storage.path %s): %w", f.storagePath, err)
	}
	return st, nil
}
