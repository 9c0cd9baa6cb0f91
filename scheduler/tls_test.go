package scheduler

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/internal/proc"
	"github.com/benchd/benchd/internal/testutil"
)

// tlsHelperEnv selects TestTLSHelper's body: "ADDR CERTFILE KEYFILE".
const tlsHelperEnv = "BENCHD_TLS_HELPER"

// TestTLSHelper is not a test: in a helper process it serves /healthz over
// https; in a normal test run it returns at once.
func TestTLSHelper(t *testing.T) {
	arg := os.Getenv(tlsHelperEnv)
	if arg == "" {
		return
	}
	f := strings.Fields(arg)
	l, err := net.Listen("tcp", f[0])
	if err == nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
		err = http.ServeTLS(l, mux, f[1], f[2])
	}
	fmt.Fprintln(os.Stderr, "tls helper:", err)
	os.Exit(2)
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files in dir.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "benchd scheduler test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestReadyTLS starts a managed https target whose certificate the system
// does not trust: its readiness check (process.ready: /healthz on the
// https url) verifies it with the target's tls_config, as the load does,
// and fails without one.
func TestReadyTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir)
	tests := []struct {
		name    string
		tls     string // the target's tls_config, YAML
		wantErr string // "" means ready
	}{
		{"system roots", "", "certificate signed by unknown authority"},
		{"ca_file relative to the config", "{ca_file: cert.pem}", ""},
		{"insecure_skip_verify", "{insecure_skip_verify: true}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
			doc := fmt.Sprintf(`
targets:
  - name: secure
    url: https://%s
    process:
      command: [%q, "-test.run=^TestTLSHelper$", "-test.count=1"]
      env: {%s: %q}
      ready: /healthz
      ready_timeout: 3s
`, addr, os.Args[0], tlsHelperEnv, addr+" "+certFile+" "+keyFile)
			if tt.tls != "" {
				doc += "    tls_config: " + tt.tls + "\n"
			}
			doc += "endpoints: [{name: e, path: /healthz}]\n"
			cfg, err := config.Parse([]byte(doc), dir)
			if err != nil {
				t.Fatal(err)
			}
			if errs := CheckPlans(cfg); len(errs) > 0 {
				t.Fatalf("CheckPlans: %v", errs)
			}
			// The scheduler compiles the readiness check once, with
			// the target's TLS settings.
			s, err := New(cfg, Options{SettleTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			check := s.cfg.Load().ready.targets["secure"]
			p, err := proc.Start(t.Context(), processSpec(cfg, &cfg.Targets[0], check, nil))
			if p != nil {
				t.Cleanup(func() { _ = p.Stop(t.Context()) })
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("proc.Start: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("proc.Start: %v, want an error with %q", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			// Settling between repeats checks the same URL the same way.
			if !s.settle(t.Context(), s.log, check.url(), check.tls) {
				t.Error("settle: the ready target did not settle")
			}
		})
	}
}
