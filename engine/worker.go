package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Connect backoff bounds: after a failed dial a worker waits before the next
// one, so that a closed port does not turn into a busy loop.
const (
	minConnectBackoff = 10 * time.Millisecond
	maxConnectBackoff = 100 * time.Millisecond
)

// longAgo is a deadline in the past: setting it wakes blocked I/O at once.
var longAgo = time.Unix(1, 0)

// wireConn counts the bytes read from the socket and remembers the last
// read error, which fasthttp's header parser does not pass on (it turns any
// failure before the first byte into io.EOF). With OnTimeout wait, it hides
// the request's deadline from the parser: once w has counted the timeout,
// the read goes on, so that the parser reads the late answer as if it were
// merely slow, whatever it had parsed of it.
type wireConn struct {
	net.Conn
	w   *worker
	n   uint64
	err error
}

// Read reads from the connection, counting bytes and keeping the error.
func (c *wireConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		c.n += uint64(n)
		if err != nil && n == 0 && c.w.r.wait && c.w.timedOut(err) {
			continue
		}
		if err != nil {
			c.err = err
		}
		return n, err
	}
}

// status is how one request ended.
type status int

const (
	statusResponse    status = iota // a response was read in time
	statusError                     // the request failed, see kind
	statusInFlight                  // unanswered when the run stopped it
	statusLate                      // OnTimeout wait: the late answer was read
	statusLatePending               // OnTimeout wait: closed before the late answer
)

// outcome is the end of one request.
type outcome struct {
	status  status
	class   Class
	kind    ErrorKind
	err     error
	latency time.Duration // from the intended start in open loop
	direct  time.Duration // from the write: the uncorrected latency
	bytes   uint64
	// unexpected: a response Plan.Expect does not accept.
	unexpected bool
	// connect is how long opening the request's connection took; zero when
	// the request went out on a kept-alive connection or the dial failed.
	connect time.Duration
}

// worker owns one connection and sends requests on it, one at a time.
type worker struct {
	r  *runner
	sh *shard

	conn      net.Conn
	wire      wireConn
	br        *bufio.Reader
	resp      fasthttp.Response
	reused    bool // the connection has carried a response already
	stopWatch func() bool
	dialer    net.Dialer
	limited   io.LimitedReader // caps the body being drained
	bodyBuf   []byte           // reads bodies that are checked; nil otherwise

	// OnTimeout wait: the state of the request on the connection.
	ctx      context.Context // the run's, for timedOut
	measured bool            // the request counts
	patient  bool            // its deadline, when it fires, is the request's own
	awaiting bool            // its deadline fired: waiting for the late answer
	due      time.Time       // its deadline

	backoff time.Duration
	timer   *time.Timer

	// Open loop: the interval between the starts of this connection's
	// requests and the intended start of the next one.
	interval  time.Duration
	offset    time.Duration // of the first intended start from the run's
	next      time.Time
	busyUntil time.Time // when the previous request (and backoff) ended
}

func newWorker(r *runner, sh *shard, index int) *worker {
	w := &worker{r: r, sh: sh}
	w.br = bufio.NewReaderSize(nil, readBufferBytes)
	w.dialer.KeepAlive = -1 // the load keeps connections busy; no probes
	if r.contains != nil {
		w.bodyBuf = make([]byte, 32<<10)
	}
	if rate := r.plan.Rate; rate > 0 {
		// Each connection carries Rate/Connections requests per second; the
		// connections' schedules are staggered evenly over one interval.
		w.interval = time.Duration(float64(r.plan.Connections) / rate * float64(time.Second))
		w.interval = max(w.interval, 1)
		w.offset = time.Duration(index) * w.interval / time.Duration(r.plan.Connections)
	}
	return w
}

