package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// SummaryTable is the table of `benchd report --summary`, and its JSON
// form: one row per endpoint and mode, in run order, one cell per target
// that ran it.
type SummaryTable struct {
	RunID   string `json:"run_id"`
	Outcome string `json:"outcome"`
	// Targets are the column order: targets in run order.
	Targets []string     `json:"targets"`
	Rows    []SummaryRow `json:"rows"`
}

// SummaryRow is one endpoint and mode of a [SummaryTable]; Cells maps a
// target name to its scenario, absent when the target did not run it.
type SummaryRow struct {
	Endpoint string                  `json:"endpoint"`
	Mode     string                  `json:"mode"`
	Cells    map[string]*SummaryCell `json:"cells"`
}

// SummaryCell is one scenario of a [SummaryTable]. RequestsPerSecond and
// P99Seconds are null for an instruction lane (Lane: a target with an
// instructions block, served under callgrind, whose speed is callgrind's,
// not the server's), which has InstructionsPerRequest instead;
// P99Seconds is null without a completed request too.
// Errors counts connection errors of every kind (timeouts included) and
// 4xx and 5xx responses; Error says why the scenario failed, and Sent is
// 0 when it applied no load.
type SummaryCell struct {
	RequestsPerSecond      *float64 `json:"requests_per_second"`
	P99Seconds             *float64 `json:"p99_seconds"`
	Lane                   bool     `json:"lane,omitempty"`
	InstructionsPerRequest *float64 `json:"instructions_per_request,omitempty"`
	Timeouts               uint64   `json:"timeouts"`
	Errors                 uint64   `json:"errors"`
	Sent                   uint64   `json:"sent"`
	Error                  string   `json:"error,omitempty"`
	// Segment is set on a shard's segment of a split scenario: its
	// figures are that share's, not the whole scenario's.
	Segment *result.Segment `json:"segment,omitempty"`
}

// NewSummaryTable returns run's [SummaryTable].
func NewSummaryTable(run *store.Run) SummaryTable {
	st := SummaryTable{RunID: run.ID, Outcome: store.ShownOutcome(run.Outcome), Targets: []string{}, Rows: []SummaryRow{}}
	seen := map[string]bool{}
	type rowKey struct{ endpoint, mode string }
	rows := map[rowKey]int{}
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		if !seen[s.Target] {
			seen[s.Target] = true
			st.Targets = append(st.Targets, s.Target)
		}
		k := rowKey{s.Endpoint, s.Mode}
		r, ok := rows[k]
		if !ok {
			r = len(st.Rows)
			rows[k] = r
			st.Rows = append(st.Rows, SummaryRow{Endpoint: s.Endpoint, Mode: s.Mode, Cells: map[string]*SummaryCell{}})
		}
		c := &SummaryCell{Timeouts: s.Errors[engine.KindTimeout], Sent: s.Sent, Error: s.Error, Segment: s.Segment}
		for _, n := range s.Errors {
			c.Errors += n
		}
		c.Errors += s.Unexpected // by default the 4xx and 5xx responses
		if in := s.Instructions; in != nil {
			// callgrind's speed, not the server's: instructions only.
			c.Lane, c.InstructionsPerRequest = true, &in.PerRequest
		} else {
			rps := s.RequestsPerSecond
			c.RequestsPerSecond = &rps
			if v := s.P99(); !math.IsNaN(v) {
				c.P99Seconds = &v
			}
		}
		st.Rows[r].Cells[s.Target] = c
	}
	return st
}

