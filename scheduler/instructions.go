package scheduler

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/internal/callgrind"
	"github.com/benchd/benchd/internal/proc"
)

// InstructionCount is what one repeat of an instruction-lane scenario
// counted: the instructions (callgrind's Ir) the target's counted
// processes executed over the counted requests.
type InstructionCount struct {
	// Instructions is the sum over the counted processes.
	Instructions uint64
	// Requests is how many counted requests completed (all expected).
	Requests uint64
	// Processes is how many processes were counted: the server's workers
	// (the leader's descendants), or the leader alone when it has none.
	Processes int
}

// PerRequest returns Instructions / Requests; 0 without a request.
func (c InstructionCount) PerRequest() float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(c.Instructions) / float64(c.Requests)
}

// InstructionsPerRequest returns the instructions per completed counted
// request over all repeats of an instruction-lane scenario (their sums'
// ratio); 0 for a load scenario or when nothing was counted.
func (r *ScenarioResult) InstructionsPerRequest() float64 {
	var t InstructionCount
	for _, c := range r.RepeatInstructions {
		t.Instructions += c.Instructions
		t.Requests += c.Requests
	}
	return t.PerRequest()
}

// callgrindControl is the command that controls the lane's processes; a
// variable for tests of the error paths.
var callgrindControl = callgrind.DefaultControl

// laneProcessSpec wraps spec for an instruction lane: its command under
// callgrind with dumps in dir, Python's hash seed fixed.
func laneProcessSpec(spec proc.Spec, dir string) proc.Spec {
	spec.Command = callgrind.Command("", dir, spec.Command)
	spec.Env = append(slices.Clone(spec.Env), callgrind.Env...)
	return spec
}

// laneProcesses returns the processes an instruction lane counts: the
// leader's descendants (a pre-fork server's workers, not its master, whose
// idle wake-ups would add time-dependent noise), or the leader alone.
func laneProcesses(p *proc.Process) []int {
	if d := p.Descendants(); len(d) > 0 {
		return d
	}
	return []int{p.PID()}
}

// countInstructions runs one repeat of an instruction-lane scenario on the
// target's process running under callgrind: WarmupRequests requests,
// instrumentation zeroed and switched on in every counted process, exactly
// Requests requests, a dump per process (read back and summed), and
// instrumentation off again. Any counted request that failed or was
// unexpected fails the scenario: an error path costs other instructions.
func (s *Scheduler) countInstructions(ctx context.Context, tr *targetRun, sr *scenarioRun) {
	res := sr.res
	sc := res.Scenario
	in := sc.Instructions
	fail := func(err error) {
		res.Err = fmt.Errorf("scheduler: scenario %s: instructions: %w", sc.Name, err)
		sr.done = true
	}
	if tr.proc == nil || tr.callgrindDir == "" {
		fail(errors.New("the target is not running under callgrind"))
		return
	}
	client := laneClient(in, tr.ready.tls)
	defer client.CloseIdleConnections()
	if w := sendRequests(ctx, client, sc, in.WarmupRequests); w.TotalErrors() > 0 || w.Unexpected > 0 {
		fail(fmt.Errorf("%d of %d warm-up requests failed or were unexpected (%s)", w.TotalErrors()+w.Unexpected, w.Sent, strings.Join(w.ErrorSamples, "; ")))
		return
	}
	ctl := &callgrind.Controller{Program: callgrindControl, Dir: tr.callgrindDir}
	pids := laneProcesses(tr.proc)
	for _, pid := range pids {
		if err := control(ctx, func(ctx context.Context) error { return ctl.Zero(ctx, pid) }); err != nil {
			fail(err)
			return
		}
		if err := control(ctx, func(ctx context.Context) error { return ctl.Instrument(ctx, pid, true) }); err != nil {
			fail(err)
			return
		}
	}
	r := sendRequests(ctx, client, sc, in.Requests)
	count := InstructionCount{Requests: r.Completed(), Processes: len(pids)}
	var errs []error
	for _, pid := range pids {
		errs = append(errs, control(ctx, func(ctx context.Context) error {
			d, err := ctl.Dump(ctx, pid)
			if err != nil {
				return err
			}
			n, err := d.Instructions()
			count.Instructions += n
			return err
		}), control(ctx, func(ctx context.Context) error { return ctl.Instrument(ctx, pid, false) }))
	}
	sr.rs = append(sr.rs, r)
	res.RepeatInstructions = append(res.RepeatInstructions, count)
	s.log.Debug("instructions counted", "run_id", res.RunID, "scenario", sc.Name, "repeat", len(sr.rs),
		"instructions", count.Instructions, "requests", count.Requests, "processes", count.Processes,
		"instructions_per_request", count.PerRequest())
	switch err := errors.Join(errs...); {
	case err != nil:
		fail(err)
	case r.TotalErrors() > 0 || r.Unexpected > 0:
		fail(fmt.Errorf("%d of %d counted requests failed or were unexpected (%s)", r.TotalErrors()+r.Unexpected, r.Sent, strings.Join(r.ErrorSamples, "; ")))
	default:
		select {
		case <-tr.proc.Exited():
			fail(tr.proc.ExitErr())
		default:
		}
	}
	sr.done = sr.done || len(sr.rs) >= sr.repeats
}

