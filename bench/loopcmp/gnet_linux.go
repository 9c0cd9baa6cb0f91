// Backend gnet: github.com/panjf2000/gnet/v2's client, one event loop.
//
// How gnet is used: gnet.NewClient takes an EventHandler and options: one
// event loop (WithNumEventLoop(1)), TCP_NODELAY, level-triggered epoll
// (gnet's default), no locked OS thread, gnet's logging off (it would go
// to stdout). GNET_ET=1 sets WithEdgeTriggeredIO (every event then ends
// with a read that returns EAGAIN), GNET_LOCK=1 WithLockOSThread (the
// loop's runtime.Gosched before it blocks then hands the P to another
// thread); smoke runs on a shared machine could not tell them apart.
// Client.DialContext connects with net.Dial, dups the socket into the loop
// and waits until OnOpen has run, one connection after another: with
// traffic on the loop meanwhile that was about 100 connections a second
// here (10,000 connections were never all open in a 10 s run), so every
// connection is opened first, idle, and then each is started with
// Conn.AsyncWrite of req; 64 goroutines dial at once (the time to open
// them counts in the run, as the other backends' connects do, and is
// printed on stderr). OnTraffic runs
// on the loop after every read (one read(2) of up to 64 KiB into the
// loop's shared buffer; in ET mode reads until EAGAIN): it counts
// InboundBuffered bytes against the response, Discards them and, when a
// response is complete, writes req with c.Write (one write(2)).
// Client.Stop ends the loop, which closes every connection.
//
// Memory: per connection a conn struct and two elastic buffers, an
// inbound ring buffer (bytes OnTraffic leaves unread: none here) and an
// outbound ring+list buffer (bytes a write could not send), both taken
// from a pool only when used; the loop's read buffer (64 KiB,
// ReadBufferCap) is shared.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

func init() { backends["gnet"] = runGnet }

// gnetHandler counts responses on the event loop; a connection's
// context is a *int, the bytes of its current response still to come.
type gnetHandler struct {
	gnet.BuiltinEventEngine
	req     []byte
	respLen int
	done    int64       // complete responses; read after Stop
	stopped atomic.Bool // set before Stop: later closes are ours
	failed  chan struct{}
	once    sync.Once
	err     error
}

func (h *gnetHandler) fail(err error) {
	h.once.Do(func() {
		h.err = err
		close(h.failed)
	})
}

func (h *gnetHandler) OnShutdown(gnet.Engine) {}

func (h *gnetHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	*c.Context().(*int) = h.respLen
	return nil, gnet.None
}

func (h *gnetHandler) OnTraffic(c gnet.Conn) gnet.Action {
	left := c.Context().(*int)
	n := c.InboundBuffered()
	if n > *left {
		h.fail(fmt.Errorf("%d bytes more than a response: pipelining is not measured", n-*left))
		return gnet.Close
	}
	_, _ = c.Discard(n)
	*left -= n
	if *left == 0 {
		h.done++
		*left = h.respLen
		if _, err := c.Write(h.req); err != nil {
			h.fail(err)
			return gnet.Close
		}
	}
	return gnet.None
}

func (h *gnetHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	if h.stopped.Load() {
		return gnet.None
	}
	if err == nil {
		err = errors.New("closed")
	}
	h.fail(fmt.Errorf("connection %d: %w", c.Fd(), err))
	return gnet.None
}

// quietLogger drops gnet's debug and info lines (they would go to
// stdout, beside the figures) and writes the rest to stderr.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+f+"\n", a...)
}
func (quietLogger) Errorf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+f+"\n", a...)
}
func (quietLogger) Fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+f+"\n", a...)
	os.Exit(1)
}

func runGnet(ctx context.Context, addr string, conns int, req []byte, respLen int) (int64, error) {
	h := &gnetHandler{req: req, respLen: respLen, failed: make(chan struct{})}
	cli, err := gnet.NewClient(h,
		gnet.WithNumEventLoop(1),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithEdgeTriggeredIO(os.Getenv("GNET_ET") == "1"),
		gnet.WithLockOSThread(os.Getenv("GNET_LOCK") == "1"),
		gnet.WithLogger(quietLogger{}),
	)
	if err != nil {
		return 0, err
	}
	if err := cli.Start(); err != nil {
		return 0, err
	}
	stop := func() error {
		h.stopped.Store(true)
		return cli.Stop()
	}
	opened, err := dialAll(ctx, "gnet", conns, func() (gnet.Conn, error) {
		return cli.DialContext("tcp", addr, new(int))
	})
	if err != nil {
		_ = stop()
		return 0, err
	}
	for _, c := range opened {
		if err := c.AsyncWrite(h.req, nil); err != nil {
			_ = stop()
			return 0, err
		}
	}
	select {
	case <-ctx.Done():
	case <-h.failed:
	}
	if err := stop(); err != nil {
		return h.done, err
	}
	return h.done, h.err
}
