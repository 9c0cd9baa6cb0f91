package main

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/scheduler"
)

// TestPlanRules runs the same inputs through the three ways a load plan
// gets to the engine: `benchd config check`, scheduler.New (what serve and
// matrix build their runs with) and `benchd bench`'s flags. Each must
// report the engine's one rule, at its own name for the field: the YAML
// path, the same path, the flag. An input the engine can run (https
// included) must pass all three.
func TestPlanRules(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	notPEM, err := filepath.Abs("plan_test.go")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		// url is the target's url, endpoint's path appended; target and
		// endpoint are further YAML of each (flow style, may be empty).
		url, target, endpoint string
		// bench are the flags of `benchd bench` saying the same; the URL
		// argument is url + "/x".
		bench []string
		// path and flag name the field in the config and on the command
		// line; msg is the engine's message. msg "" means valid.
		path, flag, msg string
		// loadErr, for a valid case, is the error of bench's load (exit 1);
		// "" means requests are answered without errors.
		loadErr string
		// noBench is true for a rule bench has no flag for.
		noBench bool
	}{
		{
			name: "content-length header", url: plain,
			endpoint: `headers: ["X-A: 1", "Content-Length: 5"]`, bench: []string{"-H", "X-A: 1", "-H", "Content-Length: 5"},
			path: "endpoints[0].headers[1]", flag: `--header (-H) "Content-Length: 5"`, msg: "Content-Length is set by the engine from the body (remove the header)",
		},
		{
			name: "transfer-encoding header", url: plain,
			endpoint: `headers: {Transfer-Encoding: chunked}`, bench: []string{"-H", "Transfer-Encoding: chunked"},
			path: "endpoints[0].headers[0]", flag: `--header (-H) "Transfer-Encoding: chunked"`, msg: "Transfer-Encoding is set by the engine",
		},
		{
			name: "header name with a space", url: plain,
			endpoint: `headers: {"Bad Name": x}`, bench: []string{"-H", "Bad Name: x"},
			path: "endpoints[0].headers[0]", flag: `--header (-H) "Bad Name: x"`, msg: `name "Bad Name" is not an HTTP token (letters, digits and`,
		},
		{
			name: "method not a token", url: plain,
			endpoint: `method: "GE T"`, bench: []string{"-m", "GE T"},
			path: "endpoints[0].method", flag: "--method (-m)", msg: `"GE T" is not a valid HTTP method`,
		},
		{
			name: "negative rate", url: plain,
			endpoint: `rate: -5`, bench: []string{"--rate=-5"},
			path: "endpoints[0].rate", flag: "--rate (-R)", msg: "must be a finite number of requests per second, zero (closed loop) or more, got -5",
		},
		{
			name: "negative warmup", url: plain,
			endpoint: `warmup: -2s`, bench: []string{"--warmup=-2s"},
			path: "endpoints[0].warmup", flag: "--warmup", msg: "must not be negative, got -2s",
		},
		{
			name: "negative threads", url: plain,
			endpoint: `threads: -1`, bench: []string{"--threads=-1"},
			path: "endpoints[0].threads", flag: "--threads (-t)", msg: "must not be negative, got -1",
		},
		{
			name: "port out of range", url: "http://127.0.0.1:99999",
			path: "targets[0].url", flag: "the URL argument", msg: `port "99999" is not a TCP port (1 to 65535)`,
		},
		{
			name: "CA file missing", url: srv.URL,
			target: `tls_config: {ca_file: /nonexistent/ca.pem}`, bench: []string{"--cacert", "/nonexistent/ca.pem"},
			path: "targets[0].tls_config.ca_file", flag: "--cacert", msg: "cannot read the CA certificates: open /nonexistent/ca.pem: no such file or directory",
		},
		{
			name: "CA file without a certificate", url: srv.URL,
			target: `tls_config: {ca_file: ` + notPEM + `}`, bench: []string{"--cacert", notPEM},
			path: "targets[0].tls_config.ca_file", flag: "--cacert", msg: notPEM + " holds no PEM certificate (want -----BEGIN CERTIFICATE----- blocks)",
		},
		{
			// Valid, so config check and New accept it; the load then
			// fails every handshake, and bench says how to fix it.
			name: "https unverified", url: srv.URL,
			loadErr: "no connection could be made (connect: tls handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority): " +
				"give the CA that signed the server's certificate with --cacert FILE, or -k for a self-signed test server",
		},
		{
			name: "body check on HEAD", url: plain,
			endpoint: `method: HEAD, expect: {body_contains: ok}`, bench: []string{"-m", "HEAD", "--expect-body", "ok"},
			path: "endpoints[0].expect.body_contains", flag: "--expect-body", msg: "a response to HEAD has no body (remove the body checks, or use GET)",
		},
		{
			// bench has no flag for a body size.
			name: "body size above the body cap", url: plain,
			endpoint: `expect: {body_size: {min: 70000000}}`, noBench: true,
			path: "endpoints[0].expect.body_size.min", msg: "70000000 is more than MaxBodyBytes 67108864, the most of a body that is read (raise MaxBodyBytes)",
		},
		{name: "https with a CA file", url: srv.URL, target: `tls_config: {ca_file: ` + caFile + `}`, bench: []string{"--cacert", caFile}},
		{name: "https skipping verification", url: srv.URL, target: `tls_config: {insecure_skip_verify: true}`, bench: []string{"-k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "{name: t, url: " + tt.url
			if tt.target != "" {
				target += ", " + tt.target
			}
			endpoint := "{name: e, path: /x"
			if tt.endpoint != "" {
				endpoint += ", " + tt.endpoint
			}
			file := filepath.Join(t.TempDir(), "benchd.yml")
			doc := "targets: [" + target + "}]\nendpoints: [" + endpoint + "}]\ndefaults: {duration: 300ms, warmup: 0s, connections: 2}\n"
			if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			want := tt.path + ": " + tt.msg

			t.Run("config check", func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run([]string{"config", "check", "--config.file", file}, &stdout, &stderr)
				switch {
				case tt.msg == "" && (code != 0 || !strings.Contains(stdout.String(), ": OK, 1 target")):
					t.Errorf("exit %d, want 0 and OK:\n%s%s", code, stdout.String(), stderr.String())
				case tt.msg != "" && (code != 1 || !strings.Contains(stdout.String(), "  - "+want)):
					t.Errorf("exit %d, want 1 and %q:\n%s%s", code, want, stdout.String(), stderr.String())
				}
			})

			t.Run("scheduler.New", func(t *testing.T) {
				// config.Load alone: the YAML is well-formed, so only the
				// engine's rules can refuse it, which New applies.
				cfg, err := config.Load(file)
				if err != nil {
					t.Fatalf("config.Load: %v", err)
				}
				_, err = scheduler.New(cfg, scheduler.Options{})
				switch {
				case tt.msg == "" && err != nil:
					t.Errorf("New: %v", err)
				case tt.msg != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("New: %v, want %q", err, want)
				}
			})

			if tt.noBench {
				return
			}
			t.Run("bench", func(t *testing.T) {
				args := append(append([]string{"bench", "-c", "2", "-d", "300ms"}, tt.bench...), tt.url+"/x")
				var stdout, stderr bytes.Buffer
				code := run(args, &stdout, &stderr)
				if tt.loadErr != "" {
					if code != 1 || !strings.Contains(stderr.String(), tt.loadErr) || !strings.Contains(stdout.String(), "Socket errors: connect ") {
						t.Errorf("exit %d, want 1 with connect errors and %q:\n%s%s", code, tt.loadErr, stdout.String(), stderr.String())
					}
					return
				}
				if tt.msg == "" {
					if code != 0 || !strings.Contains(stdout.String(), "Requests/sec:") || strings.Contains(stdout.String(), "Socket errors") {
						t.Errorf("exit %d, want 0 and requests without errors:\n%s%s", code, stdout.String(), stderr.String())
					}
					return
				}
				wantFlag := tt.flag + ": "
				if code != 2 || !strings.Contains(stderr.String(), wantFlag) || !strings.Contains(stderr.String(), tt.msg) {
					t.Errorf("exit %d, want 2 and %q with %q:\n%s", code, wantFlag, tt.msg, stderr.String())
				}
			})
		})
	}
}

