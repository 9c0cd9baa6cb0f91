package config

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse checks that Parse never panics, that its errors carry the
// package prefix, and that what it accepts is sound: valid again, with unique
// scenario names and parseable URLs, and the same matrix after a YAML round
// trip. Run it with: go test -fuzz=FuzzParse ./config.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range append(files, "default.yml") {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"null",
		"[]",
		"schedule: '@every 1s'\ntargets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /}]",
		"targets: &a [{name: t, url: 'http://127.0.0.1:1', overrides: {e: {headers: {A: b}}}}]\nendpoints: [{name: e, path: /, headers: [\"A: b\"]}]",
		"schedule: 'CRON_TZ=Europe/Paris 0 0 * * *'\ntargets: [{name: t, url: 'http://127.0.0.1:1', modes: [a]}]\nendpoints: [{name: e, path: '/{mode}', modes: [a], rate: 1e308}]",
		"defaults: {duration: 9223372036s}\ntargets: [{name: t, url: 'http://h'}]\nendpoints: [{name: e, path: /}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "/base")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without the config: prefix: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate rejects: %v", err)
		}
		if _, err := c.CronSchedule(); err != nil {
			t.Fatalf("accepted schedule does not compile: %v", err)
		}
		seen := map[string]bool{}
		scenarios := c.Scenarios()
		if len(scenarios) == 0 {
			t.Fatal("valid config with an empty matrix")
		}
		if n := c.countScenarios(MaxScenarios); n != len(scenarios) {
			t.Fatalf("countScenarios = %d, Scenarios has %d", n, len(scenarios))
		}
		for _, s := range scenarios {
			if seen[s.Name] {
				t.Fatalf("duplicate scenario %q", s.Name)
			}
			seen[s.Name] = true
			if strings.Count(s.Name, "/") != 2 {
				t.Fatalf("scenario name %q is not target/mode/endpoint", s.Name)
			}
			u, err := url.Parse(s.URL)
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("scenario %s: URL %q: %v", s.Name, s.URL, err)
			}
			if s.Load.Connections < 1 || s.Load.Threads > s.Load.Connections || s.Load.Duration <= 0 || s.Load.Timeout <= 0 {
				t.Fatalf("scenario %s: unsound load %+v", s.Name, s.Load)
			}
		}
		_ = c.Warnings()
		_ = c.EstimatedRunDuration()
		for i := range c.Targets {
			_ = c.Targets[i].ReadyURL()
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := Parse(out, c.Dir)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, out)
		}
		sameMatrix(t, c, back)
	})
}
