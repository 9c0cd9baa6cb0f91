package config

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

// TestShardOfDefaultMatrix checks rendezvous hashing over the default
// matrix's cells: every scenario has exactly one shard, every shard has
// some, and going from n to n+1 shards moves cells only to the new shard n,
// none between the old ones. How many move, and the balance, are
// statistics: TestShardOfBalance checks them over enough names.
func TestShardOfDefaultMatrix(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	all := cfg.Scenarios()
	if len(all) < 60 {
		t.Fatalf("the default matrix has %d scenarios, want at least 60", len(all))
	}
	for n := 1; n <= 8; n++ {
		owners := map[string]int{}
		per := make([]int, n)
		for i := range n {
			for _, sc := range all {
				if (Shard{Index: i, Count: n}).Owns(sc.Name) {
					owners[sc.Name]++
					per[i]++
				}
			}
		}
		for _, sc := range all {
			if owners[sc.Name] != 1 {
				t.Errorf("%d shards: %s is owned by %d shards, want 1", n, sc.Name, owners[sc.Name])
			}
		}
		for i, got := range per {
			if got == 0 {
				t.Errorf("%d shards: shard %d has no scenario of %d", n, i, len(all))
			}
		}
		moved := 0
		for _, sc := range all {
			before, after := ShardOf(sc.Name, n), ShardOf(sc.Name, n+1)
			if before == after {
				continue
			}
			moved++
			if after != n {
				t.Errorf("%d to %d shards: %s moved from shard %d to %d, want only moves to the new shard %d", n, n+1, sc.Name, before, after, n)
			}
		}
		t.Logf("%d shards: %v scenarios each; to %d shards %d of %d move", n, per, n+1, moved, len(all))
	}
}

// TestShardOfBalance checks the statistics of rendezvous hashing over
// 20,000 names shaped like scenario names (target/mode/endpoint): going
// from n to n+1 shards moves about 1/(n+1) of them, and each of n shards
// has about 1/n, both within four binomial standard deviations (a
// modulo of the hash would move about n/(n+1)). The default matrix's 80
// odd cells are too few for such bounds: a fixed set of names is one
// draw, and its ~50 bounds at three deviations fail by chance alone.
func TestShardOfBalance(t *testing.T) {
	modes := []string{"sync", "async", "-"}
	names := make([]string, 20000)
	for i := range names {
		names[i] = fmt.Sprintf("app%d/%s/endpoint-%d", i%11, modes[i%3], i/33)
	}
	total := float64(len(names))
	for n := 1; n <= 8; n++ {
		per := make([]int, n)
		moved := 0
		for _, name := range names {
			before := ShardOf(name, n)
			per[before]++
			if ShardOf(name, n+1) != before {
				moved++
			}
		}
		p := 1 / float64(n+1)
		want, sd := total*p, math.Sqrt(total*p*(1-p))
		if math.Abs(float64(moved)-want) > 4*sd {
			t.Errorf("%d to %d shards: %d of %d names moved, want about %.0f (± 4 × %.1f)", n, n+1, moved, len(names), want, sd)
		}
		q := 1 / float64(n)
		w, s := total*q, math.Sqrt(total*q*(1-q))
		for i, got := range per {
			if math.Abs(float64(got)-w) > 4*s+0.5 {
				t.Errorf("%d shards: shard %d has %d names, want about %.0f (± 4 × %.1f)", n, i, got, w, s)
			}
		}
		t.Logf("%d shards: %v names each; to %d shards %d move, expected %.0f ± %.1f", n, per, n+1, moved, want, sd)
	}
}

func TestShardOfEdges(t *testing.T) {
	tests := []struct {
		name  string
		count int
	}{
		{"a/-/b", 0}, {"a/-/b", 1}, {"a/-/b", -3}, {"", 5}, {"t/sync/json", 1000},
	}
	for _, tt := range tests {
		got := ShardOf(tt.name, tt.count)
		if got < 0 || got >= max(tt.count, 1) {
			t.Errorf("ShardOf(%q, %d) = %d, want 0 to %d", tt.name, tt.count, got, max(tt.count, 1)-1)
		}
		if again := ShardOf(tt.name, tt.count); again != got {
			t.Errorf("ShardOf(%q, %d) = %d, then %d", tt.name, tt.count, got, again)
		}
	}
}

