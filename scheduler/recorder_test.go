package scheduler

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// idRecorder stands in for the run history: it raises every proposed ID's
// suffix by 5, as a store that already holds runs of that second would.
type idRecorder struct {
	mu       sync.Mutex
	proposed []string
}

func (r *idRecorder) RecordRun(info RunInfo) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proposed = append(r.proposed, info.ID)
	base, n, _ := cutSuffix(info.ID)
	return base + "-" + string(rune('0'+n+5))
}

// TestRecorderNamesTheRun: the ID the Recorder returns is the one results
// and observers see, and the next run of the same second proposes a suffix
// above it.
func TestRecorderNamesTheRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	cfg := parseConfig(t, `
schedule: "@every 1h"
defaults: {connections: 1, threads: 1, duration: 100ms, warmup: 0s, timeout: 1s}
targets:
  - {name: t, url: `+srv.URL+`}
endpoints:
  - {name: e, path: /}
`, t.TempDir())
	rec, obs := &idRecorder{}, &recorder{}
	s, err := New(cfg, Options{Observer: obs, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(rep.ID, "-5") || len(rep.Results) != 1 || rep.Results[0].RunID != rep.ID || obs.reports[0].ID != rep.ID {
		t.Fatalf("run %q, results %d (run id %q): want the recorder's ID everywhere", rep.ID, len(rep.Results), rep.Results[0].RunID)
	}
	s.lastID = rep.ID // as if the next run started in the same second
	if got := s.newRunID(rep.Start); got != strings.TrimSuffix(rep.ID, "-5")+"-6" {
		t.Errorf("next proposal in the same second %q, want suffix -6 after %s", got, rep.ID)
	}
}
