package scheduler

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/result"
)

// TestSplitSegments runs one split scenario (connections 7, rate 301/s) as
// each of three shards at once, in one process, against a real loopback
// server: each shard's segment has its share (3+2+2 connections,
// 101+100+100 requests/s: shard i one more while i is below the
// remainder), the three start together at the shared instant (the next
// whole second plus start_slack), the records say which segment they are,
// and the rates the shards achieved add up to the configured one within
// 2 %.
func TestSplitSegments(t *testing.T) {
	if testing.Short() {
		t.Skip("applies load for 2 s")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	const (
		shards      = 3
		connections = 7
		rate        = 301.0
		slack       = 300 * time.Millisecond
	)
	yaml := fmt.Sprintf(`
shards: {count: %d, start_slack: %s}
defaults: {threads: 1, duration: 2s, warmup: 0s, timeout: 1s}
targets: [{name: a, url: %q}]
endpoints:
  - {name: whole, path: /w, connections: 1, duration: 100ms}
  - {name: split, path: /s, split: true, connections: %d, rate: %g}
`, shards, slack, srv.URL, connections, rate)
	scheds := make([]*Scheduler, shards)
	for i := range shards {
		scheds[i] = newShard(t, yaml, i)
	}
	// The shards start their runs within one second (as a schedule's
	// tick would have them), so that they share the next whole second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	reports := make([]*RunReport, shards)
	var wg sync.WaitGroup
	for i, s := range scheds {
		wg.Go(func() {
			rep, err := s.RunOnce(t.Context(), TriggerManual, nil)
			if err != nil {
				t.Error(err)
				return
			}
			reports[i] = rep
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	shared := reports[0].Start.Truncate(time.Second).Add(time.Second + slack)
	var achieved float64
	conns, planned := 0, 0.0
	for i, rep := range reports {
		var split *ScenarioResult
		for _, r := range rep.Results {
			if r.Scenario.Endpoint == "split" {
				split = r
			}
		}
		if split == nil || split.Err != nil || split.Result == nil {
			t.Fatalf("shard %d: no result of the split scenario: %+v", i, split)
		}
		if rep.Results[0] != split {
			t.Errorf("shard %d: the split scenario ran after %s, want first", i, rep.Results[0].Scenario.Name)
		}
		p := split.Result.Plan
		wantConns := connections / shards
		wantRate := float64(int(rate) / shards)
		if i < connections%shards {
			wantConns++
		}
		if i < int(rate)%shards {
			wantRate++
		}
		if p.Connections != wantConns || p.Rate != wantRate {
			t.Errorf("shard %d: %d connections at %g/s, want %d at %g/s", i, p.Connections, p.Rate, wantConns, wantRate)
		}
		if got := split.Record.Segment; got == nil || *got != (result.Segment{Index: i, Count: shards}) {
			t.Errorf("shard %d: the record's segment is %+v, want %d of %d", i, got, i, shards)
		}
		if d := split.Result.Start.Sub(shared); d < 0 || d > 200*time.Millisecond {
			t.Errorf("shard %d: the segment started at %s, %s from the shared start %s", i, split.Result.Start.Format(time.StampMilli), d, shared.Format(time.StampMilli))
		}
		conns += p.Connections
		planned += p.Rate
		achieved += float64(split.Result.Sent) / split.Result.Elapsed.Seconds()
	}
	if conns != connections || planned != rate {
		t.Errorf("the segments have %d connections at %g/s together, want %d at %g/s", conns, planned, connections, rate)
	}
	t.Logf("the three segments sent %.1f requests/s together, configured %g/s", achieved, rate)
	if math.Abs(achieved-rate)/rate > 0.02 {
		t.Errorf("the segments sent %.1f requests/s together, want %g/s within 2 %%", achieved, rate)
	}
}

func TestSegmentStarts(t *testing.T) {
	due := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	seg := &config.Segment{Index: 1, Count: 3}
	sc := func(name string, d time.Duration, segment *config.Segment) config.Scenario {
		return config.Scenario{Name: name, Segment: segment, Load: config.LoadSpec{Duration: d, Timeout: time.Second, Repeats: 1}}
	}
	plan := []config.Scenario{sc("a", 10*time.Second, seg), sc("b", 2500*time.Millisecond, seg), sc("c", time.Minute, nil), sc("d", time.Second, seg)}
	got := SegmentStarts(plan, due, due.Add(30*time.Millisecond), 2*time.Second)
	want := map[string]time.Time{
		"a": due.Add(3 * time.Second),            // the next whole second, plus the slack
		"b": due.Add((3 + 11 + 2) * time.Second), // a's 10 s + 1 s timeout, plus the slack
		"d": due.Add((16 + 4 + 2) * time.Second), // b's 3.5 s rounded up to 4 s
	}
	if len(got) != len(want) {
		t.Fatalf("SegmentStarts = %v, want %v", got, want)
	}
	for name, w := range want {
		if !got[name].Equal(w) {
			t.Errorf("%s starts at %s, want %s", name, got[name], w)
		}
	}
	// Without a scheduled tick, from the run's start; nothing without segments.
	start := due.Add(1500 * time.Millisecond)
	if got := SegmentStarts(plan[:1], time.Time{}, start, time.Second); !got["a"].Equal(due.Add(3 * time.Second)) {
		t.Errorf("from start %s: %v", start, got)
	}
	if got := SegmentStarts(plan[2:3], due, due, time.Second); got != nil {
		t.Errorf("no segment: %v, want nil", got)
	}
}

// TestNextTick checks that with shards an "@every" schedule ticks at the
// multiples of its interval, the same for shards started at different
// instants, while one benchd keeps robfig/cron's ticks counted from now,
// and a five-field spec is robfig/cron's either way.
func TestNextTick(t *testing.T) {
	every, err := cron.ParseStandard("@every 4s")
	if err != nil {
		t.Fatal(err)
	}
	minutely, err := cron.ParseStandard("*/5 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	shards := &config.Config{Shards: config.Shards{Count: 3}}
	one := &config.Config{}
	base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) // a multiple of 4 s since the zero time
	tests := []struct {
		name     string
		cfg      *config.Config
		schedule cron.Schedule
		now      time.Time
		want     time.Time
	}{
		{"shard started at 1.3 s", shards, every, base.Add(1300 * time.Millisecond), base.Add(4 * time.Second)},
		{"shard started at 2.9 s", shards, every, base.Add(2900 * time.Millisecond), base.Add(4 * time.Second)},
		{"shard on a tick", shards, every, base.Add(4 * time.Second), base.Add(8 * time.Second)},
		{"one benchd", one, every, base.Add(1300 * time.Millisecond), base.Add(5 * time.Second)},
		{"shards, cron spec", shards, minutely, base.Add(time.Minute), base.Add(5 * time.Minute)},
	}
	for _, tt := range tests {
		if got := nextTick(&state{cfg: tt.cfg, schedule: tt.schedule}, tt.now); !got.Equal(tt.want) {
			t.Errorf("%s: next tick after %s is %s, want %s", tt.name, tt.now.Format(time.TimeOnly), got.Format(time.TimeOnly), tt.want.Format(time.TimeOnly))
		}
	}
}

// newShard returns the scheduler of shard index of the configuration yaml
// (its shards.count).
func newShard(t *testing.T, yaml string, index int) *Scheduler {
	t.Helper()
	cfg := parseConfig(t, yaml, t.TempDir())
	if err := cfg.ApplyShard(config.ShardSource{Index: index}); err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
