package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/benchd/benchd/engine"
)

// visitLog is a loopback HTTP server that records, for each new
// connection, the path of its first request: with one connection per load
// test, the order in which the scenarios' repeats visited it.
type visitLog struct {
	srv    *httptest.Server
	mu     sync.Mutex
	seen   map[string]bool // remote addresses
	visits []string
}

func newVisitLog(t *testing.T) *visitLog {
	v := &visitLog{seen: map[string]bool{}}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		if !v.seen[r.RemoteAddr] {
			v.seen[r.RemoteAddr] = true
			v.visits = append(v.visits, strings.TrimPrefix(r.URL.Path, "/"))
		}
		v.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(v.srv.Close)
	return v
}

// take returns the visits so far and forgets them.
func (v *visitLog) take() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.visits
	v.visits = nil
	return out
}

// expectedOrder replays the shuffle of a run with seed over names, each
// wanting repeats[i] repeats, as runTarget draws it; failAt[name] = n ends
// that scenario at its n-th visit, which is left out (it sent nothing).
func expectedOrder(seed uint64, target string, names []string, repeats []int, failAt map[string]int) []string {
	runs := make([]*scenarioRun, len(names))
	rounds := 0
	for i := range names {
		runs[i] = &scenarioRun{repeats: repeats[i]}
		rounds = max(rounds, repeats[i])
	}
	o := newRoundOrder(seed, target, rounds)
	var out []string
	visits := map[string]int{}
	for round := range rounds {
		for _, k := range o.next(runs, round) {
			visits[names[k]]++
			if visits[names[k]] == failAt[names[k]] {
				runs[k].done = true
				continue
			}
			out = append(out, names[k])
		}
	}
	return out
}

