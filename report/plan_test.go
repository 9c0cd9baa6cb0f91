package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/result"
)

// TestWritePlanSaysWhatItCovers: the estimate is of the load only and
// names what it leaves out for the plan's managed targets.
func TestWritePlanSaysWhatItCovers(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	all := cfg.Scenarios()
	var oneTarget []config.Scenario
	for _, sc := range all {
		if sc.Target == all[0].Target {
			oneTarget = append(oneTarget, sc)
		}
	}
	tests := []struct {
		name string
		plan []config.Scenario
		cfg  *config.Config
		want string
	}{
		{"default matrix", all, cfg, "83 scenarios: 25m10s of load (warm-up, duration and one timeout of grace per repeat; 0.5 s a request under callgrind)\n" +
			"not counted, so the run takes longer: starting 5 managed targets (setup commands, then until ready), 78 settles (a managed target quiet again between two of its load tests), starting 2 services\n"},
		{"one target", oneTarget, cfg, fmt.Sprintf("starting 1 managed target (setup commands, then until ready), %d settles", len(oneTarget)-1)},
		{"unmanaged", all[:1], nil, "no managed target: the run takes about that\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WritePlan(&out, tt.plan, tt.cfg); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("WritePlan:\n%s\nwant it to contain\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestBlockHeading(t *testing.T) {
	tests := []struct {
		name string
		rec  result.Scenario
		want string
	}{
		{"answered", result.Scenario{Name: "t/-/a", Measurement: result.Measurement{Sent: 10, Requests: 10, ConnectionsEstablished: 1}}, "== t/-/a =="},
		{"no request completed", result.Scenario{Name: "t/-/a", Measurement: result.Measurement{Sent: 10, ConnectionsEstablished: 1}}, "== t/-/a == (no request completed)"},
		{"did not run", result.Scenario{Name: "t/-/a"}, "== t/-/a =="},
		{"failed", result.Scenario{Name: "t/-/a", Error: "target died", Measurement: result.Measurement{Sent: 10, ConnectionsEstablished: 1}}, "== t/-/a =="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BlockHeading(&tt.rec); got != tt.want {
				t.Errorf("BlockHeading = %q, want %q", got, tt.want)
			}
		})
	}
}
