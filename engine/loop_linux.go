//go:build linux

package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loopEvents is the most readiness events one epoll_wait returns.
const loopEvents = 1024

// wakeID is the epoll data of the run's stop eventfd.
const wakeID = -1

// connState is where a loop's connection is in its request.
type connState uint8

const (
	connIdle       connState = iota // no request: sleeping (see conn.sleep) or about to start one
	connConnecting                  // a non-blocking connect is under way
	connWriting                     // the request is being written
	connReading                     // the response is being read
	connDone                        // the connection's part of the run has ended
)

// Why an idle connection's timer is set.
const (
	sleepSend    uint8 = iota + 1 // open loop: until the next intended start
	sleepBackoff                  // after a failed dial
)

// conn is one connection of a loop: what the goroutine path keeps in a
// worker, in about 150 bytes. Times are nanoseconds since the run's start.
type conn struct {
	fd    int32 // -1 when closed
	gen   int32 // counts the connection's sockets: tells a stale event
	id    int32 // index in loop.conns and loop.timers
	index int32 // among the run's connections (open-loop stagger)
	state connState
	sleep uint8
	// Readiness not consumed yet (edge-triggered): data or EOF may be
	// waiting; the peer hung up or failed; a write may progress.
	readable, hup, writable bool
	open                    bool // counted in runner.open
	reused                  bool // the connection has carried a response already
	measured                bool // the request counts
	cut                     bool // its deadline was cut to the end of the grace
	patient                 bool // OnTimeout wait: its deadline, when it fires, is the request's own
	awaiting                bool // OnTimeout wait: its deadline fired, the late answer is read
	startedLate             bool // open loop: the previous request held it past this one's intended start
	spillNew                bool // spill holds bytes not fed to the parser yet

	began, start, intended int64 // of the dial; of the write; intended start
	next, busyUntil        int64 // open loop: next intended start; when the previous request ended
	backoff                int64 // connect backoff
	connect                int64 // how long the dial took, for the next outcome; 0: none
	wrote                  int   // request bytes written
	got                    uint64
	spill                  *spill // a head split across reads, or bytes after a response
	p                      respParser
}

// spill keeps the bytes of one connection that must outlive the loop's
// read buffer: a response head cut by a read (so it bounds the head as
// the goroutine path's bufio.Reader does), or bytes a server sent after
// a response. Rare: taken from and given back to the loop's free list.
type spill struct {
	n   int
	buf [readBufferBytes]byte
}

// dest is where a loop's connections dial.
type dest struct {
	sa     unix.Sockaddr
	domain int
	addr   net.Addr // for error messages
	err    error    // resolving failed: every dial fails with it
}

// resolve looks up the run's address once for all its connections,
// preferring IPv4 as the dialer's fallback order would.
func resolve(ctx context.Context, hostport string) dest {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return dest{err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return dest{err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil || len(ips) == 0 {
			if lerr == nil {
				lerr = &net.DNSError{Err: "no addresses", Name: host}
			}
			return dest{err: &net.OpError{Op: "dial", Net: "tcp", Err: lerr}}
		}
		ip = ips[0]
		for _, a := range ips {
			if a.Unmap().Is4() {
				ip = a
				break
			}
		}
	}
	ip = ip.Unmap()
	d := dest{addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))}
	if ip.Is4() {
		d.sa, d.domain = &unix.SockaddrInet4{Port: port, Addr: ip.As4()}, unix.AF_INET
	} else {
		d.sa, d.domain = &unix.SockaddrInet6{Port: port, Addr: ip.As16()}, unix.AF_INET6
	}
	return d
}

// waker wakes every loop of a run when its context ends: an eventfd in
// each loop's epoll set, written once.
type waker struct {
	mu     sync.Mutex
	fd     int
	closed bool
}

func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		one := [8]byte{1}
		_, _ = unix.Write(w.fd, one[:])
	}
}

func (w *waker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		_ = unix.Close(w.fd)
	}
}

