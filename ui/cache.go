package ui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// summary is what the pages read of one stored result: its identity,
// validity and the figures shown, without its histograms.
type summary struct {
	RunID          string
	Start          time.Time
	Valid          bool // the record's Valid and no Error: what the detector may use
	Error          string
	InvalidReasons []string
	Ran            bool
	RPS, P99       float64
	Timeouts       uint64
	values         []float64 // by signal, in the order of regress.Signals
}

func summarize(rec *result.Scenario) summary {
	s := summary{RunID: rec.RunID, Start: rec.Start, Valid: rec.Valid && rec.Error == "", Error: rec.Error,
		InvalidReasons: rec.InvalidReasons, Ran: rec.Ran(), RPS: rec.RequestsPerSecond, P99: rec.P99(),
		Timeouts: rec.Errors[timeoutKind], values: make([]float64, len(regress.Signals))}
	for i, sig := range regress.Signals {
		s.values[i] = sig.RunValue(rec)
	}
	return s
}

// value returns signal sig of s; NaN when it has none.
func (s *summary) value(sig regress.Signal) float64 {
	for i, x := range regress.Signals {
		if x == sig {
			return s.values[i]
		}
	}
	return math.NaN()
}

// why says why s is invalid, in words; "" when valid.
func (s *summary) why() string {
	if s.Error != "" {
		return s.Error
	}
	return strings.Join(s.InvalidReasons, ", ")
}

// point is the detector's point of signal i of s, as [regress.Signal.Point].
func (s *summary) point(i int, accepted bool) regress.Point {
	v := s.values[i]
	return regress.Point{RunID: s.RunID, Time: s.Start, Value: v, Valid: s.Valid && !math.IsNaN(v), Accepted: accepted}
}

// cache holds each scenario's newest results as summaries, so that a page
// does not decode the whole history: the first page reads it (in the
// daemon, a [Feed] hands it the detector's read at start instead), and
// then either the [Feed] hands the cache each new result as the pipeline
// passes it (live: the daemon, whose pipeline is the history's one writer)
// or each page reads the results stored since the previous one (a query
// per scenario). Each page reads the accepted baselines, and the detector
// runs again only when the results or the baselines changed. Results
// pruned from the store stay until newer ones push them out. Safe for
// concurrent use.
type cache struct {
	mu       sync.Mutex
	live     bool
	series   map[string][]summary // by scenario, oldest first
	accepted map[string]map[string]bool
	key      string // what the verdicts were computed over
	verdicts map[string][]regress.Verdict
}

func newCache() *cache {
	return &cache{series: map[string][]summary{}, accepted: map[string]map[string]bool{}}
}

// refresh brings the series of names up to date and returns a snapshot
// the caller may read without the lock.
func (c *cache) refresh(ctx context.Context, o Options, names []string) (*snapshot, error) {
	ro := regressOptions(o)
	limit := ro.MaxHistory
	if limit <= 0 {
		limit = regress.DefaultMaxHistory
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var key strings.Builder
	for _, name := range names {
		h, loaded := c.series[name]
		if !loaded || !c.live {
			q := store.HistoryQuery{Limit: limit, NoHistograms: true}
			if len(h) > 0 {
				q.Since = h[len(h)-1].Start
			}
			recs, err := o.Store.History(ctx, name, q)
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", name, err)
			}
			for i := range recs {
				if !seen(h, recs[i].RunID, recs[i].Start) {
					h = append(h, summarize(&recs[i]))
				}
			}
			if h == nil {
				h = []summary{}
			}
		}
		if n := len(h) - limit; n > 0 {
			h = append([]summary(nil), h[n:]...)
		}
		c.series[name] = h
		accepted, err := o.Store.Accepted(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("accepted baselines of %s: %w", name, err)
		}
		c.accepted[name] = accepted
		fmt.Fprintf(&key, "%s %d %d;", name, len(h), len(accepted))
		if len(h) > 0 {
			key.WriteString(h[len(h)-1].RunID)
		}
	}
	fmt.Fprintf(&key, "%+v", ro)
	if k := key.String(); k != c.key || c.verdicts == nil {
		series := map[regress.SeriesKey][]regress.Point{}
		for _, name := range names {
			h, acc := c.series[name], c.accepted[name]
			for i, sig := range regress.Signals {
				pts := make([]regress.Point, len(h))
				for j := range h {
					pts[j] = h[j].point(i, acc[h[j].RunID])
				}
				series[regress.SeriesKey{Scenario: name, Signal: sig}] = pts
			}
		}
		c.verdicts = map[string][]regress.Verdict{}
		for _, v := range regress.Detect(series, ro) {
			c.verdicts[v.Scenario] = append(c.verdicts[v.Scenario], v)
		}
		c.key = k
	}
	s := &snapshot{names: names, hist: map[string][]summary{}, accepted: map[string]map[string]bool{}, verdicts: c.verdicts}
	for _, name := range names {
		s.hist[name] = c.series[name] // never changed in place: refresh appends to a copy or past its end
		s.accepted[name] = c.accepted[name]
	}
	return s, nil
}

// load makes h (oldest first, read from the store by another reader)
// name's series.
func (c *cache) load(name string, h []summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.series[name] = h
}

// add appends rec to its scenario's series when that series is loaded
// (otherwise the first page reads it from the store).
func (c *cache) add(rec *result.Scenario) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.series[rec.Name]
	if !ok || seen(h, rec.RunID, rec.Start) {
		return
	}
	c.series[rec.Name] = append(h, summarize(rec))
}

// seen reports whether runID's result is among the newest summaries of h,
// those that started at or after start (Since includes the newest start
// again).
func seen(h []summary, runID string, start time.Time) bool {
	for i := len(h) - 1; i >= 0 && !h[i].Start.Before(start); i-- {
		if h[i].RunID == runID {
			return true
		}
	}
	return false
}
