package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MaxDocumentBytes bounds what [ParseWrkMarkdown] reads: results documents
// are a few kilobytes; more is refused rather than held in memory.
const MaxDocumentBytes = 16 << 20

// Document is a results document parsed by [ParseWrkMarkdown]: wrk output
// pasted under Markdown headings, as the seed document and
// `benchd matrix --format markdown` lay it out.
type Document struct {
	// Title is the text of the first "# " heading; empty without one.
	Title string
	// Cells are the wrk blocks in document order.
	Cells []Cell
}

// Cell is one wrk block of a [Document] with the headings above it.
type Cell struct {
	// Server, Endpoint and Mode are the texts of the nearest "## ",
	// "### " and "#### " headings above the block, trimmed; a heading
	// resets the deeper ones, so Mode is empty under an endpoint heading
	// without a mode heading.
	Server, Endpoint, Mode string
	// Line is the 1-based line of the block's opening fence.
	Line int
	// Wrk holds the figures of the block.
	Wrk WrkFigures
}

// WrkFigures are the figures of one wrk text report. Times are in
// seconds, sizes in bytes; a figure the block does not show is NaN (for
// floats) or 0 (for counts).
type WrkFigures struct {
	// URL and DurationSeconds are from "Running 10s test @ URL".
	URL             string
	DurationSeconds float64
	// Threads and Connections are from "20 threads and 2000 connections".
	Threads, Connections int
	// LatencyMean and LatencyMax are the Avg and Max of the Thread Stats
	// Latency line; NaN without it. wrk prints 0.00us for both when no
	// request completed, benchd "-", which reads as NaN.
	LatencyMean, LatencyMax float64
	// Percentiles maps 50, 75, 90 and 99 to seconds, from a "Latency
	// Distribution" block (wrk --latency); nil without one.
	Percentiles map[float64]float64
	// Requests and ElapsedSeconds are from "N requests in 10.03s, ..."
	// and BytesRead from its "93.92MB read" (wrk's K, M, G are powers of
	// 1024, and two decimals make it approximate).
	Requests       uint64
	ElapsedSeconds float64
	BytesRead      float64
	// Connect, Read, Write and Timeouts are from "Socket errors: ..."; all
	// 0 when the line is absent, as wrk leaves it out without errors.
	Connect, Read, Write, Timeouts uint64
	// Non2xx3xx is from "Non-2xx or 3xx responses: N".
	Non2xx3xx uint64
	// RequestsPerSecond is from "Requests/sec:"; a block without this line
	// is not taken as a wrk block.
	RequestsPerSecond float64
}

// P99 returns the 99th percentile latency in seconds, NaN when the block
// has no Latency Distribution.
func (f WrkFigures) P99() float64 {
	if v, ok := f.Percentiles[99]; ok {
		return v
	}
	return math.NaN()
}

