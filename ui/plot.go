package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
)

// Plot sizes, in points.
const (
	plotWidth  = 720
	plotHeight = 230
)

var (
	colorLine     = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}
	colorInvalid  = color.RGBA{R: 0xb0, G: 0x40, B: 0x00, A: 0xff}
	colorBand     = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0x30}
	colorMedian   = color.RGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xff}
	colorChange   = color.RGBA{R: 0xc0, G: 0x10, B: 0x10, A: 0xff}
	colorAccepted = color.RGBA{R: 0x10, G: 0x80, B: 0x30, A: 0xff}
	colorMarker   = color.RGBA{R: 0x80, G: 0x60, B: 0xa0, A: 0xff}
)

// scale returns the factor and unit a signal is plotted in.
func scale(sig regress.Signal) (float64, string) {
	switch sig {
	case regress.SignalThroughput:
		return 1, "requests/s"
	case regress.SignalLatencyP50, regress.SignalLatencyP99:
		return 1e3, "ms"
	case regress.SignalErrorRatio, regress.SignalTimeoutRatio:
		return 100, "% of sent"
	case regress.SignalCPUPerRequest:
		return 1e6, "CPU µs per request"
	}
	return 1, ""
}

// signalPlot draws one signal's history: valid runs as a line with dots,
// invalid runs as crosses, the baseline median from the baseline's first
// run on, the band between it and the detectable change, the change point,
// accepted baselines and deploy markers as vertical lines. ok is false
// when the signal has no value in any run (cpu_per_request of an unmanaged
// target).
func signalPlot(sig regress.Signal, h []summary, v *regress.Verdict, accepted map[string]bool, markers map[string]string) (template.HTML, bool, error) {
	k, unit := scale(sig)
	var good, bad plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range h {
		y := h[i].value(sig) * k
		if !finite(y) {
			continue
		}
		xy := plotter.XY{X: unixSeconds(h[i].Start), Y: y}
		if h[i].Valid {
			good = append(good, xy)
		} else {
			bad = append(bad, xy)
		}
		lo, hi = math.Min(lo, y), math.Max(hi, y)
	}
	if len(good)+len(bad) == 0 {
		return "", false, nil
	}
	p := plot.New()
	p.Title.Text = string(sig)
	p.Y.Label.Text = unit
	p.X.Tick.Marker = plot.TimeTicks{Format: "Jan 2\n15:04"}
	p.Add(plotter.NewGrid())
	first, last := unixSeconds(h[0].Start), unixSeconds(h[len(h)-1].Start)
	if v != nil && v.BaselineN > 0 && v.BaselineStart >= 0 && v.BaselineStart < len(h) {
		med := v.BaselineMedian * k
		from := unixSeconds(h[v.BaselineStart].Start)
		if d := v.DetectableChange; finite(d) && d != 0 {
			edge := med * (1 + d)
			band, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: med}, {X: last, Y: med}, {X: last, Y: edge}, {X: from, Y: edge}})
			if err != nil {
				return "", false, err
			}
			band.Color, band.Width = colorBand, 0
			p.Add(band)
			lo, hi = math.Min(lo, edge), math.Max(hi, edge)
		}
		l, err := plotter.NewLine(plotter.XYs{{X: from, Y: med}, {X: last, Y: med}})
		if err != nil {
			return "", false, err
		}
		l.Color, l.Dashes = colorMedian, []vg.Length{vg.Points(4), vg.Points(2)}
		p.Add(l)
		lo, hi = math.Min(lo, med), math.Max(hi, med)
	}
	if hi == lo {
		lo, hi = lo*0.9-1e-9, hi*1.1+1e-9
	}
	lo = math.Max(lo-(hi-lo)*0.05, math.Min(lo, 0)*1.05)
	hi += (hi - lo) * 0.15
	vline := func(x float64, c color.Color, dashes []vg.Length) error {
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
		if err != nil {
			return err
		}
		l.Color, l.Dashes = c, dashes
		p.Add(l)
		return nil
	}
	if v != nil && v.ChangePoint != nil && !v.ChangePoint.Time.IsZero() {
		if err := vline(unixSeconds(v.ChangePoint.Time), colorChange, nil); err != nil {
			return "", false, err
		}
	}
	prevMarker := ""
	for i := range h {
		x := unixSeconds(h[i].Start)
		if accepted[h[i].RunID] {
			if err := vline(x, colorAccepted, []vg.Length{vg.Points(2), vg.Points(2)}); err != nil {
				return "", false, err
			}
		}
		if m := markers[h[i].RunID]; m != "" && m != prevMarker {
			if err := vline(x, colorMarker, []vg.Length{vg.Points(6), vg.Points(3)}); err != nil {
				return "", false, err
			}
			prevMarker = m
		}
	}
	if len(good) > 0 {
		line, pts, err := plotter.NewLinePoints(good)
		if err != nil {
			return "", false, err
		}
		line.Color, pts.Color, pts.Radius = colorLine, colorLine, vg.Points(1.6)
		pts.Shape = draw.CircleGlyph{}
		p.Add(line, pts)
	}
	if len(bad) > 0 {
		s, err := plotter.NewScatter(bad)
		if err != nil {
			return "", false, err
		}
		s.Color, s.Shape, s.Radius = colorInvalid, draw.CrossGlyph{}, vg.Points(4)
		p.Add(s)
	}
	p.X.Min, p.X.Max = first, last
	if first == last {
		p.X.Min, p.X.Max = first-60, last+60
	}
	p.Y.Min, p.Y.Max = lo, hi
	out, err := svg(p)
	return out, err == nil, err
}

