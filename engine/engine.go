package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// ErrInvalidPlan is wrapped by every error [Run] and [Plan.Validate] return
// for a [Plan] that cannot run: a [*PlanError] naming the fields at fault.
var ErrInvalidPlan = errors.New("engine: invalid plan")

// ErrFileLimit is wrapped by the error [Run] returns when the process may not
// open enough file descriptors for Plan.Connections and the limit cannot be
// raised; the message names RLIMIT_NOFILE and how to raise it.
var ErrFileLimit = errors.New("engine: open file limit too low")

// fileLimitMargin is how many descriptors, beyond one per connection, Run
// wants available for the rest of the process (logs, listeners, databases).
const fileLimitMargin = 256

// sampleInterval is the period of the per-shard request rate samples (wrk's
// RECORD_INTERVAL_MS).
const sampleInterval = 100 * time.Millisecond

// progressInterval is the least time between two Observer calls.
const progressInterval = time.Second

// maxRateSample bounds the request rate samples histogram, in requests per
// second of one shard; larger samples are clamped.
const maxRateSample = 100_000_000

// readBufferBytes is the size of each worker's read buffer, of each event
// loop's and of one read on a loop; it bounds the size of a response head.
const readBufferBytes = 16 << 10

// Phase is the part of a run a [Snapshot] was taken in.
type Phase int

// Phases of a run, in order.
const (
	// PhaseWarmup means requests are sent but not counted.
	PhaseWarmup Phase = iota
	// PhaseMeasure means requests are sent and counted.
	PhaseMeasure
	// PhaseGrace means no new requests are sent; those in flight may still finish.
	PhaseGrace
)

// String returns the label of p: "warmup", "measure" or "grace".
func (p Phase) String() string {
	switch p {
	case PhaseWarmup:
		return "warmup"
	case PhaseMeasure:
		return "measure"
	case PhaseGrace:
		return "grace"
	}
	return "unknown"
}

// Snapshot is the progress of a run at one moment. Its counts cover the
// measured interval so far (all zero during the warm-up) and are each read
// atomically but not all at the same instant, so the invariant of [Result]
// does not hold exactly within a Snapshot.
type Snapshot struct {
	// Phase is the phase the run is in.
	Phase Phase
	// Elapsed is the time since the measured interval began; zero during
	// the warm-up.
	Elapsed time.Duration
	// Sent counts measured requests started so far.
	Sent uint64
	// Completed counts measured responses received so far, all classes.
	Completed uint64
	// Errors counts measured failed requests so far, all kinds.
	Errors uint64
	// Timeouts counts measured requests whose deadline fired so far
	// (included in Errors).
	Timeouts uint64
	// OpenConnections is the number of connections open now.
	OpenConnections int
}

// Observer receives the progress of a run. [Run] calls Progress from a
// single goroutine, about once per second while the run lasts (never more
// often), and not after Run has returned. Progress must not block: the same
// goroutine samples the request rate, so a slow observer delays the samples.
// The Snapshot is a value; the observer may keep it.
type Observer interface {
	Progress(s Snapshot)
}

// Run runs the load test p and returns what it measured.
//
// Zero fields of p take the DefaultX values (see [Plan]). Run first checks
// the plan, and makes sure the process may open Plan.Connections more
// files, raising the soft RLIMIT_NOFILE up to the hard limit if needed. It
// then opens the connections, applies load for Plan.Warmup (not counted)
// and Plan.Duration (counted), stops sending, and waits for the requests in
// flight until their deadline or the end of Plan.Grace, whichever is first.
// Run blocks for about Warmup + Duration + min(Timeout, Grace), or up to
// Warmup + Duration + Grace with Plan.OnTimeout wait. obs, when not nil,
// receives progress (see [Observer]); a [Trace] in ctx (see [WithTrace])
// is told when the measured interval begins and ends.
//
// Cancelling ctx stops the run early: requests in flight are abandoned
// (counted in Result.InFlight), connections are closed, and Run returns the
// partial result, measured up to the cancellation, together with an error
// that wraps ctx.Err(). So when err is not nil, the Result is not nil only
// if errors.Is(err, ctx.Err()).
//
// Errors: a [*PlanError] (wrapping [ErrInvalidPlan]) lists every field of p
// at fault, as [Plan.Validate] does; one
// wrapping [ErrFileLimit] says the descriptor limit is too low and how to
// raise it (Run does not fall back to fewer connections than asked). In
// both cases no request was sent and the Result is nil. Failed requests are not
// errors of Run: they are counted in the Result.
//
// The returned Result belongs to the caller; Run keeps no reference to it.
// Run may be called concurrently (each call has its own connections).
func Run(ctx context.Context, p Plan, obs Observer) (*Result, error) {
	t, err := compile(p)
	if err != nil {
		return nil, err
	}
	if err := raiseFileLimit(uint64(t.plan.Connections) + fileLimitMargin); err != nil {
		return nil, err
	}
	r := newRunner(t)
	return r.run(ctx, obs)
}