// startLoops starts the connections of a plain http run, one event loop
// per shard, each a goroutine of group; they end when their connections
// are done or ctx ends. It reports false, having started nothing, when
// the loops cannot be set up (no epoll or eventfd): the caller then runs
// the goroutine path.
func (r *runner) startLoops(ctx context.Context, group *sync.WaitGroup) bool {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return false
	}
	w := &waker{fd: fd}
	d := resolve(ctx, r.addr)
	loops := make([]*loop, len(r.shards))
	for i := range loops {
		l, err := newLoop(r, i, w.fd, d)
		if err != nil {
			for _, l := range loops[:i] {
				l.close()
			}
			w.close()
			return false
		}
		loops[i] = l
	}
	stop := context.AfterFunc(ctx, func() {
		r.stopping.Store(true)
		w.wake()
	})
	var running sync.WaitGroup
	for _, l := range loops {
		running.Go(func() { l.run(ctx) })
	}
	group.Go(func() {
		running.Wait()
		stop()
		w.close()
	})
	return true
}

// loop is one shard's event loop: its connections, on one locked OS
// thread, with edge-triggered epoll, one read buffer and one deadline
// heap. Everything in it belongs to the loop's goroutine.
type loop struct {
	r       *runner
	sh      *shard
	epfd    int
	conns   []conn
	timers  *timers
	events  []unix.EpollEvent
	buf     []byte
	spills  []*spill // free list
	active  int      // connections not done
	rules   bodyRules
	request []byte
	dest    dest
	wait    bool // OnTimeout wait
	// rec records outcomes and checks bodies as a worker does: one path
	// for both (a worker of the loop's shard, with no connection).
	rec *worker

	warmEnd, measureEnd, graceEnd     int64
	timeout, connectTimeout, interval int64
}

// newLoop makes the loop of shard: the connections i of the run with
// i % shards = shard, and an epoll set holding wake.
func newLoop(r *runner, shard, wake int, d dest) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	// unix.Connect writes into the Sockaddr it is given: a copy per loop.
	switch sa := d.sa.(type) {
	case *unix.SockaddrInet4:
		c := *sa
		d.sa = &c
	case *unix.SockaddrInet6:
		c := *sa
		d.sa = &c
	}
	p := &r.plan
	l := &loop{
		r: r, sh: r.shards[shard], epfd: epfd, dest: d, wait: r.wait, request: r.request,
		rec:            &worker{r: r, sh: r.shards[shard]},
		buf:            make([]byte, readBufferBytes),
		rules:          bodyRules{skipBody: r.skipBody, capBytes: int64(p.MaxBodyBytes), contains: r.contains},
		warmEnd:        int64(r.warmEnd.Sub(r.start)),
		measureEnd:     int64(r.measureEnd.Sub(r.start)),
		graceEnd:       int64(r.graceEnd.Sub(r.start)),
		timeout:        int64(p.Timeout),
		connectTimeout: int64(p.ConnectTimeout),
	}
	shards := len(r.shards)
	n := (p.Connections - shard + shards - 1) / shards
	l.conns = make([]conn, n)
	l.timers = newTimers(n)
	l.events = make([]unix.EpollEvent, min(n+1, loopEvents))
	if p.Rate > 0 {
		// As the goroutine path: each connection carries Rate/Connections
		// requests per second, staggered evenly over one interval.
		l.interval = max(int64(float64(p.Connections)/p.Rate*float64(time.Second)), 1)
	}
	for i := range l.conns {
		c := &l.conns[i]
		c.fd, c.id, c.index = -1, int32(i), int32(shard+i*shards)
		if l.interval > 0 {
			c.next = int64(c.index) * l.interval / int64(p.Connections)
		}
	}
	l.active = n
	return l, nil
}

// close closes every socket of l and its epoll set.
func (l *loop) close() {
	for i := range l.conns {
		l.closeFd(&l.conns[i])
	}
	_ = unix.Close(l.epfd)
}

// now returns the time since the run's start.
func (l *loop) now() int64 { return int64(time.Since(l.r.start)) }

// run runs the loop until its connections are done or the run stops.
func (l *loop) run(ctx context.Context) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.close()
	if ctx.Err() != nil || l.r.stopping.Load() {
		return
	}
	l.start()
	for l.active > 0 {
		if l.step() {
			l.stop()
			return
		}
	}
}

