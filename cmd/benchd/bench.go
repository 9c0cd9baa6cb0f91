package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/exporters"
)

// benchFlags are the flags of `benchd bench`, named as wrk's.
type benchFlags struct {
	url         string
	connections int
	duration    time.Duration
	threads     int
	timeout     time.Duration
	connect     time.Duration
	warmup      time.Duration
	rate        float64
	method      string
	headers     []string
	body        string
	latency     bool
	json        bool
}

func addBenchFlags(c *kingpin.CmdClause, f *benchFlags) {
	c.Flag("connections", "Connections to keep open (wrk -c).").Short('c').Default("10").IntVar(&f.connections)
	c.Flag("duration", "Duration of the test (wrk -d).").Short('d').Default("10s").DurationVar(&f.duration)
	c.Flag("threads", "Threads (shards of connections, each with its own histogram); 0 = GOMAXPROCS (wrk -t).").Short('t').Default("0").IntVar(&f.threads)
	c.Flag("timeout", "Deadline of one request, from send to last byte (wrk --timeout).").Default("2s").DurationVar(&f.timeout)
	c.Flag("connect-timeout", "Deadline of opening one connection (wrk has none).").Default("10s").DurationVar(&f.connect)
	c.Flag("warmup", "Load applied before measuring, not counted (wrk has none).").Default("0s").DurationVar(&f.warmup)
	c.Flag("rate", "Open loop: requests per second, latency corrected for coordinated omission (wrk2 -R); 0 = closed loop.").Short('R').Default("0").Float64Var(&f.rate)
	c.Flag("method", "Request method.").Short('m').Default("GET").StringVar(&f.method)
	c.Flag("header", "Request header \"Name: value\"; repeatable (wrk -H).").Short('H').StringsVar(&f.headers)
	c.Flag("body", "Request body.").StringVar(&f.body)
	c.Flag("latency", "Print the latency distribution (wrk --latency).").BoolVar(&f.latency)
	c.Flag("json", "Print the result as JSON instead of wrk's layout.").BoolVar(&f.json)
	c.Arg("url", "URL to load, http://host:port/path.").Required().StringVar(&f.url)
}

// check validates the flags: zero values are not "use the default" on the
// command line, where they are almost always a typo.
func (f *benchFlags) check() error {
	var errs []error
	if f.connections < 1 {
		errs = append(errs, fmt.Errorf("--connections (-c) %d: want at least 1", f.connections))
	}
	if f.threads < 0 || f.threads > max(f.connections, 1) {
		errs = append(errs, fmt.Errorf("--threads (-t) %d: want 0 (one per CPU) up to --connections %d", f.threads, f.connections))
	}
	if f.duration <= 0 {
		errs = append(errs, fmt.Errorf("--duration (-d) %s: want a positive duration such as 10s", f.duration))
	}
	if f.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %s: want a positive duration such as 2s", f.timeout))
	}
	if f.connect <= 0 {
		errs = append(errs, fmt.Errorf("--connect-timeout %s: want a positive duration such as 10s", f.connect))
	}
	if f.warmup < 0 {
		errs = append(errs, fmt.Errorf("--warmup %s: want zero or a positive duration", f.warmup))
	}
	if f.rate < 0 {
		errs = append(errs, fmt.Errorf("--rate (-R) %g: want 0 (closed loop) or requests per second", f.rate))
	}
	return errors.Join(errs...)
}

// runBench runs one load test and prints it; it stops early on ctx. It
// returns an error (exit 1), after printing the result, when not a single
// connection could be made: the URL names nothing that listens.
func runBench(ctx context.Context, f *benchFlags, stdout io.Writer) error {
	if err := f.check(); err != nil {
		return usageError{err}
	}
	p := engine.Plan{
		URL:            f.url,
		Method:         f.method,
		Connections:    f.connections,
		Threads:        f.threads,
		Warmup:         f.warmup,
		Duration:       f.duration,
		Timeout:        f.timeout,
		ConnectTimeout: f.connect,
		Rate:           f.rate,
	}
	if f.body != "" {
		p.Body = []byte(f.body)
	}
	for _, h := range f.headers {
		hd, err := engine.ParseHeader(h)
		if err != nil {
			return usageError{fmt.Errorf("--header %q: %w", h, err)}
		}
		p.Headers = append(p.Headers, hd)
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
	if f.json {
		werr = exporters.WriteJSON(stdout, res)
	} else {
		werr = exporters.WriteWrk(stdout, res, exporters.WrkOptions{Latency: f.latency})
	}
	if err != nil {
		return fmt.Errorf("bench %s: %w", f.url, err)
	}
	if werr == nil && res.ConnectionsEstablished == 0 {
		reason := "nothing answered"
		if len(res.ErrorSamples) > 0 {
			reason = res.ErrorSamples[0]
		}
		return fmt.Errorf("bench %s: no connection could be made (%s): is the server up and the URL right?", f.url, reason)
	}
	return werr
}
