package report_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// laneHistory writes two ended runs into a real history, each with a load
// scenario t/-/a and an instruction lane cg/sync/json, and returns them
// as stored, oldest first. The lane's requests/s and p99 are callgrind's
// speed (38.5 then 19.5 requests/s); its instructions per request are
// 1,162,000 then 1,168,000.
func laneHistory(t *testing.T) (*store.Run, *store.Run) {
	t.Helper()
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	var out []*store.Run
	for i, r := range []struct {
		id              string
		laneRPS, perReq float64
	}{{"A", 38.5, 1_162_000}, {"B", 19.5, 1_168_000}} {
		start := t0.Add(time.Duration(i) * time.Hour)
		if _, err := st.BeginRun(t.Context(), store.Run{ID: r.id, Trigger: "matrix", Start: start, ConfigHash: "h"}); err != nil {
			t.Fatal(err)
		}
		for j, sc := range []store.Scenario{
			{Name: "t/-/a", Target: "t", Mode: "-", Endpoint: "a",
				Measurement: result.Measurement{RequestsPerSecond: 1000, Requests: 10000, Sent: 10000, ConnectionsEstablished: 2, Latency: &result.Latency{Count: 10000, P50: 0.001, P99: 0.002}}},
			{Name: "cg/sync/json", Target: "cg", Mode: "sync", Endpoint: "json",
				Measurement: result.Measurement{RequestsPerSecond: r.laneRPS, Requests: 200, Sent: 200, ConnectionsEstablished: 1, Latency: &result.Latency{Count: 200, P50: 0.02, P99: 0.0517},
					Instructions: &result.Instructions{Count: uint64(r.perReq) * 200, Requests: 200, Processes: 1, PerRequest: r.perReq}}},
		} {
			sc.RunID, sc.Index, sc.Start = r.id, j, start
			if err := st.SaveScenario(t.Context(), sc); err != nil {
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
	return out[0], out[1]
}

// TestLaneReports: --summary, --diff and --compare show an instruction
// lane's instructions per request, marked as a lane, and never its
// requests/s or p99 (callgrind's speed); a load scenario beside it keeps
// its figures.
func TestLaneReports(t *testing.T) {
	a, b := laneHistory(t)
	speed := []string{"38.5", "19.5", "51.70ms", "52ms"} // the lane's speed, as any table would print it

	t.Run("summary", func(t *testing.T) {
		var out strings.Builder
		if err := report.WriteSummary(&out, b, "text"); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		for _, want := range []string{
			"; an instruction lane's: instructions/request (lane) · timeouts · errors\n",
			"| json | sync | | 1168000 instructions/request (lane) · 0 · 0 |\n",
			"| a | - | 1000 · 2.00ms · 0 · 0 | |\n",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("summary lacks %q:\n%s", want, text)
			}
		}
		for _, s := range speed {
			if strings.Contains(text, s) {
				t.Errorf("summary shows the lane's speed %q:\n%s", s, text)
			}
		}
		out.Reset()
		if err := report.WriteSummary(&out, b, "json"); err != nil {
			t.Fatal(err)
		}
		var st report.SummaryTable
		if err := json.Unmarshal([]byte(out.String()), &st); err != nil {
			t.Fatal(err)
		}
		for _, r := range st.Rows {
			for target, c := range r.Cells {
				switch target {
				case "cg":
					if !c.Lane || c.InstructionsPerRequest == nil || *c.InstructionsPerRequest != 1_168_000 || c.RequestsPerSecond != nil || c.P99Seconds != nil {
						t.Errorf("lane cell %+v: want lane, 1168000 instructions/request, no requests/s or p99", *c)
					}
				default:
					if c.Lane || c.InstructionsPerRequest != nil || c.RequestsPerSecond == nil || *c.RequestsPerSecond != 1000 || c.P99Seconds == nil {
						t.Errorf("load cell %+v: want 1000 requests/s and a p99", *c)
					}
				}
			}
		}
	})

	t.Run("diff", func(t *testing.T) {
		var out strings.Builder
		if err := report.WriteDiff(&out, a, b); err != nil {
			t.Fatal(err)
		}
		rows := map[string][]string{}
		for l := range strings.Lines(out.String()) {
			if f := strings.Fields(l); len(f) > 0 {
				rows[f[0]] = f
			}
		}
		// scenario, req/s A B ratio, p99 A B ratio, instr/req A B ratio,
		// timeouts A B, settings.
		want := map[string]string{
			"scenario":     "scenario req/s A req/s B ratio p99 A p99 B ratio instr/req A instr/req B ratio timeouts A timeouts B settings",
			"cg/sync/json": "cg/sync/json (lane) - - - - - - 1162000 1168000 1.0052 0 0 -",
			"t/-/a":        "t/-/a 1000.0 1000.0 1.00 2.00ms 2.00ms 1.00 - - - 0 0 -",
		}
		for name, w := range want {
			if got := strings.Join(rows[name], " "); got != w {
				t.Errorf("%s row %q, want %q; output:\n%s", name, got, w, out.String())
			}
		}
	})

	t.Run("compare", func(t *testing.T) {
		doc, err := report.ParseWrkMarkdown(strings.NewReader("## cg\n### json\n#### Sync\n```\nRequests/sec:    100.00\n```\n"))
		if err != nil {
			t.Fatal(err)
		}
		c := report.CompareRun(b, doc, "doc.md", nil)
		var lane *report.ComparisonRow
		for i := range c.Rows {
			if c.Rows[i].Scenario == "cg/sync/json" {
				lane = &c.Rows[i]
			}
		}
		if lane == nil || lane.Benchd == nil || lane.Document == nil {
			t.Fatalf("no lane row with both sides in %+v", c.Rows)
		}
		if s := lane.Benchd; !s.Lane || s.InstructionsPerRequest == nil || *s.InstructionsPerRequest != 1_168_000 || s.RequestsPerSecond != nil || s.P99Seconds != nil || lane.RequestsPerSecondRatio != nil {
			t.Errorf("lane row: benchd %+v, ratio %v; want lane, its instructions, no requests/s, p99 or ratio", *s, lane.RequestsPerSecondRatio)
		}
		var out strings.Builder
		if err := report.WriteComparison(&out, c, "markdown"); err != nil {
			t.Fatal(err)
		}
		if want := "| cg/sync/json | - | 100.0 | - | - | - | 0 | 0 |  | lane: 1168000 instructions/request |\n"; !strings.Contains(out.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, out.String())
		}
		for _, s := range speed {
			if strings.Contains(out.String(), s) {
				t.Errorf("comparison shows the lane's speed %q:\n%s", s, out.String())
			}
		}
	})
}

// TestSummarySegment: a shard's segment of a split scenario is marked in
// the summary, text and JSON: its figures are that share's.
func TestSummarySegment(t *testing.T) {
	run := &store.Run{ID: "r", Outcome: store.OutcomeSuccess, Scenarios: []store.Scenario{{Name: "t/-/big", Target: "t", Mode: "-", Endpoint: "big",
		Segment:     &result.Segment{Index: 2, Count: 3},
		Measurement: result.Measurement{RequestsPerSecond: 223, Requests: 2230, Sent: 2230, ConnectionsEstablished: 1, Latency: &result.Latency{Count: 2230, P99: 0.002}}}}}
	var out strings.Builder
	if err := report.WriteSummary(&out, run, "text"); err != nil {
		t.Fatal(err)
	}
	if want := "| big | - | 223 · 2.00ms · 0 · 0 (segment 3 of 3) |\n"; !strings.Contains(out.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	if err := report.WriteSummary(&out, run, "json"); err != nil {
		t.Fatal(err)
	}
	var st report.SummaryTable
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil {
		t.Fatal(err)
	}
	if c := st.Rows[0].Cells["t"]; c == nil || c.Segment == nil || *c.Segment != (result.Segment{Index: 2, Count: 3}) {
		t.Errorf("summary JSON's cell has no segment 2 of 3:\n%s", out.String())
	}
}
