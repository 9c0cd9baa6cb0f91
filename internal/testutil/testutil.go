// Package testutil holds helpers shared by benchd's tests. It is not meant
// for import outside tests.
package testutil

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a test server that must be told its port before it starts (a managed
// process, a config file). It is chosen at random below the kernel's
// ephemeral range (net.ipv4.ip_local_port_range), from which outgoing
// connections and listeners on port 0 take theirs: a load test's 2000
// client connections cannot take it in between, only another FreePort
// may. Tests that can listen on 127.0.0.1:0 themselves should.
func FreePort(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		p := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the first port of the kernel's ephemeral range, or
// Linux's default 32768 when it cannot be read (or leaves no room).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 11000 {
		return 32768
	}
	return low
}

// AssertPortsFree reports an error for each loopback port that something
// still listens on: after a run, nothing of its managed processes may be
// left holding a port.
func AssertPortsFree(t testing.TB, ports ...int) {
	t.Helper()
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d still in use after the run: %v", p, err)
			continue
		}
		l.Close()
	}
}

// GoTool returns the path of the go command running the tests (go test puts
// its GOROOT/bin first on the tests' PATH), for tests that build benchd.
func GoTool(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH (go test puts it there): %v", err)
	}
	return p
}

// BuildBenchd builds ./cmd/benchd of the module at root (a path relative
// to the test's package directory, such as "..") into dir and returns the
// binary's path; a failed build fails t with the compiler's output.
func BuildBenchd(t testing.TB, root, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "benchd")
	build := exec.CommandContext(t.Context(), GoTool(t), "build", "-o", bin, "./cmd/benchd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/benchd: %v\n%s", err, out)
	}
	return bin
}