// start begins every connection's first request.
func (l *loop) start() {
	for i := range l.conns {
		c := &l.conns[i]
		now := l.now()
		l.begin(c, now)
		l.drive(c, now)
	}
}

// step waits for readiness or the next timer, once, and handles what came;
// it reports whether the run is stopping.
func (l *loop) step() (stopping bool) {
	msec := -1
	if at, ok := l.timers.next(); ok {
		msec = 0
		if d := at - l.now(); d > 0 {
			msec = int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
		}
	}
	// Under load some socket is always ready: look without blocking
	// first, by a raw system call that the scheduler need not know of,
	// and block (a system call the scheduler sees) only when none is.
	n, errno := pollNow(l.epfd, l.events)
	if errno != 0 && errno != unix.EINTR {
		return true
	}
	if n == 0 && msec != 0 {
		var err error
		if n, err = unix.EpollWait(l.epfd, l.events, msec); err != nil {
			if !errors.Is(err, unix.EINTR) {
				return true
			}
			n = 0
		}
	}
	if l.r.stopping.Load() {
		return true
	}
	for i := range n {
		ev := &l.events[i]
		if ev.Fd == wakeID {
			continue
		}
		c := &l.conns[ev.Fd]
		if ev.Pad != c.gen || c.fd < 0 {
			continue
		}
		l.ready(c, ev.Events, l.now())
	}
	now := l.now()
	for {
		id, ok := l.timers.pop(now)
		if !ok {
			break
		}
		l.expire(&l.conns[id], now)
	}
	return false
}

// ready handles the readiness events of c.
func (l *loop) ready(c *conn, events uint32, now int64) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.readable = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.hup = true
	}
	if events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.writable = true
	}
	if c.state == connConnecting {
		if !c.writable {
			return
		}
		l.connected(c, now)
	}
	l.drive(c, now)
}

// drive writes and reads on c while it can make progress without waiting.
func (l *loop) drive(c *conn, now int64) {
	for {
		switch c.state {
		case connWriting:
			if !c.writable {
				return
			}
			n, errno := writeSocket(c.fd, l.request[c.wrote:])
			switch errno {
			case 0:
				if c.wrote += n; c.wrote == len(l.request) {
					c.state = connReading
				}
			case unix.EAGAIN:
				c.writable = false
				return
			case unix.EINTR:
			default:
				l.fail(c, now, KindWrite, l.opError("write", errno))
			}
		case connReading:
			if !l.read(c, now) {
				return
			}
		default:
			return
		}
	}
}

// read makes one step of reading c's response: it feeds the parser bytes
// kept from before, or reads once. It reports false when c must wait for
// readiness.
func (l *loop) read(c *conn, now int64) bool {
	if s := c.spill; s != nil && c.spillNew {
		c.spillNew = false
		used, res, err := c.p.feed(s.buf[:s.n], &l.rules)
		s.n = copy(s.buf[:], s.buf[used:s.n])
		switch {
		case err != nil:
			l.failRead(c, now, err)
		case res == feedDone:
			if s.n > 0 {
				c.spillNew = true
			} else {
				l.release(c)
			}
			l.respond(c, now)
		case res == feedMore:
			l.release(c)
		}
		return true
	}
	if !c.readable {
		return false
	}
	dst := l.buf
	if c.spill != nil {
		dst = c.spill.buf[c.spill.n:]
		if len(dst) == 0 {
			l.failRead(c, now, errHeadTooLarge)
			return true
		}
	}
	n, errno := readSocket(c.fd, dst)
	switch {
	case errno == unix.EAGAIN:
		c.readable = false
		return false
	case errno == unix.EINTR:
		return true
	case errno != 0:
		l.failRead(c, now, l.opError("read", errno))
		return true
	case n == 0:
		c.readable, c.hup = false, true
		l.eof(c, now)
		return true
	}
	c.got += uint64(n)
	if n < len(dst) && !c.hup {
		// A short read emptied the socket: the next bytes bring an edge.
		c.readable = false
	}
	if c.spill != nil {
		c.spill.n += n
		c.spillNew = true
		return true
	}
	used, res, err := c.p.feed(l.buf[:n], &l.rules)
	switch {
	case err != nil:
		l.failRead(c, now, err)
	case res == feedHead:
		l.stash(c, l.buf[used:n], false)
	case res == feedDone:
		if used < n {
			l.stash(c, l.buf[used:n], true)
		}
		l.respond(c, now)
	}
	return true
}

