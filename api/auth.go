package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
)

// How a request is authenticated and what it may do:
//
//   - A reader needs valid basic credentials when the web config file sets
//     basic_auth_users, or the bearer token (a writer may read); without
//     basic_auth_users anyone may read.
//   - A writer needs the bearer token (api.token_file), or the basic
//     credentials of a user listed in api.write_users. A write
//     authenticated by basic auth, which browsers replay by themselves,
//     must pass [http.CrossOriginProtection] (Sec-Fetch-Site and Origin);
//     clients that send neither header, such as Alertmanager, pass.
//   - Credentials of a scheme that is configured and wrong are refused
//     (401) on every path; credentials of a scheme that is not configured
//     are ignored, as exporter-toolkit ignores basic credentials when it
//     has no users.
//
// A request carries one Authorization header, so the two schemes cannot
// be stacked: exporter-toolkit's basic-auth layer wraps the whole handler
// (and is unexported), so it would refuse every bearer request. benchd
// therefore serves the web config itself, reusing exporter-toolkit's
// exported parts: [web.Config] (the file's schema), [web.Validate] (users'
// bcrypt hashes, headers, TLS files), [web.ConfigToTLSConfig] and
// [web.TLSConfig.SetDirectory]. Hand-rolled, because unexported there:
// reading the file (readWebConfig), the password check (passwords) and the
// rate limiter and headers (Server.ServeHTTP).

// role is what a request proved it is.
type role int

const (
	anonymous role = iota
	basicUser      // valid basic credentials of a basic_auth_users user
	bearer         // the bearer token
)

// caller is the authenticated identity of a request, in its context.
type caller struct {
	role role
	user string // for basicUser
}

type callerKey struct{}

func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// readWebConfig reads the exporter-toolkit web config file at path with
// exporter-toolkit's defaults (TLS 1.2 to 1.3, HTTP/2 on), strictly, and
// with relative TLS paths resolved against the file's directory, as
// exporter-toolkit reads it (its reader is unexported).
func readWebConfig(path string) (*web.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &web.Config{
		TLSConfig:  web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13},
		HTTPConfig: web.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		return nil, err
	}
	c.TLSConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}

// passwords checks basic credentials against bcrypt hashes. bcrypt is
// slow by design (tens of milliseconds), so checks run one at a time, as
// in exporter-toolkit, and successes are remembered: a browser or a
// scraper sends the same credentials with every request. Failures are not
// remembered, so wrong guesses cannot push good entries out. Safe for
// concurrent use.
type passwords struct {
	mu      sync.Mutex
	valid   map[[sha256.Size]byte]bool
	dummies map[int][]byte // by cost: hashes compared for unknown users, so timing does not tell them apart
}

// maxRemembered bounds passwords.valid; when full it is emptied.
const maxRemembered = 1024

func newPasswords() *passwords {
	return &passwords{valid: map[[sha256.Size]byte]bool{}, dummies: map[int][]byte{}}
}

// check reports whether pass is user's password in users (name to bcrypt
// hash).
func (p *passwords) check(users map[string]commoncfg.Secret, user, pass string) bool {
	secret, known := users[user]
	hash := []byte(secret)
	key := credentialKey(user, string(secret), pass)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !known {
		hash = p.dummy(users)
	} else if p.valid[key] {
		return true
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil && known
	if ok {
		if len(p.valid) >= maxRemembered {
			clear(p.valid)
		}
		p.valid[key] = true
	}
	return ok
}

// dummy returns a hash of a random password at the cost of users' hashes,
// made once per cost; p.mu must be held.
func (p *passwords) dummy(users map[string]commoncfg.Secret) []byte {
	cost := bcrypt.DefaultCost
	for _, h := range users {
		if c, err := bcrypt.Cost([]byte(h)); err == nil {
			cost = c
			break
		}
	}
	if d, ok := p.dummies[cost]; ok {
		return d
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	d, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(secret[:])), cost)
	if err != nil { // cannot happen: a valid cost, a 32-byte password
		d = []byte("$2a$10$invalid")
	}
	p.dummies[cost] = d
	return d
}

