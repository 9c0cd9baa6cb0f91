package engine

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer is a real HTTP/1.1 server on a loopback port whose behaviour per
// request is set by the test, byte for byte: canned answers, closes,
// resets, silence, malformed answers. It counts connections and requests.
type rawServer struct {
	url      string
	addr     string
	conns    atomic.Int64
	requests atomic.Int64

	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	open    map[net.Conn]struct{} // guarded by mu
	stopped bool                  // guarded by mu
}

// behaviour answers the n-th request (from 0) read on c and reports whether
// the server keeps reading from c; false closes it.
type behaviour func(c net.Conn, n int) bool

// okResponse is a keep-alive 200 with a 2-byte body.
var okResponse = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")

// respond answers every request with resp and keeps the connection.
func respond(resp []byte) behaviour {
	return func(c net.Conn, _ int) bool {
		_, err := c.Write(resp)
		return err == nil
	}
}

func startRaw(t testing.TB, b behaviour) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveRaw(t, ln, b)
}

// startRawTLS is startRaw over TLS with the certificate of testCert: the
// behaviour's conn is a *tls.Conn (see tcpOf) and url is https://.
func startRawTLS(t testing.TB, b behaviour) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := serveRaw(t, tls.NewListener(ln, serverTLS(t)), b)
	s.url = "https://" + s.addr + "/path?q=1"
	return s
}

// tcpOf returns the TCP connection under c, which may be a *tls.Conn.
func tcpOf(c net.Conn) *net.TCPConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	return c.(*net.TCPConn)
}

// serveRaw serves b on ln until the test ends or stop is called.
func serveRaw(t testing.TB, ln net.Listener, b behaviour) *rawServer {
	s := &rawServer{ln: ln, addr: ln.Addr().String(), open: map[net.Conn]struct{}{}}
	s.url = "http://" + s.addr + "/path?q=1"
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.stopped {
				// stop ran between Accept and here.
				s.mu.Unlock()
				_ = c.Close()
				return
			}
			s.conns.Add(1)
			s.open[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() { s.serve(c, b) })
		}
	})
	t.Cleanup(s.stop)
	return s
}

// stop kills the server: it closes the listener and every open connection,
// and returns once all its goroutines have ended. Calling it again does
// nothing more.
func (s *rawServer) stop() {
	_ = s.ln.Close()
	s.mu.Lock()
	s.stopped = true
	for c := range s.open {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rawServer) serve(c net.Conn, b behaviour) {
	defer func() {
		s.mu.Lock()
		delete(s.open, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	br := bufio.NewReader(c)
	for n := 0; ; n++ {
		if !readRequest(br) {
			return
		}
		s.requests.Add(1)
		if !b(c, n) {
			return
		}
	}
}

// readRequest reads one request head and its Content-Length body; it
// reports false when the connection ended first.
func readRequest(br *bufio.Reader) bool {
	const cl = "content-length:"
	bodyBytes := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return false
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if len(line) > len(cl) && bytes.EqualFold(line[:len(cl)], []byte(cl)) {
			for _, c := range bytes.TrimSpace(line[len(cl):]) {
				bodyBytes = 10*bodyBytes + int(c-'0')
			}
		}
	}
	_, err := br.Discard(bodyBytes)
	return err == nil
}

// waitFor polls cond for up to d; tests use it for server-side counts,
// which may trail the client by a scheduling delay.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// bigBody returns a behaviour answering with a body of n bytes.
func bigBody(n int) behaviour {
	head := []byte("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n")
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	return func(c net.Conn, _ int) bool {
		if _, err := c.Write(head); err != nil {
			return false
		}
		for left := n; left > 0; {
			m := min(left, len(chunk))
			if _, err := c.Write(chunk[:m]); err != nil {
				return false
			}
			left -= m
		}
		return true
	}
}