// stash keeps b in c's spill; fresh says the parser has not seen it.
func (l *loop) stash(c *conn, b []byte, fresh bool) {
	var s *spill
	if k := len(l.spills); k > 0 {
		s, l.spills = l.spills[k-1], l.spills[:k-1]
	} else {
		s = new(spill)
	}
	s.n = copy(s.buf[:], b)
	c.spill, c.spillNew = s, fresh
}

// release gives c's spill back to the free list.
func (l *loop) release(c *conn) {
	c.spill.n = 0
	l.spills = append(l.spills, c.spill)
	c.spill, c.spillNew = nil, false
}

// begin starts c's next request, or sleeps until it is due, or ends c's
// part of the run (the goroutine path's worker.run, one turn).
func (l *loop) begin(c *conn, now int64) {
	if l.interval == 0 {
		if now >= l.measureEnd {
			l.finish(c)
			return
		}
		c.startedLate = false
		l.send(c, now, now)
		return
	}
	intended := c.next
	if intended >= l.measureEnd {
		l.finish(c)
		return
	}
	c.startedLate = c.busyUntil > intended
	c.intended = intended
	if wake := min(intended, l.measureEnd); wake > now {
		c.state, c.sleep = connIdle, sleepSend
		l.timers.set(c.id, wake)
		return
	}
	if now >= l.measureEnd {
		// Requests still queued at the end are not sent: the shortfall
		// shows as Sent below Rate × Duration.
		l.finish(c)
		return
	}
	c.next = intended + l.interval
	l.send(c, intended, now)
}

// send counts c's request, intended at intended, and dials or writes it.
func (l *loop) send(c *conn, intended, now int64) {
	c.intended = intended
	c.measured = intended >= l.warmEnd
	if c.measured {
		l.sh.sent.Add(1)
		if c.startedLate {
			l.sh.startedLate.Add(1)
		}
	}
	if c.fd < 0 {
		l.dial(c, now)
	} else {
		l.exchange(c, now)
	}
}

// deadline returns t+limit cut to the end of the grace; cut reports
// whether it was.
func (l *loop) deadline(t, limit int64) (d int64, cut bool) {
	if d = t + limit; d > l.graceEnd {
		return l.graceEnd, true
	}
	return d, false
}

// dial opens c's socket and starts a non-blocking connect.
func (l *loop) dial(c *conn, now int64) {
	c.began = now
	deadline, cut := l.deadline(now, l.connectTimeout)
	c.cut = cut
	if l.dest.err != nil {
		l.dialFailed(c, now, l.dest.err)
		return
	}
	fd, err := unix.Socket(l.dest.domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		l.dialFailed(c, now, &net.OpError{Op: "dial", Net: "tcp", Addr: l.dest.addr, Err: os.NewSyscallError("socket", err)})
		return
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c.gen++
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: c.id, Pad: c.gen}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		_ = unix.Close(fd)
		l.dialFailed(c, now, &net.OpError{Op: "dial", Net: "tcp", Addr: l.dest.addr, Err: os.NewSyscallError("epoll_ctl", err)})
		return
	}
	c.fd = int32(fd)
	c.readable, c.hup, c.writable = false, false, false
	switch err := unix.Connect(fd, l.dest.sa); {
	case err == nil:
		c.writable = true
		l.connected(c, now)
	case errors.Is(err, unix.EINPROGRESS):
		c.state = connConnecting
		l.timers.set(c.id, deadline)
	default:
		l.closeFd(c)
		l.dialFailed(c, now, &net.OpError{Op: "dial", Net: "tcp", Addr: l.dest.addr, Err: os.NewSyscallError("connect", err)})
	}
}

