package config

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxShards is the largest shard count accepted: more benchd pods than
// that for one matrix is a typo, and each is a scrape target.
const MaxShards = 1000

// Shards configures scale-out: the matrix split over several benchd
// processes (the pods of a Kubernetes StatefulSet), each running the
// scenarios rendezvous hashing gives it ([ShardOf]); docs/scale-out.md.
// Every shard reads the same configuration; a shard's index is not part of
// it (it comes from --shard.index, BENCHD_SHARD_INDEX or the pod's
// hostname: [Config.ApplyShard]).
type Shards struct {
	// Count is the number of shards, 1 to MaxShards; 0 (unset) means 1,
	// no sharding. --shard.count and BENCHD_SHARD_COUNT override it.
	Count int `yaml:"count,omitempty"`
	// StartSlack is added to the shared start of the split scenarios
	// (endpoints[].split), the next whole second, so that every shard is
	// there in time: 0 to MaxDuration, 0 (unset) meaning
	// DefaultStartSlack.
	StartSlack time.Duration `yaml:"start_slack,omitempty"`
}

// DefaultStartSlack is [Shards.StartSlack] when unset: 2 s.
const DefaultStartSlack = 2 * time.Second

// Slack returns StartSlack, or DefaultStartSlack when it is 0.
func (s Shards) Slack() time.Duration {
	if s.StartSlack <= 0 {
		return DefaultStartSlack
	}
	return s.StartSlack
}

// Segment is one shard's share of a split scenario: Index from 0 to
// Count-1, the shard's own. It is a plain value.
type Segment struct {
	Index, Count int
}

// Shard is one benchd's place among the shards: Index from 0 to Count-1.
// A negative Index (only a dry run without a known index sets it) owns
// every scenario. It is a plain value.
type Shard struct {
	Index, Count int
}

// Owns reports whether the scenario named name is the shard's: with a
// count of 1 or less (no sharding) every scenario is, else the one
// [ShardOf] names.
func (s Shard) Owns(name string) bool {
	return s.Count <= 1 || s.Index < 0 || ShardOf(name, s.Count) == s.Index
}

// String is "shard I of N" (0-based I).
func (s Shard) String() string {
	return fmt.Sprintf("shard %d of %d", s.Index, max(s.Count, 1))
}

// ShardOf returns the shard, 0 to count-1, that the scenario named name
// belongs to: the one of highest weight under rendezvous
// (highest-random-weight) hashing, so that going from n to n+1 shards moves
// about 1/(n+1) of the scenarios, all of them to the new shard, and no
// other. The weight of shard i is the FNV-1a 64-bit hash of the name, a
// NUL byte and i in decimal, passed through the 64-bit finaliser of
// MurmurHash3 (FNV alone spreads names that differ in their last bytes
// poorly); a tie goes to the lower index. A count of 1 or less gives 0.
// The result depends on nothing but name and count, so every shard
// computes the same assignment.
func ShardOf(name string, count int) int {
	best, bestW := 0, uint64(0)
	for i := range count {
		if w := shardWeight(name, i); i == 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return best
}

// shardWeight is the rendezvous weight of shard i for name.
func shardWeight(name string, i int) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(strconv.AppendInt(nil, int64(i), 10))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Shard returns c's shard: [Config.ShardIndex] of shards.count (1 when
// unset).
func (c *Config) Shard() Shard {
	return Shard{Index: c.ShardIndex, Count: max(c.Shards.Count, 1)}
}

// ShardScenarios returns the scenarios c's shard runs: every one without
// sharding; with shards, first the split scenarios (endpoints[].split), in
// matrix order, each as the shard's segment ([SegmentLoad]; Segment set),
// then the other scenarios the shard owns ([Shard.Owns]), in matrix order.
// The split scenarios come first so that every shard reaches them at the
// same time, the start of a run. A shard of unknown index (a dry run)
// has every scenario, whole. The caller owns the returned slice.
func (c *Config) ShardScenarios() []Scenario {
	sh := c.Shard()
	all := c.Scenarios()
	if sh.Count <= 1 || sh.Index < 0 {
		return all
	}
	var split, own []Scenario
	for _, sc := range all {
		switch {
		case sc.Split:
			sc.Load = SegmentLoad(sc.Load, sh.Index, sh.Count)
			sc.Segment = &Segment{Index: sh.Index, Count: sh.Count}
			split = append(split, sc)
		case sh.Owns(sc.Name):
			own = append(own, sc)
		}
	}
	return append(split, own...)
}

// SegmentLoad returns segment index (0 to count-1) of count of load: its
// connections divided by count, the first connections%count segments one
// more each, so that the segments add up to the whole; the same for the
// whole requests per second of an open-loop rate of at least count, with
// its fraction divided evenly, and a rate below count divided evenly. The
// threads are capped at the segment's connections. The rest is load's.
func SegmentLoad(load LoadSpec, index, count int) LoadSpec {
	if count <= 1 {
		return load
	}
	share := func(n int) int {
		s := n / count
		if index < n%count {
			s++
		}
		return s
	}
	load.Connections = share(load.Connections)
	if load.Threads > load.Connections {
		load.Threads = load.Connections
	}
	if whole := math.Floor(load.Rate); load.Rate > 0 && whole >= float64(count) && whole <= math.MaxInt32 {
		load.Rate = float64(share(int(whole))) + (load.Rate-whole)/float64(count)
	} else {
		load.Rate /= float64(count)
	}
	return load
}

// checkSplit reports the split scenarios that count shards cannot run:
// fewer connections than shards, more than one repeat, or an instruction
// lane's. count 1 or less checks only the last two.
func (c *Config) checkSplit(k *checker, count int) {
	for _, cl := range c.cells() {
		if !cl.Split {
			continue
		}
		p := indexPath("endpoints", cl.endpoint) + ".split"
		switch {
		case cl.Instructions != nil:
			k.add1(p, "scenario %s is an instruction lane's (targets[%d].instructions): a lane counts requests on one process, it cannot be split (remove split, or the endpoint from the lane)", cl.Name, cl.target)
		case cl.Load.Repeats > 1:
			k.add1(p, "scenario %s has repeats %d: a split scenario runs once per run, on every shard at once (remove split, or set repeats to 1)", cl.Name, cl.Load.Repeats)
		case count > 1 && cl.Load.Connections < count:
			k.add1(p, "scenario %s has %d connections, fewer than the %d shards: each shard's segment needs one (raise connections, or remove split)", cl.Name, cl.Load.Connections, count)
		}
	}
}

// HostnameOrdinal returns the ordinal of a StatefulSet pod's hostname:
// Kubernetes names the pods of StatefulSet "benchd" benchd-0, benchd-1 …
// and sets each pod's hostname to its name, so the ordinal is the decimal
// number after the last '-' ("benchd-2" is 2). ok is false when hostname
// does not end in '-' and digits (a domain part after a '.' is ignored).
func HostnameOrdinal(hostname string) (ordinal int, ok bool) {
	host, _, _ := strings.Cut(hostname, ".")
	i := strings.LastIndexByte(host, '-')
	if i <= 0 || i == len(host)-1 {
		return 0, false
	}
	digits := host[i+1:]
	if strings.Trim(digits, "0123456789") != "" || len(digits) > 6 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, false
	}
	return n, true
}

