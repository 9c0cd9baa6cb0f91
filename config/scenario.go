package config

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// origin records which layer set a resolved value: the YAML path of the
// settings that set it, or "" for the built-in default.
type origin struct {
	connections, threads, duration, timeout string
}

// cell is a scenario with where it came from, for validation.
type cell struct {
	Scenario
	target, endpoint int // indexes into Config.Targets and Config.Endpoints
	from             origin
}

// Scenarios returns the matrix: targets in file order, for each the
// endpoints in file order, for each the target's modes (in the target's
// order) that the endpoint allows. On a valid Config the names are unique.
// On an invalid one it returns what it can and skips the cells
// [Config.Validate] reports. The caller owns the returned slice.
func (c *Config) Scenarios() []Scenario {
	cells := c.cells()
	out := make([]Scenario, len(cells))
	for i := range cells {
		out[i] = cells[i].Scenario
	}
	return out
}

// Scenario returns the scenario named name ("target/mode/endpoint") and
// whether it exists.
func (c *Config) Scenario(name string) (Scenario, bool) {
	for _, s := range c.Scenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// EstimatedRunDuration is how long one run of the whole matrix takes at
// least: the sum over scenarios of warm-up, duration and one timeout (the
// grace for requests in flight). Starting targets and services comes on top.
func (c *Config) EstimatedRunDuration() time.Duration {
	var d time.Duration
	for _, s := range c.Scenarios() {
		d += time.Duration(s.Load.Repeats) * (s.Load.Warmup + s.Load.Duration + s.Load.Timeout)
	}
	return d
}

func (c *Config) cells() []cell {
	var out []cell
	for ti := range c.Targets {
		t := &c.Targets[ti]
		for ei := range c.Endpoints {
			ep := &c.Endpoints[ei]
			for _, mode := range scenarioModes(t, ep) {
				path := ep.Path
				if mode != NoMode {
					path = strings.ReplaceAll(path, "{mode}", mode)
				}
				load, from := c.resolve(ti, ei)
				out = append(out, cell{
					Scenario: Scenario{
						Name:     t.Name + "/" + mode + "/" + ep.Name,
						Target:   t.Name,
						Mode:     mode,
						Endpoint: ep.Name,
						URL:      strings.TrimSuffix(t.URL, "/") + path,
						Load:     load,
					},
					target:   ti,
					endpoint: ei,
					from:     from,
				})
			}
		}
	}
	return out
}

// scenarioModes returns the modes endpoint ep runs in on target t: NoMode
// alone when neither has modes, nothing when that combination is invalid.
func scenarioModes(t *Target, ep *Endpoint) []string {
	if len(t.Modes) == 0 {
		if len(ep.Modes) > 0 || strings.Contains(ep.Path, "{mode}") {
			return nil // invalid: Validate reports it
		}
		return []string{NoMode}
	}
	if len(ep.Modes) == 0 {
		return t.Modes
	}
	var modes []string
	for _, m := range t.Modes {
		if slices.Contains(ep.Modes, m) {
			modes = append(modes, m)
		}
	}
	return modes
}

// layer is one level of settings and its YAML path.
type layer struct {
	path string
	s    *Settings
}

// layers returns the settings of target ti and endpoint ei, outermost first.
func (c *Config) layers(ti, ei int) []layer {
	ep := &c.Endpoints[ei]
	ls := []layer{{"defaults", &c.Defaults}, {indexPath("endpoints", ei), &ep.Settings}}
	if ov, ok := c.Targets[ti].Overrides[ep.Name]; ok {
		ls = append(ls, layer{childPath(indexPath("targets", ti)+".overrides", ep.Name), &ov})
	}
	return ls
}

// resolve applies the layers of target ti and endpoint ei over the built-in
// defaults.
func (c *Config) resolve(ti, ei int) (LoadSpec, origin) {
	l := LoadSpec{
		Method:      DefaultMethod,
		Connections: DefaultConnections,
		Threads:     DefaultThreads,
		Duration:    DefaultDuration,
		Timeout:     DefaultTimeout,
		Warmup:      DefaultWarmup,
		Rate:        DefaultRate,
		Repeats:     DefaultRepeats,
	}
	var from origin
	for _, ly := range c.layers(ti, ei) {
		s := ly.s
		if s.Method != nil {
			l.Method = *s.Method
		}
		if s.Headers != nil {
			l.Headers = mergeHeaders(l.Headers, s.Headers)
		}
		if s.Body != nil {
			l.Body = *s.Body
		}
		if s.Connections != nil {
			l.Connections, from.connections = *s.Connections, ly.path
		}
		if s.Threads != nil {
			l.Threads, from.threads = *s.Threads, ly.path
		}
		if s.Duration != nil {
			l.Duration, from.duration = *s.Duration, ly.path
		}
		if s.Timeout != nil {
			l.Timeout, from.timeout = *s.Timeout, ly.path
		}
		if s.Warmup != nil {
			l.Warmup = *s.Warmup
		}
		if s.Rate != nil {
			l.Rate = *s.Rate
		}
		if s.Repeats != nil {
			l.Repeats = *s.Repeats
		}
	}
	return l, from
}

// mergeHeaders returns base without the names that next sets, followed by
// next. Names compare case-insensitively. It does not modify base.
func mergeHeaders(base, next Headers) []Header {
	out := make([]Header, 0, len(base)+len(next))
	for _, b := range base {
		if !slices.ContainsFunc(next, func(n Header) bool { return strings.EqualFold(n.Name, b.Name) }) {
			out = append(out, b)
		}
	}
	return append(out, next...)
}

// ReadyURL returns where readiness of t's managed process is checked, in one
// of two forms: tcp://host:port or an absolute http(s) URL. process.ready ""
// becomes tcp:// of the target URL's host and port (80 or 443 by scheme if it
// has none), a path is appended to the target URL. It returns "" when t has
// no process.
func (t *Target) ReadyURL() string {
	if t.Process == nil {
		return ""
	}
	r := t.Process.Ready
	switch {
	case r == "":
		u, err := url.Parse(t.URL)
		if err != nil {
			return ""
		}
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		return "tcp://" + net.JoinHostPort(u.Hostname(), port)
	case strings.HasPrefix(r, "/"):
		return strings.TrimSuffix(t.URL, "/") + r
	}
	return r
}