func TestHostnameOrdinal(t *testing.T) {
	tests := []struct {
		host string
		want int
		ok   bool
	}{
		{"benchd-0", 0, true},
		{"benchd-2", 2, true},
		{"my-benchd-17", 17, true},
		{"benchd-2.benchd.monitoring.svc.cluster.local", 2, true},
		{"benchd", 0, false},
		{"benchd-", 0, false},
		{"-3", 0, false},
		{"benchd-2a", 0, false},
		{"benchd-+2", 0, false},
		{"laptop", 0, false},
		{"benchd-12345678", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got, ok := HostnameOrdinal(tt.host)
			if got != tt.want || ok != tt.ok {
				t.Errorf("HostnameOrdinal(%q) = %d, %v, want %d, %v", tt.host, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestApplyShard(t *testing.T) {
	tests := []struct {
		name      string
		yamlCount int
		src       ShardSource
		want      Shard
		wantErr   error
	}{
		{"no sharding", 0, ShardSource{Index: -1, Hostname: "benchd-4"}, Shard{0, 1}, nil},
		{"flag count, hostname index", 0, ShardSource{Index: -1, Count: 3, Hostname: "benchd-2"}, Shard{2, 3}, nil},
		{"config count, hostname index", 3, ShardSource{Index: -1, Hostname: "benchd-1"}, Shard{1, 3}, nil},
		{"flag count wins", 5, ShardSource{Index: -1, Count: 2, Hostname: "benchd-1"}, Shard{1, 2}, nil},
		{"flag index wins over hostname", 3, ShardSource{Index: 0, Hostname: "benchd-2"}, Shard{0, 3}, nil},
		{"index without sharding", 0, ShardSource{Index: 0}, Shard{0, 1}, nil},
		{"index not below count", 3, ShardSource{Index: 3}, Shard{}, ErrShardIndex},
		{"ordinal not below count", 2, ShardSource{Index: -1, Hostname: "benchd-2"}, Shard{}, ErrShardIndex},
		{"unknown index", 3, ShardSource{Index: -1, Hostname: "laptop"}, Shard{}, ErrShardIndex},
		{"dry run, unknown index", 3, ShardSource{Index: -1, Hostname: "laptop", AnyIndex: true}, Shard{-1, 3}, nil},
		{"dry run reads no hostname", 3, ShardSource{Index: -1, Hostname: "benchd-1", AnyIndex: true}, Shard{-1, 3}, nil},
		{"dry run, given index", 3, ShardSource{Index: 2, AnyIndex: true}, Shard{2, 3}, nil},
	}
	// Where the index came from, for serve's log.
	indexFrom := map[string]string{
		"no sharding":                   "",
		"flag count, hostname index":    `the ordinal of hostname "benchd-2"`,
		"flag index wins over hostname": "--shard.index (or BENCHD_SHARD_INDEX)",
		"dry run, unknown index":        "",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Shards: Shards{Count: tt.yamlCount}}
			err := c.ApplyShard(tt.src)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ApplyShard: %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.Shard() != tt.want {
				t.Errorf("Shard() = %+v, want %+v", c.Shard(), tt.want)
			}
			if w, ok := indexFrom[tt.name]; ok && err == nil && c.ShardIndexFrom != w {
				t.Errorf("ShardIndexFrom = %q, want %q", c.ShardIndexFrom, w)
			}
		})
	}
	if err := (&Config{}).ApplyShard(ShardSource{Index: -1, Count: MaxShards + 1}); err == nil {
		t.Errorf("--shard.count %d: no error", MaxShards+1)
	}
}

// TestShardScenarios checks that ShardScenarios keeps matrix order and
// that the shards' scenarios together are the matrix.
func TestShardScenarios(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	all := cfg.Scenarios()
	pos := map[string]int{}
	for i, sc := range all {
		pos[sc.Name] = i
	}
	cfg.Shards.Count = 3
	seen := 0
	for i := range 3 {
		cfg.ShardIndex = i
		last := -1
		for _, sc := range cfg.ShardScenarios() {
			if pos[sc.Name] <= last {
				t.Errorf("shard %d: %s out of matrix order", i, sc.Name)
			}
			last = pos[sc.Name]
			seen++
		}
	}
	if seen != len(all) {
		t.Errorf("the 3 shards have %d scenarios together, want the matrix's %d", seen, len(all))
	}
}

// TestSegmentLoad checks that the segments of a split load add up to it,
// shard i taking one more while i is below the remainder.
func TestSegmentLoad(t *testing.T) {
	tests := []struct {
		name              string
		connections, thr  int
		rate              float64
		count             int
		wantConns         []int
		wantRates         []float64
		wantThreadsAtMost int
	}{
		{"7 over 3", 7, 1, 301, 3, []int{3, 2, 2}, []float64{101, 100, 100}, 1},
		{"closed loop", 6, 0, 0, 3, []int{2, 2, 2}, []float64{0, 0, 0}, 0},
		{"rate below count", 4, 4, 2, 4, []int{1, 1, 1, 1}, []float64{0.5, 0.5, 0.5, 0.5}, 1},
		{"fractional rate", 8, 2, 10.5, 4, []int{2, 2, 2, 2}, []float64{3.125, 3.125, 2.125, 2.125}, 2},
		{"threads capped", 5, 4, 0, 2, []int{3, 2}, []float64{0, 0}, 3},
		{"one shard", 5, 2, 9, 1, []int{5}, []float64{9}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			load := LoadSpec{Connections: tt.connections, Threads: tt.thr, Rate: tt.rate, Duration: time.Second}
			conns, rate := 0, 0.0
			for i := range tt.count {
				got := SegmentLoad(load, i, tt.count)
				if got.Connections != tt.wantConns[i] || got.Rate != tt.wantRates[i] {
					t.Errorf("segment %d: %d connections at %g/s, want %d at %g/s", i, got.Connections, got.Rate, tt.wantConns[i], tt.wantRates[i])
				}
				if got.Threads > got.Connections || got.Threads > tt.wantThreadsAtMost || got.Duration != load.Duration {
					t.Errorf("segment %d: threads %d, duration %s", i, got.Threads, got.Duration)
				}
				conns += got.Connections
				rate += got.Rate
			}
			if conns != tt.connections || math.Abs(rate-tt.rate) > 1e-9 {
				t.Errorf("segments add up to %d connections at %g/s, want %d at %g/s", conns, rate, tt.connections, tt.rate)
			}
		})
	}
}

// TestShardScenariosSplit: a split scenario is on every shard, first, as
// the shard's segment; the others on one shard each, whole.
func TestShardScenariosSplit(t *testing.T) {
	cfg, err := Parse([]byte(`
shards: {count: 3}
targets: [{name: t, url: "http://127.0.0.1:1"}]
endpoints:
  - {name: a, path: /a}
  - {name: b, path: /b}
  - {name: s, path: /s, split: true, connections: 10}
  - {name: c, path: /c}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	whole := 0
	for i := range 3 {
		cfg.ShardIndex = i
		got := cfg.ShardScenarios()
		if len(got) == 0 || got[0].Name != "t/-/s" || got[0].Segment == nil || *got[0].Segment != (Segment{Index: i, Count: 3}) {
			t.Fatalf("shard %d: %+v, want the split scenario first, as segment %d of 3", i, got, i)
		}
		if c := got[0].Load.Connections; c != []int{4, 3, 3}[i] {
			t.Errorf("shard %d: a segment of %d connections, want %d", i, c, []int{4, 3, 3}[i])
		}
		for _, sc := range got[1:] {
			if sc.Segment != nil || sc.Split || ShardOf(sc.Name, 3) != i {
				t.Errorf("shard %d runs %s (segment %v)", i, sc.Name, sc.Segment)
			}
			whole++
		}
	}
	if whole != 3 {
		t.Errorf("%d whole scenarios over the shards, want 3", whole)
	}
}
