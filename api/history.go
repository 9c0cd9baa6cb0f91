package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// History is the read side of the run history that the API serves; the
// store package's SQLite implements it.
type History interface {
	Run(ctx context.Context, id string) (*store.Run, error)
	Runs(ctx context.Context, q store.RunQuery) ([]store.Run, error)
	History(ctx context.Context, scenarioName string, q store.HistoryQuery) ([]store.Scenario, error)
	Baselines(ctx context.Context, q store.BaselineQuery) ([]store.Baseline, error)
}

// runJSON is the API form of a run.
type runJSON struct {
	ID         string            `json:"id"`
	Trigger    string            `json:"trigger"`
	Start      time.Time         `json:"start"`
	End        *time.Time        `json:"end,omitempty"`
	Outcome    string            `json:"outcome"`
	Error      string            `json:"error,omitempty"`
	ConfigHash string            `json:"config_hash,omitempty"`
	Version    string            `json:"version,omitempty"`
	Scenarios  []result.Scenario `json:"scenarios,omitempty"`
}

func toRunJSON(r *store.Run) runJSON {
	out := runJSON{ID: r.ID, Trigger: r.Trigger, Start: r.Start, Outcome: store.ShownOutcome(r.Outcome), Error: r.Err,
		ConfigHash: r.ConfigHash, Version: r.Version}
	if !r.End.IsZero() {
		end := r.End
		out.End = &end
	}
	out.Scenarios = r.Scenarios
	return out
}

// parseLimit parses the optional "limit" query parameter: 1 to 1000.
func parseLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, errors.New("limit: want a whole number from 1 to 1000")
	}
	return n, nil
}

// Bounds of the before parameter: inside the instants the store can keep
// (Unix nanoseconds in an int64, late 1677 to early 2262). Outside them
// the store would fail, which is the caller's mistake, not a server error.
var (
	minBefore = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	maxBefore = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseRunQuery parses the query of GET /api/v1/runs: limit (see
// parseLimit) and before (an RFC 3339 time, optional). Its errors name
// the parameter and what it wants.
func parseRunQuery(v url.Values) (store.RunQuery, error) {
	n, err := parseLimit(v)
	if err != nil {
		return store.RunQuery{}, err
	}
	before, err := parseBefore(v)
	if err != nil {
		return store.RunQuery{}, err
	}
	return store.RunQuery{Limit: n, Before: before}, nil
}

// parseBefore parses the optional "before" query parameter: an RFC 3339
// time the store can represent; zero when absent.
func parseBefore(v url.Values) (time.Time, error) {
	b := v.Get("before")
	if b == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, b)
	if err != nil {
		return time.Time{}, errors.New("before: want an RFC 3339 time such as 2026-11-29T17:00:00Z")
	}
	if t.Before(minBefore) || t.After(maxBefore) {
		return time.Time{}, fmt.Errorf("before: %s is out of range: want a time from %s to %s", b,
			minBefore.Format(time.RFC3339), maxBefore.Format(time.RFC3339))
	}
	return t, nil
}

// parseHistoryQuery parses the query of the scenario history: limit and
// before, as parseRunQuery.
func parseHistoryQuery(v url.Values) (store.HistoryQuery, error) {
	n, err := parseLimit(v)
	if err != nil {
		return store.HistoryQuery{}, err
	}
	before, err := parseBefore(v)
	if err != nil {
		return store.HistoryQuery{}, err
	}
	return store.HistoryQuery{Limit: n, Before: before}, nil
}

func (s *Server) history(w http.ResponseWriter) bool {
	if s.opts.History == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no run history: benchd runs without a store"})
		return false
	}
	return true
}

// listRuns serves GET /api/v1/runs?limit=N&before=RFC3339: newest first.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	if !s.history(w) {
		return
	}
	q, err := parseRunQuery(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	runs, err := s.opts.History.Runs(r.Context(), q)
	if err != nil {
		s.log.Error("api: list runs", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the run history failed"})
		return
	}
	out := make([]runJSON, len(runs))
	for i := range runs {
		out[i] = toRunJSON(&runs[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
}

// getRun serves GET /api/v1/runs/{id}: the run with its scenarios.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	if !s.history(w) {
		return
	}
	run, err := s.opts.History.Run(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no run with that ID"})
	case err != nil:
		s.log.Error("api: get run", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the run history failed"})
	default:
		writeJSON(w, http.StatusOK, toRunJSON(run))
	}
}

// scenarioHistory serves GET /api/v1/scenarios/{target}/{mode}/{endpoint}/history?limit=N&before=RFC3339:
// the scenario's newest results (started before before), oldest first,
// and the starts of its baseline segments (accepted, or where its
// settings changed).
func (s *Server) scenarioHistory(w http.ResponseWriter, r *http.Request) {
	if !s.history(w) {
		return
	}
	q, err := parseHistoryQuery(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	name := strings.Join([]string{r.PathValue("target"), r.PathValue("mode"), r.PathValue("endpoint")}, "/")
	list, err := s.opts.History.History(r.Context(), name, q)
	if err != nil {
		s.log.Error("api: scenario history", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the run history failed"})
		return
	}
	if len(list) == 0 && s.opts.ScenarioProblem != nil {
		if problem := s.opts.ScenarioProblem(name); problem != "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": problem})
			return
		}
	}
	segs, err := s.opts.History.Baselines(r.Context(), store.BaselineQuery{Scenario: name})
	if err != nil {
		s.log.Error("api: scenario baselines", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the run history failed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scenario": name, "results": list, "baselines": segs})
}