// TestDryRunWritesNoHistory: matrix --dry-run neither makes a run history
// nor changes one (opening it migrates an older schema).
func TestDryRunWritesNoHistory(t *testing.T) {
	cfg := smallConfig(t, "@every 1h")
	for _, name := range []string{"no history", "a history"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "benchd.db")
			var before []byte
			if name == "a history" {
				var stderr bytes.Buffer
				if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir, "--only", "t/-/a"}, &bytes.Buffer{}, &stderr); code != 0 {
					t.Fatalf("matrix: exit %d\n%s", code, stderr.String())
				}
				var err error
				if before, err = os.ReadFile(db); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			if code := runWith(t.Context(), []string{"matrix", "--dry-run", "--config.file", cfg, "--storage.path", dir}, &stdout, &stderr); code != 0 {
				t.Fatalf("dry run: exit %d\n%s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "2 scenarios: ") {
				t.Errorf("dry run printed no plan:\n%s", stdout.String())
			}
			after, err := os.ReadFile(db)
			switch {
			case before == nil && err == nil:
				t.Errorf("the dry run made %s", db)
			case before != nil && !bytes.Equal(before, after):
				t.Errorf("the dry run changed %s (%v)", db, err)
			}
			for _, extra := range []string{"benchd.db-wal", "benchd.lock", "managed-processes"} {
				if _, err := os.Stat(filepath.Join(dir, extra)); err == nil && before == nil {
					t.Errorf("the dry run made %s", extra)
				}
			}
		})
	}
}

// TestDryRunWritesNothing: matrix --dry-run on an empty --storage.path
// leaves it empty, for the embedded default matrix (whose Django project,
// write token and venv a run makes there) as for a configuration file,
// and does not warn that what a run would make there is missing.
func TestDryRunWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default matrix", nil},
		{"config file", []string{"--config.file", smallConfig(t, "@every 1h")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			if code := runWith(t.Context(), append([]string{"matrix", "--dry-run", "--storage.path", dir}, tc.args...), &stdout, &stderr); code != 0 {
				t.Fatalf("dry run: exit %d\n%s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), " scenarios: ") {
				t.Errorf("dry run printed no plan:\n%s", stdout.String())
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if len(names) > 0 {
				t.Errorf("the dry run wrote %q into --storage.path %s", names, dir)
			}
			if strings.Contains(stderr.String(), "does not exist") {
				t.Errorf("the dry run warns of what a run makes:\n%s", stderr.String())
			}
		})
	}
}
