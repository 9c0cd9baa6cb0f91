package engine

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// tlsSessionCacheSize bounds the TLS sessions a run keeps for resumption.
// Every connection of a run talks to the same server, so a few suffice;
// the LRU drops the oldest.
const tlsSessionCacheSize = 64

// clientTLS returns the TLS configuration of one run against serverName:
// SNI and verification for that name (an IP address is verified against
// the certificate's IP SANs and sent without SNI, as crypto/tls does),
// HTTP/1.1 by ALPN, and one session cache shared by the run's connections
// so that a reconnection resumes a session instead of a full handshake.
func clientTLS(serverName string, insecure bool, roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: insecure, // only when the plan asks, for self-signed test servers
		RootCAs:            roots,
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(tlsSessionCacheSize),
		MinVersion:         tls.VersionTLS12,
	}
}

// TLSConfig returns the client TLS configuration the engine uses for p: the
// same verification (InsecureSkipVerify, CAFile, the URL's host as server
// name). It is nil, with a nil error, for an http:// URL. Others that talk
// to the plan's server, such as a readiness probe, use it to see what the
// engine would see. The error is a [*PlanError] when p is not valid.
func (p Plan) TLSConfig() (*tls.Config, error) {
	c, err := check(p)
	if err != nil || !c.tls {
		return nil, err
	}
	return clientTLS(c.u.Hostname(), p.InsecureSkipVerify, c.ca), nil
}

// handshakeError is a failed TLS handshake; its text names the cause
// without the per-connection addresses, so that one cause is one sample.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string {
	cause := e.err
	var op *net.OpError
	if errors.As(cause, &op) && op.Err != nil {
		cause = fmt.Errorf("%s: %w", op.Op, op.Err)
	}
	return "tls handshake: " + cause.Error()
}

func (e *handshakeError) Unwrap() error { return e.err }
