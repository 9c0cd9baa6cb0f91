// Package testutil holds helpers shared by benchd's tests. It is not meant
// for import outside tests.
package testutil

import (
	"net"
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
