package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/report"
)

// shardFlags are --shard.index and --shard.count, as given ("" when not).
type shardFlags struct {
	index, count string
}

// addShardFlags adds the scale-out flags to c (serve, matrix).
func addShardFlags(c *kingpin.CmdClause, f *shardFlags) {
	c.Flag("shard.index", "This benchd's shard, 0 to the shard count - 1 (docs/scale-out.md). Unset, with more than one shard: the ordinal of a StatefulSet pod's hostname (benchd-2 is shard 2).").
		Envar("BENCHD_SHARD_INDEX").PlaceHolder("N").StringVar(&f.index)
	c.Flag("shard.count", "Number of shards the matrix is split over (rendezvous hashing of scenario names); overrides the configuration's shards.count. Unset: shards.count, else 1.").
		Envar("BENCHD_SHARD_COUNT").PlaceHolder("N").StringVar(&f.count)
}

// applyShard sets cfg's shard from the flags and the hostname
// ([config.Config.ApplyShard]); with anyIndex (a dry run) an unknown index
// is no error and the shard owns every scenario.
func applyShard(cfg *config.Config, f *shardFlags, anyIndex bool) error {
	src := config.ShardSource{Index: -1, AnyIndex: anyIndex}
	if s := strings.TrimSpace(f.index); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return usageError{fmt.Errorf("--shard.index %q: want a whole number, 0 or more (BENCHD_SHARD_INDEX sets it too)", f.index)}
		}
		src.Index = n
	}
	if s := strings.TrimSpace(f.count); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return usageError{fmt.Errorf("--shard.count %q: want a whole number, 1 or more (BENCHD_SHARD_COUNT sets it too)", f.count)}
		}
		src.Count = n
	}
	src.Hostname, _ = os.Hostname() // "" if unknown: then no ordinal
	if err := cfg.ApplyShard(src); err != nil {
		return usageError{err}
	}
	return nil
}

// writeShardAssignment prints which shard runs each scenario of cfg (as
// `benchd matrix --dry-run --shard.count N` does): a line per scenario in
// matrix order, then how many each shard has.
func writeShardAssignment(w io.Writer, cfg *config.Config) error {
	sh := cfg.Shard()
	all := cfg.Scenarios()
	per := make([]int, sh.Count)
	fmt.Fprintf(w, "\nshard assignment (%s, rendezvous hashing of the scenario name; docs/scale-out.md):\n", report.Plural(sh.Count, "shard"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tshard")
	split := 0
	for _, sc := range all {
		if sc.Split {
			split++
			fmt.Fprintf(tw, "%s\tall\n", sc.Name) // each shard runs its segment
			continue
		}
		i := config.ShardOf(sc.Name, sh.Count)
		per[i]++
		fmt.Fprintf(tw, "%s\t%d\n", sc.Name, i)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	counts := make([]string, len(per))
	for i, n := range per {
		counts[i] = fmt.Sprintf("shard %d: %d", i, n)
	}
	fmt.Fprintf(w, "%s\n", strings.Join(counts, ", "))
	if split > 0 {
		fmt.Fprintf(w, "and on every shard its segment of %s (endpoints[].split: 1/%d of the connections and rate each, started together)\n", report.Plural(split, "split scenario"), sh.Count)
	}
	if sh.Index >= 0 {
		_, err := fmt.Fprintf(w, "this benchd is %s: the plan above is its %s\n", sh, report.Plural(per[sh.Index]+split, "scenario"))
		return err
	}
	_, err := fmt.Fprintln(w, "this benchd's index is unknown (no --shard.index, BENCHD_SHARD_INDEX or hostname ordinal): the plan above is the whole matrix")
	return err
}
