package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// API configures benchd's HTTP API (served beside /metrics). Who may read
// is set by --web.config.file (exporter-toolkit's basic_auth_users); who
// may write, here. Without TokenFile and WriteUsers the write API is off.
type API struct {
	// TokenFile names a file whose content (surrounding white space
	// trimmed) is the bearer token that may read and write:
	// POST /-/reload, POST /api/v1/runs, POST /api/v1/schedule/pause and
	// /resume, POST /api/v1/baselines/.../accept. A relative path resolves
	// against [Config.Dir]. Empty, the default, means no token. The file
	// is read at start-up and at each reload; the token never appears in
	// logs or in the API. [Config.Warnings] warns when others may read it.
	TokenFile string `yaml:"token_file,omitempty"`
	// WriteUsers are basic-auth users of --web.config.file
	// (basic_auth_users) that may also write, for clients that cannot send
	// a bearer token (a browser) or prefer basic auth (Alertmanager). The
	// names are checked here only for their form: the users and their
	// passwords live in the web config file, which the daemon checks at
	// start. Empty, the default, lets no basic-auth user write.
	WriteUsers []string `yaml:"write_users,omitempty"`
}

// checkAPI checks the api section.
func (c *Config) checkAPI(k *checker) {
	for i, u := range c.API.WriteUsers {
		p := indexPath("api.write_users", i)
		switch {
		case strings.TrimSpace(u) == "":
			k.add(p, "is empty (write a user name of basic_auth_users in --web.config.file, or remove the item)")
		case strings.ContainsAny(u, ":\r\n"):
			k.add(p, "%q: a basic-auth user name cannot contain ':' or a line break", u)
		case slices.Index(c.API.WriteUsers, u) < i:
			k.add(p, "user %q is listed twice (remove one)", u)
		}
	}
}

// apiWarnings warns about a token file that others may read or change.
func (c *Config) apiWarnings() []string {
	if c.API.TokenFile == "" {
		return nil
	}
	path := c.ResolvePath(c.API.TokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !c.madeAtStart(path) {
			return []string{fmt.Sprintf("api.token_file: %s does not exist: benchd serve refuses to start without it (write a token into it, or remove the key)", path)}
		}
		return nil // made at start (UseStateDir), or reported when the daemon reads it
	}
	var w []string
	if b, err := os.ReadFile(path); err == nil && len(b) <= 64<<10 && strings.TrimSpace(string(b)) == "" {
		w = append(w, fmt.Sprintf("api.token_file: %s is empty: benchd serve refuses to start with it (write a token into it, such as the output of openssl rand -hex 32)", path))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		w = append(w, fmt.Sprintf("api.token_file: %s is readable or writable by group or others (mode %04o), and the token can drive the write API: run chmod 600 %s", path, perm, path))
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() {
		w = append(w, fmt.Sprintf("api.token_file: %s is owned by uid %d, not by the user reading it (uid %d), who can then not keep others from reading or changing it: run chown %d %s and chmod 600 %s", path, uid, os.Geteuid(), os.Geteuid(), path, path))
	}
	return w
}
