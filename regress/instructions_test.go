package regress

import (
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
)

// Instructions per request measured on this machine (docs/regressions.md,
// "Instruction-count lane"): five runs of the default matrix's lane
// (gunicorn sync worker under callgrind, the server restarted each run, 100
// requests after 20), and three runs of the json view each with the
// reference target's burn knob at 12 and 23 rounds (BENCHD_DJANGO_BURN_LOOPS).
var (
	measuredInstructions = map[string][]float64{
		"json":           {982450.2, 981332.91, 982415.2, 982119.26, 982414.76},
		"json_query":     {3201761.34, 3201400.71, 3201920.81, 3202678.33, 3202068.35},
		"template_query": {6507852.42, 6508475.34, 6506212.6, 6506726.03, 6508588.64},
	}
	measuredBurn = map[string][]float64{
		"+0.8 % (12 rounds)": {989004.49, 990737, 990825.98},
		"+1.7 % (23 rounds)": {999192.4, 998254.28, 999038.71},
	}
)

// TestInstructionsMeasuredSteps replays the measured lane: 20 baseline runs
// per view resampled from its five measured A/A runs, then the json view's
// three measured burn runs (the other views resampled again). Both steps
// must be confirmed by instructions_per_request within those 3 runs in
// every replay, and no other view may raise an alarm; an A/A replay (no
// burn) must raise none.
func TestInstructionsMeasuredSteps(t *testing.T) {
	const replays = 200
	steps := map[string][]float64{"A/A": nil}
	maps.Copy(steps, measuredBurn)
	for name, burn := range steps {
		t.Run(name, func(t *testing.T) {
			found, falseAlarms := 0, 0
			for replay := range replays {
				rng := rand.New(rand.NewPCG(uint64(replay), 14))
				series := map[SeriesKey][]Point{}
				for view, vs := range measuredInstructions {
					k := SeriesKey{Scenario: "callgrind-sync/sync/" + view, Signal: SignalInstructionsPerRequest}
					for i := range DefaultBaselineRuns + DefaultConfirm {
						v := vs[rng.IntN(len(vs))]
						if j := i - DefaultBaselineRuns; j >= 0 && burn != nil && view == "json" {
							v = burn[j]
						}
						series[k] = append(series[k], Point{RunID: strconv.Itoa(i), Value: v, Valid: true})
					}
				}
				for _, v := range Detect(series, Options{}) {
					switch {
					case v.Regressed && burn != nil && v.Scenario == "callgrind-sync/sync/json":
						found++
					case v.Regressed:
						falseAlarms++
					}
				}
			}
			t.Logf("%s: found in %d / %d replays, %d false alarms", name, found, replays, falseAlarms)
			if burn != nil && found != replays {
				t.Errorf("%s step found in %d / %d replays, want all", name, found, replays)
			}
			if falseAlarms > 0 {
				t.Errorf("%d false alarms", falseAlarms)
			}
		})
	}
}
