package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
)

func TestServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "benchd_test_value", Help: "A test value."})
	g.Set(42)
	reg.MustRegister(g)
	addrs := []string{"127.0.0.1:0"}
	var ready atomic.Bool
	srv, err := New(Options{Gatherer: reg, Registerer: reg, Web: &web.FlagConfig{WebListenAddresses: &addrs}, Ready: ready.Load, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addrs()[0].String()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name     string
		path     string
		ready    bool
		wantCode int
		wantBody string
	}{
		{"metrics", "/metrics", false, 200, "benchd_test_value 42"},
		{"metrics self-instrumented", "/metrics", false, 200, "promhttp_metric_handler_requests_total"},
		{"healthz starting", "/healthz", false, 503, `"starting"`},
		{"healthz ready", "/healthz", true, 200, `"ok"`},
		{"landing page", "/", true, 200, "benchd"},
		{"unknown path", "/nope", true, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ready.Store(c.ready)
			code, body := get(c.path)
			if code != c.wantCode || !strings.Contains(body, c.wantBody) {
				t.Errorf("GET %s = %d %q, want %d containing %q", c.path, code, body, c.wantCode, c.wantBody)
			}
		})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestNewListenError(t *testing.T) {
	addrs := []string{"127.0.0.1:-1"}
	_, err := New(Options{Gatherer: prometheus.NewRegistry(), Web: &web.FlagConfig{WebListenAddresses: &addrs}})
	if err == nil || !strings.Contains(err.Error(), "--web.listen-address") {
		t.Fatalf("error %v does not name the flag", err)
	}
}

// control records what the write API asked for. Safe for concurrent use:
// the handlers of a real server call it from their goroutines.
type control struct {
	mu            sync.Mutex
	reloads, runs int
	busy, paused  bool
	reloadErr     error
}

func (c *control) Reload() error { c.mu.Lock(); defer c.mu.Unlock(); c.reloads++; return c.reloadErr }
func (c *control) TriggerRun(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy {
		return ErrConflict
	}
	c.runs++
	c.busy = true
	return nil
}
func (c *control) Accept(_ context.Context, scenario string) (string, error) {
	if scenario != "t/sync/json" {
		return "", ErrNotFound
	}
	return "r1", nil
}
func (c *control) Pause()               { c.mu.Lock(); defer c.mu.Unlock(); c.paused = true }
func (c *control) Resume()              { c.mu.Lock(); defer c.mu.Unlock(); c.paused = false }
func (c *control) Status() (bool, bool) { c.mu.Lock(); defer c.mu.Unlock(); return c.busy, c.paused }

func TestWriteAPI(t *testing.T) {
	do := func(t *testing.T, h http.Handler, method, path, token string) (int, string) {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	newServer := func(t *testing.T, c Control, token string) *Server {
		t.Helper()
		addrs := []string{"127.0.0.1:0"}
		s, err := New(Options{Gatherer: prometheus.NewRegistry(), Web: &web.FlagConfig{WebListenAddresses: &addrs}, Control: c, Token: func() string { return token }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.closeListeners)
		return s
	}
	t.Run("off without a token", func(t *testing.T) {
		c := &control{}
		s := newServer(t, c, "")
		if code, _ := do(t, s.Handler(), "POST", "/api/v1/runs", "anything"); code != http.StatusForbidden {
			t.Errorf("code %d, want 403", code)
		}
		if c.runs != 0 {
			t.Errorf("a run was triggered with the write API off")
		}
	})
	c := &control{}
	s := newServer(t, c, "s3cret")
	cases := []struct {
		name, method, path, token string
		wantCode                  int
		wantBody                  string
	}{
		{"no token", "POST", "/api/v1/runs", "", 401, "bearer token"},
		{"wrong token", "POST", "/api/v1/runs", "nope", 401, "bearer token"},
		{"trigger", "POST", "/api/v1/runs", "s3cret", 202, "started"},
		{"trigger while running", "POST", "/api/v1/runs", "s3cret", 409, "in progress"},
		{"pause", "POST", "/api/v1/schedule/pause", "s3cret", 200, `"paused":true`},
		{"status is public", "GET", "/api/v1/status", "", 200, `"running":true`},
		{"resume", "POST", "/api/v1/schedule/resume", "s3cret", 200, `"paused":false`},
		{"reload", "POST", "/-/reload", "s3cret", 200, "reloaded"},
		{"reload needs POST", "GET", "/-/reload", "s3cret", 405, ""},
		{"accept", "POST", "/api/v1/baselines/t/sync/json/accept", "s3cret", 200, `"accepted_from_run":"r1"`},
		{"accept unknown", "POST", "/api/v1/baselines/t/async/json/accept", "s3cret", 404, "not found"},
		{"accept needs token", "POST", "/api/v1/baselines/t/sync/json/accept", "", 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, s.Handler(), tc.method, tc.path, tc.token)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
	if c.runs != 1 || c.reloads != 1 {
		t.Errorf("runs %d reloads %d, want 1 and 1", c.runs, c.reloads)
	}
	c.reloadErr = errors.New("config: bad.yml: 1 problem")
	if code, body := do(t, s.Handler(), "POST", "/-/reload", "s3cret"); code != 500 || !strings.Contains(body, "bad.yml") {
		t.Errorf("failed reload = %d %q, want 500 with the reason", code, body)
	}
}

// TestWebConfigBasicAuth locks /metrics down with an exporter-toolkit web
// config file (--web.config.file), as any Prometheus exporter.
func TestWebConfigBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(file, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addrs := []string{"127.0.0.1:0"}
	srv, err := New(Options{Gatherer: prometheus.NewRegistry(), Web: &web.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &file}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	url := "http://" + srv.Addrs()[0].String() + "/metrics"
	cases := []struct {
		name     string
		user, pw string
		want     int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "prometheus", "nope", http.StatusUnauthorized},
		{"right password", "prometheus", "pw", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var resp *http.Response
			for range 50 { // the server may not be serving yet
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if c.user != "" {
					req.SetBasicAuth(c.user, c.pw)
				}
				if resp, err = http.DefaultClient.Do(req); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
