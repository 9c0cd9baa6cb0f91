package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/benchd/benchd/internal/testutil"
)

// TestServeAuth runs the daemon with basic auth in --web.config.file, a
// token file and a write user, and checks that the bearer token and the
// write user both reach the write API, and that a write user the web
// config does not define is warned about at start.
func TestServeAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"web.yml": "basic_auth_users:\n  alice: " + string(hash) + "\n",
		"token":   "s3cret\n",
		"benchd.yml": "run_on_start: false\nschedule: '@every 1h'\napi: {token_file: token, write_users: [alice, carol]}\n" +
			"targets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /}]\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := benchd(ctx, t, "serve", "--config.file", filepath.Join(dir, "benchd.yml"), "--storage.path", t.TempDir(),
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", port), "--web.config.file", filepath.Join(dir, "web.yml"))
	var stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	do := func(method, path string, auth func(*http.Request)) (int, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			return 0, err
		}
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }
	alice := func(r *http.Request) { r.SetBasicAuth("alice", "alice-pw") }
	none := func(*http.Request) {}
	for i := 0; ; i++ { // until the daemon listens
		if _, err := do("GET", "/healthz", alice); err == nil {
			break
		} else if i == 100 {
			t.Fatalf("benchd does not answer: %v; stderr:\n%s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cases := []struct {
		name, method, path string
		auth               func(*http.Request)
		want               int
	}{
		{"read without credentials", "GET", "/api/v1/status", none, 401},
		{"read as alice", "GET", "/api/v1/status", alice, 200},
		{"read with the token", "GET", "/metrics", bearer, 200},
		{"pause with the token", "POST", "/api/v1/schedule/pause", bearer, 200},
		{"resume as alice", "POST", "/api/v1/schedule/resume", alice, 200},
		{"reload with the token", "POST", "/-/reload", bearer, 200},
		{"write without credentials", "POST", "/api/v1/schedule/pause", none, 401},
	}
	for _, c := range cases {
		code, err := do(c.method, c.path, c.auth)
		if err != nil {
			t.Fatal(err)
		}
		if code != c.want {
			t.Errorf("%s: %s %s = %d, want %d", c.name, c.method, c.path, code, c.want)
		}
	}
	if log := stderr.String(); !strings.Contains(log, `api.write_users: \"carol\" is not in basic_auth_users`) {
		t.Errorf("no warning about carol at start; stderr:\n%s", log)
	}
}
