package report

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/benchd/benchd/store"
)

// ScenarioMatch is how the scenarios of two runs A and B pair up: by name,
// then by settings hash (result.Settings, docs/results.md).
type ScenarioMatch struct {
	// Same counts the names both runs have with equal settings hashes.
	Same int
	// Unknown counts the names both runs have where a side has no
	// settings hash (a result stored before benchd recorded them).
	Unknown int
	// Changed maps a name both runs have, with other settings, to the
	// parts that differ (result.Settings.Changed), such as [connections].
	Changed map[string][]string
	// OnlyA and OnlyB are the names of one run only, in its order.
	OnlyA, OnlyB []string
}

// MatchScenarios pairs the scenarios of a and b by name and settings hash.
func MatchScenarios(a, b []store.Scenario) ScenarioMatch {
	m := ScenarioMatch{Changed: map[string][]string{}}
	inA := make(map[string]*store.Scenario, len(a))
	for i := range a {
		inA[a[i].Name] = &a[i]
	}
	inB := make(map[string]bool, len(b))
	for i := range b {
		sb := &b[i]
		inB[sb.Name] = true
		sa := inA[sb.Name]
		switch {
		case sa == nil:
			m.OnlyB = append(m.OnlyB, sb.Name)
		case sa.SettingsHash == "" || sb.SettingsHash == "":
			m.Unknown++
		case sa.SettingsHash == sb.SettingsHash:
			m.Same++
		default:
			m.Changed[sb.Name] = sb.Changed(sa.Settings)
		}
	}
	for i := range a {
		if !inB[a[i].Name] {
			m.OnlyA = append(m.OnlyA, a[i].Name)
		}
	}
	return m
}

// String is the diff's match line, as "3 of 5 scenarios match by name
// with the same settings; 1 with other settings (connections) ...".
func (m ScenarioMatch) String() string {
	both := m.Same + m.Unknown + len(m.Changed)
	s := fmt.Sprintf("%d of %s match by name with the same settings", m.Same, Plural(both+len(m.OnlyA)+len(m.OnlyB), "scenario"))
	if len(m.Changed) > 0 {
		s += fmt.Sprintf("; %d with other settings (%s), which --fail-on does not gate: a changed setting is not a regression",
			len(m.Changed), strings.Join(m.changedParts(), ", "))
	}
	if m.Unknown > 0 {
		s += fmt.Sprintf("; %d without a settings hash on a side (stored before benchd recorded them)", m.Unknown)
	}
	if len(m.OnlyA) > 0 {
		s += fmt.Sprintf("; %d only in A", len(m.OnlyA))
	}
	if len(m.OnlyB) > 0 {
		s += fmt.Sprintf("; %d only in B", len(m.OnlyB))
	}
	return s
}

// changedParts returns the parts changed in any scenario of m, sorted.
func (m ScenarioMatch) changedParts() []string {
	var parts []string
	for _, ps := range m.Changed {
		for _, p := range ps {
			if !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
	}
	slices.Sort(parts)
	return parts
}

// SummaryScope returns the line `report --summary` prints above the table
// when run is not a whole, like-for-like run of the configuration: as "run
// X: 3 of 83 scenarios of the configuration; 1 with other settings than
// run Y (connections)". configured are the configuration's scenario names
// (nil to not compare); prev is the run before run (nil for none), whose
// scenarios are compared by settings hash. It returns "" when run has
// every configured scenario, none other, and none with other settings.
func SummaryScope(run *store.Run, configured []string, prev *store.Run) string {
	var notes []string
	if configured != nil {
		have := make(map[string]bool, len(run.Scenarios))
		for i := range run.Scenarios {
			have[run.Scenarios[i].Name] = true
		}
		n := 0
		for _, name := range configured {
			if have[name] {
				n++
			}
		}
		if n < len(configured) {
			notes = append(notes, fmt.Sprintf("%d of %d scenarios of the configuration", n, len(configured)))
		}
		if extra := len(have) - n; extra > 0 {
			notes = append(notes, fmt.Sprintf("%d not in the configuration", extra))
		}
	}
	if prev != nil {
		if m := MatchScenarios(prev.Scenarios, run.Scenarios); len(m.Changed) > 0 {
			notes = append(notes, fmt.Sprintf("%d with other settings than run %s (%s)", len(m.Changed), prev.ID, strings.Join(m.changedParts(), ", ")))
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return fmt.Sprintf("run %s: %s", run.ID, strings.Join(notes, "; "))
}

// PreviousRun returns the newest ended run of st with scenario results
// that started before run, among the defaultRunLookBack before it; nil
// when there is none.
func PreviousRun(ctx context.Context, st Runs, run *store.Run) (*store.Run, error) {
	runs, err := st.Runs(ctx, store.RunQuery{Limit: defaultRunLookBack, Before: run.Start})
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if r.Outcome == store.OutcomeRunning {
			continue
		}
		prev, err := st.Run(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if len(prev.Scenarios) > 0 {
			return prev, nil
		}
	}
	return nil, nil
}
