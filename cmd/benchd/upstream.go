package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/alecthomas/kingpin/v2"

	"github.com/benchd/benchd/deploy"
)

// upstreamFlags are the flags of `benchd upstream`.
type upstreamFlags struct {
	listen string
	bytes  int
}

func addUpstreamFlags(c *kingpin.CmdClause, f *upstreamFlags) {
	c.Flag("listen-address", "Address to serve on.").Default("127.0.0.1:8090").StringVar(&f.listen)
	c.Flag("payload-bytes", "Size of the JSON payload served at every path.").Default(strconv.Itoa(deploy.DefaultUpstreamBytes)).IntVar(&f.bytes)
}

// runUpstream serves the upstream payload until ctx is done
// ([deploy.ServeUpstream]).
func runUpstream(ctx context.Context, f *upstreamFlags, logger *slog.Logger) error {
	if f.bytes < 32 {
		return usageError{fmt.Errorf("--payload-bytes %d: must be at least 32", f.bytes)}
	}
	return deploy.ServeUpstream(ctx, f.listen, f.bytes, logger)
}
