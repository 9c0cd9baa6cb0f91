package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
)

// WrkOptions are the choices of [WriteWrk]. The zero value prints wrk's
// default report.
type WrkOptions struct {
	// Latency adds wrk's "Latency Distribution" block (wrk --latency):
	// the 50th, 75th, 90th and 99th percentiles.
	Latency bool
}

// WriteWrk writes s's measurement in the text layout of wrk 4.1, line for line and with
// wrk's number formatting, so that reports compare with wrk runs:
//
//	Running 10s test @ http://localhost:8000/myapp/sync/json
//	  20 threads and 2000 connections
//	  Thread Stats   Avg      Stdev     Max   +/- Stdev
//	    Latency   266.45ms  430.37ms   2.00s    82.98%
//	    Req/Sec     1.73k     0.94k   12.92k    79.29%
//	  320765 requests in 10.03s, 93.92MB read
//	  Socket errors: connect 0, read 0, write 0, timeout 1856
//	Requests/sec:  31967.83
//	Transfer/sec:      9.36MB
//
// The figures differ from wrk's in meaning where the engine is stricter:
// "N requests" and Requests/sec count responses received within the
// timeout (wrk also counts late answers), Socket errors' read also counts
// the engine's closed kind (wrk has no such kind and counts it as read),
// and Req/Sec counts what Requests/sec counts (measured requests answered
// in time: not the warm-up's answers, not late ones) and includes 100 ms
// intervals without any response (wrk skips them). Lines wrk does not
// have: "  In flight at end: N" when requests
// were still unanswered at the end of the grace, so that the counts add up
// to the requests sent; "  Late responses: N (M pending at close)" beside
// the socket errors, with on_timeout wait, for the answers that came after
// their request's timeout (wrk counts those as requests), with their
// latency from send (p50, p99, max) when any came; "  Unexpected
// responses: N" when the endpoint's expect rejected other responses than
// the Non-2xx or 3xx ones; "  CPU: target T per request, foreign F%" when
// the CPU of a managed target was sampled (docs/results.md: its CPU per
// request and the other work's share of the CPUs); "  Instructions: N per
// request (callgrind, R requests, P processes)" for an instruction-lane
// scenario, whose first line reads "Running N-request callgrind test";
// for an open-loop run (rate), "  Rate: target R/s, achieved A/s; L started
// late, N not sent" and a line saying that the latency counts from the
// intended send time, with the uncorrected p50 and p99;
// "  Left out of the
// regression detector: reasons" for an invalid result; and "  N repeats,
// Requests/sec each: ..." after the connections line when s has more than
// one repeat; "  Segment i of n of a split scenario (shard i's share of
// its connections and rate)" after it for a shard's segment of a split
// scenario (docs/scale-out.md).
//
// The Thread Stats are computed from s's HDR histograms (3 significant
// digits), each value taken as the middle of its bucket; the standard
// deviation is the sample one, as wrk's. The Latency Distribution prints
// the record's percentiles (s.Latency, [result.Percentile]: HdrHistogram's
// ValueAtQuantile), so that the text and the JSON agree; wrk's own rank
// and bucket middle would differ from them by up to a bucket and a rank.
// An empty latency histogram (no completed request) prints "-" in the
// Latency row and the distribution, as the summary does, rather than
// wrk's 0.00us and -nan%. WriteWrk returns the first error of w or of
// decoding a histogram; it does not keep s.
func WriteWrk(w io.Writer, s *result.Scenario, o WrkOptions) error {
	if s == nil {
		return errors.New("report: write wrk report: no result")
	}
	latency, err := s.LatencyHistogram.Decode()
	if err != nil {
		return fmt.Errorf("report: write wrk report: latency: %w", err)
	}
	rate, err := s.RateHistogram.Decode()
	if err != nil {
		return fmt.Errorf("report: write wrk report: requests per second: %w", err)
	}
	elapsed := time.Duration(math.Round(s.ElapsedSeconds * 1e9))
	var b strings.Builder
	// wrk takes whole seconds only; a shorter or fractional duration is
	// printed as Go writes it (300ms, 1.5s) rather than rounded to 0s.
	duration := time.Duration(math.Round(s.DurationSeconds * 1e9))
	running := duration.String()
	if duration%time.Second == 0 {
		running = formatUnits(duration.Seconds(), timeSeconds, 0)
	}
	if in := s.Instructions; in != nil {
		// An instruction lane counts requests, not seconds.
		running = fmt.Sprintf("%d-request callgrind", s.Sent)
	}
	fmt.Fprintf(&b, "Running %s test @ %s\n", running, s.URL)
	fmt.Fprintf(&b, "  %d threads and %d connections\n", s.Threads, s.Connections)
	if sg := s.Segment; sg != nil {
		fmt.Fprintf(&b, "  Segment %d of %d of a split scenario (shard %d's share of its connections and rate)\n", sg.Index+1, sg.Count, sg.Index)
	}
	if rr := s.Repeats; len(rr) > 1 {
		each := make([]string, len(rr))
		for i := range rr {
			each[i] = fmt.Sprintf("%.2f", rr[i].RequestsPerSecond)
		}
		fmt.Fprintf(&b, "  %d repeats, Requests/sec each: %s\n", len(rr), strings.Join(each, ", "))
	}
	fmt.Fprintf(&b, "  Thread Stats%6s%11s%8s%12s\n", "Avg", "Stdev", "Max", "+/- Stdev")
	noLatency := latency == nil || latency.TotalCount() == 0
	if noLatency {
		// No response, no latency: "-" as in the summary, not wrk's
		// 0.00us and -nan%.
		fmt.Fprintf(&b, "    %-10s%8s%10s%9s%9s\n", "Latency", "-", "-", "-", "-")
	} else {
		b.WriteString(statsLine("Latency", histStats(latency), formatTimeMicros))
	}
	b.WriteString(statsLine("Req/Sec", histStats(rate), formatMetric))
	if o.Latency {
		// The record's percentiles (result.Percentile), as its JSON has
		// them, not wrk's own rank and bucket middle.
		b.WriteString("  Latency Distribution\n")
		var values [4]float64
		if l := s.Latency; l != nil {
			values = [4]float64{l.P50, l.P75, l.P90, l.P99}
		}
		for i, p := range [4]float64{50, 75, 90, 99} {
			fmt.Fprintf(&b, "%7.0f%%", p)
			if s.Latency == nil {
				fmt.Fprintf(&b, "%10s", "-")
			} else {
				b.WriteString(units(values[i]*1e6, formatTimeMicros, 10))
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "  %d requests in %s, %sB read\n",
		s.Requests, formatTimeMicros(float64(elapsed.Microseconds())), formatBinary(float64(s.BytesRead)))
	e := s.Errors
	// wrk has no "closed" kind: a kept-alive connection closed by the
	// server is a read error to wrk, so it is added to read here.
	if e.Total() > 0 {
		fmt.Fprintf(&b, "  Socket errors: connect %d, read %d, write %d, timeout %d\n",
			e[engine.KindConnect], e[engine.KindRead]+e[engine.KindClosed], e[engine.KindWrite], e[engine.KindTimeout])
	}
	if s.LateResponses > 0 || s.LateResponsesPending > 0 {
		fmt.Fprintf(&b, "  Late responses: %d", s.LateResponses)
		if s.LateResponsesPending > 0 {
			fmt.Fprintf(&b, " (%d pending at close)", s.LateResponsesPending)
		}
		if l := s.LateResponseLatency; l != nil && l.Count > 0 {
			fmt.Fprintf(&b, ", latency p50 %s, p99 %s, max %s", formatTimeMicros(l.P50*1e6), formatTimeMicros(l.P99*1e6), formatTimeMicros(l.Max*1e6))
		}
		b.WriteString("\n")
	}
	non2xx3xx := s.Responses[engine.Class4xx] + s.Responses[engine.Class5xx]
	if non2xx3xx > 0 {
		fmt.Fprintf(&b, "  Non-2xx or 3xx responses: %d\n", non2xx3xx)
	}
	if s.Unexpected > 0 && s.Unexpected != non2xx3xx {
		fmt.Fprintf(&b, "  Unexpected responses: %d\n", s.Unexpected)
	}
	if s.InFlight > 0 {
		fmt.Fprintf(&b, "  In flight at end: %d\n", s.InFlight)
	}
	// An unmanaged target's own CPU is in the foreign figure: not shown.
	if c := s.CPU; c != nil && c.Managed {
		b.WriteString("  CPU:")
		if c.TargetSecondsPerRequest > 0 {
			fmt.Fprintf(&b, " target %s per request,", strings.TrimSpace(formatTimeMicros(c.TargetSecondsPerRequest*1e6)))
		}
		fmt.Fprintf(&b, " foreign %.0f%%\n", c.ForeignRatio*100)
	}
	if ol := s.OpenLoop; ol != nil {
		// wrk2 leaves a missed rate to be read off Requests/sec: say it.
		fmt.Fprintf(&b, "  Rate: target %.2f/s, achieved %.2f/s; %d started late, %d not sent\n",
			ol.TargetRequestsPerSecond, ol.AchievedRequestsPerSecond, ol.StartedLate, ol.NotSent)
		b.WriteString("  Latency counts from each request's intended send time (corrected for coordinated omission)")
		if u := ol.UncorrectedLatency; u != nil && u.Count > 0 {
			fmt.Fprintf(&b, "; from its actual send: p50 %s, p99 %s", strings.TrimSpace(formatTimeMicros(u.P50*1e6)), strings.TrimSpace(formatTimeMicros(u.P99*1e6)))
		}
		b.WriteString("\n")
	}
	if in := s.Instructions; in != nil {
		fmt.Fprintf(&b, "  Instructions: %.0f per request (callgrind, %d requests, %d processes)\n", in.PerRequest, in.Requests, in.Processes)
	}
	if len(s.InvalidReasons) > 0 {
		fmt.Fprintf(&b, "  Left out of the regression detector: %s\n", strings.Join(s.InvalidReasons, ", "))
	}
	fmt.Fprintf(&b, "Requests/sec: %9.2f\n", s.RequestsPerSecond)
	fmt.Fprintf(&b, "Transfer/sec: %10sB\n", formatBinary(s.TransferBytesPerSecond))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("exporters: write wrk report: %w", err)
	}
	return nil
}

// stats are wrk's figures of one distribution.
type stats struct {
	count       int64
	mean, stdev float64
	max         float64
	// within is the percentage of values within one stdev of the mean;
	// NaN without values, as wrk's 0/0.
	within float64
}

// histStats computes wrk's statistics from h, each value taken as the
// middle of its HDR bucket (as hdrhistogram's own Mean). A nil h is empty.
func histStats(h *hdrhistogram.Histogram) stats {
	s := stats{within: math.NaN()}
	if h == nil || h.TotalCount() == 0 {
		return s
	}
	s.count = h.TotalCount()
	bars := h.Distribution()
	mid := bucketMiddle
	var sum float64
	for _, b := range bars {
		sum += float64(b.Count) * mid(b)
	}
	s.mean = sum / float64(s.count)
	if s.count > 1 {
		var dev float64
		for _, b := range bars {
			if b.Count > 0 {
				d := mid(b) - s.mean
				dev += d * d * float64(b.Count)
			}
		}
		s.stdev = math.Sqrt(dev / float64(s.count-1))
	}
	var in int64
	for _, b := range bars {
		if v := mid(b); b.Count > 0 && v >= s.mean-s.stdev && v <= s.mean+s.stdev {
			in += b.Count
		}
	}
	s.within = float64(in) / float64(s.count) * 100
	for _, bar := range slices.Backward(bars) {
		if bar.Count > 0 {
			s.max = bucketMiddle(bar)
			break
		}
	}
	return s
}

// bucketMiddle is the value that stands for the values of one HDR bucket:
// its middle, as hdrhistogram's Mean takes it. Values below 2048 have
// buckets of their own and are exact.
func bucketMiddle(b hdrhistogram.Bar) float64 { return float64(b.From + (b.To-b.From+1)/2) }

// statsLine formats one row of wrk's Thread Stats table.
func statsLine(name string, s stats, format func(float64) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    %-10s", name)
	b.WriteString(units(s.mean, format, 8))
	b.WriteString(units(s.stdev, format, 10))
	b.WriteString(units(s.max, format, 9))
	if math.IsNaN(s.within) {
		// glibc prints 0/0 as "-nan", which is what wrk shows.
		fmt.Fprintf(&b, "%8s%%\n", "-nan")
	} else {
		fmt.Fprintf(&b, "%8.2f%%\n", s.within)
	}
	return b.String()
}

// units right-aligns a formatted number in width columns so that its digits
// line up whatever the unit's length (wrk's print_units): one- and
// two-letter units take the padding's place. Longer text is cut to width,
// as wrk's printf precision does.
func units(n float64, format func(float64) string, width int) string {
	msg := format(n)
	pad := 2
	if l := len(msg); l > 0 && isLetter(msg[l-1]) {
		pad--
		if l > 1 && isLetter(msg[l-2]) {
			pad--
		}
	}
	width -= pad
	return fmt.Sprintf("%*.*s%s", width, width, msg, "  "[:pad])
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// unitScale is one of wrk's unit ladders.
type unitScale struct {
	scale float64
	base  string
	units []string
}

var (
	timeMicros  = unitScale{scale: 1000, base: "us", units: []string{"ms", "s"}}
	timeSeconds = unitScale{scale: 60, base: "s", units: []string{"m", "h"}}
	binary      = unitScale{scale: 1024, base: "", units: []string{"K", "M", "G", "T", "P"}}
	metric      = unitScale{scale: 1000, base: "", units: []string{"k", "M", "G", "T", "P"}}
)

// formatUnits formats n with prec decimals in the largest unit of u it
// reaches, stepping up once n is 85% of the next unit, as wrk does (so
// 860 requests/s print as 0.86k); the last unit of a ladder is never used.
func formatUnits(n float64, u unitScale, prec int) string {
	amt, unit := n, u.base
	for i := 0; i+1 < len(u.units) && amt >= u.scale*0.85; i++ {
		amt /= u.scale
		unit = u.units[i]
	}
	return strconv.FormatFloat(amt, 'f', prec, 64) + unit
}

// formatTimeMicros formats a duration in microseconds: us, ms, s or m.
func formatTimeMicros(n float64) string {
	if n >= 1e6 {
		return formatUnits(n/1e6, timeSeconds, 2)
	}
	return formatUnits(n, timeMicros, 2)
}

// formatMetric formats a count with k, M, G, T.
func formatMetric(n float64) string { return formatUnits(n, metric, 2) }

// formatBinary formats a byte count with K, M, G, T (powers of 1024).
func formatBinary(n float64) string { return formatUnits(n, binary, 2) }