// ParseWrkMarkdown reads a Markdown results document from r: headings
// "# title", "## server", "### endpoint", "#### Sync" (or any mode), each
// followed by a fenced block of wrk 4 output. Fenced blocks without a
// "Requests/sec:" line, and text outside fences, are skipped; so are
// lines of a wrk block it does not know (benchd's "In flight at end",
// repeats). Numbers take wrk's units: us, ms, s, m, h for times; k, M, G
// for counts; KB, MB, GB (powers of 1024) for sizes.
//
// It returns an error naming the line of a known wrk line whose number
// does not parse, of a fence left open at the end, or of a document larger
// than [MaxDocumentBytes]; r's own errors are wrapped. It does not keep r.
func ParseWrkMarkdown(r io.Reader) (*Document, error) {
	d := &Document{}
	sc := bufio.NewScanner(io.LimitReader(r, MaxDocumentBytes+1))
	sc.Buffer(make([]byte, 0, 64<<10), MaxDocumentBytes+1)
	var (
		server, endpoint, mode string
		fence                  string // the opening fence while inside a block
		fenceLine              int
		block                  []string
		blockStart             int
		n, size                int
		titled                 bool
	)
	for sc.Scan() {
		n++
		size += len(sc.Bytes()) + 1
		if size > MaxDocumentBytes+1 {
			return nil, fmt.Errorf("report: parse results document: larger than %d bytes", MaxDocumentBytes)
		}
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
				fence = ""
				f, ok, err := parseWrk(block, blockStart)
				if err != nil {
					return nil, err
				}
				if ok {
					d.Cells = append(d.Cells, Cell{Server: server, Endpoint: endpoint, Mode: mode, Line: fenceLine, Wrk: f})
				}
				block = block[:0]
				continue
			}
			block = append(block, trimmed)
			continue
		}
		if f := openingFence(trimmed); f != "" {
			fence, fenceLine, blockStart = f, n, n+1
			continue
		}
		level, text := heading(trimmed)
		switch level {
		case 1:
			if !titled {
				d.Title, titled = text, true
			}
		case 2:
			server, endpoint, mode = text, "", ""
		case 3:
			endpoint, mode = text, ""
		case 4:
			mode = text
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("report: parse results document: larger than %d bytes", MaxDocumentBytes)
		}
		return nil, fmt.Errorf("report: parse results document: %w", err)
	}
	if fence != "" {
		return nil, fmt.Errorf("report: parse results document: line %d: code fence %s is never closed", fenceLine, fence)
	}
	return d, nil
}

// openingFence returns the fence of a line opening a fenced code block
// (three or more backticks or tildes, then an optional info string), or
// "".
func openingFence(s string) string {
	if len(s) < 3 || (s[0] != '`' && s[0] != '~') {
		return ""
	}
	i := 0
	for i < len(s) && s[i] == s[0] {
		i++
	}
	if i < 3 || (s[0] == '`' && strings.Contains(s[i:], "`")) {
		return ""
	}
	return s[:i]
}

// heading returns the level (1 to 6) and text of an ATX heading line, or 0.
func heading(s string) (int, string) {
	i := 0
	for i < len(s) && i < 7 && s[i] == '#' {
		i++
	}
	if i == 0 || i > 6 || (i < len(s) && s[i] != ' ' && s[i] != '\t') {
		return 0, ""
	}
	text := strings.TrimSpace(s[i:])
	// An optional closing sequence of #s is not part of the text.
	if t := strings.TrimRight(text, "#"); t != text && (t == "" || strings.HasSuffix(t, " ")) {
		text = strings.TrimSpace(t)
	}
	return i, text
}

