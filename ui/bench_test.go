package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/store"
)

// benchHistory is the size: 80 scenarios (4 targets × 20
// endpoints) × 200 runs, one regressed.
var benchHistory = histOptions{Targets: 4, Endpoints: 20, Runs: 200, Regressed: "t2/-/e7", RegressFrom: 195,
	InvalidEvery: 13, MarkerAt: 150, Samples: 300}

var (
	benchOnce  sync.Once
	benchDir   string
	benchError error
)

// benchStore returns the 80 × 200 history, built once per test binary
// (it takes about a minute) in a directory removed at exit... or kept in
// $BENCHD_BENCH_HISTORY when set, to be reused across runs.
func benchStore(b *testing.B) (*store.SQLite, *config.Config) {
	b.Helper()
	benchOnce.Do(func() {
		benchDir = os.Getenv("BENCHD_BENCH_HISTORY")
		if benchDir == "" {
			benchDir, benchError = os.MkdirTemp("", "benchd-ui-bench")
			if benchError != nil {
				return
			}
		}
		if _, err := os.Stat(filepath.Join(benchDir, store.DBFile)); err == nil {
			return // built by an earlier run
		}
		tb := &onceTB{TB: b}
		st := buildHistory(tb, benchDir, benchHistory)
		tb.cleanup()
		_ = st
	})
	if benchError != nil {
		b.Fatal(benchError)
	}
	st, err := store.Open(context.Background(), benchDir, store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st, testConfig(b, benchHistory)
}

// onceTB runs buildHistory's cleanups at once rather than at the end of
// the first benchmark, so that the store it built is closed before it is
// reopened read-only.
type onceTB struct {
	testing.TB
	fns []func()
}

func (o *onceTB) Cleanup(f func()) { o.fns = append(o.fns, f) }
func (o *onceTB) cleanup() {
	for _, f := range slices.Backward(o.fns) {
		f()
	}
}

// BenchmarkPages measures the server time of a page over the 80 × 200
// history, as a daemon serves it after its first page (its Feed feeds
// the UI each new result): the accepted baselines read (a query per
// scenario), the verdicts (computed again only after a change), the page
// rendered. The issue asks under 200 ms for the matrix. matrix-polling is
// a UI without an observer, which reads the results stored since the last
// page (a query per scenario); matrix-cold the first page of a UI that
// reads the history itself (the whole history decoded, the detector run
// over every series: the daemon's first page before its UI took the
// detector's read); first-page the daemon's first page, start its
// detector's read of the history and that page.
func BenchmarkPages(b *testing.B) {
	st, cfg := benchStore(b)
	b.Run("matrix-cold", func(b *testing.B) {
		for b.Loop() {
			u := New(Options{Store: st, Config: func() *config.Config { return cfg }})
			w := httptest.NewRecorder()
			u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if w.Code != http.StatusOK {
				b.Fatalf("GET /: %d", w.Code)
			}
		}
	})
	// The daemon's first page: its detector read the history at start
	// and handed it to the UI's Feed (untimed here: the daemon's start
	// read it before the UI took it too); start is that read and the page.
	live := func() *config.Config { return cfg }
	started := func(b *testing.B) *UI {
		feed := NewFeed()
		det := pipeline.NewDetector(pipeline.DetectorOptions{Store: st, Config: live, Loaded: feed.Loaded})
		if _, err := det.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
		return New(Options{Store: st, Config: live, Feed: feed})
	}
	b.Run("first-page", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			u := started(b)
			b.StartTimer()
			w := httptest.NewRecorder()
			u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if w.Code != http.StatusOK {
				b.Fatalf("GET /: %d", w.Code)
			}
		}
	})
	b.Run("start", func(b *testing.B) {
		for range b.N {
			u := started(b)
			w := httptest.NewRecorder()
			u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			if w.Code != http.StatusOK {
				b.Fatalf("GET /: %d", w.Code)
			}
		}
	})
	daemon := New(Options{Store: st, Config: func() *config.Config { return cfg }, Feed: NewFeed()})
	polling := New(Options{Store: st, Config: func() *config.Config { return cfg }})
	for _, p := range []struct {
		name, path string
		u          *UI
	}{
		{"matrix", "/", daemon},
		{"matrix-polling", "/", polling},
		{"scenario", "/ui/scenario/t2/-/e7", daemon},
		{"run", "/ui/run/20261109T070000Z", daemon},
	} {
		u := p.u
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			// The first page (of the whole history) is matrix-cold's.
			u.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			for b.Loop() {
				w := httptest.NewRecorder()
				u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p.path, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", p.path, w.Code, w.Body.String())
				}
				_, _ = io.Copy(io.Discard, w.Body)
			}
		})
	}
}

// BenchmarkRunPlots measures a run page's whole view over the 80 × 200
// history: the page, then each of its 80 latency plots (images drawn at
// the browser's request, lazily: the page alone is BenchmarkPages/run), by
// a UI that has drawn none yet.
func BenchmarkRunPlots(b *testing.B) {
	st, cfg := benchStore(b)
	const id = "20261109T070000Z"
	paths := []string{RunPath(id)}
	for _, sc := range cfg.Scenarios() {
		paths = append(paths, LatencyPlotPath(id, sc.Name))
	}
	b.ReportAllocs()
	for b.Loop() {
		u := New(Options{Store: st, Config: func() *config.Config { return cfg }, Feed: NewFeed()})
		for _, path := range paths {
			w := httptest.NewRecorder()
			u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
			if w.Code != http.StatusOK {
				b.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
			}
		}
	}
}
