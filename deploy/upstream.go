package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/valyala/fasthttp"
)

// DefaultUpstreamBytes is the size of the upstream payload: about 24 KiB,
// as the seed's requests/httpx/aiohttp endpoints fetch.
const DefaultUpstreamBytes = 24 << 10

// upstreamPayload returns a JSON document of exactly n bytes (at least 32).
func upstreamPayload(n int) []byte {
	const head, tail = `{"service":"benchd-upstream","data":"`, `"}`
	fill := max(n-len(head)-len(tail), 0)
	return []byte(head + strings.Repeat("x", fill) + tail)
}

// ServeUpstream serves a fixed JSON payload of payloadBytes bytes (at
// least 32) on every path at listen until ctx is done: the local upstream
// that the reference target's outbound-HTTP endpoints (requests, httpx,
// aiohttp) call, so that they measure the client library rather than a
// remote network (`benchd upstream`). It returns the listen or serve
// error, or nil after a clean shutdown.
func ServeUpstream(ctx context.Context, listen string, payloadBytes int, logger *slog.Logger) error {
	body := upstreamPayload(payloadBytes)
	srv := &fasthttp.Server{
		Name: "benchd-upstream",
		Handler: func(c *fasthttp.RequestCtx) {
			c.SetContentType("application/json")
			c.SetBody(body)
		},
		NoDefaultDate: true,
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("upstream: listen on %s (--listen-address): %w", listen, err)
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