// connected finishes c's connect: on success it writes the request.
func (l *loop) connected(c *conn, now int64) {
	errno, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && errno != 0 {
		err = unix.Errno(errno)
	}
	if err != nil {
		l.closeFd(c)
		l.dialFailed(c, now, &net.OpError{Op: "dial", Net: "tcp", Addr: l.dest.addr, Err: os.NewSyscallError("connect", err)})
		return
	}
	c.connect = max(now-c.began, 1)
	c.open = true
	open := l.r.open.Add(1)
	for {
		m := l.r.maxOpen.Load()
		if open <= m || l.r.maxOpen.CompareAndSwap(m, open) {
			break
		}
	}
	c.backoff, c.reused = 0, false
	l.exchange(c, now)
}

// dialFailed counts a failed dial and backs off.
func (l *loop) dialFailed(c *conn, now int64, err error) {
	l.timers.clear(c.id)
	c.state = connIdle
	if c.cut && now >= l.graceEnd {
		l.record(c, &outcome{status: statusInFlight})
		l.afterRequest(c, now, false)
		return
	}
	l.record(c, &outcome{status: statusError, kind: KindConnect, err: err})
	l.afterRequest(c, now, true)
}

// exchange starts c's request on its open connection.
func (l *loop) exchange(c *conn, now int64) {
	c.start = now
	deadline, cut := l.deadline(now, l.timeout)
	c.cut, c.patient, c.awaiting = cut, l.wait && !cut, false
	c.wrote, c.got = 0, 0
	c.p = respParser{}
	c.state = connWriting
	l.timers.set(c.id, deadline)
}

// respond counts the response c has read and goes on.
func (l *loop) respond(c *conn, now int64) {
	p := &c.p
	var o outcome
	if c.awaiting {
		// The late answer: not a response, and never checked.
		o = outcome{status: statusLate, direct: time.Duration(now - c.start), bytes: c.got}
	} else {
		code := int(p.status)
		o = outcome{
			status:     statusResponse,
			class:      classOf(code),
			latency:    time.Duration(now - c.intended),
			direct:     time.Duration(now - c.start),
			bytes:      c.got,
			unexpected: !l.r.statusOK(code) || !l.rec.bodyOK(p.seen, int(p.match)),
		}
		if l.interval == 0 {
			o.latency = o.direct
		}
	}
	c.patient, c.awaiting = false, false
	if p.close || p.truncated(&l.rules) {
		l.closeFd(c)
	} else {
		c.reused = true
	}
	l.timers.clear(c.id)
	c.state = connIdle
	l.record(c, &o)
	l.afterRequest(c, now, false)
}

// eof handles the end of c's stream while its response is read.
func (l *loop) eof(c *conn, now int64) {
	if c.p.eof() {
		l.respond(c, now)
		return
	}
	l.failRead(c, now, io.EOF)
}

// failRead handles a failed read of c: the end of a wait for a late
// answer, or a read error.
func (l *loop) failRead(c *conn, now int64, err error) {
	if c.awaiting {
		l.latePending(c, now)
		return
	}
	l.fail(c, now, KindRead, err)
}

// fail counts c's request as failed with kind, closes its connection and
// goes on.
func (l *loop) fail(c *conn, now int64, kind ErrorKind, err error) {
	reused, got := c.reused, c.got
	l.closeFd(c)
	l.timers.clear(c.id)
	c.state = connIdle
	o := outcome{status: statusError, kind: kind, err: err, bytes: got}
	if reused && got == 0 && peerClosed(kind, err) {
		o.kind = KindClosed
	}
	l.record(c, &o)
	l.afterRequest(c, now, false)
}

// latePending ends c's wait for a late answer unanswered.
func (l *loop) latePending(c *conn, now int64) {
	got := c.got
	l.closeFd(c)
	l.timers.clear(c.id)
	c.state, c.patient, c.awaiting = connIdle, false, false
	l.record(c, &outcome{status: statusLatePending, bytes: got})
	l.afterRequest(c, now, false)
}

// timedOut counts c's request as timed out (as in flight if its deadline
// was the end of the grace) and closes its connection.
func (l *loop) timedOut(c *conn, now int64) {
	got := c.got
	l.closeFd(c)
	c.state = connIdle
	o := outcome{status: statusError, kind: KindTimeout, err: os.ErrDeadlineExceeded, bytes: got}
	if c.cut {
		o.status = statusInFlight
	}
	l.record(c, &o)
	l.afterRequest(c, now, false)
}

