package exporters

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// ShardLabel is the label every benchd metric carries: the index of the
// shard (config.Shard) whose benchd exports it, "0" without sharding. Its
// values are bounded by config.MaxShards. Each shard is also its own scrape
// target (instance), so rules and dashboards aggregate scenario series by
// target, endpoint and mode, never by instance (docs/metrics.md).
const ShardLabel = "shard"

// WithShard returns reg wrapped so that every metric of the collectors
// registered through it carries ShardLabel with value index (0 or more).
// Register benchd's own collectors ([Metrics], [Regressions]) through it,
// and the Go runtime's and process collectors on reg itself. The returned
// Registerer is safe for concurrent use as reg is.
func WithShard(reg prometheus.Registerer, index int) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{ShardLabel: strconv.Itoa(index)}, reg)
}
