package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/valyala/fasthttp"
)

// DefaultUpstreamBytes is the size of the upstream payload: about 24 KiB,
// as the seed's requests/httpx/aiohttp endpoints fetch.
const DefaultUpstreamBytes = 24 << 10

// upstreamFlags are the flags of `benchd upstream`.
type upstreamFlags struct {
	listen string
	bytes  int
}

func addUpstreamFlags(c *kingpin.CmdClause, f *upstreamFlags) {
	c.Flag("listen-address", "Address to serve on.").Default("127.0.0.1:8090").StringVar(&f.listen)
	c.Flag("payload-bytes", "Size of the JSON payload served at every path.").Default(strconv.Itoa(DefaultUpstreamBytes)).IntVar(&f.bytes)
}

// upstreamPayload returns a JSON document of exactly n bytes (at least 32).
func upstreamPayload(n int) []byte {
	const head, tail = `{"service":"benchd-upstream","data":"`, `"}`
	fill := max(n-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", fill) + tail)
}

// runUpstream serves a fixed JSON payload on every path until ctx is done:
// the local upstream that the reference target's outbound-HTTP endpoints
// (requests, httpx, aiohttp) call, so that they measure the client library
// rather than a remote network.
func runUpstream(ctx context.Context, f *upstreamFlags, logger *slog.Logger) error {
	if f.bytes < 32 {
		return usageError{fmt.Errorf("--payload-bytes %d: must be at least 32", f.bytes)}
	}
	body := upstreamPayload(f.bytes)
	srv := &fasthttp.Server{
		Name: "benchd-upstream",
		Handler: func(c *fasthttp.RequestCtx) {
			c.SetContentType("application/json")
			c.SetBody(body)
		},
		NoDefaultDate: true,
	}
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("upstream: listen on %s (--listen-address): %w", f.listen, err)
	}
	logger.Info("upstream listening", "address", l.Addr().String(), "payload_bytes", len(body))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("upstream: %w", err)
	case <-ctx.Done():
		return srv.Shutdown()
	}
}
