package ui

import (
	"context"
	"fmt"
	"html/template"
	"maps"
	"strings"
	"sync"

	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// DefaultPlotRuns is how many runs' latency plots and wrk blocks a [UI]
// keeps.
const DefaultPlotRuns = 4

// LatencyPlotPath returns the path of the latency plot (an SVG image) of
// scenario name (target/mode/endpoint) in run id, which a served run page
// shows as an image.
func LatencyPlotPath(id, name string) string {
	return RunPath(id) + "/latency/" + strings.TrimPrefix(ScenarioPath(name), "/ui/scenario/")
}

// runCache holds what the run pages served lately were drawn from and
// drew: each run's latency histograms, its plots and its wrk blocks, so
// that a run page's images cost one read of the run and one drawing each,
// and its wrk blocks one writing each, whatever the number of times they
// are asked for. A stored result never changes, so
// nothing goes stale; the last DefaultPlotRuns runs shown are kept. Safe
// for concurrent use.
type runCache struct {
	mu    sync.Mutex
	runs  map[string]*runEntry
	order []string   // run IDs, least recently added first
	load  sync.Mutex // held while a miss reads a run, so that its images read it once
}

// runEntry is one run's histograms, drawn plots and wrk blocks, by
// scenario name.
type runEntry struct {
	hist map[string]result.Histogram
	svg  map[string]template.HTML
	wrk  map[string]string // wrk blocks
}

func newRunCache() *runCache { return &runCache{runs: map[string]*runEntry{}} }

// entry returns run id's cache entry, making it (and dropping the oldest
// run's beyond DefaultPlotRuns) if there is none. c.mu must be held.
func (c *runCache) entry(id string) *runEntry {
	rp := c.runs[id]
	if rp == nil {
		rp = &runEntry{hist: map[string]result.Histogram{}, svg: map[string]template.HTML{}, wrk: map[string]string{}}
		c.runs[id] = rp
		c.order = append(c.order, id)
		if len(c.order) > DefaultPlotRuns {
			delete(c.runs, c.order[0])
			c.order = c.order[1:]
		}
	}
	return rp
}

// put records the latency histograms of run id's scenarios (by name).
func (c *runCache) put(id string, hist map[string]result.Histogram) {
	c.mu.Lock()
	defer c.mu.Unlock()
	maps.Copy(c.entry(id).hist, hist)
}

// wrkBlock returns the wrk block of scenario s of run id, written once:
// a stored scenario never changes, and writing it reads its HDR
// histograms bucket by bucket (about 1 MiB of garbage each). A nil c
// writes it every time.
func (c *runCache) wrkBlock(id string, s *result.Scenario) (string, error) {
	if c != nil {
		c.mu.Lock()
		text, ok := c.entry(id).wrk[s.Name]
		c.mu.Unlock()
		if ok {
			return text, nil
		}
	}
	var b strings.Builder
	if err := report.WriteWrk(&b, s, report.WrkOptions{Latency: true}); err != nil {
		return "", fmt.Errorf("wrk block of %s: %w", s.Name, err)
	}
	if c != nil {
		c.mu.Lock()
		c.entry(id).wrk[s.Name] = b.String()
		c.mu.Unlock()
	}
	return b.String(), nil
}

// get returns the drawn plot of name in run id, or its histogram to draw
// (ok true), or ok false when the cache has neither.
func (c *runCache) get(id, name string) (svg template.HTML, h result.Histogram, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rp := c.runs[id]
	if rp == nil {
		return "", nil, false
	}
	if s, ok := rp.svg[name]; ok {
		return s, nil, true
	}
	h, ok = rp.hist[name]
	return "", h, ok
}

// drawn keeps svg as the plot of name in run id, if the run is still kept.
func (c *runCache) drawn(id, name string, svg template.HTML) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rp := c.runs[id]; rp != nil {
		rp.svg[name] = svg
	}
}

// plot returns the latency plot of scenario name in run id as an SVG
// document: from the cache, else drawn from the histogram the cache or
// (once for all of a run's scenarios) the store has. An unknown run or
// scenario is an error wrapping store.ErrNotFound; a scenario without a
// latency histogram (it completed nothing) too.
func (c *runCache) plot(ctx context.Context, st Source, id, name string) (template.HTML, error) {
	svg, h, ok := c.get(id, name)
	if !ok {
		// One read of the run for all its images, however many ask at once.
		c.load.Lock()
		if svg, h, ok = c.get(id, name); !ok {
			run, err := st.Run(ctx, id)
			if err != nil {
				c.load.Unlock()
				return "", err
			}
			c.put(id, latencyHistograms(run))
			svg, h, ok = c.get(id, name)
		}
		c.load.Unlock()
		if !ok {
			return "", fmt.Errorf("ui: no scenario %q in run %s: %w", name, id, store.ErrNotFound)
		}
	}
	if svg != "" {
		return svg, nil
	}
	svg, drew, err := latencyPlot("latency by percentile: "+name, h)
	if err != nil {
		return "", fmt.Errorf("latency plot of %s in run %s: %w", name, id, err)
	}
	if !drew {
		return "", fmt.Errorf("ui: scenario %q of run %s has no latency histogram: %w", name, id, store.ErrNotFound)
	}
	c.drawn(id, name, svg)
	return svg, nil
}

// latencyHistograms returns the latency histograms of run's scenarios,
// by name.
func latencyHistograms(run *store.Run) map[string]result.Histogram {
	out := make(map[string]result.Histogram, len(run.Scenarios))
	for i := range run.Scenarios {
		out[run.Scenarios[i].Name] = run.Scenarios[i].LatencyHistogram
	}
	return out
}
