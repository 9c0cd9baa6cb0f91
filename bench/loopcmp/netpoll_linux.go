// Backend netpoll: github.com/cloudwego/netpoll's client, one poller.
//
// How netpoll is used: Configure in init sets one poller (PollerNum 1,
// netpoll's default below 20 Ps anyway). netpoll.DialConnection connects
// each socket (64 goroutines dial at once; every connection is open before
// the first request) and registers it with the poller, which
// readv(2)s into the connection's input LinkBuffer when epoll reports it
// readable. The closed loop is the OnRequest callback netpoll offers
// clients (Connection.SetOnRequest), run through netpoll's Runner while
// the input buffer holds bytes: it counts Reader().Len() bytes against
// the response, Skips and Releases them and, when a response is
// complete, copies req into the output LinkBuffer (Writer().WriteBinary)
// and Flushes it (one sendmsg(2)). The first request is written the same
// way, before the callback is set. Stopping closes every connection (about 1 s for
// 10000). NETPOLL_MODE picks the variant: "" (default: OnRequest on
// netpoll's default Runner, the gopool goroutine pool, so a goroutine
// switch per response), "goroutine" (a goroutine per connection looping
// on blocking WriteBinary/Flush/Skip/Release, the net.Conn style; the
// poller wakes it through a channel; each stops after its current
// response, before Close frees its buffers) or "inline" (OnRequest on
// the poller goroutine itself, Config.Runner calling f directly: safe
// only because the handler never waits, as a Flush of one request that
// fits the socket buffer does not). The smoke runs could not rank them.
//
// Memory: per connection an input LinkBuffer with 8 KiB nodes (netpoll's
// BufferSize default) that Release returns to netpoll's cache, an output
// LinkBuffer, a barrier from a pool, two trigger channels and, in mode
// "goroutine", a goroutine: about 9-12 KiB a connection measured (RSS
// 90-125 MB at 10000 connections, against 7-11 MB for gnet and unix).
package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudwego/netpoll"
)

var netpollMode = os.Getenv("NETPOLL_MODE")

func init() {
	backends["netpoll"] = runNetpoll
	cfg := netpoll.Config{PollerNum: 1}
	if netpollMode == "inline" {
		cfg.Runner = func(_ context.Context, f func()) { f() }
	}
	if err := netpoll.Configure(cfg); err != nil {
		panic(err)
	}
}

func runNetpoll(ctx context.Context, addr string, conns int, req []byte, respLen int) (int64, error) {
	var (
		done    atomic.Int64
		stopped atomic.Bool
		once    sync.Once
		failErr error
		wg      sync.WaitGroup
	)
	failed := make(chan struct{})
	fail := func(err error) {
		if stopped.Load() {
			return
		}
		once.Do(func() {
			failErr = err
			close(failed)
		})
	}
	send := func(c netpoll.Connection) error {
		w := c.Writer()
		if _, err := w.WriteBinary(req); err != nil {
			return err
		}
		return w.Flush()
	}
	open := make([]netpoll.Connection, 0, conns)
	defer func() {
		// A goroutine of mode "goroutine" must be out of Writer and
		// Reader before Close frees their buffers: it stops after its
		// current response.
		stopped.Store(true)
		wg.Wait()
		for _, c := range open {
			_ = c.Close()
		}
	}()
	var err error
	open, err = dialAll(ctx, "netpoll", conns, func() (netpoll.Connection, error) {
		return netpoll.DialConnection("tcp", addr, 5*time.Second)
	})
	if err != nil {
		return 0, err
	}
	for i, c := range open {
		_ = c.AddCloseCallback(func(netpoll.Connection) error {
			fail(fmt.Errorf("connection %d closed", i))
			return nil
		})
		if netpollMode == "goroutine" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.Reader()
				for !stopped.Load() {
					if err := send(c); err != nil {
						fail(err)
						return
					}
					if err := r.Skip(respLen); err != nil {
						fail(err)
						return
					}
					_ = r.Release()
					done.Add(1)
				}
			}()
			continue
		}
		// The first request goes out before OnRequest is set (which
		// runs it at once if the answer is already in): sent after,
		// its Flush could race the callback's ("concurrent connection
		// access when flush").
		if err := send(c); err != nil {
			return 0, err
		}
		left := respLen // bytes of the current response still to come
		_ = c.SetOnRequest(func(_ context.Context, c netpoll.Connection) error {
			r := c.Reader()
			n := r.Len()
			if n > left {
				fail(fmt.Errorf("%d bytes more than a response: pipelining is not measured", n-left))
				return c.Close()
			}
			_ = r.Skip(n)
			_ = r.Release()
			left -= n
			if left == 0 {
				if stopped.Load() {
					// The run is over: no more requests (their CPU
					// would be charged to the counted ones).
					return nil
				}
				done.Add(1)
				left = respLen
				if err := send(c); err != nil {
					fail(err)
					return err
				}
			}
			return nil
		})
	}
	select {
	case <-ctx.Done():
	case <-failed:
	}
	stopped.Store(true)
	n := done.Load()
	select {
	case <-failed:
		return n, failErr
	default:
		return n, nil
	}
}