// run sends requests until the measured interval ends or ctx is done.
func (w *worker) run(ctx context.Context) {
	r := w.r
	w.ctx = ctx
	if w.interval > 0 {
		w.next = r.start.Add(w.offset)
	}
	defer w.closeConn()
	defer func() {
		if w.timer != nil {
			w.timer.Stop()
		}
	}()
	for ctx.Err() == nil {
		var intended time.Time
		startedLate := false
		if w.interval > 0 {
			intended = w.next
			if !intended.Before(r.measureEnd) {
				return
			}
			// The previous request (or a connect backoff) held the
			// connection past this one's intended start.
			startedLate = w.busyUntil.After(intended)
			if !w.sleepUntil(ctx, intended) || !time.Now().Before(r.measureEnd) {
				// Requests still queued at the end are not sent: the
				// shortfall shows as Sent below Rate × Duration.
				return
			}
			w.next = intended.Add(w.interval)
		} else {
			intended = time.Now()
			if !intended.Before(r.measureEnd) {
				return
			}
		}
		measured := !intended.Before(r.warmEnd)
		w.measured = measured
		if measured {
			w.sh.sent.Add(1)
			if startedLate {
				w.sh.startedLate.Add(1)
			}
		}
		o := w.do(ctx, intended)
		w.record(measured, &o)
		if o.status == statusError && o.kind == KindConnect {
			w.backoff = min(max(2*w.backoff, minConnectBackoff), maxConnectBackoff)
			if !w.sleepUntil(ctx, time.Now().Add(w.backoff)) {
				return
			}
		}
		if w.interval > 0 {
			w.busyUntil = time.Now()
		}
	}
}

// sleepUntil waits until t, the end of the measured interval or ctx's end,
// whichever is first; it reports whether the run goes on.
func (w *worker) sleepUntil(ctx context.Context, t time.Time) bool {
	if t.After(w.r.measureEnd) {
		t = w.r.measureEnd
	}
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		return false
	case <-w.timer.C:
		return time.Now().Before(w.r.measureEnd)
	}
}

// record adds o to the shard.
func (w *worker) record(measured bool, o *outcome) {
	sh := w.sh
	// A rate sample counts what Requests/sec counts: measured requests
	// answered in time (not a warm-up request answered after warmEnd).
	if o.status == statusResponse && measured {
		sh.interval.Add(1)
	}
	// Dials count in the warm-up too: that is when the connections are
	// first opened.
	if o.connect > 0 {
		sh.mu.Lock()
		_ = sh.connect.RecordValue(min(max(o.connect.Microseconds(), 1), w.r.highestConnect))
		sh.mu.Unlock()
	}
	if !measured {
		return
	}
	sh.bytesRead.Add(o.bytes)
	switch o.status {
	case statusResponse:
		sh.responses[o.class].Add(1)
		if o.unexpected {
			sh.unexpected.Add(1)
		}
		us := min(max(o.latency.Microseconds(), 1), w.r.highest)
		sh.mu.Lock()
		_ = sh.latency.RecordValue(us)
		if sh.uncorrected != nil {
			_ = sh.uncorrected.RecordValue(min(max(o.direct.Microseconds(), 1), w.r.highest))
		}
		sh.mu.Unlock()
	case statusError:
		sh.errors[o.kind].Add(1)
		w.r.addSample(o.kind, o.err)
	case statusInFlight:
		sh.inFlight.Add(1)
	case statusLate:
		sh.lateResponses.Add(1)
		sh.mu.Lock()
		_ = sh.lateLatency.RecordValue(min(max(o.direct.Microseconds(), 1), w.r.highestLate))
		sh.mu.Unlock()
	case statusLatePending:
		sh.latePending.Add(1)
	}
}

// timedOut is called, with OnTimeout wait, when a read of the response
// failed with err. If err is the request's own deadline firing (not a stop
// of the run, not a deadline cut to the end of the grace), it counts the
// request as a timeout, gives the connection until the end of the grace
// for the late answer and reports true: the read goes on.
func (w *worker) timedOut(err error) bool {
	if !w.patient || w.awaiting || !errors.Is(err, os.ErrDeadlineExceeded) ||
		w.ctx.Err() != nil || time.Now().Before(w.due) {
		return false
	}
	w.awaiting = true
	w.record(w.measured, &outcome{status: statusError, kind: KindTimeout, err: err})
	_ = w.conn.SetDeadline(w.r.graceEnd)
	if w.ctx.Err() != nil {
		// The stop's deadline may have come before this one replaced it.
		_ = w.conn.SetDeadline(longAgo)
	}
	return true
}

// deadline returns the deadline of an operation started at t that may take
// limit: t+limit, cut to the end of the grace; cut reports whether it was.
func (w *worker) deadline(t time.Time, limit time.Duration) (d time.Time, cut bool) {
	d = t.Add(limit)
	if d.After(w.r.graceEnd) {
		return w.r.graceEnd, true
	}
	return d, false
}

