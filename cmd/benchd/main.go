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
//
// Without --config.file, benchd uses its embedded default matrix (the Django
// workers matrix) and unpacks the reference Django project under
// --storage.path.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	baseline      baselineFlags
	marker        string
}

// run parses args, runs the chosen subcommand and returns the exit code:
// 0 on success, 1 on an error (or, for matrix, a failed scenario), 2 on a
// bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			cancel(signalCause{s})
		case <-ctx.Done():
		}
	}()
	return runWith(ctx, args, stdout, stderr)
}

// signalCause is the cause of run's context when a signal stopped benchd.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "stopped by " + c.sig.String() }

// interruptedCode is the exit code of a subcommand stopped by ctx: 128 plus
// the signal's number, as a shell reports it (130 for Ctrl-C); 130 when ctx
// ended otherwise.
func interruptedCode(ctx context.Context) int {
	if c, ok := errors.AsType[signalCause](context.Cause(ctx)); ok {
		if n, ok := c.sig.(syscall.Signal); ok {
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
	baselineCmd := app.Command("baseline", "Regression baselines.")
	acceptCmd := baselineCmd.Command("accept", "Accept a scenario's current results as its new baseline (an intended change).")
	addBaselineFlags(acceptCmd, &f.baseline)
	dashboardsCmd := app.Command("dashboards", "Write the Grafana dashboards (JSON) into a directory.")
	dashboardsCmd.Flag("out", "Directory to write into.").Default("grafana/dashboards").StringVar(&f.dashboardsOut)
	configCmd := app.Command("config", "Configuration tools.")
	checkCmd := configCmd.Command("check", "Validate the configuration: print every problem with its YAML path; exit 1 if invalid.")

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
		err = runReport(ctx, &f, stdout)
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
	if _, ok := errors.AsType[reportedError](err); !ok {
		fmt.Fprintf(stderr, "benchd: %v\n", err)
	}
	return 1
}

// addRunFlags adds the flags of the subcommands that run the matrix and
// record it (serve, matrix) to c.
func addRunFlags(c *kingpin.CmdClause, f *flags) {
	c.Flag("storage.retention", "How long run history is kept; 0 keeps it forever.").
		Default(pipeline.DefaultRetention.String()).DurationVar(&f.retention)
	c.Flag("storage.retention.size", "Most space the run history may use, e.g. 512MB (units of 1024): the oldest runs are deleted after each run until it fits; 0 means no bound. With --storage.retention, whichever deletes more wins.").
		Default("0").SetValue(sizeFlag{"storage.retention.size", &f.retainBytes})
	c.Flag("run.marker", "Deploy marker recorded with every run (e.g. the target's version), so that a shift can be tied to a deploy.").
		Envar("BENCHD_RUN_MARKER").StringVar(&f.marker)
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

// usageTemplate is kingpin's default usage template, except that a
// subcommand's help lists its own flags before the global ones, and the
// app's help adds the flags of the default command (serve).
const usageTemplate = `{{define "FormatCommand" -}}
{{if .FlagSummary}} {{.FlagSummary}}{{end -}}
{{range .Args}}{{if not .Hidden}} {{if not .Required}}[{{end}}{{if .PlaceHolder}}{{.PlaceHolder}}{{else}}<{{.Name}}>{{end}}{{if .Value|IsCumulative}}...{{end}}{{if not .Required}}]{{end}}{{end}}{{end -}}
{{end -}}

{{define "FormatCommands" -}}
{{range .FlattenedCommands -}}
{{if not .Hidden -}}
  {{.FullCommand}}{{if .Default}}*{{end}}{{template "FormatCommand" .}}
{{.Help|Wrap 4}}
{{end -}}
{{end -}}
{{end -}}

{{define "FormatUsage" -}}
{{template "FormatCommand" .}}{{if .Commands}} <command> [<args> ...]{{end}}
{{if .Help}}
{{.Help|Wrap 0 -}}
{{end -}}

{{end -}}

{{if .Context.SelectedCommand -}}
usage: {{.App.Name}} {{.Context.SelectedCommand}}{{template "FormatUsage" .Context.SelectedCommand}}
{{ else -}}
usage: {{.App.Name}}{{template "FormatUsage" .App}}
{{end}}
{{if .Context.SelectedCommand -}}
{{if .Context.SelectedCommand.Flags -}}
Flags:
{{.Context.SelectedCommand.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{end -}}
Global flags:
{{.App.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{else -}}
Flags:
{{.App.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{range .App.Commands}}{{if .Default -}}
Flags of {{.Name}}, the default command:
{{.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{end}}{{end -}}
{{end -}}
{{if .Context.Args -}}
Args:
{{.Context.Args|ArgsToTwoColumns|FormatTwoColumns}}
{{end -}}
{{if .Context.SelectedCommand -}}
{{if len .Context.SelectedCommand.Commands -}}
Subcommands:
{{template "FormatCommands" .Context.SelectedCommand}}
{{end -}}
{{else if .App.Commands -}}
Commands:
{{template "FormatCommands" .App}}
{{end -}}
`

// usageError marks an error in the command line's values.
type usageError struct{ error }

// reportedError marks an error the subcommand has already printed: benchd
// exits 1 without printing it again.
type reportedError struct{ error }

// loadConfig loads --config.file, or the embedded default matrix whose
// reference Django project it unpacks under --storage.path. When the
// configuration names {venv}, it becomes <storage.path>/venv; with
// makeVenv, loadConfig also makes that venv (deploy.EnsureVenv: once per
// requirements change, about a minute) before any server starts.
func loadConfig(ctx context.Context, f *flags, logger *slog.Logger, makeVenv bool) (*config.Config, error) {
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
		djangoDir := filepath.Join(dir, "django")
		if err := deploy.UnpackDjango(djangoDir); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil, fmt.Errorf("unpack the reference Django project into %s (--storage.path): disk full (%s): %w", djangoDir, dir, err)
			}
			return nil, fmt.Errorf("unpack the reference Django project into %s (--storage.path): %w", djangoDir, err)
		}
		cfg.Dir = dir
		logger.Info("using the embedded default matrix", "django_dir", djangoDir)
		if cfg.API.TokenFile != "" {
			if err := makeToken(cfg.ResolvePath(cfg.API.TokenFile), logger); err != nil {
				return nil, fmt.Errorf("the embedded default matrix's api.token_file under --storage.path %s: %w", f.storagePath, err)
			}
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
		venv := filepath.Join(dir, "venv")
		if makeVenv {
			if err := deploy.EnsureVenv(ctx, venv, logger); err != nil {
				return nil, fmt.Errorf("make the Python venv of %s in %s (--storage.path): %w", config.PlaceholderVenv, venv, err)
			}
		}
		cfg.ExpandVenv(venv)
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
	var cfg *config.Config
	var err error
	name := f.configFile
	if name == "" {
		name = "embedded default"
		cfg, err = config.DefaultWith(scheduler.CheckPlans)
	} else {
		// The engine's own check of every scenario, as each run makes it.
		cfg, err = config.LoadWith(f.configFile, scheduler.CheckPlans)
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s: INVALID\n", name)
		for _, line := range splitErrors(err) {
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

// splitErrors flattens errors.Join trees into one message per problem.
func splitErrors(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	var w interface{ Unwrap() error }
	if errors.As(err, &w) {
		if inner := w.Unwrap(); inner != nil {
			if _, ok := inner.(interface{ Unwrap() []error }); ok {
				return splitErrors(inner)
			}
		}
	}
	return []string{err.Error()}
}

// openStore opens the run history under --storage.path, creating the
// directory. The caller must close it.
//
// While another benchd holds the history ([store.ErrInUse]) it waits up to
// wait (a negative wait: until ctx is done), trying again every
// storeRetryInterval: a daemon started while a `benchd matrix` runs, or a
// start right after a kill -9 whose process is still going away, then
// opens it instead of failing.
func openStore(ctx context.Context, f *flags, logger *slog.Logger, wait time.Duration) (*store.SQLite, error) {
	if strings.TrimSpace(f.storagePath) == "" {
		return nil, usageError{errors.New("--storage.path is empty: the run history lives there (give a directory, such as data/)")}
	}
	if err := os.MkdirAll(f.storagePath, 0o755); err != nil {
		return nil, fmt.Errorf("--storage.path %s: %w", f.storagePath, err)
	}
	deadline := time.Now().Add(wait)
	for logged := false; ; logged = true {
		st, err := store.Open(ctx, f.storagePath, store.Options{Logger: logger})
		if err == nil {
			if logged {
				logger.Info("run history opened", "path", f.storagePath)
			}
			return st, nil
		}
		if !errors.Is(err, store.ErrInUse) || (wait >= 0 && time.Now().Add(storeRetryInterval).After(deadline)) {
			return nil, fmt.Errorf("open the run history (--storage.path %s): %w", f.storagePath, err)
		}
		if !logged {
			limit := "until stopped"
			if wait >= 0 {
				limit = wait.String()
			}
			logger.Warn("the run history is held by another benchd: waiting for it", "path", f.storagePath, "wait", limit)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open the run history (--storage.path %s): %w", f.storagePath, err)
		case <-time.After(storeRetryInterval):
		}
	}
}

// storeRetryInterval is how often [openStore] tries a held history again.
const storeRetryInterval = 500 * time.Millisecond

// makeToken writes a random bearer token (32 bytes, hex) into path, mode
// 0600, unless the file exists: the embedded default matrix's write API
// token, which Alertmanager's shipped configuration reads too. The file
// is synced before it is used, so a crash cannot leave it empty.
func makeToken(path string, logger *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	_, err = f.WriteString(hex.EncodeToString(b) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // an empty token file would stop the next start
		return err
	}
	logger.Info("made the write API token of the embedded default matrix", "file", path)
	return nil
}