// credentialKey hashes the three strings, each prefixed by its length so
// that no two triples share a key; the password is not kept in memory.
func credentialKey(parts ...string) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range parts {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		h.Write([]byte(s))
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// authenticate finds who r is under the users of the web config (nil when
// there is none). It answers itself and returns false when r carries wrong
// credentials of a configured scheme or none when basic auth is on (401),
// or more than one Authorization header (400).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, users map[string]commoncfg.Secret) (caller, bool) {
	if len(r.Header.Values("Authorization")) > 1 {
		// Which one would count is a guess; a client means one (RFC 9110).
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "more than one Authorization header: send one, basic or bearer"})
		return caller{}, false
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token := s.token()
		if token == "" {
			break // no token configured: ignored
		}
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="benchd", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong bearer token"})
			return caller{}, false
		}
		return caller{role: bearer}, true
	case strings.EqualFold(scheme, "Basic") && len(users) > 0:
		user, pass, ok := r.BasicAuth()
		if !ok || !s.passwords.check(users, user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="benchd"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong user name or password"})
			return caller{}, false
		}
		return caller{role: basicUser, user: user}, true
	}
	if len(users) > 0 {
		w.Header().Set("WWW-Authenticate", `Basic realm="benchd"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "credentials required: basic auth of a user of --web.config.file, or the bearer token"})
		return caller{}, false
	}
	return caller{}, true
}

// write guards a write handler: the write API must be on (a token or
// write users configured), and the caller must hold the token or be a
// write user, whose request must not come from another origin.
func (s *Server) write(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, writers := s.token(), s.writeUsers()
		if s.opts.Control == nil || (token == "" && len(writers) == 0) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the write API is off: set api.token_file (a bearer token) or api.write_users (basic auth users) in the configuration to turn it on"})
			return
		}
		c := callerOf(r.Context())
		switch c.role {
		case bearer:
			h(w, r)
			return
		case basicUser:
			if !slices.Contains(writers, c.user) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("user %q may read but not write: list it in api.write_users to let it", c.user)})
				return
			}
			if err := s.csrf.Check(r); err != nil {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin write refused: " + err.Error()})
				return
			}
			h(w, r)
			return
		}
		var challenges []string
		if token != "" {
			challenges = append(challenges, `Bearer realm="benchd"`)
		}
		if len(writers) > 0 {
			challenges = append(challenges, `Basic realm="benchd"`)
		}
		for _, ch := range challenges {
			w.Header().Add("WWW-Authenticate", ch)
		}
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "the write API needs the bearer token (api.token_file) or basic auth of a user in api.write_users"})
	}
}

func (s *Server) token() string {
	if s.opts.Token == nil {
		return ""
	}
	return s.opts.Token()
}

func (s *Server) writeUsers() []string {
	if s.opts.WriteUsers == nil {
		return nil
	}
	return s.opts.WriteUsers()
}

// Warnings returns what is unsafe in how s is exposed, for logging at
// start: a non-loopback listen address without TLS or basic auth (or with
// basic auth but no TLS: passwords and the token cross the network in
// clear), and write users that the web config file does not define.
func (s *Server) Warnings() []string {
	return exposureWarnings(s.Addrs(), s.webConfig, s.writeUsers())
}

// exposureWarnings are the warnings of [Server.Warnings] for a server
// listening on addrs with the web config c (nil for none).
func exposureWarnings(addrs []net.Addr, c *web.Config, writers []string) []string {
	var w []string
	var users map[string]commoncfg.Secret
	tlsOn := false
	if c != nil {
		users, tlsOn = c.Users, c.TLSConfig.IsEnabled()
	}
	for _, a := range addrs {
		if tcp, ok := a.(*net.TCPAddr); !ok || tcp.IP.IsLoopback() {
			continue
		}
		switch {
		case !tlsOn && len(users) == 0:
			w = append(w, fmt.Sprintf("--web.listen-address %s is reachable from other hosts and --web.config.file sets neither TLS nor basic auth: anyone who can reach it reads the metrics and run history (listen on 127.0.0.1, or set tls_server_config and basic_auth_users in a web config file)", a))
		case !tlsOn:
			w = append(w, fmt.Sprintf("--web.listen-address %s is reachable from other hosts without TLS: basic-auth passwords and the bearer token cross the network in clear (set tls_server_config in --web.config.file)", a))
		}
	}
	for _, u := range writers {
		if _, ok := users[u]; !ok {
			w = append(w, fmt.Sprintf("api.write_users: %q is not in basic_auth_users of --web.config.file, so it cannot log in (add it there with a bcrypt hash, or remove it)", u))
		}
	}
	return w
}
