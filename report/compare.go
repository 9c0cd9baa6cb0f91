package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/store"
)

// Comparison is `benchd report --compare` in JSON: a stored run beside a
// results document, one row per scenario found on either side.
type Comparison struct {
	RunID    string          `json:"run_id"`
	Document string          `json:"document"`
	Title    string          `json:"title"`
	Rows     []ComparisonRow `json:"rows"`
}

// ComparisonRow is one scenario of a Comparison. Benchd or Document is
// null when the scenario is on the other side only.
type ComparisonRow struct {
	// Scenario is target/mode/endpoint; for a document cell whose
	// headings match no target or endpoint, the headings themselves.
	Scenario string       `json:"scenario"`
	Benchd   *CompareSide `json:"benchd"`
	Document *CompareSide `json:"document"`
	// RequestsPerSecondRatio is benchd's requests/s over the document's;
	// null unless both are there, benchd's is no instruction lane and the
	// document's is above 0.
	RequestsPerSecondRatio *float64 `json:"requests_per_second_ratio"`
}

// CompareSide holds one side's figures of a scenario.
type CompareSide struct {
	// RequestsPerSecond is null for an instruction lane (Lane), whose
	// speed is callgrind's, not the server's: InstructionsPerRequest is
	// its figure.
	RequestsPerSecond      *float64 `json:"requests_per_second"`
	Lane                   bool     `json:"lane,omitempty"`
	InstructionsPerRequest *float64 `json:"instructions_per_request,omitempty"`
	Requests               uint64   `json:"requests"`
	// P99Seconds is null without completed requests (benchd), for a lane,
	// or without a Latency Distribution (document).
	P99Seconds *float64 `json:"p99_seconds"`
	Timeouts   uint64   `json:"timeouts"`
	// LateResponses counts the answers that came after their request's
	// timeout, and LateResponsesPerSecond them per second of the measured
	// interval (wrk counts them as requests: a document's requests/s is
	// comparable with benchd's plus these); benchd's side only, absent
	// unless its scenario ran with on_timeout wait (reconnect never reads
	// them).
	LateResponses          *uint64  `json:"late_responses,omitempty"`
	LateResponsesPerSecond *float64 `json:"late_responses_per_second,omitempty"`
	// Error is why the stored scenario failed; benchd's side only.
	Error string `json:"error,omitempty"`
	// Line is the line of the document's wrk block; the document's side
	// only.
	Line int `json:"line,omitempty"`
}

// ReadComparisonDocument returns the document --compare names and how to
// call it: the embedded seed for "seed" or "".
func ReadComparisonDocument(path string) (*Document, string, error) {
	var r io.Reader
	name := path
	if path == "" || path == "seed" {
		r, name = bytes.NewReader(Seed()), SeedName
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("read the document of --compare: %w", err)
		}
		defer f.Close()
		r = f
	}
	d, err := ParseWrkMarkdown(r)
	if err != nil {
		return nil, "", fmt.Errorf("--compare %s: %w", name, err)
	}
	return d, name, nil
}

// CompareRun matches the document's cells to run's scenarios: a "##"
// heading names a target by its title or name (titles as [Titles]
// returns them), a "###" heading an endpoint, and a "####" heading the mode
// (any case; none means "-"). Rows follow the run's order, then the
// document's cells no scenario matched; a cell repeated in the document
// counts once, the first.
func CompareRun(run *store.Run, doc *Document, name string, titles map[string]string) Comparison {
	c := Comparison{RunID: run.ID, Document: name, Title: doc.Title, Rows: []ComparisonRow{}}
	targets, endpoints := map[string]string{}, map[string]string{}
	add := func(m map[string]string, heading, name string) {
		if k := strings.ToLower(strings.TrimSpace(heading)); k != "" {
			if _, ok := m[k]; !ok {
				m[k] = name
			}
		}
	}
	for k, v := range titles {
		if e, ok := strings.CutPrefix(k, "/"); ok {
			add(endpoints, v, e)
		} else {
			add(targets, v, k)
		}
	}
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		add(targets, s.Target, s.Target)
		add(endpoints, s.Endpoint, s.Endpoint)
	}
	lookup := func(m map[string]string, heading string) string {
		if n, ok := m[strings.ToLower(heading)]; ok {
			return n
		}
		return heading
	}
	cells := map[string]*Cell{}
	var order []string
	for i := range doc.Cells {
		cell := &doc.Cells[i]
		mode := strings.ToLower(cell.Mode)
		if mode == "" {
			mode = "-"
		}
		key := lookup(targets, cell.Server) + "/" + mode + "/" + lookup(endpoints, cell.Endpoint)
		if cells[key] == nil {
			cells[key] = cell
			order = append(order, key)
		}
	}
	used := map[string]bool{}
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		row := ComparisonRow{Scenario: s.Name, Benchd: storedSide(s)}
		if cell := cells[s.Name]; cell != nil && !used[s.Name] {
			used[s.Name] = true
			row.Document = documentSide(cell)
		}
		c.Rows = append(c.Rows, row.withRatio())
	}
	for _, k := range order {
		if !used[k] {
			c.Rows = append(c.Rows, ComparisonRow{Scenario: k, Document: documentSide(cells[k])})
		}
	}
	return c
}

