package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/crypto/bcrypt"

	"github.com/benchd/benchd/api"
	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// control is the write API's view of a daemon for these tests: accepts go
// to the real detector over the real store, as benchd serve's do.
type control struct{ det *pipeline.Detector }

func (control) Reload() error { return nil }
func (control) TriggerRun(context.Context) error {
	return fmt.Errorf("%w: no scheduler in this test", api.ErrConflict)
}
func (control) Pause()                         {}
func (control) Resume()                        {}
func (control) Status() (running, paused bool) { return false, false }
func (c control) Accept(ctx context.Context, scenario string) (string, error) {
	id, err := c.det.Accept(ctx, scenario)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return id, err
}

// testServer is a benchd HTTP server (the api package's, as benchd serve
// builds it) with the UI mounted, over a real store.
type testServer struct {
	URL    string
	Store  *store.SQLite
	Config *config.Config
	// Feed and Progress are the UI's: a run's pipeline must tell them.
	Feed     *Feed
	Progress *pipeline.Progress
	Token    string
}

// serverOptions choose the server's auth.
type serverOptions struct {
	Token      string            // bearer token; "" for none
	Users      map[string]string // basic auth users and passwords; nil for none
	WriteUsers []string
}

// startServer serves st's history under cfg on a free loopback port until
// the test ends.
func startServer(t *testing.T, st *store.SQLite, cfg *config.Config, so serverOptions) *testServer {
	t.Helper()
	addrs := []string{"127.0.0.1:0"}
	flags := &web.FlagConfig{WebListenAddresses: &addrs}
	if so.Users != nil {
		var b strings.Builder
		b.WriteString("basic_auth_users:\n")
		for u, p := range so.Users {
			h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "  %s: %s\n", u, h)
		}
		file := filepath.Join(t.TempDir(), "web.yml")
		if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		flags.WebConfigFile = &file
	}
	// As benchd serve: the UI's Feed takes the history the detector reads.
	feed, progress := NewFeed(), &pipeline.Progress{}
	det := pipeline.NewDetector(pipeline.DetectorOptions{Store: st, Config: func() *config.Config { return cfg }, Loaded: feed.Loaded})
	if _, err := det.Load(t.Context()); err != nil {
		t.Fatalf("detector: %v", err)
	}
	writeOn := so.Token != "" || len(so.WriteUsers) > 0
	srv, err := api.New(api.Options{
		Gatherer: prometheus.NewRegistry(), Web: flags, Version: "test", Control: control{det}, History: st,
		Token:      func() string { return so.Token },
		WriteUsers: func() []string { return so.WriteUsers },
		UI: New(Options{Store: st, Config: func() *config.Config { return cfg }, Feed: feed, Progress: progress.Status,
			WriteEnabled: func() bool { return writeOn }}),
		UIScenarioPath: ScenarioPath,
	})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{URL: "http://" + srv.Addrs()[0].String(), Store: st, Config: cfg, Feed: feed, Progress: progress, Token: so.Token}
}

// get fetches path with the request modified by auth (nil: none) and
// returns the status and body.
func get(t *testing.T, url string, auth func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// observer returns the pipeline a run of ts's matrix goes through: hist
// (nil for none), then ts's Feed and Progress, as benchd serve builds it.
func (ts *testServer) observer(hist *pipeline.History) *pipeline.Pipeline {
	return pipeline.New(pipeline.Options{Tracer: exporters.NewRunTracer(noop.NewTracerProvider()), History: hist,
		Extra: []scheduler.Observer{ts.Feed, ts.Progress}})
}
