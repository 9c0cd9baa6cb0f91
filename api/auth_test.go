package api

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir and returns the certificate's pool.
func selfSigned(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "benchd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

// authSetup is one way of configuring the server's auth.
type authSetup struct {
	basic, token bool
}

// startServer starts a real server on 127.0.0.1:0 with setup (users alice
// and bob with passwords "alice-pw" and "bob-pw", alice a write user; token
// "s3cret"), TLS on when useTLS, and returns its base URL and a client.
func startServer(t *testing.T, setup authSetup, useTLS bool, extra func(*Options)) (string, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	var webYAML strings.Builder
	client := &http.Client{Timeout: 10 * time.Second}
	scheme := "http"
	if useTLS {
		pool := selfSigned(t, dir)
		webYAML.WriteString("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n")
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		t.Cleanup(client.CloseIdleConnections)
		scheme = "https"
	}
	if setup.basic {
		webYAML.WriteString("basic_auth_users:\n")
		for _, u := range []string{"alice", "bob"} {
			hash, err := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			webYAML.WriteString("  " + u + ": " + string(hash) + "\n")
		}
	}
	addrs := []string{"127.0.0.1:0"}
	flags := &web.FlagConfig{WebListenAddresses: &addrs}
	if webYAML.Len() > 0 {
		file := filepath.Join(dir, "web.yml")
		if err := os.WriteFile(file, []byte(webYAML.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		flags.WebConfigFile = &file
	}
	o := Options{Gatherer: prometheus.NewRegistry(), Web: flags, Control: &control{}}
	if setup.token {
		o.Token = func() string { return "s3cret" }
	}
	if setup.basic {
		o.WriteUsers = func() []string { return []string{"alice"} }
	}
	if extra != nil {
		extra(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return scheme + "://" + srv.Addrs()[0].String(), client
}

// TestAuth runs every combination of configured auth, request credentials
// and read or write endpoint against a real server, over plain HTTP and
// TLS.
func TestAuth(t *testing.T) {
	type creds struct {
		name   string
		header []string // Authorization header values
	}
	basic := func(user, pw string) []string {
		r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		r.SetBasicAuth(user, pw)
		return []string{r.Header.Get("Authorization")}
	}
	requests := []creds{
		{"none", nil},
		{"good basic writer", basic("alice", "alice-pw")},
		{"good basic reader", basic("bob", "bob-pw")},
		{"bad basic", basic("alice", "nope")},
		{"unknown user", basic("mallory", "alice-pw")},
		{"good bearer", []string{"Bearer s3cret"}},
		{"bad bearer", []string{"Bearer nope"}},
		{"bearer then basic", append([]string{"Bearer s3cret"}, basic("alice", "alice-pw")...)},
		{"basic then bearer", append(basic("alice", "alice-pw"), "Bearer s3cret")},
	}
	// want[setup][request] = {read code, write code}
	want := map[authSetup]map[string][2]int{
		{}: {
			"none": {200, 403}, "good basic writer": {200, 403}, "good basic reader": {200, 403}, "bad basic": {200, 403},
			"unknown user": {200, 403}, "good bearer": {200, 403}, "bad bearer": {200, 403},
		},
		{basic: true}: {
			"none": {401, 401}, "good basic writer": {200, 200}, "good basic reader": {200, 403}, "bad basic": {401, 401},
			"unknown user": {401, 401}, "good bearer": {401, 401}, "bad bearer": {401, 401},
		},
		{token: true}: {
			"none": {200, 401}, "good basic writer": {200, 401}, "good basic reader": {200, 401}, "bad basic": {200, 401},
			"unknown user": {200, 401}, "good bearer": {200, 200}, "bad bearer": {401, 401},
		},
		{basic: true, token: true}: {
			"none": {401, 401}, "good basic writer": {200, 200}, "good basic reader": {200, 403}, "bad basic": {401, 401},
			"unknown user": {401, 401}, "good bearer": {200, 200}, "bad bearer": {401, 401},
		},
	}
	names := map[authSetup]string{{}: "no auth", {basic: true}: "basic only", {token: true}: "token only", {basic: true, token: true}: "basic and token"}
	for _, useTLS := range []bool{false, true} {
		for setup, rows := range want {
			name := names[setup]
			if useTLS {
				name += " over TLS"
			}
			t.Run(name, func(t *testing.T) {
				base, client := startServer(t, setup, useTLS, nil)
				for _, rq := range requests {
					codes, ok := rows[rq.name]
					if !ok {
						codes = [2]int{400, 400} // two Authorization headers
					}
					for i, ep := range []struct{ method, path string }{{"GET", "/api/v1/status"}, {"POST", "/api/v1/schedule/pause"}} {
						req, err := http.NewRequest(ep.method, base+ep.path, nil)
						if err != nil {
							t.Fatal(err)
						}
						for _, h := range rq.header {
							req.Header.Add("Authorization", h)
						}
						resp, err := client.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != codes[i] {
							t.Errorf("%s %s with %s = %d %s, want %d", ep.method, ep.path, rq.name, resp.StatusCode, body, codes[i])
						}
						if useTLS && resp.TLS == nil {
							t.Errorf("%s %s: not served over TLS", ep.method, ep.path)
						}
						if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
							t.Errorf("%s %s with %s: 401 without WWW-Authenticate", ep.method, ep.path, rq.name)
						}
					}
				}
			})
		}
	}
}

// TestAuthCrossOrigin checks that a basic-auth write from another origin
// (a browser replaying credentials for a forged form) is refused, while
// the same origin, a client that sends no browser headers (Alertmanager)
// and a bearer-token write pass.
func TestAuthCrossOrigin(t *testing.T) {
	base, client := startServer(t, authSetup{basic: true, token: true}, false, nil)
	cases := []struct {
		name    string
		bearer  bool
		headers map[string]string
		want    int
	}{
		{"no browser headers (Alertmanager)", false, nil, 200},
		{"same origin", false, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": base}, 200},
		{"same origin, Origin only", false, map[string]string{"Origin": base}, 200},
		{"cross site", false, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"cross origin, Origin only", false, map[string]string{"Origin": "https://evil.example"}, 403},
		{"bearer from cross site", true, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, base+"/api/v1/schedule/resume", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.bearer {
				req.Header.Set("Authorization", "Bearer s3cret")
			} else {
				req.SetBasicAuth("alice", "alice-pw")
			}
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("= %d %s, want %d", resp.StatusCode, body, c.want)
			}
		})
	}
}

// TestServerLimits checks the connection limits against a real server: an
// idle keep-alive connection is closed after IdleTimeout, a client that
// does not finish its headers after ReadHeaderTimeout, and headers over
// MaxHeaderBytes get 431.
func TestServerLimits(t *testing.T) {
	base, _ := startServer(t, authSetup{}, false, func(o *Options) {
		o.IdleTimeout = 200 * time.Millisecond
		o.ReadHeaderTimeout = 200 * time.Millisecond
		o.MaxHeaderBytes = 4 << 10
	})
	addr := strings.TrimPrefix(base, "http://")
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedWithin reads from c until the server closes it, or fails after d.
	closedWithin := func(t *testing.T, c net.Conn, r *bufio.Reader, d time.Duration) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, r)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after %s", d)
		}
	}
	t.Run("idle keep-alive connection", func(t *testing.T) {
		c := dial(t)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("status %d close %v, want a kept-alive 200", resp.StatusCode, resp.Close)
		}
		start := time.Now()
		closedWithin(t, c, r, 5*time.Second)
		if took := time.Since(start); took < 150*time.Millisecond {
			t.Errorf("closed after %s, before the idle timeout", took)
		}
	})
	t.Run("unfinished headers", func(t *testing.T) {
		c := dial(t)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		closedWithin(t, c, bufio.NewReader(c), 5*time.Second)
	})
	t.Run("oversized headers", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Big", strings.Repeat("x", 16<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
}

