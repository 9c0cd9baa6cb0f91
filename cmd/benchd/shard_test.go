package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/benchd/benchd/config"
)

// TestDryRunShardAssignment runs `benchd matrix --dry-run --shard.count 3`
// over the default matrix: the assignment lists every scenario once with
// the shard config.ShardOf gives it, and with --shard.index i the plan
// above it holds exactly shard i's scenarios.
func TestDryRunShardAssignment(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	all := cfg.Scenarios()
	storage := t.TempDir()
	dryRun := func(t *testing.T, extra ...string) (plan []string, assigned map[string]int) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := append([]string{"matrix", "--dry-run", "--storage.path", storage, "--shard.count", "3"}, extra...)
		if code := runWith(t.Context(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr.String())
		}
		before, after, ok := strings.Cut(stdout.String(), "\nshard assignment (")
		if !ok {
			t.Fatalf("no shard assignment:\n%s", stdout.String())
		}
		for _, line := range strings.Split(before, "\n")[1:] { // after the plan's header
			if line == "" {
				break
			}
			plan = append(plan, strings.Fields(line)[0])
		}
		assigned = map[string]int{}
		for _, line := range strings.Split(after, "\n")[2:] { // after "…):" and the header
			f := strings.Fields(line)
			if len(f) != 2 {
				break
			}
			if _, dup := assigned[f[0]]; dup {
				t.Errorf("%s assigned twice", f[0])
			}
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatalf("assignment line %q: %v", line, err)
			}
			assigned[f[0]] = n
		}
		return plan, assigned
	}
	plan, assigned := dryRun(t)
	if len(plan) != len(all) || len(assigned) != len(all) {
		t.Fatalf("unknown index: %d planned, %d assigned, want the matrix's %d each", len(plan), len(assigned), len(all))
	}
	for _, sc := range all {
		if got, want := assigned[sc.Name], config.ShardOf(sc.Name, 3); got != want {
			t.Errorf("%s assigned to shard %d, want %d", sc.Name, got, want)
		}
	}
	total := 0
	for i := range 3 {
		plan, _ := dryRun(t, "--shard.index", strconv.Itoa(i))
		var want []string
		for _, sc := range all {
			if assigned[sc.Name] == i {
				want = append(want, sc.Name)
			}
		}
		if strings.Join(plan, " ") != strings.Join(want, " ") {
			t.Errorf("shard %d plans %v, want %v", i, plan, want)
		}
		total += len(plan)
	}
	if total != len(all) {
		t.Errorf("the shards plan %d scenarios together, want %d", total, len(all))
	}
}
