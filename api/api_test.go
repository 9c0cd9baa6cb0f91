package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
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
