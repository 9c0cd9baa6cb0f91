// Package testutil holds helpers shared by benchd's tests. It is not meant
// for import outside tests.
package testutil

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a test server that must be told its port before it starts (a managed
// process, a config file). Another process may take it in between: tests
// that can listen on 127.0.0.1:0 themselves should.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
