// Command loopcmp measures I/O mechanisms for a load generator's hot path,
// one at a time, beside benchd's engine and wrk (bench/compare.sh, issue
// 16): a closed loop of keep-alive GETs on -c connections for -d, one
// thread (GOMAXPROCS 1), printing "Requests/sec: N" as wrk does.
//
// Every backend does the same work apart from the mechanism: the request
// bytes are built once; a response is counted by its length, which the
// first response (read with net/http-free code below) fixes, so the target
// must answer every request with the same bytes (a static file). No
// backend parses headers, so the figures compare system calls, polling
// and buffering, not parsers. It is a separate module so that the
// libraries it measures stay out of benchd's binary.
//
// Usage: loopcmp -backend unix|gnet|netpoll|uring -c 50 -d 10s http://127.0.0.1:18080/index.json
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// backend drives conns keep-alive connections to addr (host:port), each
// writing req and waiting for respLen bytes before writing it again, until
// ctx is done. It returns the number of complete responses. A backend
// must stop by itself when ctx ends and close every socket it opened.
type backend func(ctx context.Context, addr string, conns int, req []byte, respLen int) (int64, error)

// backends holds every mechanism built into this binary, by name; each
// file registers its own in init.
var backends = map[string]backend{}

func main() {
	name := flag.String("backend", "unix", "the mechanism: "+strings.Join(names(), ", "))
	conns := flag.Int("c", 50, "connections")
	duration := flag.Duration("d", 10*time.Second, "duration")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: loopcmp [-backend B] [-c N] [-d D] URL")
		os.Exit(2)
	}
	if *conns < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "loopcmp: -c must be at least 1 and -d above 0")
		os.Exit(2)
	}
	run, ok := backends[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "loopcmp: no backend %q; have %s\n", *name, strings.Join(names(), ", "))
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	addr, req, err := request(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loopcmp:", err)
		os.Exit(1)
	}
	respLen, err := probe(addr, req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loopcmp:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	start := time.Now()
	n, err := run(ctx, addr, *conns, req, respLen)
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loopcmp: %s: %v\n", *name, err)
		os.Exit(1)
	}
	if n == 0 {
		fmt.Fprintf(os.Stderr, "loopcmp: %s: no response completed in %v: the target stopped answering\n", *name, *duration)
		os.Exit(1)
	}
	fmt.Printf("%d requests in %.2fs, backend %s, %d connections, response %d bytes\n", n, elapsed.Seconds(), *name, *conns, respLen)
	fmt.Printf("Requests/sec: %.2f\n", float64(n)/elapsed.Seconds())
}

func names() []string {
	var s []string
	for k := range backends {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// request returns host:port and the bytes of a keep-alive GET for rawURL.
func request(rawURL string) (string, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", nil, err
	}
	if u.Scheme != "http" {
		return "", nil, fmt.Errorf("%s: only http:// is measured", rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.RequestURI()
	return host, []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: loopcmp\r\n\r\n"), nil
}

// probe sends req twice on one connection and returns the length in bytes
// of the whole response; both must be 200s of the same length.
func probe(addr string, req []byte) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	var lengths [2]int
	for i := range lengths {
		if _, err := c.Write(req); err != nil {
			return 0, err
		}
		n, body := 0, -1
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return 0, err
			}
			n += len(line)
			if n == len(line) && !strings.HasPrefix(line, "HTTP/1.1 200 ") {
				return 0, fmt.Errorf("%s answered %q: a 200 is needed", addr, strings.TrimSpace(line))
			}
			k, v, ok := strings.Cut(line, ":")
			if ok && strings.EqualFold(k, "content-length") {
				body, err = strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					return 0, err
				}
			}
			if line == "\r\n" {
				break
			}
		}
		if body < 0 {
			return 0, errors.New("the response has no Content-Length: a static file is needed")
		}
		if _, err := r.Discard(body); err != nil {
			return 0, err
		}
		lengths[i] = n + body
	}
	if lengths[0] != lengths[1] {
		return 0, fmt.Errorf("two responses of %d and %d bytes: every response must have the same bytes", lengths[0], lengths[1])
	}
	return lengths[0], nil
}

// dialers is how many connections [dialAll] opens at once.
const dialers = 64

// dialAll opens conns connections with dial, [dialers] at a time, before
// any request, until ctx ends (a library whose dial blocks, one after
// another, opened about 100 a second under traffic). It returns those
// opened, also with the first error, for the caller to close, and prints
// the time it took on stderr after name.
func dialAll[T any](ctx context.Context, name string, conns int, dial func() (T, error)) ([]T, error) {
	start := time.Now()
	var (
		mu     sync.Mutex
		opened = make([]T, 0, conns)
		first  error
		group  sync.WaitGroup
		next   atomic.Int64
	)
	for range dialers {
		group.Go(func() {
			for next.Add(1) <= int64(conns) && ctx.Err() == nil {
				c, err := dial()
				mu.Lock()
				if err != nil && first == nil {
					first = err
				} else if err == nil {
					opened = append(opened, c)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	group.Wait()
	fmt.Fprintf(os.Stderr, "%s: %d connections open in %v\n", name, len(opened), time.Since(start).Round(time.Millisecond))
	return opened, first
}
