package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/deploy"
)

// TestCLI runs subcommands in-process through run and checks exit codes and
// output.
func TestCLI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "no", http.StatusInternalServerError)
			return
		case "/slow":
			select { // 150 ms, three times the 50 ms timeout
			case <-time.After(150 * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	// A config whose token file group and others may read.
	dir := t.TempDir()
	openToken := filepath.Join(dir, "benchd.yml")
	if err := os.WriteFile(openToken, []byte("api: {token_file: token}\ntargets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"config check default", []string{"config", "check"}, 0, []string{"embedded default: OK, 5 targets, 12 endpoints, 83 scenarios"}, nil},
		{"config check bad file", []string{"config", "check", "--config.file", "../../config/testdata/unknown-key.bad.yml"}, 1, []string{"INVALID", "  - "}, nil},
		{"config check missing program", []string{"config", "check", "--config.file", "testdata/missing-program.yml"}, 0,
			[]string{"targets[0].process.command[0]: /nonexistent/benchd-test-server does not exist, so the process cannot start"}, nil},
		{"config check open token file", []string{"config", "check", "--config.file", openToken}, 0,
			[]string{"warning: api.token_file: " + filepath.Join(dir, "token") + " is readable or writable by group or others (mode 0644)", "run chmod 600 " + filepath.Join(dir, "token"), "OK, 1 target"}, nil},
		{"serve with systemd socket activation", []string{"serve", "--web.systemd-socket", "--storage.path", dir}, 2, nil,
			[]string{"--web.systemd-socket is not supported: benchd listens on --web.listen-address"}},
		{"config check endless file", []string{"config", "check", "--config.file", "/dev/zero"}, 1, []string{"INVALID", "/dev/zero: too large: more than 4 MiB"}, nil},
		{"config check missing file", []string{"config", "check", "--config.file", "/nonexistent/benchd.yml"}, 1, []string{"INVALID", "/nonexistent/benchd.yml"}, nil},
		{"bench wrk layout", []string{"bench", "-c", "4", "-d", "300ms", "--latency", srv.URL + "/"}, 0,
			[]string{"Running 300ms test @ " + srv.URL + "/", "4 connections", "Latency Distribution", "Requests/sec:"}, nil},
		{"bench non-2xx", []string{"bench", "-c", "2", "-d", "300ms", srv.URL + "/fail"}, 0, []string{"Non-2xx or 3xx responses:"}, nil},
		{"bench bad header", []string{"bench", "-H", "nocolon", srv.URL}, 2, nil, []string{"--header"}},
		{"bench expect-status not a number", []string{"bench", "--expect-status", "abc", srv.URL}, 2, nil,
			[]string{`benchd: --expect-status "abc": want an HTTP status code, such as 200 (repeat the flag for more)`}},
		{"bench no url", []string{"bench"}, 2, nil, []string{"required argument 'url' not provided"}},
		{"bench bad url", []string{"bench", "-d", "100ms", "ftp://127.0.0.1/"}, 2, nil, []string{"ftp", "http://host:port/path"}},
		{"bench zero connections", []string{"bench", "-c", "0", srv.URL}, 2, nil, []string{"--connections (-c) 0"}},
		{"bench zero duration and timeout", []string{"bench", "-d", "0s", "--timeout", "0s", srv.URL}, 2, nil, []string{"--duration (-d) 0s", "--timeout 0s"}},
		{"bench more threads than connections", []string{"bench", "-c", "2", "-t", "4", srv.URL}, 2, nil, []string{"--threads (-t) 4"}},
		{"bench nothing listening", []string{"bench", "-c", "2", "-d", "300ms", "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/"}, 1,
			[]string{"0 requests in"}, []string{"no connection could be made", "connection refused"}},
		{"bench help", []string{"bench", "--help"}, 0, []string{"usage: benchd bench"}, nil},
		{"bench on-timeout wait", []string{"bench", "-c", "2", "-d", "400ms", "--timeout", "50ms", "--on-timeout", "wait", srv.URL + "/slow"}, 0,
			[]string{"0 requests in", "Socket errors: connect 0, read 0, write 0, timeout ", "  Late responses: "}, nil},
		{"bench on-timeout reconnect", []string{"bench", "-c", "2", "-d", "300ms", "--timeout", "50ms", srv.URL + "/slow"}, 0,
			[]string{"timeout "}, nil},
		{"bench bad on-timeout", []string{"bench", "--on-timeout", "retry", srv.URL}, 2, nil,
			[]string{`--on-timeout: "retry" is not a timeout policy (want "reconnect" or "wait")`}},
		{"bench expect body", []string{"bench", "-c", "2", "-d", "300ms", "--expect-body", "nope", srv.URL + "/"}, 0,
			[]string{"  Unexpected responses: "}, nil},
		{"bench expect status", []string{"bench", "-c", "2", "-d", "300ms", "--expect-status", "500", srv.URL + "/fail"}, 0,
			[]string{"Non-2xx or 3xx responses: "}, []string{}},
		{"bench bad expect status", []string{"bench", "--expect-status", "200", "--expect-status", "99", srv.URL}, 2, nil,
			[]string{"--expect-status 99: 99 is not an HTTP status code (give one from 100 to 599)"}},
		{"matrix bad only", []string{"matrix", "--only", "("}, 2, nil, []string{"--only"}},
		{"matrix dry run", []string{"matrix", "--dry-run", "--storage.path", "STORAGE", "--only", "^gunicorn-gevent/sync/gateway_10s$"}, 0,
			[]string{"gunicorn-gevent/sync/gateway_10s  2000", "22s", "12s", "1 scenario: 36s of load (warm-up, duration and one timeout of grace per repeat)\nnot counted, so the run takes longer: starting 1 managed target (setup commands, then until ready), starting 2 services\n"}, nil},
		{"matrix dry run shards", []string{"matrix", "--dry-run", "--storage.path", "STORAGE", "--shard.count", "3"}, 0,
			[]string{" scenarios: ", "shard assignment (3 shards, rendezvous hashing", "\nshard 0: ", "gunicorn-gevent/sync/json  ", "this benchd's index is unknown"}, nil},
		{"matrix dry run one shard", []string{"matrix", "--dry-run", "--storage.path", "STORAGE", "--shard.count", "3", "--shard.index", "1"}, 0,
			[]string{"shard assignment (3 shards", "this benchd is shard 1 of 3: the plan above is its "}, nil},
		{"matrix shard index not below count", []string{"matrix", "--dry-run", "--storage.path", "STORAGE", "--shard.count", "3", "--shard.index", "3"}, 2, nil,
			[]string{"--shard.index (or BENCHD_SHARD_INDEX) is 3, not below the shard count 3"}},
		{"matrix bad shard count", []string{"matrix", "--dry-run", "--storage.path", "STORAGE", "--shard.count", "two"}, 2, nil,
			[]string{`--shard.count "two": want a whole number, 1 or more`}},
		{"unknown flag", []string{"--nope"}, 2, nil, []string{"unknown long flag"}},
		{"version does not start the daemon", []string{"--version"}, 0, []string{"benchd, version"}, nil},
		{"help does not start the daemon", []string{"--help"}, 0, []string{"usage: benchd"}, nil},
		{"empty storage path", []string{"matrix", "--storage.path", ""}, 2, nil, []string{"--storage.path is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, a := range c.args {
				if a == "STORAGE" {
					c.args[i] = t.TempDir()
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(c.args, &stdout, &stderr)
			if code != c.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range c.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range c.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// TestBenchJSON checks `benchd bench --json` against a real server: the
// counts add up and every request succeeded.
func TestBenchJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
	}))
	t.Cleanup(srv.Close)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "-c", "3", "-d", "300ms", "--json", srv.URL}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var s struct {
		Sent      uint64            `json:"sent"`
		Requests  uint64            `json:"requests"`
		InFlight  uint64            `json:"in_flight"`
		Responses map[string]uint64 `json:"responses"`
		Errors    map[string]uint64 `json:"errors"`
		Latency   struct {
			P99 float64 `json:"p99"`
		} `json:"latency_seconds"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	var errs uint64
	for _, n := range s.Errors {
		errs += n
	}
	if s.Requests == 0 || s.Responses["2xx"] != s.Requests || errs != 0 || s.Sent != s.Requests+errs+s.InFlight {
		t.Errorf("counts do not add up or requests failed: %+v", s)
	}
	if p := s.Latency.P99; p <= 0 || p > 1 {
		t.Errorf("p99 = %v s", p)
	}
}

// TestUpstream runs `benchd upstream` in-process and fetches its payload.
func TestUpstream(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		var out bytes.Buffer
		done <- runWith(ctx, []string{"upstream", "--listen-address", addr}, &out, &out)
	}()
	var body []byte
	for range 100 {
		resp, err := http.Get("http://" + addr + "/anything")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(body) != deploy.DefaultUpstreamBytes || !json.Valid(body) {
		t.Errorf("payload %d bytes (valid JSON %v), want %d", len(body), json.Valid(body), deploy.DefaultUpstreamBytes)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("upstream exited %d", code)
	}
}

// TestConfigCheckDefaultPlansState: the embedded default's token file is
// one serve makes under --storage.path, so config check does not warn that
// it is missing, wherever it runs.
func TestConfigCheckDefaultPlansState(t *testing.T) {
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	if code := run([]string{"config", "check", "--storage.path", filepath.Join(t.TempDir(), "data")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if got, want := stdout.String(), "embedded default: OK, 5 targets, 12 endpoints, 83 scenarios\n"; got != want {
		t.Errorf("config check printed\n%s\nwant\n%s", got, want)
	}
}
