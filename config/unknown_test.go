package config

import "testing"

// TestUnknownScenario: a known name is not a problem; a typo gets the
// closest scenario name; a name far from all lists them.
func TestUnknownScenario(t *testing.T) {
	cfg, err := Parse([]byte(`
targets: [{name: g, url: "http://127.0.0.1:1", modes: [sync, async]}]
endpoints: [{name: json, path: "/{mode}/json"}, {name: brotli, path: "/{mode}/brotli"}]
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{
		{"g/sync/json", ""},
		{"g/sync/jsn", `no scenario is named "g/sync/jsn" (did you mean "g/sync/json"?)`},
		{"other/x/y", `no scenario is named "other/x/y" (scenarios: g/sync/json, g/async/json, g/sync/brotli, g/async/brotli)`},
	} {
		if got := cfg.UnknownScenario(c.name); got != c.want {
			t.Errorf("UnknownScenario(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestClosest: "did you mean" finds typos (two edits) and, in a long name,
// abbreviations (three), and nothing in a short name three edits away.
func TestClosest(t *testing.T) {
	for _, c := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"thruput", ThresholdSignals, SignalThroughput},
		{"Throughpt", ThresholdSignals, SignalThroughput},
		{"latency_p9", ThresholdSignals, SignalLatencyP99},
		{"tput", ThresholdSignals, ""},
		{"cpu", ThresholdSignals, ""},
		{"jsn", []string{"root", "json"}, "json"},
		{"abc", []string{"xyz"}, ""},
		{"conections", []string{"connections", "threads"}, "connections"},
		{"readyness", []string{"ready", "ready_timeout", "env_allow"}, ""},
		{"x", nil, ""},
	} {
		if got := closest(c.name, c.candidates); got != c.want {
			t.Errorf("closest(%q, %q) = %q, want %q", c.name, c.candidates, got, c.want)
		}
	}
}