// TestInterleavedRepeats: with repeats: 3, a target's three scenarios run
// in three rounds, each a permutation of them, on fresh connections each
// time, in the order the run's seed gives (the same seed replays it); each
// scenario is reported once, after its last repeat, with its three
// repeats. A scenario whose repeat fails stops its own repeats only.
func TestInterleavedRepeats(t *testing.T) {
	v := newVisitLog(t)
	names := []string{"a", "b", "c"}
	cfg := parseConfig(t, fmt.Sprintf(`
defaults: {connections: 1, threads: 1, duration: 100ms, warmup: 0s, timeout: 1s, repeats: 3}
targets: [{name: local, url: %q}]
endpoints: [{name: a, path: /a}, {name: b, path: /b}, {name: c, path: /c}]
`, v.srv.URL), t.TempDir())

	t.Run("rounds", func(t *testing.T) {
		obs := &recorder{}
		s, err := New(cfg, Options{Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := v.take()
		if len(got) != 9 {
			t.Fatalf("visits %v, want 9 (3 rounds of 3, a connection each)", got)
		}
		checkStarts(t, obs, map[string]int{"local/-/a": 3, "local/-/b": 3, "local/-/c": 3})
		var announced []string
		for _, s := range obs.starts {
			announced = append(announced, s.Scenario.Endpoint)
		}
		if !slices.Equal(announced, got) {
			t.Errorf("repeats announced in the order %v, visited in %v", announced, got)
		}
		for r := range 3 {
			round := slices.Clone(got[3*r : 3*r+3])
			slices.Sort(round)
			if !slices.Equal(round, names) {
				t.Errorf("round %d visited %v, want each of %v once", r+1, got[3*r:3*r+3], names)
			}
		}
		if want := expectedOrder(rep.Seed, "local", names, []int{3, 3, 3}, nil); !slices.Equal(got, want) {
			t.Errorf("visits %v, want %v from seed %d", got, want, rep.Seed)
		}
		if len(obs.results) != 3 || len(rep.Results) != 3 {
			t.Fatalf("%d results reported, %d in the report; want 3, once each", len(obs.results), len(rep.Results))
		}
		for i, r := range rep.Results {
			if r.Scenario.Endpoint != names[i] || r.Err != nil || len(r.Repeats) != 3 || len(r.RepeatUsage) != 3 || r.Result == nil {
				t.Errorf("result %d: %s, err %v, %d repeats, %d usages; want %s in matrix order with 3 of each",
					i, r.Scenario.Name, r.Err, len(r.Repeats), len(r.RepeatUsage), names[i])
			}
		}

		// The same seed replays the order.
		again, err := New(cfg, Options{Seed: rep.Seed})
		if err != nil {
			t.Fatal(err)
		}
		rep2, err := again.RunOnce(t.Context(), TriggerManual, nil)
		if err != nil {
			t.Fatal(err)
		}
		if replay := v.take(); rep2.Seed != rep.Seed || !slices.Equal(replay, got) {
			t.Errorf("seed %d replayed %v, want %v", rep2.Seed, replay, got)
		}
	})

	t.Run("a failed repeat", func(t *testing.T) {
		// The second load test of b fails; a and c still run their rounds.
		var mu sync.Mutex
		calls := map[string]int{}
		eng := EngineFunc(func(ctx context.Context, p engine.Plan) (*engine.Result, error) {
			mu.Lock()
			calls[p.URL]++
			n := calls[p.URL]
			mu.Unlock()
			if strings.HasSuffix(p.URL, "/b") && n == 2 {
				return nil, errors.New("engine: injected failure")
			}
			return engine.Run(ctx, p, nil)
		})
		obs := &recorder{}
		s, err := New(cfg, Options{Observer: obs, Engine: eng, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
		if err != nil {
			t.Fatal(err)
		}
		// b visits once (its first repeat), a and c 3 times each, and
		// the rounds after b's failure shuffle a and c alone.
		if got, want := v.take(), expectedOrder(7, "local", names, []int{3, 3, 3}, map[string]int{"b": 2}); !slices.Equal(got, want) {
			t.Errorf("visits %v, want %v", got, want)
		}
		if len(obs.results) != 3 || len(rep.Results) != 3 {
			t.Fatalf("%d results reported, want 3", len(obs.results))
		}
		// b announced its second repeat, which failed, and no third.
		checkStarts(t, obs, map[string]int{"local/-/a": 3, "local/-/b": 3, "local/-/c": 3})
		b := rep.Results[1]
		if b.Err == nil || !strings.Contains(b.Err.Error(), "injected failure") || len(b.Repeats) != 1 {
			t.Errorf("b: err %v, %d repeats; want the failure and its one repeat", b.Err, len(b.Repeats))
		}
		for _, r := range []*ScenarioResult{rep.Results[0], rep.Results[2]} {
			if r.Err != nil || len(r.Repeats) != 3 {
				t.Errorf("%s: err %v, %d repeats; want 3 and no error", r.Scenario.Name, r.Err, len(r.Repeats))
			}
		}
		if rep.Failed() != 1 {
			t.Errorf("%d failed scenarios, want 1", rep.Failed())
		}
	})
}

// checkStarts checks the order of obs's scenario events: every repeat of
// a scenario announced (ScenarioStarted) in order, 1/n, 2/n and so on,
// where repeats[name] is n (its configured repeats; a failed repeat ends
// them early), all before the scenario's one ScenarioFinished and none
// after it, and every scenario of repeats started and finished.
func checkStarts(t *testing.T, obs *recorder, repeats map[string]int) {
	t.Helper()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	started := map[string]int{}
	finished := map[string]bool{}
	for i, e := range obs.events {
		f := strings.Fields(e)
		name := f[1]
		switch {
		case finished[name]:
			t.Errorf("event %d %q: after %s finished (events %q)", i, e, name, obs.events)
		case f[0] == "finish" && started[name] == 0:
			t.Errorf("event %d %q: %s finished before any repeat started (events %q)", i, e, name, obs.events)
		case f[0] == "finish":
			finished[name] = true
		default:
			started[name]++
			if want := fmt.Sprintf("%d/%d", started[name], repeats[name]); f[2] != want {
				t.Errorf("event %d %q: want repeat %s (events %q)", i, e, want, obs.events)
			}
		}
	}
	for name := range repeats {
		if started[name] == 0 || !finished[name] {
			t.Errorf("%s: %d starts, finished %v; want its starts, then its finish (events %q)", name, started[name], finished[name], obs.events)
		}
	}
	for _, s := range obs.starts {
		if s.RunID == "" || s.Total != len(repeats) || s.Index < 0 || s.Index >= s.Total || s.Start.IsZero() {
			t.Errorf("start %+v: want the run's ID, the scenario's index of %d and a start time", s, len(repeats))
		}
	}
}
