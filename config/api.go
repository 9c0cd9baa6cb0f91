package config

// API configures benchd's HTTP API (served beside /metrics).
type API struct {
	// TokenFile names a file whose content (surrounding white space
	// trimmed) is the bearer token that the write API requires:
	// POST /-/reload, POST /api/v1/runs, POST /api/v1/schedule/pause and
	// /resume. A relative path resolves against [Config.Dir]. Empty, the
	// default, switches the write API off. The file is read at start-up
	// and at each reload; the token never appears in logs or in the API.
	TokenFile string `yaml:"token_file,omitempty"`
}