// controlTimeout bounds one callgrind_control command, which waits for the
// process to take it: a server stuck that long is not measurable anyway.
const controlTimeout = time.Minute

// control runs one callgrind_control command f within controlTimeout.
func control(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	return f(ctx)
}

// laneClient returns the HTTP client of an instruction lane: at most
// in.Connections keep-alive connections, no proxy, no compression asked
// for, tlsConfig for https (nil is Go's default).
func laneClient(in *config.Instructions, tlsConfig *tls.Config) *http.Client {
	return &http.Client{
		Timeout: in.Timeout,
		Transport: &http.Transport{
			Proxy: nil, TLSClientConfig: tlsConfig, DisableCompression: true,
			MaxConnsPerHost: in.Connections, MaxIdleConnsPerHost: in.Connections,
			DialContext: (&net.Dialer{Timeout: in.Timeout}).DialContext,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// sendRequests sends exactly n requests of scenario sc (fewer when ctx is
// done) over the client's connections, in.Connections at a time, and
// returns them as an engine result: classes, error kinds, unexpected
// responses (sc.Expect), latency in microseconds, bytes of the bodies read
// (at most engine.DefaultMaxBodyBytes each). It returns when every request
// has ended; each is bounded by the client's timeout.
func sendRequests(ctx context.Context, client *http.Client, sc config.Scenario, n int) *engine.Result {
	in := sc.Instructions
	plan := engine.Plan{URL: sc.URL, Method: sc.Load.Method, Connections: in.Connections, Threads: 1, Timeout: in.Timeout}
	highest := max(2*in.Timeout.Microseconds(), 1000)
	r := &engine.Result{Plan: plan, Latency: hdrhistogram.New(1, highest, 3)}
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	expect := engineExpect(sc.Expect)
	r.Start = time.Now()
	for range max(in.Connections, 1) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				start := time.Now()
				status, body, err := doRequest(ctx, client, sc)
				latency := time.Since(start)
				mu.Lock()
				r.Sent++
				if err != nil {
					kind := engine.KindRead
					var ne net.Error
					switch {
					case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
						kind = engine.KindTimeout
					case isDialError(err):
						kind = engine.KindConnect
					}
					r.Errors[kind]++
					if len(r.ErrorSamples) < engine.MaxErrorSamples {
						r.ErrorSamples = append(r.ErrorSamples, kind.String()+": "+err.Error())
					}
				} else {
					r.Responses[statusClass(status)]++
					r.BytesRead += uint64(len(body))
					_ = r.Latency.RecordValue(max(latency.Microseconds(), 1))
					if !expected(expect, status, body) {
						r.Unexpected++
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.End = time.Now()
	r.Elapsed = r.End.Sub(r.Start)
	if r.Sent > r.TotalErrors() {
		r.ConnectionsEstablished = in.Connections
	}
	return r
}

// doRequest sends one request of sc and reads its body (at most
// engine.DefaultMaxBodyBytes).
func doRequest(ctx context.Context, client *http.Client, sc config.Scenario) (status int, body []byte, err error) {
	var rd io.Reader
	if sc.Load.Body != "" {
		rd = strings.NewReader(sc.Load.Body)
	}
	req, err := http.NewRequestWithContext(ctx, sc.Load.Method, sc.URL, rd)
	if err != nil {
		return 0, nil, err
	}
	for _, h := range sc.Load.Headers {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, engine.DefaultMaxBodyBytes))
	return resp.StatusCode, body, err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// statusClass is the engine's class of a status code: outside 200–499, 5xx.
func statusClass(code int) engine.Class {
	switch {
	case code >= 200 && code < 300:
		return engine.Class2xx
	case code >= 300 && code < 400:
		return engine.Class3xx
	case code >= 400 && code < 500:
		return engine.Class4xx
	}
	return engine.Class5xx
}

// expected reports whether a response passes e: its status in e.Status
// (2xx or 3xx when empty), its body holding e.BodyContains and its size
// within e's bounds.
func expected(e engine.Expect, status int, body []byte) bool {
	if len(e.Status) > 0 {
		if !slices.Contains(e.Status, status) {
			return false
		}
	} else if status < 200 || status >= 400 {
		return false
	}
	if e.BodyContains != "" && !bytes.Contains(body, []byte(e.BodyContains)) {
		return false
	}
	if e.BodyMinBytes > 0 && len(body) < e.BodyMinBytes || e.BodyMaxBytes > 0 && len(body) > e.BodyMaxBytes {
		return false
	}
	return true
}

// makeCallgrindDir makes the directory a lane's dumps go to.
func makeCallgrindDir() (string, error) {
	removeStaleCallgrindDirs(os.TempDir())
	dir, err := os.MkdirTemp("", fmt.Sprintf("benchd-callgrind-%d-", os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("scheduler: callgrind output directory: %w", err)
	}
	return dir, nil
}

// removeStaleCallgrindDirs removes the lane dump directories under tmp
// ("benchd-callgrind-PID-*") whose benchd (PID) no longer runs: a benchd
// killed with kill -9 cannot remove its own.
func removeStaleCallgrindDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "benchd-callgrind-*-*"))
	for _, d := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), "benchd-callgrind-"), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}