// target is a checked plan with everything a worker needs precomputed.
type target struct {
	plan     Plan
	addr     string      // host:port to dial
	request  []byte      // the request bytes, shared read-only by all workers
	skipBody bool        // HEAD: responses have no body
	tls      *tls.Config // https: shared by all connections, nil for http
	wait     bool        // OnTimeout is TimeoutWait
	// expected has bit c set for each accepted status code c < 640.
	expected  [10]uint64
	checkBody bool     // Expect checks the body
	contains  *matcher // Expect.BodyContains, nil when not checked
}

// statusOK reports whether the plan expects status code.
func (t *target) statusOK(code int) bool {
	return code >= 0 && code < 640 && t.expected[code/64]&(1<<(code%64)) != 0
}

// compile applies the defaults to p, checks it (see [Plan.Validate]) and
// builds the request bytes.
func compile(p Plan) (*target, error) {
	c, err := check(p)
	if err != nil {
		return nil, err
	}
	if p.Method == "" {
		p.Method = DefaultMethod
	}
	if p.Connections == 0 {
		p.Connections = DefaultConnections
	}
	if p.Threads == 0 {
		p.Threads = runtime.GOMAXPROCS(0)
	}
	if p.Connections > 0 && p.Threads > p.Connections {
		p.Threads = p.Connections
	}
	if p.Duration == 0 {
		p.Duration = DefaultDuration
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Grace == 0 {
		p.Grace = p.Timeout
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = DefaultConnectTimeout
	}
	if p.MaxBodyBytes == 0 {
		p.MaxBodyBytes = DefaultMaxBodyBytes
	}

	t := &target{skipBody: p.Method == fasthttp.MethodHead, addr: c.addr, wait: p.OnTimeout == TimeoutWait}
	if p.OnTimeout == "" {
		p.OnTimeout = TimeoutReconnect
	}
	codes := p.Expect.Status
	if len(codes) == 0 {
		for code := 200; code < 400; code++ {
			t.expected[code/64] |= 1 << (code % 64)
		}
	}
	for _, code := range codes {
		t.expected[code/64] |= 1 << (code % 64)
	}
	t.checkBody = p.Expect.checksBody()
	if p.Expect.BodyContains != "" {
		t.contains = newMatcher(p.Expect.BodyContains)
	}
	p.Expect.Status = slices.Clone(p.Expect.Status)
	if c.tls {
		t.tls = clientTLS(c.u.Hostname(), p.InsecureSkipVerify, c.ca)
	}
	req, err := buildRequest(p, c.u.RequestURI(), c.host)
	if err != nil {
		return nil, err
	}
	t.plan = p
	t.request = req
	return t, nil
}

// buildRequest serialises the request every connection sends: the request
// line, Host, the plan's headers in order, Content-Length when there is a
// body, and the body.
func buildRequest(p Plan, requestURI, host string) ([]byte, error) {
	var req fasthttp.Request
	// Send exactly the plan's headers: no default Content-Type or
	// User-Agent added by fasthttp.
	req.Header.DisableSpecialHeader()
	req.Header.SetMethod(p.Method)
	req.SetRequestURI(requestURI)
	req.Header.Set("Host", host)
	for _, h := range p.Headers {
		if !strings.EqualFold(h.Name, "Host") {
			req.Header.Add(h.Name, h.Value)
		}
	}
	if p.Body != nil {
		req.SetBody(p.Body)
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := req.Write(bw); err != nil {
		return nil, fmt.Errorf("%w: cannot build the request: %w", ErrInvalidPlan, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("engine: build request: %w", err)
	}
	return buf.Bytes(), nil
}

// shard is a group of connections with its own latency histogram and rate
// samples (wrk's thread). Counters are atomic so that progress snapshots can
// read them while workers run.
type shard struct {
	sent      atomic.Uint64
	responses [NumClasses]atomic.Uint64
	errors    [NumErrorKinds]atomic.Uint64
	inFlight  atomic.Uint64
	// startedLate counts open-loop requests that started after their
	// intended time.
	startedLate   atomic.Uint64
	unexpected    atomic.Uint64
	lateResponses atomic.Uint64 // late answers read (OnTimeout wait)
	latePending   atomic.Uint64 // late answers given up on (OnTimeout wait)
	bytesRead     atomic.Uint64
	// interval counts the measured requests answered in time since the
	// last rate sample (what Responses counts, not the warm-up's).
	interval atomic.Uint64

	mu          sync.Mutex
	latency     *hdrhistogram.Histogram // guarded by mu
	uncorrected *hdrhistogram.Histogram // guarded by mu; open loop only
	connect     *hdrhistogram.Histogram // guarded by mu
	lateLatency *hdrhistogram.Histogram // guarded by mu; OnTimeout wait only

	// rate is written by the clock goroutine only, read after it ended.
	rate *hdrhistogram.Histogram
}

// runner is the state of one Run.
type runner struct {
	*target
	shards         []*shard
	highest        int64 // latency histogram bound, µs
	highestConnect int64 // connect histogram bound, µs
	highestLate    int64 // late answer histogram bound, µs

	start, warmEnd, measureEnd, graceEnd time.Time

	open    atomic.Int64
	maxOpen atomic.Int64
	// stopping is set when ctx ends: the event loops stop at once.
	stopping atomic.Bool

	samplesMu sync.Mutex
	samples   []string
}

func newRunner(t *target) *runner {
	r := &runner{target: t}
	r.highest = 2 * t.plan.Timeout.Microseconds()
	if t.plan.Rate > 0 {
		// A corrected latency includes the time a request waited for its
		// connection, which may be as long as the whole run.
		r.highest += (t.plan.Warmup + t.plan.Duration + t.plan.Grace).Microseconds()
	}
	r.highest = max(r.highest, 1000)
	r.highestConnect = max(t.plan.ConnectTimeout.Microseconds(), 1000)
	// A late answer may come at any time up to the end of the grace.
	r.highestLate = max(2*t.plan.Timeout.Microseconds()+(t.plan.Warmup+t.plan.Duration+t.plan.Grace).Microseconds(), 1000)
	r.shards = make([]*shard, t.plan.Threads)
	for i := range r.shards {
		sh := &shard{
			latency: hdrhistogram.New(1, r.highest, 3),
			connect: hdrhistogram.New(1, r.highestConnect, 3),
			rate:    hdrhistogram.New(1, maxRateSample, 3),
		}
		if t.plan.Rate > 0 {
			sh.uncorrected = hdrhistogram.New(1, r.highest, 3)
		}
		if t.wait {
			sh.lateLatency = hdrhistogram.New(1, r.highestLate, 3)
		}
		r.shards[i] = sh
	}
	return r
}

// run starts the workers and the clock, waits for them and builds the result.
func (r *runner) run(ctx context.Context, obs Observer) (*Result, error) {
	p := r.plan
	// stoppedAt is when ctx ended, if it did; stopped closes once it is set.
	var stoppedAt time.Time
	stopped := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		stoppedAt = time.Now()
		close(stopped)
	})

	r.start = time.Now()
	r.warmEnd = r.start.Add(p.Warmup)
	r.measureEnd = r.warmEnd.Add(p.Duration)
	r.graceEnd = r.measureEnd.Add(p.Grace)

	var workers sync.WaitGroup
	// http runs on an event loop per shard; https (crypto/tls wants a
	// blocking net.Conn), and http where no loop can run, on a goroutine
	// per connection.
	if r.tls != nil || !r.startLoops(ctx, &workers) {
		for i := range p.Connections {
			w := newWorker(r, r.shards[i%len(r.shards)], i)
			workers.Go(func() { w.run(ctx) })
		}
	}
	clockDone := make(chan struct{})
	var clock sync.WaitGroup
	clock.Go(func() { r.clock(clockDone, obs) })
	traced := startTrace(traceFrom(ctx), r.warmEnd, r.measureEnd, stopped, clockDone)
	workers.Wait()
	close(clockDone)
	clock.Wait()
	traced()

	end := r.measureEnd
	if stopWatch() {
		// ctx did not end, or ended so late that the watch never ran.
		if now := time.Now(); ctx.Err() != nil && now.Before(end) {
			end = now
		}
	} else {
		<-stopped
		if stoppedAt.Before(end) {
			end = stoppedAt
		}
	}
	res := r.result(end)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("engine: run stopped early: %w", err)
	}
	return res, nil
}