// ShardSource is what the command line and the environment say about a
// benchd's shard, for [Config.ApplyShard].
type ShardSource struct {
	// Index is --shard.index or BENCHD_SHARD_INDEX; negative means not
	// given.
	Index int
	// Count is --shard.count or BENCHD_SHARD_COUNT; 0 means not given
	// (shards.count applies).
	Count int
	// Hostname is the machine's (os.Hostname), read for its StatefulSet
	// ordinal when Index is not given and there is more than one shard.
	Hostname string
	// AnyIndex, set by a dry run, reads no hostname and makes an unknown
	// index no error: the shard then owns every scenario (Index -1).
	AnyIndex bool
}

// ErrShardIndex marks a shard index that is unknown or not below the
// shard count; [Config.ApplyShard] returns it wrapped.
var ErrShardIndex = errors.New("config: bad shard index")

// ApplyShard sets c's shard from src: a given Count replaces shards.count;
// the index is src.Index if given, else, with more than one shard, the
// ordinal of src.Hostname ([HostnameOrdinal]), else 0. This order lets a
// StatefulSet need no per-pod setting (the hostname is the pod's name), a
// Deployment or a machine outside Kubernetes say it explicitly, and a
// single benchd say nothing. It returns an error wrapping [ErrShardIndex]
// when the index is not below the count, or unknown with more than one
// shard (two benchds both guessing 0 would run the same scenarios twice
// and others never), and one wrapping the count's problem when src.Count
// is out of range or its shards cannot run a split scenario (fewer
// connections than shards).
func (c *Config) ApplyShard(src ShardSource) error {
	if src.Count != 0 {
		if src.Count < 1 || src.Count > MaxShards {
			return fmt.Errorf("config: --shard.count (or BENCHD_SHARD_COUNT) %d: want 1 to %d", src.Count, MaxShards)
		}
		k := &checker{}
		c.checkSplit(k, src.Count)
		if errs := k.problems(); len(errs) > 0 {
			return fmt.Errorf("config: --shard.count (or BENCHD_SHARD_COUNT) %d: %w", src.Count, errors.Join(errs...))
		}
		c.Shards.Count = src.Count
	}
	count := max(c.Shards.Count, 1)
	index := src.Index
	from := "--shard.index (or BENCHD_SHARD_INDEX)"
	if index < 0 && count > 1 && !src.AnyIndex {
		if n, ok := HostnameOrdinal(src.Hostname); ok {
			index, from = n, fmt.Sprintf("the ordinal of hostname %q", src.Hostname)
		}
	}
	switch {
	case index < 0 && count > 1 && src.AnyIndex:
		index, from = -1, "" // a dry run's: every scenario
	case index < 0 && count > 1:
		return fmt.Errorf("%w: %d shards, and hostname %q has no StatefulSet ordinal (-N at its end): give --shard.index or BENCHD_SHARD_INDEX", ErrShardIndex, count, src.Hostname)
	case index < 0:
		index, from = 0, ""
	case index >= count:
		return fmt.Errorf("%w: %s is %d, not below the shard count %d (--shard.count, BENCHD_SHARD_COUNT or shards.count)", ErrShardIndex, from, index, count)
	}
	c.ShardIndex, c.ShardIndexFrom = index, from
	return nil
}

// checkShards checks the shards section.
func (c *Config) checkShards(k *checker) {
	if n := c.Shards.Count; n < 0 || n > MaxShards {
		k.add("shards.count", "%d is not a shard count of 1 to %d (the number of benchd pods the matrix is split over; remove the key for 1)", n, MaxShards)
	}
	if d := c.Shards.StartSlack; d < 0 || d > MaxDuration {
		k.add("shards.start_slack", "%s is not a slack of 0 to %s (the wait added to the split scenarios' shared start, such as 2s)", d, MaxDuration)
	}
	c.checkSplit(k, c.Shards.Count)
}