// do sends one request, dialling first if needed, and reads its response.
// intended is when the request should have started (open loop) or now.
func (w *worker) do(ctx context.Context, intended time.Time) outcome {
	var connect time.Duration
	if w.conn == nil {
		began := time.Now()
		if o, ok := w.dial(ctx); !ok {
			return o
		}
		connect = max(time.Since(began), 1)
	}
	o := w.exchange(ctx, intended)
	o.connect = connect
	return o
}

// exchange writes the request on the open connection and reads its response.
func (w *worker) exchange(ctx context.Context, intended time.Time) outcome {
	start := time.Now()
	deadline, cut := w.deadline(start, w.r.plan.Timeout)
	_ = w.conn.SetDeadline(deadline)
	w.patient, w.awaiting, w.due = w.r.wait && !cut, false, deadline
	if ctx.Err() != nil {
		// The stop may have come before this deadline replaced its own.
		w.closeConn()
		return outcome{status: statusInFlight}
	}
	before := w.wire.n
	w.wire.err = nil
	if _, err := w.conn.Write(w.r.request); err != nil {
		return w.fail(ctx, KindWrite, err, cut, 0)
	}
	w.resp.StreamBody = true
	w.resp.SkipBody = w.r.skipBody
	err := w.resp.ReadLimitBody(w.br, 0)
	truncated, bodyOK := false, true
	if err == nil {
		truncated, bodyOK, err = w.drainBody()
	}
	if err != nil {
		if w.awaiting {
			// Counted as a timeout already: only the wait ends here.
			w.patient = false
			w.closeConn()
			return outcome{status: statusLatePending, bytes: w.wire.n - before}
		}
		return w.fail(ctx, KindRead, err, cut, w.wire.n-before)
	}
	end := time.Now()
	code := w.resp.StatusCode()
	o := outcome{
		status:     statusResponse,
		class:      classOf(code),
		latency:    end.Sub(intended),
		direct:     end.Sub(start),
		bytes:      w.wire.n - before,
		unexpected: !w.r.statusOK(code) || !bodyOK,
	}
	if w.interval == 0 {
		o.latency = o.direct
	}
	if w.awaiting {
		// The late answer: not a response, and never checked.
		o = outcome{status: statusLate, direct: o.direct, bytes: o.bytes}
	}
	w.patient = false
	// A body without a length ends at the connection's close, but 1xx,
	// 204 and 304 responses (and answers to HEAD) have no body at all,
	// whatever their headers say (fasthttp reads none for them).
	bodyless := w.r.skipBody || code < 200 || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified
	untilClose := !bodyless && w.resp.Header.ContentLength() == -2
	if truncated || untilClose || w.resp.ConnectionClose() {
		w.closeConn()
	} else {
		w.reused = true
	}
	return o
}

// drainBody reads the streamed body to its end, or up to MaxBodyBytes, and
// drops it. truncated reports that the body was longer than the cap: the
// rest is unread and the connection must be closed. ok reports that the
// body passed Plan.Expect's body checks (true when there are none).
func (w *worker) drainBody() (truncated, ok bool, err error) {
	capBytes := int64(w.r.plan.MaxBodyBytes)
	s := w.resp.BodyStream()
	if s == nil {
		return false, w.bodyOK(0, 0), nil
	}
	// One byte past the cap tells a longer body from one of exactly the
	// cap. io.Discard reads through a pooled buffer: nothing per request.
	w.limited = io.LimitedReader{R: s, N: capBytes + 1}
	state := 0
	if w.bodyBuf == nil {
		_, err = io.Copy(io.Discard, &w.limited)
	} else {
		state, err = w.scanBody()
	}
	truncated = w.limited.N == 0
	size := capBytes + 1 - w.limited.N
	w.limited.R = nil
	if cerr := w.resp.CloseBodyStream(); err == nil && cerr != nil {
		err = cerr
	}
	return truncated, w.bodyOK(size, state), err
}

// scanBody reads w.limited to its end through w.bodyBuf, matching
// Expect.BodyContains within the first MaxBodyBytes, and returns the
// matcher's final state.
func (w *worker) scanBody() (state int, err error) {
	capBytes := int64(w.r.plan.MaxBodyBytes)
	var seen int64
	for {
		n, rerr := w.limited.Read(w.bodyBuf)
		if m := w.r.contains; m != nil && n > 0 && seen < capBytes {
			state = m.feed(state, w.bodyBuf[:min(int64(n), capBytes-seen)])
		}
		seen += int64(n)
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return state, nil
			}
			return state, rerr
		}
	}
}