// clock samples each shard's request rate every sampleInterval of the
// measured interval and calls obs about once per second, until done closes.
func (r *runner) clock(done <-chan struct{}, obs Observer) {
	ticker := time.NewTicker(sampleInterval)
	defer ticker.Stop()
	sampling := false
	var last time.Time
	startSampling := func(now time.Time) {
		if !sampling && !now.Before(r.warmEnd) && now.Before(r.measureEnd) {
			sampling = true
			last = now
			for _, sh := range r.shards {
				sh.interval.Store(0)
			}
		}
	}
	startSampling(time.Now())
	lastProgress := r.start
	for {
		select {
		case <-done:
			return
		case now := <-ticker.C:
			if sampling && !now.After(r.measureEnd) {
				if elapsed := now.Sub(last); elapsed >= sampleInterval/2 {
					for _, sh := range r.shards {
						n := sh.interval.Swap(0)
						perSecond := int64(float64(n) * float64(time.Second) / float64(elapsed))
						_ = sh.rate.RecordValue(min(perSecond, maxRateSample))
					}
					last = now
				}
			}
			startSampling(now)
			// Ticks are dropped when this goroutine is late, so the
			// observer's pace is set by the clock, not by counting ticks.
			if obs != nil && now.Sub(lastProgress) >= progressInterval {
				lastProgress = now
				obs.Progress(r.snapshot(now))
			}
		}
	}
}