// expire handles c's timer.
func (l *loop) expire(c *conn, now int64) {
	switch c.state {
	case connIdle:
		if now >= l.measureEnd {
			l.finish(c)
			return
		}
		switch c.sleep {
		case sleepSend:
			c.next = c.intended + l.interval
			l.send(c, c.intended, now)
		case sleepBackoff:
			if l.interval > 0 {
				c.busyUntil = now
			}
			l.begin(c, now)
		}
	case connConnecting:
		l.closeFd(c)
		l.dialFailed(c, now, &net.OpError{Op: "dial", Net: "tcp", Addr: l.dest.addr, Err: os.ErrDeadlineExceeded})
	case connWriting:
		// No answer can follow a request not sent whole: closed under
		// either policy.
		l.timedOut(c, now)
	case connReading:
		switch {
		case c.awaiting:
			l.latePending(c, now)
		case c.patient:
			// OnTimeout wait: counted now, then the answer is read on
			// until the end of the grace.
			c.awaiting = true
			l.record(c, &outcome{status: statusError, kind: KindTimeout, err: os.ErrDeadlineExceeded})
			l.timers.set(c.id, l.graceEnd)
		default:
			l.timedOut(c, now)
		}
	}
	l.drive(c, now)
}

// afterRequest backs off after a failed dial, then begins c's next request.
func (l *loop) afterRequest(c *conn, now int64, connectFailed bool) {
	if connectFailed {
		c.backoff = min(max(2*c.backoff, int64(minConnectBackoff)), int64(maxConnectBackoff))
		if wake := min(now+c.backoff, l.measureEnd); wake > now {
			c.state, c.sleep = connIdle, sleepBackoff
			l.timers.set(c.id, wake)
			return
		}
	}
	if l.interval > 0 {
		c.busyUntil = now
	}
	l.begin(c, now)
}

// finish ends c's part of the run.
func (l *loop) finish(c *conn) {
	l.closeFd(c)
	l.timers.clear(c.id)
	c.state = connDone
	l.active--
}

// stop ends the run for every connection of l: requests under way count
// as in flight (or, awaiting a late answer, as pending).
func (l *loop) stop() {
	for i := range l.conns {
		c := &l.conns[i]
		switch c.state {
		case connConnecting:
			l.record(c, &outcome{status: statusInFlight})
		case connWriting, connReading:
			if c.awaiting {
				l.record(c, &outcome{status: statusLatePending, bytes: c.got})
			} else {
				l.record(c, &outcome{status: statusInFlight, bytes: c.got})
			}
		case connDone:
			continue
		}
		l.finish(c)
	}
}

// record adds o, the outcome of c's request, to the shard.
func (l *loop) record(c *conn, o *outcome) {
	o.connect, c.connect = time.Duration(c.connect), 0
	l.rec.record(c.measured, o)
}

// closeFd closes c's socket, if open.
func (l *loop) closeFd(c *conn) {
	if c.fd < 0 {
		return
	}
	_ = unix.Close(int(c.fd))
	c.fd = -1
	if c.open {
		c.open = false
		l.r.open.Add(-1)
	}
	c.reused, c.readable, c.hup, c.writable = false, false, false, false
	if c.spill != nil {
		l.release(c)
	}
}

// opError describes a failed read or write as net does.
func (l *loop) opError(op string, errno unix.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: l.dest.addr, Err: os.NewSyscallError(op, errno)}
}

// writeSocket writes b to the non-blocking socket fd (without SIGPIPE);
// readSocket reads into b. Raw system calls: they never block, so the
// scheduler need not know.
func writeSocket(fd int32, b []byte) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// pollNow returns the readiness events of epfd ready now, without
// blocking (epoll_pwait with a zero timeout and no signal mask).
func pollNow(epfd int, events []unix.EpollEvent) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// readSocket reads from the non-blocking socket fd into b.
func readSocket(fd int32, b []byte) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}
