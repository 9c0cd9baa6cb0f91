package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// mixedHistory writes two ended runs of different configurations into a
// real history and returns them as stored, oldest first. In B, t/-/b has
// other connections, t/-/c has no settings hash in A, t/-/gone is only in
// A and t/-/new only in B; t/-/a is the same in both.
func mixedHistory(t *testing.T) (*store.SQLite, *store.Run, *store.Run) {
	t.Helper()
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ten := result.NewSettings(map[string]string{"connections": "10", "duration": "5s"})
	fifty := result.NewSettings(map[string]string{"connections": "50", "duration": "5s"})
	type sc struct {
		name string
		rps  float64
		set  result.Settings
	}
	runs := []struct {
		id, cfg string
		scs     []sc
	}{
		{"A", "sha256:aaaa", []sc{{"t/-/a", 1000, ten}, {"t/-/b", 1000, ten}, {"t/-/c", 1000, result.Settings{}}, {"t/-/gone", 1000, ten}}},
		{"B", "sha256:bbbb", []sc{{"t/-/a", 990, ten}, {"t/-/b", 500, fifty}, {"t/-/c", 980, ten}, {"t/-/new", 1000, ten}}},
	}
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	var out []*store.Run
	for i, r := range runs {
		start := t0.Add(time.Duration(i) * time.Hour)
		if _, err := st.BeginRun(t.Context(), store.Run{ID: r.id, Trigger: "matrix", Start: start, ConfigHash: r.cfg}); err != nil {
			t.Fatal(err)
		}
		for j, s := range r.scs {
			rec := store.Scenario{RunID: r.id, Index: j, Name: s.name, Target: "t", Mode: "-", Endpoint: strings.TrimPrefix(s.name, "t/-/"),
				Start: start, Settings: s.set, Measurement: result.Measurement{RequestsPerSecond: s.rps}}
			if err := st.SaveScenario(t.Context(), rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.FinishRun(t.Context(), r.id, start.Add(time.Minute), store.OutcomeSuccess, ""); err != nil {
			t.Fatal(err)
		}
		run, err := report.LoadRun(t.Context(), st, r.id, "test")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, run)
	}
	return st, out[0], out[1]
}

// TestWriteDiffSettings: the diff of two runs of different configurations
// says so, counts the scenarios matching by name and settings, and marks
// each row (pipeline's TestChangeFailuresSettings: --fail-on does not
// gate the row whose settings changed).
func TestWriteDiffSettings(t *testing.T) {
	_, a, b := mixedHistory(t)
	var out strings.Builder
	if err := report.WriteDiff(&out, a, b); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"the runs come from different configurations (config_hash sha256:aaaa, sha256:bbbb)\n",
		"1 of 5 scenarios match by name with the same settings; 1 with other settings (connections), which --fail-on does not gate: a changed setting is not a regression; 1 without a settings hash on a side (stored before benchd recorded them); 1 only in A; 1 only in B\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	rows := map[string]string{}
	for l := range strings.Lines(text) {
		if f := strings.Fields(l); len(f) > 9 && strings.HasPrefix(f[0], "t/") {
			rows[f[0]] = strings.Join(f[9:], " ")
		}
	}
	want := map[string]string{"t/-/a": "same", "t/-/b": "changed: connections", "t/-/c": "-", "t/-/gone": "only A", "t/-/new": "only B"}
	for name, w := range want {
		if rows[name] != w {
			t.Errorf("%s: settings %q, want %q; output:\n%s", name, rows[name], w, text)
		}
	}

	// The same configuration says nothing of it.
	b.ConfigHash = a.ConfigHash
	out.Reset()
	if err := report.WriteDiff(&out, a, b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "different configurations") {
		t.Errorf("same config_hash, output:\n%s", out.String())
	}

	// A scenario its run's stop cut short is marked, whatever its settings
	// (pipeline's TestChangeFailuresInterrupted: --fail-on skips it).
	for i := range b.Scenarios {
		if b.Scenarios[i].Name == "t/-/a" {
			b.Scenarios[i].Error = result.InterruptedPrefix + "context canceled"
		}
	}
	out.Reset()
	if err := report.WriteDiff(&out, a, b); err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(out.String()) {
		if f := strings.Fields(l); len(f) > 9 && f[0] == "t/-/a" {
			if got := strings.Join(f[9:], " "); got != "interrupted B" {
				t.Errorf("t/-/a cut short in B: settings %q, want \"interrupted B\"", got)
			}
		}
	}
}

// TestSummaryScope: the line above the summary names the part of the
// configuration a run covers and its scenarios with other settings than
// the run before it (found in the history).
func TestSummaryScope(t *testing.T) {
	st, a, b := mixedHistory(t)
	prev, err := report.PreviousRun(t.Context(), st, b)
	if err != nil || prev == nil || prev.ID != "A" {
		t.Fatalf("PreviousRun(B) = %v, %v; want A", prev, err)
	}
	if first, err := report.PreviousRun(t.Context(), st, a); err != nil || first != nil {
		t.Fatalf("PreviousRun(A) = %v, %v; want none", first, err)
	}
	tests := []struct {
		name       string
		configured []string
		prev       *store.Run
		want       string
	}{
		{"whole", []string{"t/-/a", "t/-/b", "t/-/c", "t/-/new"}, nil, ""},
		{"part", []string{"t/-/a", "t/-/b", "t/-/c", "t/-/new", "t/-/x", "t/-/y"}, nil, "run B: 4 of 6 scenarios of the configuration"},
		{"extra", []string{"t/-/a", "t/-/b", "t/-/c"}, nil, "run B: 1 not in the configuration"},
		{"settings", nil, prev, "run B: 1 with other settings than run A (connections)"},
		{"both", []string{"t/-/a", "t/-/b", "t/-/c", "t/-/new", "t/-/x"}, prev, "run B: 4 of 5 scenarios of the configuration; 1 with other settings than run A (connections)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := report.SummaryScope(b, tt.configured, tt.prev); got != tt.want {
				t.Errorf("SummaryScope = %q, want %q", got, tt.want)
			}
		})
	}
}