// TestWarnings checks the exposure warnings: through a real server on
// loopback, and for other addresses (which tests do not bind) through
// exposureWarnings.
func TestWarnings(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("server on loopback", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "web.yml")
		if err := os.WriteFile(file, []byte("basic_auth_users:\n  alice: "+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addrs := []string{"127.0.0.1:0"}
		s, err := New(Options{Gatherer: prometheus.NewRegistry(), Web: &web.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &file},
			WriteUsers: func() []string { return []string{"alice", "carol"} }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.closeListeners()
		got := s.Warnings()
		if len(got) != 1 || !strings.HasPrefix(got[0], `api.write_users: "carol" is not in basic_auth_users of --web.config.file`) {
			t.Errorf("warnings %q, want one about carol", got)
		}
	})
	users := map[string]commoncfg.Secret{"alice": commoncfg.Secret(hash)}
	tlsOn := web.TLSConfig{TLSCertPath: "cert.pem", TLSKeyPath: "key.pem"}
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 9480} }
	cases := []struct {
		name    string
		addr    net.Addr
		web     *web.Config
		writers []string
		want    []string
	}{
		{"loopback, nothing", tcp("127.0.0.1"), nil, nil, nil},
		{"loopback ::1, nothing", tcp("::1"), nil, nil, nil},
		{"wildcard, nothing", tcp("0.0.0.0"), nil, nil, []string{"--web.listen-address 0.0.0.0:9480 is reachable from other hosts and --web.config.file sets neither TLS nor basic auth"}},
		{"LAN address, writer without web config", tcp("192.168.1.5"), nil, []string{"alice"},
			[]string{"--web.listen-address 192.168.1.5:9480 is reachable", `api.write_users: "alice" is not in basic_auth_users`}},
		{"wildcard ::, basic auth only", tcp("::"), &web.Config{Users: users}, []string{"alice"}, []string{"--web.listen-address [::]:9480 is reachable from other hosts without TLS"}},
		{"wildcard, TLS only", tcp("0.0.0.0"), &web.Config{TLSConfig: tlsOn}, nil, nil},
		{"wildcard, TLS and basic auth", tcp("0.0.0.0"), &web.Config{TLSConfig: tlsOn, Users: users}, []string{"alice"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := exposureWarnings([]net.Addr{c.addr}, c.web, c.writers)
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q, want %d starting %q", got, len(c.want), c.want)
			}
			for j, w := range c.want {
				if !strings.HasPrefix(got[j], w) {
					t.Errorf("warning %q does not start with %q", got[j], w)
				}
			}
		})
	}
}

