package pipeline

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/regress"
)

// TestThresholdSignals: the thresholds key takes the detector's signal
// names (config imports no benchd package, so it keeps its own list).
func TestThresholdSignals(t *testing.T) {
	var want []string
	for _, s := range regress.Signals {
		if s != regress.SignalCPUPerRequest && s != regress.SignalInstructionsPerRequest { // no threshold (yet)
			want = append(want, string(s))
		}
	}
	if !slices.Equal(config.ThresholdSignals, want) {
		t.Errorf("config.ThresholdSignals = %v, regress.Signals = %v", config.ThresholdSignals, want)
	}
}

// TestDeclareThresholds: the configuration's thresholds, resolved per
// scenario, become benchd_threshold; scenarios without one export none,
// and a reload replaces them.
func TestDeclareThresholds(t *testing.T) {
	cfg, err := config.Parse([]byte(`
defaults: {thresholds: {error_ratio: 0.05}}
targets:
  - {name: a, url: "http://127.0.0.1:1", overrides: {json: {thresholds: {throughput: 50}}}}
  - {name: b, url: "http://127.0.0.1:2"}
endpoints:
  - {name: json, path: /json, thresholds: {throughput: 100, latency_p99: 250ms}}
  - {name: html, path: /html}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	m := exporters.NewMetrics()
	Declare(m, cfg)
	const help = `
# HELP benchd_threshold Threshold the configuration sets for a signal of the scenario (thresholds), in the signal's base unit: requests per second, seconds, or a ratio; bound is min (throughput must stay at or above it) or max.
# TYPE benchd_threshold gauge
`
	want := help + `benchd_threshold{bound="max",endpoint="html",mode="-",signal="error_ratio",target="a"} 0.05
benchd_threshold{bound="max",endpoint="html",mode="-",signal="error_ratio",target="b"} 0.05
benchd_threshold{bound="max",endpoint="json",mode="-",signal="error_ratio",target="a"} 0.05
benchd_threshold{bound="max",endpoint="json",mode="-",signal="error_ratio",target="b"} 0.05
benchd_threshold{bound="max",endpoint="json",mode="-",signal="latency_p99",target="a"} 0.25
benchd_threshold{bound="max",endpoint="json",mode="-",signal="latency_p99",target="b"} 0.25
benchd_threshold{bound="min",endpoint="json",mode="-",signal="throughput",target="a"} 50
benchd_threshold{bound="min",endpoint="json",mode="-",signal="throughput",target="b"} 100
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "benchd_threshold"); err != nil {
		t.Error(err)
	}
	none, err := config.Parse([]byte("targets: [{name: a, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: json, path: /}]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	Declare(m, none)
	if n := testutil.CollectAndCount(m, "benchd_threshold"); n != 0 {
		t.Errorf("%d benchd_threshold series after a reload without thresholds, want 0", n)
	}
}