// WriteSummary prints the table users compare servers with: one row per
// endpoint and mode, one column per target, each cell requests/s, p99,
// timeouts and errors of that scenario (an instruction lane: its
// instructions per request, marked "(lane)", instead of requests/s and
// p99, which are callgrind's speed). As json, a [SummaryTable];
// otherwise a Markdown table, which reads as text too.
func WriteSummary(w io.Writer, run *store.Run, format string) error {
	st := NewSummaryTable(run)
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	lanes := false
	for _, r := range st.Rows {
		for _, c := range r.Cells {
			lanes = lanes || c.Lane
		}
	}
	legend := "cells: requests/s · p99 · timeouts · errors"
	if lanes {
		legend += "; an instruction lane's: instructions/request (lane) · timeouts · errors"
	}
	fmt.Fprintf(w, "run %s (%s), %s\n\n", st.RunID, st.Outcome, legend)
	fmt.Fprintf(w, "| endpoint | mode | %s |\n", strings.Join(st.Targets, " | "))
	fmt.Fprintf(w, "|---|---|%s\n", strings.Repeat("---|", len(st.Targets)))
	for _, r := range st.Rows {
		fmt.Fprintf(w, "| %s | %s |", r.Endpoint, r.Mode)
		for _, t := range st.Targets {
			c := r.Cells[t]
			switch {
			case c == nil:
				fmt.Fprint(w, " |")
			case interrupted(c.Error):
				fmt.Fprint(w, " interrupted |")
			case c.Error != "" && c.Sent == 0:
				fmt.Fprint(w, " failed |")
			default:
				marks := ""
				if c.Error != "" {
					marks = " (failed)" // cut short or the target died: see the report
				}
				if sg := c.Segment; sg != nil {
					marks += fmt.Sprintf(" (segment %d of %d)", sg.Index+1, sg.Count)
				}
				var figure string
				if c.Lane {
					figure = fmt.Sprintf("%.0f instructions/request (lane)", *c.InstructionsPerRequest)
				} else {
					p99 := math.NaN()
					if c.P99Seconds != nil {
						p99 = *c.P99Seconds
					}
					figure = fmt.Sprintf("%.0f · %s", *c.RequestsPerSecond, seconds(p99))
				}
				fmt.Fprintf(w, " %s · %d · %d%s |", figure, c.Timeouts, c.Errors, marks)
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// WriteDiff prints, per scenario present in either run, requests/s and
// p99 of both runs and their ratios B/A, and in its settings column
// whether the scenario's settings hash is the same in both ("same"),
// which parts changed ("changed: connections"), "only A" or "only B", or
// "-" when a side has no hash. An instruction lane (marked "(lane)") has
// instructions per request instead, in columns of their own when either
// run has one, and "-" for requests/s and p99 (callgrind's speed). A
// header says when the runs' config_hash differs and how the scenarios
// match ([ScenarioMatch]).
func WriteDiff(w io.Writer, a, b *store.Run) error {
	index := func(r *store.Run) map[string]*store.Scenario {
		m := map[string]*store.Scenario{}
		for i := range r.Scenarios {
			m[r.Scenarios[i].Name] = &r.Scenarios[i]
		}
		return m
	}
	ma, mb := index(a), index(b)
	var names []string
	for i := range a.Scenarios {
		names = append(names, a.Scenarios[i].Name)
	}
	for i := range b.Scenarios {
		if ma[b.Scenarios[i].Name] == nil {
			names = append(names, b.Scenarios[i].Name)
		}
	}
	m := MatchScenarios(a.Scenarios, b.Scenarios)
	fmt.Fprintf(w, "A = run %s, B = run %s; ratios are B/A\n", a.ID, b.ID)
	if a.ConfigHash != b.ConfigHash {
		fmt.Fprintf(w, "the runs come from different configurations (config_hash %s, %s)\n", or(a.ConfigHash, "none"), or(b.ConfigHash, "none"))
	}
	fmt.Fprintf(w, "%s\n\n", m)
	lane := func(s *store.Scenario) bool { return s != nil && s.Instructions != nil }
	lanes := false
	for _, n := range names {
		lanes = lanes || lane(ma[n]) || lane(mb[n])
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "scenario\treq/s A\treq/s B\tratio\tp99 A\tp99 B\tratio\t"
	if lanes {
		header += "instr/req A\tinstr/req B\tratio\t"
	}
	fmt.Fprintln(tw, header+"timeouts A\ttimeouts B\tsettings\t")
	// side returns a scenario's figures: requests/s and p99, or for an
	// instruction lane (callgrind's speed, not the server's) instructions
	// per request; NaN where it has none.
	side := func(s *store.Scenario) (rps, p99, instr float64, timeouts string) {
		rps, p99, instr, timeouts = math.NaN(), math.NaN(), math.NaN(), "-"
		switch {
		case s == nil:
		case lane(s):
			instr, timeouts = s.Instructions.PerRequest, strconv.FormatUint(s.Errors[engine.KindTimeout], 10)
		default:
			rps, p99, timeouts = s.RequestsPerSecond, s.P99(), strconv.FormatUint(s.Errors[engine.KindTimeout], 10)
		}
		return rps, p99, instr, timeouts
	}
	for _, n := range names {
		sa, sb := ma[n], mb[n]
		rpsA, p99A, inA, toA := side(sa)
		rpsB, p99B, inB, toB := side(sb)
		settings := "-"
		switch {
		case sb == nil:
			settings = "only A"
		case sa == nil:
			settings = "only B"
		case sa.Interrupted() || sb.Interrupted():
			// Part of a duration against a whole one: --fail-on skips it.
			settings = "interrupted " + map[bool]string{true: "A", false: "B"}[sa.Interrupted()]
			if sa.Interrupted() && sb.Interrupted() {
				settings = "interrupted A, B"
			}
		case m.Changed[n] != nil:
			settings = "changed: " + strings.Join(m.Changed[n], ",")
		case sa.SettingsHash != "" && sb.SettingsHash != "":
			settings = "same"
		}
		name := n
		if lane(sa) || lane(sb) {
			name += " (lane)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t", name, num(rpsA), num(rpsB), ratio(rpsB, rpsA),
			seconds(p99A), seconds(p99B), ratio(p99B, p99A))
		if lanes {
			// Deterministic to about 0.1 %: four decimals show a 0.5 % change.
			fmt.Fprintf(tw, "%s\t%s\t%s\t", count(inA), count(inB), ratio4(inB, inA))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", toA, toB, settings)
	}
	return tw.Flush()
}

// count prints a figure as a whole number, "-" for NaN.
func count(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

// ratio4 is ratio with four decimals.
func ratio4(b, a float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || a == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", b/a)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func ratio(b, a float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || a == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", b/a)
}

// seconds prints a latency in the unit wrk would use.
func seconds(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 1:
		return fmt.Sprintf("%.2fs", v)
	case v >= 1e-3:
		return fmt.Sprintf("%.2fms", v*1e3)
	}
	return fmt.Sprintf("%.0fus", v*1e6)
}

// interrupted tells whether a stored scenario's error text says it was cut
// short by its run's stop ([result.Scenario.Interrupted]).
func interrupted(errText string) bool {
	return strings.HasPrefix(errText, result.InterruptedPrefix)
}
