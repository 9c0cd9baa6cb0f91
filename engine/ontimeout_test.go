package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lateServer is a loopback HTTP/1.1 server whose answer to each request
// comes when answer says, and which checks, per connection, that no
// request arrives while the previous one is unanswered: before it answers,
// it looks for bytes of a next request already sent (a violation).
type lateServer struct {
	url        string
	conns      atomic.Int64
	requests   atomic.Int64
	violations atomic.Int64
	ln         net.Listener
	wg         sync.WaitGroup
	mu         sync.Mutex
	open       map[net.Conn]struct{}
	done       chan struct{}
}

// lateAnswer answers the n-th request (from 0) of a connection through
// write, which checks for a next request first and reports whether the
// write went out; it reports whether the server keeps the connection. done
// closes when the test ends: waits must end with it.
type lateAnswer func(write func([]byte) bool, n int, done <-chan struct{}) bool

// okAfter answers with okResponse after d, every request.
func okAfter(d time.Duration) lateAnswer {
	return func(write func([]byte) bool, _ int, done <-chan struct{}) bool {
		select {
		case <-time.After(d):
		case <-done:
			return false
		}
		return write(okResponse)
	}
}

func startLate(t *testing.T, useTLS bool, answer lateAnswer) *lateServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lateServer{url: "http://" + ln.Addr().String() + "/late", ln: ln, open: map[net.Conn]struct{}{}, done: make(chan struct{})}
	if useTLS {
		s.ln = tls.NewListener(ln, serverTLS(t))
		s.url = "https://" + ln.Addr().String() + "/late"
	}
	s.wg.Go(func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open[c] = struct{}{}
			s.mu.Unlock()
			s.conns.Add(1)
			s.wg.Go(func() { s.serve(c, answer) })
		}
	})
	t.Cleanup(func() {
		close(s.done)
		_ = s.ln.Close()
		s.mu.Lock()
		for c := range s.open {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *lateServer) serve(c net.Conn, answer lateAnswer) {
	defer func() {
		s.mu.Lock()
		delete(s.open, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReader(c)
	write := func(b []byte) bool {
		// Anything sent before the answer (or its end) is a request on a
		// connection with one pending. A closed connection is not.
		_ = c.SetReadDeadline(time.Now())
		if _, err := br.Peek(1); err == nil {
			s.violations.Add(1)
		}
		_ = c.SetReadDeadline(time.Time{})
		_, err := c.Write(b)
		return err == nil
	}
	for n := 0; ; n++ {
		if !readRequest(br) {
			return
		}
		s.requests.Add(1)
		if !answer(write, n, s.done) {
			return
		}
	}
}

// checkLate fails t unless the late-answer counts of res are consistent:
// with OnTimeout wait, every timeout ended as a late response or a pending
// one, and the late histogram holds the late responses.
func checkLate(t *testing.T, res *Result) {
	t.Helper()
	checkInvariant(t, res)
	if res.Plan.OnTimeout != TimeoutWait {
		if res.LateResponses != 0 || res.LateResponsesPending != 0 || res.LateResponseLatency != nil {
			t.Errorf("late responses %d, pending %d, histogram %v with %s", res.LateResponses, res.LateResponsesPending, res.LateResponseLatency, res.Plan.OnTimeout)
		}
		return
	}
	if got := res.LateResponses + res.LateResponsesPending; got != res.Errors[KindTimeout] {
		t.Errorf("late responses %d + pending %d = %d, want the %d timeouts", res.LateResponses, res.LateResponsesPending, got, res.Errors[KindTimeout])
	}
	if n := res.LateResponseLatency.TotalCount(); uint64(n) != res.LateResponses {
		t.Errorf("late latency histogram holds %d values for %d late responses", n, res.LateResponses)
	}
}

func TestRunOnTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name   string
		tls    bool
		answer lateAnswer
		plan   Plan // URL is filled in
		check  func(t *testing.T, res *Result, s *lateServer)
	}{
		{
			// Every answer comes 150 ms after its request, 100 ms after
			// the deadline; the grace outlasts them all.
			name:   "wait: slow server",
			answer: okAfter(150 * time.Millisecond),
			plan:   Plan{Connections: 2, Threads: 1, Duration: 600 * time.Millisecond, Timeout: timeout, Grace: time.Second, OnTimeout: TimeoutWait},
			check: func(t *testing.T, res *Result, s *lateServer) {
				if res.Sent < 4 || res.Completed() != 0 || res.InFlight != 0 {
					t.Errorf("sent %d, completed %d, in flight %d; want ≥ 4, 0, 0", res.Sent, res.Completed(), res.InFlight)
				}
				if res.Errors[KindTimeout] != res.Sent || res.LateResponses != res.Sent || res.LateResponsesPending != 0 {
					t.Errorf("timeouts %d, late %d, pending %d; want each of the %d requests timed out and answered late",
						res.Errors[KindTimeout], res.LateResponses, res.LateResponsesPending, res.Sent)
				}
				if lo := res.LateResponseLatency.Min(); lo < 150_000 {
					t.Errorf("fastest late answer %d µs, want ≥ 150 ms", lo)
				}
				if res.Latency.TotalCount() != 0 {
					t.Errorf("latency histogram holds %d values, want none", res.Latency.TotalCount())
				}
				if res.BytesRead != res.Sent*uint64(len(okResponse)) {
					t.Errorf("bytes read %d, want %d late answers of %d", res.BytesRead, res.Sent, len(okResponse))
				}
				// The connections were kept: two dials, two server connections.
				if res.ConnectLatency.TotalCount() != 2 || s.conns.Load() != 2 {
					t.Errorf("%d dials, %d server connections; want 2 and 2", res.ConnectLatency.TotalCount(), s.conns.Load())
				}
			},
		},
		{
			name:   "wait: slow server over TLS",
			tls:    true,
			answer: okAfter(150 * time.Millisecond),
			plan:   Plan{Connections: 2, Threads: 1, Duration: 400 * time.Millisecond, Timeout: timeout, Grace: time.Second, OnTimeout: TimeoutWait, InsecureSkipVerify: true},
			check: func(t *testing.T, res *Result, s *lateServer) {
				if res.Sent < 2 || res.LateResponses != res.Sent || res.Errors[KindTimeout] != res.Sent {
					t.Errorf("sent %d, late %d, timeouts %d; want all answered late", res.Sent, res.LateResponses, res.Errors[KindTimeout])
				}
				if s.conns.Load() != 2 {
					t.Errorf("%d server connections, want 2", s.conns.Load())
				}
			},
		},
		{
			// The same server with today's policy: every timeout closes
			// its connection, so each request has a connection of its own.
			name:   "reconnect: slow server",
			answer: okAfter(150 * time.Millisecond),
			plan:   Plan{Connections: 2, Threads: 1, Duration: 400 * time.Millisecond, Timeout: timeout, Grace: time.Second},
			check: func(t *testing.T, res *Result, s *lateServer) {
				if res.Plan.OnTimeout != TimeoutReconnect {
					t.Errorf("OnTimeout %q, want the default %q", res.Plan.OnTimeout, TimeoutReconnect)
				}
				if res.Sent < 8 || res.Errors[KindTimeout] != res.Sent {
					t.Errorf("sent %d, timeouts %d; want ≥ 8, all", res.Sent, res.Errors[KindTimeout])
				}
				if got := s.conns.Load(); uint64(got) != res.Sent {
					t.Errorf("%d server connections for %d requests, want one each", got, res.Sent)
				}
			},
		},
		{
			// The server reads and never answers: each connection sends
			// one request, waits out the grace and is closed.
			name: "wait: stalled server",
			answer: func(_ func([]byte) bool, _ int, done <-chan struct{}) bool {
				<-done
				return false
			},
			plan: Plan{Connections: 3, Threads: 1, Duration: 300 * time.Millisecond, Timeout: timeout, Grace: 200 * time.Millisecond, OnTimeout: TimeoutWait},
			check: func(t *testing.T, res *Result, s *lateServer) {
				if res.Sent != 3 || res.Errors[KindTimeout] != 3 || res.LateResponsesPending != 3 || res.LateResponses != 0 {
					t.Errorf("sent %d, timeouts %d, pending %d, late %d; want 3, 3, 3, 0",
						res.Sent, res.Errors[KindTimeout], res.LateResponsesPending, res.LateResponses)
				}
				if s.conns.Load() != 3 {
					t.Errorf("%d server connections, want 3", s.conns.Load())
				}
			},
		},
		{
			// Even requests are answered at once, odd ones 120 ms late:
			// after a late answer the connection carries the next request.
			name: "wait: every other answer late",
			answer: func(write func([]byte) bool, n int, done <-chan struct{}) bool {
				if n%2 == 1 {
					select {
					case <-time.After(120 * time.Millisecond):
					case <-done:
						return false
					}
				}
				return write(okResponse)
			},
			plan: Plan{Connections: 2, Threads: 1, Duration: 600 * time.Millisecond, Timeout: timeout, Grace: time.Second, OnTimeout: TimeoutWait},
			check: func(t *testing.T, res *Result, s *lateServer) {
				if res.Completed() == 0 || res.LateResponses == 0 || res.Completed()+res.LateResponses != res.Sent {
					t.Errorf("completed %d + late %d, want both and their sum the %d sent", res.Completed(), res.LateResponses, res.Sent)
				}
				// Per connection, answers alternate: on time, late, ...
				if d := int64(res.Completed()) - int64(res.LateResponses); d < 0 || d > 2 {
					t.Errorf("completed %d, late %d: want as many, or up to 2 more on time", res.Completed(), res.LateResponses)
				}
				if s.conns.Load() != 2 {
					t.Errorf("%d server connections, want 2", s.conns.Load())
				}
			},
		},
		{
			// The head and half the body at once, the rest 120 ms later:
			// the deadline fires inside the body, which is then read on.
			name: "wait: body arrives late",
			answer: func(write func([]byte) bool, _ int, done <-chan struct{}) bool {
				if !write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst")) {
					return false
				}
				select {
				case <-time.After(120 * time.Millisecond):
				case <-done:
					return false
				}
				return write([]byte("-half"))
			},
			plan: Plan{Connections: 1, Duration: 500 * time.Millisecond, Timeout: timeout, Grace: time.Second, OnTimeout: TimeoutWait},
			check: func(t *testing.T, res *Result, s *lateServer) {
				if res.Sent < 2 || res.LateResponses != res.Sent || res.TotalErrors() != res.Sent {
					t.Errorf("sent %d, late %d, errors %v; want every answer late and only timeouts", res.Sent, res.LateResponses, res.Errors)
				}
				if s.conns.Load() != 1 {
					t.Errorf("%d server connections, want 1", s.conns.Load())
				}
			},
		},
		{
			// The server closes instead of answering late: the wait ends,
			// the timeout is not counted again, and a new connection opens.
			name: "wait: server closes instead",
			answer: func(_ func([]byte) bool, _ int, done <-chan struct{}) bool {
				select {
				case <-time.After(120 * time.Millisecond):
				case <-done:
				}
				return false
			},
			plan: Plan{Connections: 2, Threads: 1, Duration: 500 * time.Millisecond, Timeout: timeout, Grace: time.Second, OnTimeout: TimeoutWait},
			check: func(t *testing.T, res *Result, s *lateServer) {
				if res.Sent < 4 || res.TotalErrors() != res.Sent || res.Errors[KindTimeout] != res.Sent || res.LateResponsesPending != res.Sent {
					t.Errorf("sent %d, errors %v, pending %d; want each a timeout, then pending", res.Sent, res.Errors, res.LateResponsesPending)
				}
				if got := s.conns.Load(); uint64(got) != res.Sent {
					t.Errorf("%d server connections for %d requests, want one each", got, res.Sent)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startLate(t, tt.tls, tt.answer)
			p := tt.plan
			p.URL = s.url
			res, err := Run(t.Context(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkLate(t, res)
			// Warm-up is zero: the server saw exactly the requests sent.
			if !waitFor(time.Second, func() bool { return uint64(s.requests.Load()) == res.Sent }) {
				t.Errorf("server saw %d requests, engine sent %d", s.requests.Load(), res.Sent)
			}
			if v := s.violations.Load(); v != 0 {
				t.Errorf("%d requests sent on a connection whose answer was pending", v)
			}
			tt.check(t, res, s)
		})
	}
}

// TestRunOnTimeoutWaitStopped stops a run while its connections wait for
// late answers: they are closed and counted as pending, and Run returns
// well before the end of the grace.
func TestRunOnTimeoutWaitStopped(t *testing.T) {
	s := startLate(t, false, func(_ func([]byte) bool, _ int, done <-chan struct{}) bool {
		<-done
		return false
	})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	res, err := Run(ctx, Plan{URL: s.url, Connections: 2, Threads: 1, Duration: 10 * time.Second, Timeout: 50 * time.Millisecond, OnTimeout: TimeoutWait}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || res == nil {
		t.Fatalf("err %v, result %v; want the stop and a partial result", err, res)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Run took %s after a stop at 300ms", took)
	}
	checkLate(t, res)
	if res.Sent != 2 || res.Errors[KindTimeout] != 2 || res.LateResponsesPending != 2 || res.InFlight != 0 {
		t.Errorf("sent %d, timeouts %d, pending %d, in flight %d; want 2, 2, 2, 0", res.Sent, res.Errors[KindTimeout], res.LateResponsesPending, res.InFlight)
	}
	if v := s.violations.Load(); v != 0 {
		t.Errorf("%d requests sent on a connection whose answer was pending", v)
	}
}
