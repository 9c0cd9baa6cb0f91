package config

import (
	"fmt"
	"maps"
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

// UnknownScenario returns "" when the configuration has a scenario of that
// name, else an error text naming it with the closest scenario name ("no
// scenario is named "a/b/c" (did you mean "a/b/d"?)") or, when none is
// close, the names.
func (c *Config) UnknownScenario(name string) string {
	if _, ok := c.Scenario(name); ok {
		return ""
	}
	var names []string
	for _, s := range c.Scenarios() {
		names = append(names, s.Name)
	}
	return fmt.Sprintf("no scenario is named %q (%s)", name, suggest(name, "scenario", names))
}

// EstimatedRunDuration is how long one run of the whole matrix takes at
// least: the sum of its scenarios' [Scenario.EstimatedDuration]. Starting
// targets and services comes on top.
func (c *Config) EstimatedRunDuration() time.Duration {
	var d time.Duration
	for _, s := range c.Scenarios() {
		d += s.EstimatedDuration()
	}
	return d
}

// EstimatedDuration is how long the scenario takes at least, all repeats:
// warm-up, duration and one timeout (the grace for requests in flight) per
// repeat; for an instruction lane's scenario, 0.5 s per request sent,
// warm-up included (measured for the default lane under callgrind,
// averaged over its views; the server's start-up under valgrind on top).
func (s Scenario) EstimatedDuration() time.Duration {
	if in := s.Instructions; in != nil {
		return time.Duration(s.Load.Repeats) * time.Duration(in.Requests+max(in.WarmupRequests, 0)) * 500 * time.Millisecond
	}
	return time.Duration(s.Load.Repeats) * (s.Load.Warmup + s.Load.Duration + s.Load.Timeout)
}

func (c *Config) cells() []cell {
	var out []cell
	for ti := range c.Targets {
		t := &c.Targets[ti]
		for ei := range c.Endpoints {
			ep := &c.Endpoints[ei]
			if !t.runs(ep.Name) {
				continue
			}
			var lane *Instructions
			if t.Instructions != nil {
				r := t.Instructions.Resolved()
				lane = &r
			}
			for _, mode := range scenarioModes(t, ep) {
				path := ep.Path
				if mode != NoMode {
					path = strings.ReplaceAll(path, "{mode}", mode)
				}
				load, from, src := c.resolve(ti, ei)
				var thresholds Thresholds
				for _, ly := range c.layers(ti, ei) {
					thresholds = mergeThresholds(thresholds, ly.s.Thresholds)
				}
				thresholds = maps.Clone(thresholds)
				tp := indexPath("targets", ti)
				src.URL, src.Path = tp+".url", indexPath("endpoints", ei)+".path"
				var tlsc TLSConfig
				if t.TLS != nil {
					tlsc = *t.TLS
					if tlsc.CAFile != "" {
						tlsc.CAFile = c.ResolvePath(tlsc.CAFile)
					}
					src.TLS = tp + ".tls_config"
				}
				var expect Expect
				if ep.Expect != nil {
					expect = *ep.Expect
					expect.Status = slices.Clone(expect.Status)
					if expect.BodySize != nil {
						size := *expect.BodySize
						expect.BodySize = &size
					}
					src.Expect = indexPath("endpoints", ei) + ".expect"
				}
				out = append(out, cell{
					Scenario: Scenario{
						Name:         t.Name + "/" + mode + "/" + ep.Name,
						Target:       t.Name,
						Mode:         mode,
						Endpoint:     ep.Name,
						URL:          strings.TrimSuffix(t.URL, "/") + path,
						Load:         load,
						Expect:       expect,
						TLS:          tlsc,
						Thresholds:   thresholds,
						Sources:      src,
						Instructions: lane,
						Split:        ep.Split,
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

// runs reports whether target t runs the endpoint named name at all: an
// instruction lane runs only the endpoints of its instructions.endpoints,
// so only theirs must suit it; another target runs every endpoint, in the
// modes [scenarioModes] gives.
func (t *Target) runs(name string) bool {
	return t.Instructions == nil || slices.Contains(t.Instructions.Endpoints, name)
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
// defaults; src holds the YAML path of each value set by a layer.
func (c *Config) resolve(ti, ei int) (LoadSpec, origin, Sources) {
	l := LoadSpec{
		Method:      DefaultMethod,
		Connections: DefaultConnections,
		Threads:     DefaultThreads,
		Duration:    DefaultDuration,
		Timeout:     DefaultTimeout,
		OnTimeout:   DefaultOnTimeout,
		Warmup:      DefaultWarmup,
		Rate:        DefaultRate,
		Repeats:     DefaultRepeats,
	}
	var from origin
	var src Sources
	for _, ly := range c.layers(ti, ei) {
		s := ly.s
		at := func(key string) string { return ly.path + "." + key }
		if s.Method != nil {
			l.Method, src.Method = *s.Method, at("method")
		}
		if s.Headers != nil {
			l.Headers, src.Headers = mergeHeaders(l.Headers, src.Headers, s.Headers, at("headers"))
		}
		if s.Body != nil {
			l.Body, src.Body = *s.Body, at("body")
		}
		if s.Connections != nil {
			l.Connections, from.connections, src.Connections = *s.Connections, ly.path, at("connections")
		}
		if s.Threads != nil {
			l.Threads, from.threads, src.Threads = *s.Threads, ly.path, at("threads")
		}
		if s.Duration != nil {
			l.Duration, from.duration, src.Duration = *s.Duration, ly.path, at("duration")
		}
		if s.Timeout != nil {
			l.Timeout, from.timeout, src.Timeout = *s.Timeout, ly.path, at("timeout")
		}
		if s.OnTimeout != nil {
			l.OnTimeout, src.OnTimeout = *s.OnTimeout, at("on_timeout")
		}
		if s.Warmup != nil {
			l.Warmup, src.Warmup = *s.Warmup, at("warmup")
		}
		if s.Rate != nil {
			l.Rate, src.Rate = *s.Rate, at("rate")
		}
		if s.Repeats != nil {
			l.Repeats = *s.Repeats
		}
	}
	return l, from, src
}

// mergeHeaders returns base without the names that next sets, followed by
// next, and the YAML paths of the result: baseSrc's for base's headers,
// nextPath[i] for next's. Names compare case-insensitively. It does not
// modify base or baseSrc.
func mergeHeaders(base []Header, baseSrc []string, next Headers, nextPath string) ([]Header, []string) {
	out := make([]Header, 0, len(base)+len(next))
	src := make([]string, 0, len(base)+len(next))
	for i, b := range base {
		if !slices.ContainsFunc(next, func(n Header) bool { return strings.EqualFold(n.Name, b.Name) }) {
			out = append(out, b)
			src = append(src, baseSrc[i])
		}
	}
	for i := range next {
		src = append(src, indexPath(nextPath, i))
	}
	return append(out, next...), src
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
