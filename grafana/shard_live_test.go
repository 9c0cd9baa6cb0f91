package grafana

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/internal/testutil"
)

// shardConfig is the live shard test's matrix: 12 scenarios of 1 s, on two
// targets served by a real loopback server and one (down) where nothing
// listens; endpoint s is split (endpoints[].split), at splitRate requests/s
// over 6 connections, the down target's for 200 ms only. The validity
// checks are off and no change is big enough to be a regression, so that
// the contended machine gives the same verdicts on both sides of the
// comparison. No run at start: the shards' first runs are at a shared
// tick (scheduler: an @every schedule ticks at its interval's multiples
// with shards). The period is longer than a run (a shard's about 12 s
// here, one benchd's 14 s): a shard still running at a tick skips it, and
// its segments are then in another run than the other shards'.
const shardConfig = `schedule: "@every 20s"
shards: {start_slack: 200ms}
defaults: {connections: 2, threads: 1, duration: 1s, warmup: 0s, timeout: 1s}
regression:
  {max_scheduler_latency: -1s, max_foreign_cpu: -1, max_late_ratio: -1,
   min_effect: {throughput: 1000, latency_p50: 1000, latency_p99: 1000, error_ratio: 1000, timeout_ratio: 1000}}
targets:
  - {name: a, url: %[1]q}
  - {name: b, url: %[1]q}
  - {name: down, url: %[2]q, overrides: {s: {duration: 200ms}}}
endpoints:
  - {name: x, path: /x}
  - {name: y, path: /y}
  - {name: z, path: /z}
  - {name: s, path: /s, split: true, connections: 6, rate: %[3]d}
`

// splitRate is the split endpoint's configured requests per second.
const splitRate = 300

