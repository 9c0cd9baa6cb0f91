package scheduler

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/benchd/benchd/internal/testutil"
)

// TestScenarioWithoutRequestsIsAWarning: a scenario that completed no
// request (nothing listens on its target) is logged at WARN, one that
// did at INFO.
func TestScenarioWithoutRequestsIsAWarning(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	cfg := parseConfig(t, fmt.Sprintf(`
defaults: {connections: 2, threads: 1, duration: 300ms, warmup: 0s, timeout: 200ms}
targets:
  - {name: up, url: %s}
  - {name: down, url: "http://127.0.0.1:%d"}
endpoints: [{name: a, path: /}]
`, srv.URL, freePort(t)), t.TempDir())
	var logs testutil.SyncBuffer
	s, err := New(cfg, Options{Observer: &recorder{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Scenario.Name, r.Err)
		}
	}
	var up, down string
	for line := range strings.Lines(logs.String()) {
		switch {
		case strings.Contains(line, "scenario=up/-/a"):
			up = line
		case strings.Contains(line, "scenario=down/-/a"):
			down = line
		}
	}
	if !strings.Contains(up, "level=INFO") || !strings.Contains(up, `msg="scenario finished"`) {
		t.Errorf("scenario with requests: %q, want level=INFO", up)
	}
	if !strings.Contains(down, "level=WARN") || !strings.Contains(down, "requests=0") {
		t.Errorf("scenario without requests: %q, want level=WARN with requests=0", down)
	}
}
