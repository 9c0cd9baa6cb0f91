package ui

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/benchd/benchd/regress"
)

// matrixView is the matrix page: one row per endpoint and mode, one
// column per target, as `benchd report --summary`.
type matrixView struct {
	Targets []string
	Rows    []matrixRow
	// Counts of cells per verdict word, for the page's heading.
	Counts map[string]int
}

type matrixRow struct {
	Endpoint, Mode string
	Cells          []*matrixCell // one per target; nil where the target has no such scenario
}

type matrixCell struct {
	Name        string
	Verdict     string
	Why         string
	HasResult   bool
	RPS         string
	P99         string
	Timeouts    uint64
	Spark       template.HTML
	ScenarioURL string
	RunURL      string
	RunID       string
}

func (s *snapshot) matrix(l links) *matrixView {
	m := &matrixView{Counts: map[string]int{}}
	cols := map[string]int{}
	type rowKey struct{ endpoint, mode string }
	rows := map[rowKey]int{}
	type placed struct{ row, col int }
	var cells []placed
	var all []*matrixCell
	for _, name := range s.names {
		target, mode, endpoint := split(name)
		c, ok := cols[target]
		if !ok {
			c = len(m.Targets)
			cols[target] = c
			m.Targets = append(m.Targets, target)
		}
		k := rowKey{endpoint, mode}
		r, ok := rows[k]
		if !ok {
			r = len(m.Rows)
			rows[k] = r
			m.Rows = append(m.Rows, matrixRow{Endpoint: endpoint, Mode: mode})
		}
		cells = append(cells, placed{r, c})
		all = append(all, s.cell(name, l))
	}
	for i := range m.Rows {
		m.Rows[i].Cells = make([]*matrixCell, len(m.Targets))
	}
	for i, p := range cells {
		m.Rows[p.row].Cells[p.col] = all[i]
		m.Counts[all[i].Verdict]++
	}
	return m
}

func (s *snapshot) cell(name string, l links) *matrixCell {
	h := s.hist[name]
	c := &matrixCell{Name: name, ScenarioURL: l.scenario(name), RPS: "-", P99: "-"}
	var newest *summary
	if len(h) > 0 {
		newest = &h[len(h)-1]
		c.HasResult = true
		c.RunID = newest.RunID
		c.RunURL = l.run(newest.RunID)
		if newest.Ran {
			c.RPS = formatRate(newest.RPS)
			c.P99 = formatSeconds(newest.P99)
		}
		c.Timeouts = newest.Timeouts
	}
	c.Verdict, c.Why = verdictOf(s.verdicts[name], newest)
	from := max(len(h)-DefaultSparklineRuns, 0)
	c.Spark = sparkline(h[from:], regress.SignalThroughput)
	return c
}

// split returns the parts of a scenario name target/mode/endpoint.
func split(name string) (target, mode, endpoint string) {
	parts := strings.SplitN(name, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

// sparkline draws sig over h as a small inline SVG: a polyline, invalid
// runs as hollow dots, the newest value as a dot. It is drawn by hand, not
// with gonum/plot: a cell's 30 points need no axes, and 80 plots of
// gonum's would cost the matrix its render time.
func sparkline(h []summary, sig regress.Signal) template.HTML {
	const w, ht, pad = 120.0, 28.0, 3.0
	var xs, ys []float64
	var valid []bool
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range h {
		v := h[i].value(sig)
		if !finite(v) {
			continue
		}
		xs = append(xs, float64(i))
		ys = append(ys, v)
		valid = append(valid, h[i].Valid)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if len(ys) == 0 {
		return `<svg class="spark" width="120" height="28" role="img" aria-label="no runs"></svg>`
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	n := math.Max(float64(len(h)-1), 1)
	px := func(x float64) float64 { return pad + x/n*(w-2*pad) }
	py := func(y float64) float64 { return ht - pad - (y-lo)/(hi-lo)*(ht-2*pad) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s of the last %d runs">`, w, ht, w, ht, sig, len(h))
	b.WriteString(`<polyline fill="none" stroke="currentColor" stroke-width="1.2" points="`)
	for i := range ys {
		fmt.Fprintf(&b, "%.1f,%.1f ", px(xs[i]), py(ys[i]))
	}
	b.WriteString(`"/>`)
	for i := range ys {
		if !valid[i] {
			fmt.Fprintf(&b, `<circle class="invalid" cx="%.1f" cy="%.1f" r="2"/>`, px(xs[i]), py(ys[i]))
		}
	}
	last := len(ys) - 1
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.2" fill="currentColor"/></svg>`, px(xs[last]), py(ys[last]))
	return template.HTML(b.String())
}

// formatRate formats requests per second as wrk does (k for thousands).
func formatRate(v float64) string {
	switch {
	case !finite(v):
		return "-"
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// formatSeconds formats a duration in seconds with wrk's units (us, ms, s).
func formatSeconds(v float64) string {
	switch {
	case !finite(v):
		return "-"
	case v >= 1:
		return fmt.Sprintf("%.2fs", v)
	case v >= 1e-3:
		return fmt.Sprintf("%.2fms", v*1e3)
	}
	return fmt.Sprintf("%.0fus", v*1e6)
}

// formatSignal formats a value of sig in its unit.
func formatSignal(sig regress.Signal, v float64) string {
	if !finite(v) {
		return "-" // no valid value (an invalid result is not a zero)
	}
	switch sig {
	case regress.SignalThroughput:
		return formatRate(v) + " req/s"
	case regress.SignalLatencyP50, regress.SignalLatencyP99:
		return formatSeconds(v)
	case regress.SignalErrorRatio, regress.SignalTimeoutRatio:
		return fmt.Sprintf("%.3g%%", 100*v)
	case regress.SignalCPUPerRequest:
		return formatSeconds(v) + " CPU/req"
	}
	return fmt.Sprintf("%g", v)
}