func storedSide(s *store.Scenario) *CompareSide {
	side := &CompareSide{Requests: s.Requests, Timeouts: s.Errors[engine.KindTimeout], Error: s.Error}
	if in := s.Instructions; in != nil {
		// callgrind's speed, not the server's: instructions only.
		side.Lane, side.InstructionsPerRequest = true, &in.PerRequest
		return side
	}
	rps := s.RequestsPerSecond
	side.RequestsPerSecond = &rps
	if v := s.P99(); !math.IsNaN(v) {
		side.P99Seconds = &v
	}
	if s.OnTimeout == string(engine.TimeoutWait) {
		n, rate := s.LateResponses, 0.0
		if s.ElapsedSeconds > 0 {
			rate = float64(n) / s.ElapsedSeconds
		}
		side.LateResponses, side.LateResponsesPerSecond = &n, &rate
	}
	return side
}

func documentSide(c *Cell) *CompareSide {
	rps := c.Wrk.RequestsPerSecond
	side := &CompareSide{RequestsPerSecond: &rps, Requests: c.Wrk.Requests,
		Timeouts: c.Wrk.Timeouts, Line: c.Line}
	if p := c.Wrk.P99(); !math.IsNaN(p) {
		side.P99Seconds = &p
	}
	return side
}

func (r ComparisonRow) withRatio() ComparisonRow {
	if b, d := r.Benchd, r.Document; b != nil && d != nil && b.RequestsPerSecond != nil && d.RequestsPerSecond != nil && *d.RequestsPerSecond > 0 {
		v := *b.RequestsPerSecond / *d.RequestsPerSecond
		r.RequestsPerSecondRatio = &v
	}
	return r
}

// WriteComparison prints c as text (aligned columns), markdown (a table)
// or json (a [Comparison]). An instruction lane shows no requests/s or
// p99 (callgrind's speed) and its instructions per request in its note.
func WriteComparison(w io.Writer, c Comparison, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	title := ""
	if c.Title != "" {
		title = fmt.Sprintf(" (%q)", c.Title)
	}
	header := []string{"scenario", "req/s benchd", "req/s document", "ratio", "p99 benchd", "p99 document", "timeouts benchd", "timeouts document", "late/s benchd", "note"}
	var lines [][]string
	for _, r := range c.Rows {
		b, d := r.Benchd, r.Document
		var notes []string
		switch {
		case b != nil && interrupted(b.Error):
			notes = append(notes, "interrupted") // its run was stopped: not a failure
		case b != nil && b.Error != "":
			notes = append(notes, "failed")
		}
		if b != nil && b.Lane {
			// Its speed is callgrind's: the figure is its instructions.
			notes = append(notes, fmt.Sprintf("lane: %.0f instructions/request", *b.InstructionsPerRequest))
		}
		switch {
		case d == nil:
			notes = append(notes, "benchd only")
		case b == nil:
			notes = append(notes, "document only")
		}
		ratio := "-"
		if r.RequestsPerSecondRatio != nil {
			ratio = fmt.Sprintf("%.2f", *r.RequestsPerSecondRatio)
		}
		lines = append(lines, []string{r.Scenario, sideRate(b), sideRate(d), ratio, sideP99(b), sideP99(d), sideTimeouts(b), sideTimeouts(d), sideLate(b), strings.Join(notes, "; ")})
	}
	if format == "markdown" {
		fmt.Fprintf(w, "benchd = run %s, document = %s%s; ratio is benchd/document\n\n", c.RunID, c.Document, title)
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
		for _, l := range lines {
			fmt.Fprintf(w, "| %s |\n", strings.Join(l, " | "))
		}
		return nil
	}
	fmt.Fprintf(w, "benchd = run %s, document = %s%s; ratio is benchd/document\n\n", c.RunID, c.Document, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, l := range lines {
		fmt.Fprintln(tw, strings.Join(l, "\t"))
	}
	return tw.Flush()
}

func sideRate(s *CompareSide) string {
	if s == nil || s.RequestsPerSecond == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *s.RequestsPerSecond)
}

func sideP99(s *CompareSide) string {
	if s == nil || s.P99Seconds == nil {
		return "-"
	}
	return seconds(*s.P99Seconds)
}

func sideTimeouts(s *CompareSide) string {
	if s == nil {
		return "-"
	}
	return strconv.FormatUint(s.Timeouts, 10)
}

// sideLate is the late answers per second of benchd's side: blank where
// the scenario ran with on_timeout reconnect (none are read), "-" without
// a benchd side.
func sideLate(s *CompareSide) string {
	switch {
	case s == nil:
		return "-"
	case s.LateResponsesPerSecond == nil:
		return ""
	}
	return fmt.Sprintf("%.1f", *s.LateResponsesPerSecond)
}