// percentiles are the quantiles the latency plot marks on its axis.
var percentiles = []float64{0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999}

// percentileTicks labels the 1/(1−q) axis with the percentiles.
type percentileTicks struct{}

// Ticks returns a tick at each of percentiles within [lo, hi].
func (percentileTicks) Ticks(lo, hi float64) []plot.Tick {
	var t []plot.Tick
	for _, q := range percentiles {
		x := 1 / (1 - q)
		if x < lo*0.999 || x > hi*1.001 {
			continue
		}
		t = append(t, plot.Tick{Value: x, Label: strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", 100*q), "0"), ".") + "%"})
	}
	return t
}

// latencyPlot draws the latency by percentile of an HDR histogram in
// microseconds (result.Histogram), as HdrHistogram's plotter does: the
// percentile on a log axis of 1/(1−q), latency in ms on a linear one, up
// to the percentile the count resolves (1/(1−q) ≤ count). ok is false for
// an empty histogram.
func latencyPlot(title string, enc result.Histogram) (template.HTML, bool, error) {
	h, err := enc.Decode()
	if err != nil || h == nil {
		return "", false, err
	}
	pts := percentilePoints(h)
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	p.Add(plotter.NewGrid())
	l, err := plotter.NewLine(pts)
	if err != nil {
		return "", false, err
	}
	l.Color, l.Width = colorLine, vg.Points(1.5)
	p.Add(l)
	p.X.Min, p.X.Max = 1, pts[len(pts)-1].X
	p.Y.Min = 0
	out, err := svg(p)
	return out, err == nil, err
}

// percentilePoints samples h at 20 points per decade of 1/(1−q), from the
// median's 1 (q = 0) up to the count.
func percentilePoints(h *hdrhistogram.Histogram) plotter.XYs {
	top := math.Max(float64(h.TotalCount()), 2)
	var pts plotter.XYs
	for k := 0; ; k++ {
		x := math.Pow(10, float64(k)/20)
		if x > top {
			break
		}
		q := 1 - 1/x
		pts = append(pts, plotter.XY{X: x, Y: float64(h.ValueAtQuantile(100*q)) / 1e3})
	}
	if len(pts) < 2 {
		pts = append(pts, plotter.XY{X: 2, Y: float64(h.ValueAtQuantile(50)) / 1e3})
	}
	return pts
}

// svg renders p as an inline SVG element (the XML prolog dropped), scaled
// by the page's CSS.
func svg(p *plot.Plot) (template.HTML, error) {
	wt, err := p.WriterTo(vg.Points(plotWidth), vg.Points(plotHeight), "svg")
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	// gonum writes the viewBox itself: a second one would make the SVG
	// invalid as an image of its own (an attribute twice is an XML error).
	s = strings.Replace(s, "<svg", `<svg class="plot" preserveAspectRatio="xMinYMin meet"`, 1)
	return template.HTML(s), nil
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