// TestBadWebConfig checks that New refuses a web config file that
// exporter-toolkit would refuse, naming the flag.
func TestBadWebConfig(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, content, want string }{
		{"not a bcrypt hash", "basic_auth_users:\n  alice: plain\n", "--web.config.file"},
		{"unknown key", "basic_auth_user:\n  alice: x\n", "basic_auth_user"},
		{"missing certificate", "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope.key\n", "nope.pem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yml")
			if err := os.WriteFile(file, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			addrs := []string{"127.0.0.1:0"}
			_, err := New(Options{Gatherer: prometheus.NewRegistry(), Web: &web.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &file}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// FuzzAuthorization checks that no Authorization header but the token
// or a write user's credentials reaches the write API, and that every
// header gets a deliberate answer.
func FuzzAuthorization(f *testing.F) {
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	file := filepath.Join(f.TempDir(), "web.yml")
	if err := os.WriteFile(file, []byte("basic_auth_users:\n  alice: "+string(hash)+"\n  bob: "+string(hash)+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	addrs := []string{"127.0.0.1:0"}
	s, err := New(Options{Gatherer: prometheus.NewRegistry(), Web: &web.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &file},
		Control: &control{}, Token: func() string { return "s3cret" }, WriteUsers: func() []string { return []string{"alice"} }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.closeListeners)
	for _, h := range []string{"", "Bearer s3cret", "bearer  s3cret ", "Bearer s3cre", "Basic YWxpY2U6YWxpY2UtcHc=", "Basic Ym9iOmFsaWNlLXB3", "Basic !!", "Digest x", "Bearer"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/schedule/pause", nil)
		req.Header["Authorization"] = []string{h}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		scheme, cred, _ := strings.Cut(h, " ")
		user, pass, basicOK := req.BasicAuth()
		allowed := (strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(cred) == "s3cret") ||
			(basicOK && user == "alice" && pass == "alice-pw")
		switch code := rec.Code; {
		case code == 200 && !allowed:
			t.Fatalf("header %q reached the write API", h)
		case code != 200 && allowed:
			t.Fatalf("header %q of a writer got %d", h, code)
		case code != 200 && code != 401 && code != 403:
			t.Fatalf("header %q got %d", h, code)
		}
	})
}