// snapshot sums the shards' counters.
func (r *runner) snapshot(now time.Time) Snapshot {
	s := Snapshot{OpenConnections: int(r.open.Load())}
	switch {
	case now.Before(r.warmEnd):
		s.Phase = PhaseWarmup
	case now.Before(r.measureEnd):
		s.Phase = PhaseMeasure
		s.Elapsed = now.Sub(r.warmEnd)
	default:
		s.Phase = PhaseGrace
		s.Elapsed = r.measureEnd.Sub(r.warmEnd)
	}
	for _, sh := range r.shards {
		s.Sent += sh.sent.Load()
		for i := range sh.responses {
			s.Completed += sh.responses[i].Load()
		}
		for i := range sh.errors {
			s.Errors += sh.errors[i].Load()
		}
		s.Timeouts += sh.errors[KindTimeout].Load()
	}
	return s
}

// result merges the shards once every worker has ended.
func (r *runner) result(end time.Time) *Result {
	res := &Result{
		Plan:                     r.plan,
		Start:                    r.warmEnd,
		End:                      end,
		Latency:                  hdrhistogram.New(1, r.highest, 3),
		ConnectLatency:           hdrhistogram.New(1, r.highestConnect, 3),
		RequestsPerSecondSamples: hdrhistogram.New(1, maxRateSample, 3),
		ConnectionsEstablished:   int(r.maxOpen.Load()),
	}
	if res.End.Before(res.Start) {
		res.Start = res.End
	}
	res.Elapsed = res.End.Sub(res.Start)
	if r.plan.Rate > 0 {
		res.LatencyUncorrected = hdrhistogram.New(1, r.highest, 3)
	}
	if r.wait {
		res.LateResponseLatency = hdrhistogram.New(1, r.highestLate, 3)
	}
	for _, sh := range r.shards {
		res.Sent += sh.sent.Load()
		for i := range sh.responses {
			res.Responses[i] += sh.responses[i].Load()
		}
		for i := range sh.errors {
			res.Errors[i] += sh.errors[i].Load()
		}
		res.InFlight += sh.inFlight.Load()
		res.StartedLate += sh.startedLate.Load()
		res.Unexpected += sh.unexpected.Load()
		res.LateResponses += sh.lateResponses.Load()
		res.LateResponsesPending += sh.latePending.Load()
		res.BytesRead += sh.bytesRead.Load()
		res.Latency.Merge(sh.latency)
		res.ConnectLatency.Merge(sh.connect)
		res.RequestsPerSecondSamples.Merge(sh.rate)
		if sh.uncorrected != nil {
			res.LatencyUncorrected.Merge(sh.uncorrected)
		}
		if sh.lateLatency != nil {
			res.LateResponseLatency.Merge(sh.lateLatency)
		}
	}
	r.samplesMu.Lock()
	res.ErrorSamples = append([]string(nil), r.samples...)
	r.samplesMu.Unlock()
	return res
}

// addSample keeps the message of err if it is new and there is room.
func (r *runner) addSample(kind ErrorKind, err error) {
	r.samplesMu.Lock()
	defer r.samplesMu.Unlock()
	if len(r.samples) >= MaxErrorSamples {
		return
	}
	msg := kind.String() + ": " + r.errorText(kind, err)
	if slices.Contains(r.samples, msg) {
		return
	}
	r.samples = append(r.samples, msg)
}

// errorText describes err without the per-connection local address, so
// that one cause gives one sample.
func (r *runner) errorText(kind ErrorKind, err error) string {
	if kind == KindTimeout {
		return "no complete response within " + r.plan.Timeout.String()
	}
	if hs, ok := errors.AsType[*handshakeError](err); ok {
		return hs.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op != "dial" && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}
