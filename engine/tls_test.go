package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCert is a self-signed certificate for 127.0.0.1, ::1 and localhost,
// made once per test binary; testCertPEM is its PEM form, the test CA.
var (
	testCertOnce sync.Once
	testCert     tls.Certificate
	testCertPEM  []byte
	testCertErr  error
)

func makeTestCert() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		testCertErr = err
		return
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "benchd engine test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		testCertErr = err
		return
	}
	testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	testCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// serverTLS returns a server configuration with the test certificate.
func serverTLS(t testing.TB) *tls.Config {
	t.Helper()
	testCertOnce.Do(makeTestCert)
	if testCertErr != nil {
		t.Fatal(testCertErr)
	}
	return &tls.Config{Certificates: []tls.Certificate{testCert}}
}

// testCAFile writes the test certificate as a PEM file and returns its path.
func testCAFile(t testing.TB) string {
	t.Helper()
	serverTLS(t)
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, testCertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunTLSVerification runs against a TLS server whose certificate the
// system roots do not know: without CAFile or InsecureSkipVerify every
// handshake fails as a connect error naming the cause, and nothing is sent;
// with either, requests are answered on verified (or accepted) connections.
func TestRunTLSVerification(t *testing.T) {
	tests := []struct {
		name   string
		plan   func(p *Plan)
		sample string // "" means success
	}{
		{"system roots", func(*Plan) {}, "connect: tls handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"CA file", func(p *Plan) { p.CAFile = testCAFile(t) }, ""},
		{"insecure skip verify", func(p *Plan) { p.InsecureSkipVerify = true }, ""},
		{"wrong name", func(p *Plan) { p.CAFile = testCAFile(t) }, "certificate is valid for 127.0.0.1, ::1, not 127.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := "127.0.0.1"
			if tt.name == "wrong name" {
				host = "127.0.0.2" // loopback too, but not in the certificate
			}
			ln, err := net.Listen("tcp", host+":0")
			if err != nil {
				t.Fatal(err)
			}
			srv := serveRaw(t, tls.NewListener(ln, serverTLS(t)), respond(okResponse))
			p := Plan{URL: "https://" + ln.Addr().String() + "/", Connections: 2, Duration: 300 * time.Millisecond}
			tt.plan(&p)
			res, err := Run(t.Context(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, res)
			if tt.sample == "" {
				if res.Completed() == 0 || res.TotalErrors() != 0 || res.ConnectionsEstablished != 2 {
					t.Errorf("completed %d, errors %v (%q), %d connections; want responses only on 2",
						res.Completed(), res.Errors, res.ErrorSamples, res.ConnectionsEstablished)
				}
				if r := srv.requests.Load(); uint64(r) != res.Completed() {
					t.Errorf("server answered %d requests, engine counted %d", r, res.Completed())
				}
				return
			}
			if res.Errors[KindConnect] == 0 || res.Errors[KindConnect] != res.TotalErrors() || res.Completed() != 0 || res.ConnectionsEstablished != 0 {
				t.Errorf("errors %v, completed %d, %d connections; want connect errors only", res.Errors, res.Completed(), res.ConnectionsEstablished)
			}
			if !sampled(res, tt.sample) || len(res.ErrorSamples) != 1 {
				t.Errorf("samples %q, want one containing %q", res.ErrorSamples, tt.sample)
			}
			if r := srv.requests.Load(); r != 0 {
				t.Errorf("server read %d requests over unverified connections", r)
			}
		})
	}
}

// TestRunTLSHandshakeTimeout runs against a server that accepts TCP
// connections and never answers the ClientHello: each handshake ends at
// ConnectTimeout as a connect error, never as a request timeout.
func TestRunTLSHandshakeTimeout(t *testing.T) {
	srv := startRaw(t, neverAnswer) // reads the ClientHello as a request head, forever
	p := Plan{
		URL: strings.Replace(srv.url, "http://", "https://", 1), CAFile: testCAFile(t),
		Connections: 2, Duration: 600 * time.Millisecond, Timeout: 5 * time.Second, ConnectTimeout: 150 * time.Millisecond,
	}
	res, err := Run(t.Context(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if e := res.Errors; e[KindConnect] < 2 || e[KindConnect] != res.TotalErrors() || res.Completed() != 0 || res.ConnectionsEstablished != 0 {
		t.Errorf("errors %v, completed %d, %d connections; want connect errors only", e, res.Completed(), res.ConnectionsEstablished)
	}
	if !sampled(res, "connect: tls handshake: ") || !sampled(res, "i/o timeout") {
		t.Errorf("samples %q, want a handshake timeout", res.ErrorSamples)
	}
	if n := res.Latency.TotalCount(); n != 0 {
		t.Errorf("%d latencies recorded for handshakes that never finished", n)
	}
}

// TestRunTLSResumption closes the connection after every response, so each
// request opens a new one: after the first full handshake of each
// connection, reconnections resume the TLS session.
func TestRunTLSResumption(t *testing.T) {
	var full, resumed atomic.Int64
	srv := startRawTLS(t, func(c net.Conn, _ int) bool {
		if c.(*tls.Conn).ConnectionState().DidResume {
			resumed.Add(1)
		} else {
			full.Add(1)
		}
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
		return false
	})
	res, err := Run(t.Context(), Plan{URL: srv.url, CAFile: testCAFile(t), Connections: 2, Threads: 1, Duration: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if res.Completed() < 10 || res.TotalErrors() != 0 {
		t.Fatalf("completed %d, errors %v (%q)", res.Completed(), res.Errors, res.ErrorSamples)
	}
	// Both first connections may handshake in full before either has a
	// ticket; a few more may race a ticket's arrival.
	if f, r := full.Load(), resumed.Load(); r < f || r < int64(res.Completed())/2 {
		t.Errorf("%d full handshakes and %d resumed for %d requests; want most resumed", f, r, res.Completed())
	}
}

// TestPlanValidate checks that Validate lists every problem with its field,
// as a *PlanError wrapping ErrInvalidPlan, and accepts https.
func TestPlanValidate(t *testing.T) {
	if err := (Plan{URL: "https://127.0.0.1/"}).Validate(); err != nil {
		t.Errorf("https plan: %v", err)
	}
	p := Plan{
		URL:         "ftp://127.0.0.1/",
		Connections: -1,
		Headers:     []Header{{Name: "A", Value: "1"}, {Name: "Content-Length", Value: "5"}},
		Rate:        -1,
	}
	err := p.Validate()
	var pe *PlanError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPlan) {
		t.Fatalf("err %v (%T), want a *PlanError wrapping ErrInvalidPlan", err, err)
	}
	var fields []string
	for _, pr := range pe.Problems {
		fields = append(fields, pr.Field)
	}
	if got, want := strings.Join(fields, ","), "URL,Headers[1],Connections,Rate"; got != want {
		t.Errorf("fields %s, want %s (%v)", got, want, err)
	}
	// Run refuses the same plan with the same error.
	if _, rerr := Run(t.Context(), p, nil); rerr == nil || rerr.Error() != err.Error() {
		t.Errorf("Run: %v, want %v", rerr, err)
	}
}
