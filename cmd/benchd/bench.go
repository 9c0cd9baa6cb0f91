package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
)

// benchFlags are the flags of `benchd bench`, named as wrk's.
type benchFlags struct {
	url         string
	connections int
	duration    time.Duration
	threads     int
	timeout     time.Duration
	onTimeout   string
	connect     time.Duration
	warmup      time.Duration
	rate        float64
	method      string
	headers     []string
	body        string
	latency     bool
	json        bool
	insecure    bool
	caFile      string
	expectCodes []int
	expectBody  string
	// thresholds are the --threshold expressions, parsed by plan.
	thresholds []string
	gates      config.Thresholds
}

func addBenchFlags(c *kingpin.CmdClause, f *benchFlags) {
	c.Flag("connections", "Connections to keep open (wrk -c).").Short('c').Default("10").IntVar(&f.connections)
	c.Flag("duration", "Duration of the test (wrk -d).").Short('d').Default("10s").DurationVar(&f.duration)
	c.Flag("threads", "Threads (shards of connections, each with its own histogram); 0 = GOMAXPROCS (wrk -t).").Short('t').Default("0").IntVar(&f.threads)
	c.Flag("timeout", "Deadline of one request, from send to last byte (wrk --timeout).").Default("2s").DurationVar(&f.timeout)
	c.Flag("on-timeout", "After a request timed out: reconnect (close the connection, open a new one) or wait (keep it, send nothing, until the late answer arrives; counted as late responses, never as requests).").
		Default(string(engine.TimeoutReconnect)).StringVar(&f.onTimeout)
	c.Flag("connect-timeout", "Deadline of opening one connection (wrk has none).").Default("10s").DurationVar(&f.connect)
	c.Flag("warmup", "Load applied before measuring, not counted (wrk has none).").Default("0s").DurationVar(&f.warmup)
	c.Flag("rate", "Open loop: requests per second, latency corrected for coordinated omission (wrk2 -R); 0 = closed loop.").Short('R').Default("0").Float64Var(&f.rate)
	c.Flag("method", "Request method.").Short('m').Default("GET").StringVar(&f.method)
	c.Flag("header", "Request header \"Name: value\"; repeatable (wrk -H).").Short('H').StringsVar(&f.headers)
	c.Flag("body", "Request body.").StringVar(&f.body)
	c.Flag("insecure", "https: accept any server certificate, for self-signed test servers (curl -k).").Short('k').BoolVar(&f.insecure)
	c.Flag("cacert", "https: verify the server with the CA certificates of this PEM file instead of the system's (curl --cacert).").PlaceHolder("FILE").StringVar(&f.caFile)
	c.Flag("expect-status", "Accepted status code; repeatable. Default: any 2xx or 3xx. Other responses count as unexpected, in the error ratio.").PlaceHolder("CODE").SetValue((*statusCodes)(&f.expectCodes))
	c.Flag("expect-body", "Text every response body must contain; others count as unexpected.").PlaceHolder("TEXT").StringVar(&f.expectBody)
	c.Flag("threshold", "CI gate, as k6's thresholds: SIGNAL<VALUE or SIGNAL>VALUE in the syntax of the configuration's thresholds key, such as latency_p99<250ms, throughput>1000 or error_ratio<1%; repeatable. Exit 3, naming each, when one fails (docs/reports.md).").
		PlaceHolder("EXPR").StringsVar(&f.thresholds)
	c.Flag("latency", "Print the latency distribution (wrk --latency).").BoolVar(&f.latency)
	c.Flag("json", "Print the result as JSON instead of wrk's layout.").BoolVar(&f.json)
	c.Arg("url", "URL to load, http://host:port/path or https://host:port/path.").Required().StringVar(&f.url)
}

// statusCodes is the value of --expect-status: repeatable, each a number
// (its range is the engine's check, named by flag in plan).
type statusCodes []int

// Set implements kingpin.Value; the error names the flag and the fix.
func (c *statusCodes) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("--expect-status %q: want an HTTP status code, such as 200 (repeat the flag for more)", s)
	}
	*c = append(*c, n)
	return nil
}

func (c *statusCodes) String() string { return fmt.Sprint([]int(*c)) }

// IsCumulative tells kingpin that the flag is repeatable.
func (c *statusCodes) IsCumulative() bool { return true }

// planFlags names the flag of each engine.Plan field, for the engine's
// problems (engine.FieldProblem.Field); Headers[i] is the i-th --header.
var planFlags = map[string]string{
	"URL":                 "the URL argument",
	"Method":              "--method (-m)",
	"Body":                "--body",
	"Connections":         "--connections (-c)",
	"Threads":             "--threads (-t)",
	"Warmup":              "--warmup",
	"Duration":            "--duration (-d)",
	"Timeout":             "--timeout",
	"ConnectTimeout":      "--connect-timeout",
	"OnTimeout":           "--on-timeout",
	"Expect.BodyContains": "--expect-body",
	"Rate":                "--rate (-R)",
	"InsecureSkipVerify":  "--insecure (-k)",
	"CAFile":              "--cacert",
}

