package scheduler

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
)

// EnginePlan returns the engine plan of a scenario.
func EnginePlan(sc config.Scenario) engine.Plan {
	l := sc.Load
	p := engine.Plan{
		URL:                sc.URL,
		Method:             l.Method,
		Connections:        l.Connections,
		Threads:            l.Threads,
		Warmup:             l.Warmup,
		Duration:           l.Duration,
		Timeout:            l.Timeout,
		OnTimeout:          engine.TimeoutPolicy(l.OnTimeout),
		Rate:               l.Rate,
		InsecureSkipVerify: sc.TLS.InsecureSkipVerify,
		CAFile:             sc.TLS.CAFile,
		Expect:             engineExpect(sc.Expect),
	}
	if l.Body != "" {
		p.Body = []byte(l.Body)
	}
	for _, h := range l.Headers {
		p.Headers = append(p.Headers, engine.Header{Name: h.Name, Value: h.Value})
	}
	return p
}

// engineExpect returns the engine's form of an endpoint's expect.
func engineExpect(e config.Expect) engine.Expect {
	x := engine.Expect{Status: slices.Clone(e.Status), BodyContains: e.BodyContains}
	if b := e.BodySize; b != nil {
		x.BodyMinBytes, x.BodyMaxBytes = b.Min, b.Max
	}
	return x
}

// CheckPlans checks every layer of load settings of cfg, and the engine
// plan of every scenario, with [engine.Plan.Validate], the engine's own
// rules, and returns each problem
// as a [*config.FieldError] at the YAML path that set the value at fault
// (such as endpoints[3].headers[0] or targets[0].tls_config.ca_file; the
// document as a whole for a built-in default), its message ending with the
// scenario's name when it is one of a scenario's plan. A problem is
// reported once: several scenarios sharing it say how many more have it. It is a
// [config.Check]: cmd/benchd passes it to [config.LoadWith], so that
// `benchd config check` reports what the engine would refuse; [New] and
// [Scheduler.ApplyConfig] refuse a config for which it returns problems.
func CheckPlans(cfg *config.Config) []error {
	type problem struct {
		path, msg, first string
		more             int
	}
	var order []*problem
	seen := map[string]*problem{}
	add := func(path, msg, scenario string) {
		key := path + "\x00" + msg
		if p, ok := seen[key]; ok {
			if p.first != "" {
				p.more++
			}
			return
		}
		p := &problem{path: path, msg: msg, first: scenario}
		seen[key] = p
		order = append(order, p)
	}
	// Each layer of settings alone first, so that a bad value is reported
	// at its path even where no scenario uses it (an override of it wins
	// everywhere), then each scenario for what only the whole plan shows
	// (its URL, its target's TLS files).
	for _, ly := range settingsLayers(cfg) {
		if pe, ok := errors.AsType[*engine.PlanError](settingsPlan(ly.s).Validate()); ok {
			for _, fp := range pe.Problems {
				if key := settingsKey(fp.Field); key != "" {
					add(ly.path+"."+key, fp.Message, "")
				}
			}
		}
	}
	for _, sc := range cfg.Scenarios() {
		if pe, ok := errors.AsType[*engine.PlanError](EnginePlan(sc).Validate()); ok {
			for _, fp := range pe.Problems {
				add(planPath(cfg, sc, fp.Field), fp.Message, sc.Name)
			}
		}
	}
	errs := make([]error, 0, len(order))
	for _, p := range order {
		err := errors.New(p.msg)
		if p.first != "" {
			which := "scenario " + p.first
			if p.more > 0 {
				which += fmt.Sprintf(" and %d more", p.more)
			}
			err = fmt.Errorf("%s (%s)", p.msg, which)
		}
		errs = append(errs, &config.FieldError{Path: p.path, Err: err})
	}
	return errs
}

// settingsLayer is one layer of load settings and its YAML path.
type settingsLayer struct {
	path string
	s    *config.Settings
}

// settingsLayers returns every layer of load settings of cfg, in file
// order: defaults, the endpoints', the targets' overrides.
func settingsLayers(cfg *config.Config) []settingsLayer {
	ls := []settingsLayer{{"defaults", &cfg.Defaults}}
	for i := range cfg.Endpoints {
		ls = append(ls, settingsLayer{"endpoints[" + strconv.Itoa(i) + "]", &cfg.Endpoints[i].Settings})
	}
	for i := range cfg.Targets {
		ov := cfg.Targets[i].Overrides
		names := make([]string, 0, len(ov))
		for name := range ov {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			s := ov[name]
			ls = append(ls, settingsLayer{"targets[" + strconv.Itoa(i) + "].overrides." + name, &s})
		}
	}
	return ls
}