// TestLiveShards runs three `benchd serve` processes (the built binary) as
// shards 0 to 2 of one 12-scenario matrix, and a fourth benchd running the
// whole matrix alone, each scraped by a real Prometheus of its own (the
// shards by one, the single benchd by the other) with benchd's rules
// loaded. It checks that every scenario not split runs on exactly one
// shard, the one config.ShardOf names, exported under that shard's label
// and instance, and a split one on every shard, its segments ending
// together and their requests per second summing to the configured rate
// within 2 %; that the rules over scenario series (and the counts the
// dashboards show) return the same answer from the three shards as from
// the one benchd; and that killing one shard makes up == 0 for its
// instance alone (BenchdDown pending for it) while the other two go on
// running their own scenarios, and nobody runs the dead shard's.
func TestLiveShards(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four benchds and two prometheus servers")
	}
	promBin := tool(t, "prometheus", "prometheus")
	dir := t.TempDir()

	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"ok":true}`)
	}))
	t.Cleanup(target.Close)
	benchd := testutil.BuildBenchd(t, "..", dir)
	deadline := time.Now().Add(3 * time.Minute)
	cfgFile := filepath.Join(dir, "benchd.yml")
	writeFile(t, cfgFile, fmt.Sprintf(shardConfig, target.URL, "http://"+freeAddr(t), splitRate))
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	const shards = 3
	owner := map[string]int{} // scenario name -> shard, of those not split
	split := map[string]bool{}
	owned := make([]int, shards)
	for _, sc := range cfg.Scenarios() {
		if sc.Split {
			split[sc.Name] = true
			continue
		}
		owner[sc.Name] = config.ShardOf(sc.Name, shards)
		owned[owner[sc.Name]]++
	}
	if len(owner) != 9 || len(split) != 3 {
		t.Fatalf("%d scenarios and %d split, want 9 and 3", len(owner), len(split))
	}
	t.Logf("scenarios per shard: %v, and the 3 split on each", owned)

	addrs := make([]string, shards)
	procs := make([]*exec.Cmd, shards)
	for i := range shards {
		addrs[i] = freeAddr(t)
		procs[i] = start(t, dir, "benchd-"+strconv.Itoa(i), benchd, "serve", "--config.file="+cfgFile,
			"--web.listen-address="+addrs[i], "--storage.path="+filepath.Join(dir, "shard-"+strconv.Itoa(i)),
			"--shard.count="+strconv.Itoa(shards), "--shard.index="+strconv.Itoa(i))
	}
	singleAddr := freeAddr(t)
	start(t, dir, "benchd-single", benchd, "serve", "--config.file="+cfgFile,
		"--web.listen-address="+singleAddr, "--storage.path="+filepath.Join(dir, "single"))
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	sharded := startPrometheusOn(t, filepath.Join(dir, "prometheus-shards"), promBin, rules, addrs)
	single := startPrometheusOn(t, filepath.Join(dir, "prometheus-single"), promBin, rules, []string{singleAddr})

	// Every scenario has run (its last-run gauge) and has verdicts, on
	// both sides, and each split one on every shard.
	const ran = `count(max by (target, endpoint, mode) (benchd_scenario_last_run_timestamp_seconds))`
	const verdicts = `count(max by (target, endpoint, mode) (benchd_regression_detected))`
	const segments = `count(benchd_scenario_last_run_timestamp_seconds{endpoint="s"})`
	for _, api := range []string{sharded, single} {
		for _, q := range []string{ran, verdicts} {
			waitFor(t, deadline, q+" = 12 on "+api, func() error {
				v, err := instantQuery(api, q)
				if err != nil {
					return err
				}
				if len(v) != 1 || v[0].value() != 12 {
					return fmt.Errorf("result %v", v)
				}
				return nil
			})
		}
	}
	waitFor(t, deadline, segments+" = 9 on the shards", func() error {
		v, err := instantQuery(sharded, segments)
		if err != nil {
			return err
		}
		if len(v) != 1 || v[0].value() != 3*shards {
			return fmt.Errorf("result %v", v)
		}
		return nil
	})

	t.Run("one shard per scenario", func(t *testing.T) {
		v, err := instantQuery(sharded, `benchd_scenario_last_run_timestamp_seconds`)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		segs := map[string][]string{}
		for _, s := range v {
			name := s.Metric["target"] + "/" + s.Metric["mode"] + "/" + s.Metric["endpoint"]
			if split[name] {
				segs[name] = append(segs[name], s.Metric["shard"]+"@"+s.Metric["instance"])
				continue
			}
			seen[name]++
			want := owner[name]
			if s.Metric["shard"] != strconv.Itoa(want) || s.Metric["instance"] != addrs[want] {
				t.Errorf("%s: exported by shard %q at %s, want shard %d at %s", name, s.Metric["shard"], s.Metric["instance"], want, addrs[want])
			}
		}
		for name := range owner {
			if seen[name] != 1 {
				t.Errorf("%s: %d series over the shards, want 1", name, seen[name])
			}
		}
		var all []string
		for i := range shards {
			all = append(all, strconv.Itoa(i)+"@"+addrs[i])
		}
		for name := range split {
			if slices.Sort(segs[name]); !slices.Equal(segs[name], all) {
				t.Errorf("split %s: exported by %v, want every shard %v", name, segs[name], all)
			}
		}
		// The shard label is on benchd's own metrics, not the runtime's.
		for _, q := range []string{`count(benchd_build_info{shard=""})`, `count(go_goroutines{job="benchd", shard!=""})`} {
			if v, err := instantQuery(sharded, q); err != nil || len(v) != 0 {
				t.Errorf("%s: %v %v, want no series", q, v, err)
			}
		}
	})

	// The split scenarios' segments: one per shard, ending together (they
	// start at a shared instant and last as long), their requests/s adding
	// up to the configured rate; one benchd runs each whole.
	t.Run("split", func(t *testing.T) {
		for _, tgt := range []string{"a", "b"} {
			var spread float64
			waitFor(t, deadline, "target "+tgt+": the segments of one run", func() error {
				v, err := instantQuery(sharded, `benchd_scenario_last_run_timestamp_seconds{endpoint="s", target="`+tgt+`"}`)
				if err != nil {
					return err
				}
				if len(v) != shards {
					return fmt.Errorf("%d segments, want %d", len(v), shards)
				}
				lo, hi := math.Inf(1), math.Inf(-1)
				for _, s := range v {
					lo, hi = min(lo, s.value()), max(hi, s.value())
				}
				if spread = hi - lo; spread > 0.5 {
					return fmt.Errorf("the segments ended %.3f s apart, want within 0.5 s (one run's)", spread)
				}
				return nil
			})
			sum, err := instantQuery(sharded, `sum without (shard, instance) (benchd_scenario_requests_per_second{endpoint="s", target="`+tgt+`"})`)
			if err != nil || len(sum) != 1 {
				t.Fatalf("target %s: summed requests/s: %v %v", tgt, sum, err)
			}
			whole, err := instantQuery(single, `benchd_scenario_requests_per_second{endpoint="s", target="`+tgt+`"}`)
			if err != nil || len(whole) != 1 {
				t.Fatalf("target %s: one benchd's requests/s: %v %v", tgt, whole, err)
			}
			got, one := sum[0].value(), whole[0].value()
			t.Logf("target %s: the 3 segments (ended %.3f s apart) did %.1f requests/s together, one benchd %.1f, configured %d", tgt, spread, got, one, splitRate)
			for side, v := range map[string]float64{"three shards": got, "one benchd": one} {
				if math.Abs(v-splitRate)/splitRate > 0.02 {
					t.Errorf("target %s, %s: %.1f requests/s, want %d within 2 %%", tgt, side, v, splitRate)
				}
			}
		}
	})

	t.Run("same answers", func(t *testing.T) {
		scenario := scenarioMetrics(t)
		exprs := map[string]bool{ // expression -> compare values too
			ran:      true,
			verdicts: true,
			`sum by (target) (max by (target, endpoint, mode) (benchd_scenario_up))`:                   true,
			`count(sum by (target, endpoint, mode) (benchd_requests_total{class="2xx"}) > 0)`:          true,
			`count(sum by (target, endpoint, mode, le) (benchd_request_duration_seconds_bucket) >= 0)`: true,
		}
		n := 0
		for _, r := range loadRules(t) {
			if r.Alert != "" && slices.ContainsFunc(metricNames(r.Expr), func(m string) bool { return scenario[m] }) {
				exprs[r.Expr] = false // per-run values differ between runs: the labels
				n++
			}
		}
		if n < 10 {
			t.Fatalf("%d alert rules over scenario series, want 10 or more", n)
		}
		for expr, values := range exprs {
			var a, b string
			waitFor(t, deadline, "the same answer to "+expr, func() error {
				var err error
				if a, err = answer(sharded, expr, values); err != nil {
					return err
				}
				if b, err = answer(single, expr, values); err != nil {
					return err
				}
				if a != b {
					return fmt.Errorf("three shards:\n%s\none benchd:\n%s", a, b)
				}
				return nil
			})
		}
		// Not only empty answers: the down target is down on both.
		if got, err := answer(sharded, `max by (target) (benchd_scenario_up) == 0`, false); err != nil || got != `target="down",` {
			t.Errorf("BenchdTargetDown's expression: %q %v, want the down target", got, err)
		}
	})

	t.Run("a shard dies", func(t *testing.T) {
		const dead = 1
		killed := time.Now()
		if err := procs[dead].Process.Kill(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, deadline, "up == 0 for the killed shard alone", func() error {
			down, err := instantQuery(sharded, `up{job="benchd"} == 0 or absent(up{job="benchd"})`)
			if err != nil {
				return err
			}
			if len(down) != 1 || down[0].Metric["instance"] != addrs[dead] {
				return fmt.Errorf("BenchdDown's expression: %v, want the killed shard's instance %s alone", down, addrs[dead])
			}
			up, err := answer(sharded, `up{job="benchd"} == 1`, false)
			if err != nil {
				return err
			}
			if strings.Count(up, "\n")+1 != shards-1 || strings.Contains(up, addrs[dead]) {
				return fmt.Errorf("up == 1: %s, want the other shards", up)
			}
			return nil
		})
		// The living shards run their scenarios again after the kill; no
		// series of the dead shard's scenarios is left or taken over.
		waitFor(t, deadline, "the living shards' runs after the kill", func() error {
			v, err := instantQuery(sharded, `benchd_scenario_last_run_timestamp_seconds`)
			if err != nil {
				return err
			}
			seen := map[string]bool{}
			for _, s := range v {
				name := s.Metric["target"] + "/" + s.Metric["mode"] + "/" + s.Metric["endpoint"]
				if s.Metric["shard"] == strconv.Itoa(dead) || (!split[name] && owner[name] == dead) {
					return fmt.Errorf("%s still exported (shard %s)", name, s.Metric["shard"])
				}
				if s.value() < float64(killed.UnixNano())/1e9 {
					return fmt.Errorf("%s last ran at %.0f, before the kill", name, s.value())
				}
				seen[name] = true
			}
			if want := len(owner) - owned[dead] + len(split); len(seen) != want {
				return fmt.Errorf("%d scenarios ran after the kill, want the living shards' %d", len(seen), want)
			}
			return nil
		})
		// BenchdDown itself (for: 5m) is pending for the dead shard alone.
		waitFor(t, deadline, "BenchdDown pending for the killed shard", func() error {
			v, err := instantQuery(sharded, `ALERTS{alertname="BenchdDown"}`)
			if err != nil {
				return err
			}
			if len(v) != 1 || v[0].Metric["instance"] != addrs[dead] || v[0].Metric["alertstate"] != "pending" {
				return fmt.Errorf("ALERTS{alertname=\"BenchdDown\"}: %v, want pending for %s alone", v, addrs[dead])
			}
			return nil
		})
		t.Logf("BenchdDown pending for the killed shard %d (%s) %.1f s after the kill", dead, addrs[dead], time.Since(killed).Seconds())
		// The dead shard's segments are lost: the split scenario runs at
		// two thirds of its rate until the shard is back.
		if v, err := instantQuery(sharded, `sum without (shard, instance) (benchd_scenario_requests_per_second{endpoint="s", target="a"})`); err == nil && len(v) == 1 {
			t.Logf("split a/-/s after the kill: %.1f requests/s over the living shards", v[0].value())
		}
	})
}

// answer runs expr on the Prometheus API at api and returns its result as
// text: one line per series, its labels sorted, and with values its value,
// the lines sorted.
func answer(api, expr string, values bool) (string, error) {
	v, err := instantQuery(api, expr)
	if err != nil {
		return "", err
	}
	lines := make([]string, len(v))
	for i, s := range v {
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(s.Metric)) {
			fmt.Fprintf(&b, "%s=%q,", k, s.Metric[k])
		}
		if values {
			fmt.Fprintf(&b, " %g", s.value())
		}
		lines[i] = b.String()
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}

// startPrometheusOn starts Debian's prometheus in dir (created), scraping
// the benchds at addrs as job benchd every second and evaluating the rules
// file every second, without Alertmanager; it returns its API base URL.
func startPrometheusOn(t *testing.T, dir, promBin, rules string, addrs []string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(addrs))
	for i, a := range addrs {
		quoted[i] = strconv.Quote(a)
	}
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: benchd
    static_configs: [{targets: [%s]}]
`, rules, strings.Join(quoted, ", ")))
	promAddr := freeAddr(t)
	start(t, dir, "prometheus", promBin, "--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	return "http://" + promAddr
}