// plan returns the engine plan of the flags and every problem with them:
// first the command line's own rules (zero values are not "use the
// default" on the command line, where they are almost always a typo),
// then the engine's ([engine.Plan.Validate]) named by flag, leaving out
// those about a flag that already has one.
func (f *benchFlags) plan() (engine.Plan, error) {
	p := engine.Plan{
		URL:                f.url,
		Method:             f.method,
		Connections:        f.connections,
		Threads:            f.threads,
		Warmup:             f.warmup,
		Duration:           f.duration,
		Timeout:            f.timeout,
		OnTimeout:          engine.TimeoutPolicy(f.onTimeout),
		ConnectTimeout:     f.connect,
		Rate:               f.rate,
		InsecureSkipVerify: f.insecure,
		CAFile:             f.caFile,
		Expect:             engine.Expect{Status: f.expectCodes, BodyContains: f.expectBody},
	}
	if f.body != "" {
		p.Body = []byte(f.body)
	}
	var errs []error
	flagged := map[string]bool{}
	add := func(flag, format string, args ...any) {
		flagged[flag] = true
		errs = append(errs, fmt.Errorf("%s "+format, append([]any{flag}, args...)...))
	}
	if f.connections < 1 {
		add(planFlags["Connections"], "%d: want at least 1", f.connections)
	}
	if f.threads > max(f.connections, 1) {
		add(planFlags["Threads"], "%d: want 0 (one per CPU) up to --connections %d", f.threads, f.connections)
	}
	if f.duration == 0 {
		add(planFlags["Duration"], "%s: want a positive duration such as 10s", f.duration)
	}
	if f.timeout == 0 {
		add(planFlags["Timeout"], "%s: want a positive duration such as 2s", f.timeout)
	}
	if f.connect == 0 {
		add(planFlags["ConnectTimeout"], "%s: want a positive duration such as 10s", f.connect)
	}
	f.gates = config.Thresholds{}
	for _, expr := range f.thresholds {
		t, err := config.ParseThresholdExpr(expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("--threshold: %w", err))
			continue
		}
		if prev, ok := f.gates[t.Signal]; ok {
			errs = append(errs, fmt.Errorf("--threshold %q: %s has a threshold already, %s (give one per signal)", expr, t.Signal, prev.Expr()))
			continue
		}
		f.gates[t.Signal] = t
	}
	for _, h := range f.headers {
		hd, err := engine.ParseHeader(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("--header (-H) %q: %w", h, err))
			// Keep the indexes of the engine's problems those of f.headers.
			hd = engine.Header{Name: "X-Unparsed", Value: ""}
		}
		p.Headers = append(p.Headers, hd)
	}
	if pe, ok := errors.AsType[*engine.PlanError](p.Validate()); ok {
		for _, fp := range pe.Problems {
			flag, ok := planFlags[fp.Field]
			if rest, isHeader := strings.CutPrefix(fp.Field, "Headers["); isHeader {
				i, _ := strconv.Atoi(strings.TrimSuffix(rest, "]"))
				flag, ok = fmt.Sprintf("--header (-H) %q", f.headers[i]), true
			}
			if rest, isCode := strings.CutPrefix(fp.Field, "Expect.Status["); isCode {
				i, _ := strconv.Atoi(strings.TrimSuffix(rest, "]"))
				flag, ok = fmt.Sprintf("--expect-status %d", f.expectCodes[i]), true
			}
			if !ok {
				flag = fp.Field
			}
			if !flagged[flag] {
				errs = append(errs, fmt.Errorf("%s: %s", flag, fp.Message))
			}
		}
	}
	return p, errors.Join(errs...)
}

// runBench runs one load test and prints it; it stops early on ctx. It
// returns an error (exit 1), after printing the result, when not a single
// connection could be made: the URL names nothing that listens.
func runBench(ctx context.Context, f *benchFlags, stdout io.Writer) error {
	p, err := f.plan()
	if err != nil {
		return usageError{err}
	}
	res, err := engine.Run(ctx, p, nil)
	if errors.Is(err, engine.ErrInvalidPlan) {
		return usageError{err}
	}
	if res == nil {
		return fmt.Errorf("bench %s: %w", f.url, err)
	}
	// Interrupted (Ctrl-C): print what was measured, as wrk does, and
	// still report the interruption.
	var werr error
	rec := result.FromEngine(res)
	if f.json {
		werr = report.WriteJSON(stdout, &rec)
	} else {
		werr = report.WriteWrk(stdout, &rec, report.WrkOptions{Latency: f.latency})
	}
	if err != nil {
		return fmt.Errorf("bench %s: %w", f.url, err)
	}
	if werr == nil && res.ConnectionsEstablished == 0 {
		reason := "nothing answered"
		if len(res.ErrorSamples) > 0 {
			reason = res.ErrorSamples[0]
		}
		hint := "is the server up and the URL right?"
		if strings.Contains(reason, "tls: failed to verify certificate") {
			hint = "give the CA that signed the server's certificate with --cacert FILE, or -k for a self-signed test server"
		}
		return fmt.Errorf("bench %s: no connection could be made (%s): %s", f.url, reason, hint)
	}
	if werr != nil {
		return werr
	}
	return gate(pipeline.Breaches(&rec, f.gates), "bench "+f.url, len(f.gates))
}

// gate returns a [gateError] for the breaches, or nil; what names what was
// checked, n how many thresholds.
func gate(breaches []pipeline.Breach, what string, n int) error {
	if len(breaches) == 0 {
		return nil
	}
	failed := make([]string, len(breaches))
	for i, b := range breaches {
		failed[i] = b.String()
	}
	return gateError{failed: failed, what: fmt.Sprintf("%s: %d of %s failed", what, len(breaches), report.Plural(n, "threshold"))}
}