// settingsPlan is a plan of a valid URL and the values s sets.
func settingsPlan(s *config.Settings) engine.Plan {
	p := engine.Plan{URL: "http://127.0.0.1/"}
	if s.Method != nil {
		p.Method = *s.Method
	}
	for _, h := range s.Headers {
		p.Headers = append(p.Headers, engine.Header{Name: h.Name, Value: h.Value})
	}
	if s.Connections != nil {
		p.Connections = *s.Connections
	}
	if s.Threads != nil {
		p.Threads = *s.Threads
	}
	if s.Duration != nil {
		p.Duration = *s.Duration
	}
	if s.Timeout != nil {
		p.Timeout = *s.Timeout
	}
	if s.Warmup != nil {
		p.Warmup = *s.Warmup
	}
	if s.OnTimeout != nil {
		p.OnTimeout = engine.TimeoutPolicy(*s.OnTimeout)
	}
	if s.Rate != nil {
		p.Rate = *s.Rate
	}
	return p
}

// settingsKey maps a Plan field to its key in a layer of settings, such as
// "headers[2]"; "" for fields settings do not hold.
func settingsKey(field string) string {
	switch field {
	case "Method", "Connections", "Threads", "Duration", "Timeout", "Warmup", "Rate":
		return strings.ToLower(field)
	case "OnTimeout":
		return "on_timeout"
	}
	if strings.HasPrefix(field, "Headers[") {
		return "h" + field[1:]
	}
	return ""
}

// planPath maps a field of the plan of sc, as named in engine.FieldProblem,
// to the YAML path that set it; "" for a built-in default.
func planPath(cfg *config.Config, sc config.Scenario, field string) string {
	src := sc.Sources
	switch field {
	case "URL":
		// The target's url, unless it is valid alone: then the path
		// appended to it is at fault.
		if t := cfg.Target(sc.Target); t != nil && (engine.Plan{URL: t.URL}).Validate() == nil {
			return src.Path
		}
		return src.URL
	case "Method":
		return src.Method
	case "Connections":
		return src.Connections
	case "Threads":
		return src.Threads
	case "Duration":
		return src.Duration
	case "Timeout":
		return src.Timeout
	case "Warmup":
		return src.Warmup
	case "Rate":
		return src.Rate
	case "OnTimeout":
		return src.OnTimeout
	case "Expect.BodyContains":
		return src.Expect + ".body_contains"
	case "Expect.BodyMinBytes":
		return src.Expect + ".body_size.min"
	case "Expect.BodyMaxBytes":
		return src.Expect + ".body_size.max"
	case "CAFile":
		return src.TLS + ".ca_file"
	case "InsecureSkipVerify":
		return src.TLS + ".insecure_skip_verify"
	}
	if rest, ok := strings.CutPrefix(field, "Expect.Status["); ok {
		return src.Expect + ".status[" + rest
	}
	if rest, ok := strings.CutPrefix(field, "Headers["); ok {
		if i, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil && i >= 0 && i < len(src.Headers) {
			return src.Headers[i]
		}
	}
	// Fields the config does not set (Body is only ever sent as is).
	return ""
}

// readyTLS returns the client TLS configuration of target t's readiness
// checks: the one the engine uses for the target (tls_config), for the
// readiness URL's host. It is nil (Go's default) when the readiness check
// is not https or the settings do not load, which CheckPlans reports.
func readyTLS(cfg *config.Config, t *config.Target) *tls.Config {
	ready := t.ReadyURL()
	if !strings.HasPrefix(ready, "https://") {
		return nil
	}
	p := engine.Plan{URL: ready}
	if t.TLS != nil {
		p.InsecureSkipVerify = t.TLS.InsecureSkipVerify
		if t.TLS.CAFile != "" {
			p.CAFile = cfg.ResolvePath(t.TLS.CAFile)
		}
	}
	c, err := p.TLSConfig()
	if err != nil {
		return nil
	}
	return c
}
