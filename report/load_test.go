package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/store"
)

func TestParseRunRef(t *testing.T) {
	tests := []struct {
		ref     string
		back    int
		ok      bool
		wantErr bool
	}{
		{"last", 0, true, false},
		{"last~0", 0, true, false},
		{"last~12", 12, true, false},
		{"20261201T200000Z", 0, false, false},
		{"lastly", 0, false, false},
		{"last~", 0, false, true},
		{"last~-1", 0, false, true},
		{"last~1x", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			back, ok, err := ParseRunRef(tt.ref)
			if back != tt.back || ok != tt.ok || (err != nil) != tt.wantErr {
				t.Errorf("ParseRunRef(%q) = %d, %v, %v; want %d, %v, error %v", tt.ref, back, ok, err, tt.back, tt.ok, tt.wantErr)
			}
		})
	}
}

// TestLoadRunRef resolves references over a real history where the newest
// run is still running: last skips it.
func TestLoadRunRef(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	// r4 was interrupted before its first scenario ended: no results.
	for i, id := range []string{"r1", "r2", "r3", "r4", "running"} {
		start := t0.Add(time.Duration(i) * time.Hour)
		if _, err := st.BeginRun(t.Context(), store.Run{ID: id, Trigger: "matrix", Start: start}); err != nil {
			t.Fatal(err)
		}
		if id != "r4" {
			if err := st.SaveScenario(t.Context(), store.Scenario{RunID: id, Name: "t/-/a", Target: "t", Mode: "-", Endpoint: "a", Start: start}); err != nil {
				t.Fatal(err)
			}
		}
		switch id {
		case "r4":
			if err := st.FinishRun(t.Context(), id, start.Add(time.Minute), store.OutcomeAborted, "interrupted"); err != nil {
				t.Fatal(err)
			}
		case "running":
		default:
			if err := st.FinishRun(t.Context(), id, start.Add(time.Minute), store.OutcomeSuccess, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct{ ref, want, wantErr string }{
		{"", "r3", ""}, // the newest ended run with results
		{"last", "", "run r4 has no scenario results (outcome interrupted)"},
		{"r4", "", "run r4 has no scenario results (outcome interrupted)"},
		{"last~1", "r3", ""},
		{"last~2", "r2", ""},
		{"last~3", "r1", ""},
		{"r2", "r2", ""},
		{"running", "running", ""},
		{"last~4", "", "run last~4: fewer than 5 runs have ended in the history under HERE"},
		{"last~z", "", "want last, or last~N"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			run, err := LoadRun(t.Context(), st, tt.ref, "HERE")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadRun(%q) = %v; want an error with %q", tt.ref, err, tt.wantErr)
				}
				return
			}
			if err != nil || run.ID != tt.want {
				t.Fatalf("LoadRun(%q) = %v, %v; want run %s", tt.ref, run, err, tt.want)
			}
		})
	}
	runs, err := st.Runs(t.Context(), store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteRuns(&out, runs, "text"); err != nil {
		t.Fatal(err)
	}
	want := `RUN      REF     START                 DURATION  OUTCOME      TRIGGER  MARKER
running  -       2026-12-02T00:00:00Z  -         running      matrix   -
r4       last    2026-12-01T23:00:00Z  1m0s      interrupted  matrix   -
r3       last~1  2026-12-01T22:00:00Z  1m0s      success      matrix   -
r2       last~2  2026-12-01T21:00:00Z  1m0s      success      matrix   -
r1       last~3  2026-12-01T20:00:00Z  1m0s      success      matrix   -
`
	if out.String() != want {
		t.Errorf("WriteRuns =\n%s\nwant\n%s", out.String(), want)
	}
}

// FuzzParseRunRef checks that ParseRunRef never panics and that what it
// reads as a reference is last or last~N with N at least 0.
// Run it with: go test -fuzz=FuzzParseRunRef ./report.
func FuzzParseRunRef(f *testing.F) {
	for _, s := range []string{"last", "last~1", "last~", "20261201T200000Z", "last~-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		back, ok, err := ParseRunRef(ref)
		if ok && (err != nil || back < 0 || !strings.HasPrefix(ref, "last")) {
			t.Errorf("ParseRunRef(%q) = %d, %v, %v", ref, back, ok, err)
		}
	})
}

// TestLoadRunOnlyRunning: with no run ended (a killed benchd left its run
// running), the default is the newest run, which has results to render.
func TestLoadRunOnlyRunning(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	if _, err := st.BeginRun(t.Context(), store.Run{ID: "r1", Trigger: "matrix", Start: start}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveScenario(t.Context(), store.Scenario{RunID: "r1", Name: "t/-/a", Target: "t", Mode: "-", Endpoint: "a", Start: start}); err != nil {
		t.Fatal(err)
	}
	if run, err := LoadRun(t.Context(), st, "", "HERE"); err != nil || run.ID != "r1" {
		t.Fatalf("LoadRun(\"\") = %v, %v; want r1", run, err)
	}
}