// parseWrk reads the figures of one fenced block, its lines trimmed;
// first is the document line of lines[0]. ok is false when the block has
// no Requests/sec line (not wrk output).
func parseWrk(lines []string, first int) (f WrkFigures, ok bool, err error) {
	f = WrkFigures{LatencyMean: math.NaN(), LatencyMax: math.NaN(), DurationSeconds: math.NaN(),
		ElapsedSeconds: math.NaN(), BytesRead: math.NaN(), RequestsPerSecond: math.NaN()}
	inDistribution := false
	for i, l := range lines {
		bad := func(what string, e error) error {
			return fmt.Errorf("report: parse results document: line %d: %s in %q: %w", first+i, what, l, e)
		}
		fields := strings.Fields(l)
		if inDistribution {
			if p, ok := strings.CutSuffix(firstField(fields), "%"); ok && len(fields) == 2 {
				q, e1 := strconv.ParseFloat(p, 64)
				v, e2 := parseLatency(fields[1])
				if e := errors.Join(e1, e2); e != nil {
					return f, false, bad("latency percentile", e)
				}
				f.Percentiles[q] = v
				continue
			}
			inDistribution = false
		}
		switch {
		case strings.HasPrefix(l, "Running ") && strings.Contains(l, " test @ "):
			head, url, _ := strings.Cut(strings.TrimPrefix(l, "Running "), " test @ ")
			f.URL = strings.TrimSpace(url)
			if f.DurationSeconds, err = parseTime(head); err != nil {
				return f, false, bad("test duration", err)
			}
		case len(fields) == 5 && fields[1] == "threads" && fields[2] == "and" && fields[4] == "connections":
			t, e1 := strconv.Atoi(fields[0])
			c, e2 := strconv.Atoi(fields[3])
			if e := errors.Join(e1, e2); e != nil {
				return f, false, bad("threads and connections", e)
			}
			f.Threads, f.Connections = t, c
		case len(fields) == 5 && fields[0] == "Latency":
			avg, e1 := parseLatency(fields[1])
			mx, e2 := parseLatency(fields[3])
			if e := errors.Join(e1, e2); e != nil {
				return f, false, bad("latency", e)
			}
			f.LatencyMean, f.LatencyMax = avg, mx
		case l == "Latency Distribution":
			inDistribution = true
			f.Percentiles = map[float64]float64{}
		case len(fields) >= 4 && fields[1] == "requests" && fields[2] == "in":
			reqs, e1 := strconv.ParseUint(fields[0], 10, 64)
			el, e2 := parseTime(strings.TrimSuffix(fields[3], ","))
			var e3 error
			if len(fields) >= 6 && fields[5] == "read" {
				f.BytesRead, e3 = parseBytes(fields[4])
			}
			if e := errors.Join(e1, e2, e3); e != nil {
				return f, false, bad("requests", e)
			}
			f.Requests, f.ElapsedSeconds = reqs, el
		case strings.HasPrefix(l, "Socket errors:"):
			for part := range strings.SplitSeq(strings.TrimPrefix(l, "Socket errors:"), ",") {
				kind, count, found := strings.Cut(strings.TrimSpace(part), " ")
				v, e := strconv.ParseUint(strings.TrimSpace(count), 10, 64)
				if !found || e != nil {
					return f, false, bad("socket errors", errors.Join(e, errors.New("want kind and count")))
				}
				switch kind {
				case "connect":
					f.Connect = v
				case "read":
					f.Read = v
				case "write":
					f.Write = v
				case "timeout":
					f.Timeouts = v
				}
			}
		case strings.HasPrefix(l, "Non-2xx or 3xx responses:"):
			v, e := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(l, "Non-2xx or 3xx responses:")), 10, 64)
			if e != nil {
				return f, false, bad("non-2xx or 3xx responses", e)
			}
			f.Non2xx3xx = v
		case strings.HasPrefix(l, "Requests/sec:"):
			v, e := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(l, "Requests/sec:")), 64)
			if e != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return f, false, bad("requests/sec", errors.Join(e, errors.New("want a number of at least 0")))
			}
			f.RequestsPerSecond, ok = v, true
		}
	}
	return f, ok, nil
}

func firstField(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// parseTime reads a wrk duration, such as 266.45ms, 2.00s, 0.00us, 1.50m,
// 10s, in seconds.
func parseTime(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"us", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			return parseScaled(num, u.scale, s)
		}
	}
	return 0, fmt.Errorf("time %q has no unit (us, ms, s, m or h)", s)
}

// parseBytes reads a wrk size such as 93.92MB or 0.00B, in bytes (K, M, G,
// T, P are powers of 1024).
func parseBytes(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "B")
	if !ok {
		return 0, fmt.Errorf("size %q does not end in B", s)
	}
	scale := 1.0
	if i := strings.IndexByte("KMGTP", lastByte(num)); i >= 0 {
		num = num[:len(num)-1]
		scale = math.Pow(1024, float64(i+1))
	}
	return parseScaled(num, scale, s)
}

func lastByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[len(s)-1]
}

// parseScaled parses num, a finite number of at least 0, times scale.
func parseScaled(num string, scale float64, whole string) (float64, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is not a number of at least 0 with a unit", whole)
	}
	return v * scale, nil
}

// parseLatency is parseTime, with benchd's "-" (no request completed)
// read as NaN.
func parseLatency(s string) (float64, error) {
	if s == "-" {
		return math.NaN(), nil
	}
	return parseTime(s)
}
