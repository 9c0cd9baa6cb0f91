package config

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
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

// ShardScenarios returns the scenarios of [Config.Scenarios] that c's
// shard owns, in matrix order: every one without sharding. The caller
// owns the returned slice.
func (c *Config) ShardScenarios() []Scenario {
	sh := c.Shard()
	all := c.Scenarios()
	out := all[:0]
	for _, sc := range all {
		if sh.Owns(sc.Name) {
			out = append(out, sc)
		}
	}
	return out
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
// is out of range.
func (c *Config) ApplyShard(src ShardSource) error {
	if src.Count != 0 {
		if src.Count < 1 || src.Count > MaxShards {
			return fmt.Errorf("config: --shard.count %d: want 1 to %d", src.Count, MaxShards)
		}
		c.Shards.Count = src.Count
	}
	count := max(c.Shards.Count, 1)
	index := src.Index
	from := "--shard.index"
	if index < 0 && count > 1 && !src.AnyIndex {
		if n, ok := HostnameOrdinal(src.Hostname); ok {
			index, from = n, fmt.Sprintf("the ordinal of hostname %q", src.Hostname)
		}
	}
	switch {
	case index < 0 && count > 1 && src.AnyIndex:
		index = -1
	case index < 0 && count > 1:
		return fmt.Errorf("%w: %d shards, and hostname %q has no StatefulSet ordinal (-N at its end): give --shard.index or BENCHD_SHARD_INDEX", ErrShardIndex, count, src.Hostname)
	case index < 0:
		index = 0
	case index >= count:
		return fmt.Errorf("%w: %s is %d, not below the shard count %d (--shard.count, BENCHD_SHARD_COUNT or shards.count)", ErrShardIndex, from, index, count)
	}
	c.ShardIndex = index
	return nil
}

// checkShards checks the shards section.
func (c *Config) checkShards(k *checker) {
	if n := c.Shards.Count; n < 0 || n > MaxShards {
		k.add("shards.count", "%d is not a shard count of 1 to %d (the number of benchd pods the matrix is split over; remove the key for 1)", n, MaxShards)
	}
}