// bodyOK reports whether a body of size bytes, over which the matcher of
// Expect.BodyContains ended in state, passes Plan.Expect.
func (w *worker) bodyOK(size int64, state int) bool {
	if !w.r.checkBody {
		return true
	}
	e := &w.r.plan.Expect
	if m := w.r.contains; m != nil && state != len(m.needle) {
		return false
	}
	return size >= int64(e.BodyMinBytes) && (e.BodyMaxBytes == 0 || size <= int64(e.BodyMaxBytes))
}

// dial opens the worker's connection, TCP and for https the TLS handshake,
// both within ConnectTimeout. On failure it returns the outcome of the
// request that needed it and false.
func (w *worker) dial(ctx context.Context) (outcome, bool) {
	deadline, cut := w.deadline(time.Now(), w.r.plan.ConnectTimeout)
	w.dialer.Deadline = deadline
	c, err := w.dialer.DialContext(ctx, "tcp", w.r.addr)
	if err != nil {
		if ctx.Err() != nil || (cut && !time.Now().Before(w.r.graceEnd)) {
			return outcome{status: statusInFlight}, false
		}
		return outcome{status: statusError, kind: KindConnect, err: err}, false
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	conn := c
	if cfg := w.r.tls; cfg != nil {
		// The handshake is part of opening the connection: same deadline,
		// a failure is a connect error.
		_ = c.SetDeadline(deadline)
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			if ctx.Err() != nil || (cut && !time.Now().Before(w.r.graceEnd)) {
				return outcome{status: statusInFlight}, false
			}
			return outcome{status: statusError, kind: KindConnect, err: &handshakeError{err}}, false
		}
		conn = tc
	}
	w.backoff = 0
	w.conn = conn
	w.wire = wireConn{Conn: conn, w: w}
	w.br.Reset(&w.wire)
	w.reused = false
	w.stopWatch = context.AfterFunc(ctx, func() { _ = c.SetDeadline(longAgo) })
	open := w.r.open.Add(1)
	for {
		m := w.r.maxOpen.Load()
		if open <= m || w.r.maxOpen.CompareAndSwap(m, open) {
			break
		}
	}
	return outcome{}, true
}

// closeConn closes the worker's connection, if any.
func (w *worker) closeConn() {
	if w.conn == nil {
		return
	}
	w.stopWatch()
	_ = w.conn.Close()
	w.conn = nil
	w.wire.Conn = nil
	w.reused = false
	w.r.open.Add(-1)
}

// fail classifies a failed write or read, closes the connection and returns
// the outcome. got is how many bytes of the answer arrived.
func (w *worker) fail(ctx context.Context, kind ErrorKind, err error, cut bool, got uint64) outcome {
	reused := w.reused
	cause := err
	if kind == KindRead && w.wire.err != nil {
		cause = w.wire.err
	}
	w.closeConn()
	o := outcome{status: statusError, kind: kind, err: cause, bytes: got}
	switch {
	case ctx.Err() != nil:
		o.status = statusInFlight
	case errors.Is(cause, os.ErrDeadlineExceeded) || errors.Is(err, fasthttp.ErrTimeout):
		o.kind = KindTimeout
		if cut {
			// The grace ended before the request's own deadline.
			o.status = statusInFlight
		}
	case reused && got == 0 && peerClosed(kind, cause):
		o.kind = KindClosed
	}
	return o
}

// peerClosed reports whether err is how a connection the peer has closed
// fails: EOF or reset on read, broken pipe or reset on write.
func peerClosed(kind ErrorKind, err error) bool {
	if errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	if kind == KindRead {
		return errors.Is(err, io.EOF)
	}
	return errors.Is(err, syscall.EPIPE)
}

// classOf returns the status class of code; codes outside 200–499 are 5xx.
func classOf(code int) Class {
	switch {
	case code >= 200 && code < 300:
		return Class2xx
	case code >= 300 && code < 400:
		return Class3xx
	case code >= 400 && code < 500:
		return Class4xx
	}
	return Class5xx
}
