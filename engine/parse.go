package engine

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// The event loop's response parser: what fasthttp's Response.ReadLimitBody
// does for the goroutine path, cut to what the engine needs (status code,
// framing, whether the connection stays open, the body as it passes), fed
// from the loop's read buffer piece by piece. It follows fasthttp's rules
// where they matter to a load generator: the same status line and header
// checks, 1xx interim responses skipped, no body for HEAD, 1xx, 204 and
// 304, chunked before Content-Length, an identity body without a length
// read until the close, HTTP/1.0 closed unless kept alive.

// maxInterimResponses bounds the 1xx responses skipped before a final one
// (fasthttp's limit).
const maxInterimResponses = 100

// maxChunkSizeDigits bounds the hex digits of a chunk size (fasthttp's
// limit on 64-bit machines).
const maxChunkSizeDigits = 15

// Errors of a malformed response; each is a read error.
var (
	errHeadTooLarge = fmt.Errorf("engine: response head larger than %d bytes", readBufferBytes)
	errBrokenChunk  = errors.New("engine: broken chunked body")
	errInterim      = errors.New("engine: too many 1xx informational responses")
)

// respHead is what the engine needs of a response head.
type respHead struct {
	status int
	// contentLength is the Content-Length, -1 for a chunked body, -2 for
	// none (an identity body read until the close).
	contentLength int64
	// close: the connection must be closed after this response.
	close bool
}

// bodyless reports whether a response of status has no body whatever its
// headers say (RFC 9110: 1xx, 204, 304).
func bodyless(status int) bool {
	return status < 200 || status == 204 || status == 304
}

// parseHead parses the response head at the start of b. n is its length
// in bytes with the empty line that ends it; n is 0, with a nil error,
// when b holds only part of a head. Lines end in CRLF or LF; empty lines
// before the status line are skipped.
func parseHead(b []byte) (n int, h respHead, err error) {
	h.contentLength = -2
	var line []byte
	for len(line) == 0 {
		var ok bool
		if line, n, ok = nextLine(b, n); !ok {
			return 0, h, nil
		}
	}
	http11, err := parseStatusLine(line, &h)
	if err != nil {
		return 0, h, err
	}
	keepAlive, lengthSeen, chunkedSeen := false, false, false
	for {
		var ok bool
		if line, n, ok = nextLine(b, n); !ok {
			return 0, h, nil
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return 0, h, fmt.Errorf("engine: response header line without a colon: %q", line)
		}
		key := trimRightBlanks(line[:colon])
		if len(key) == 0 || isBlank(key[0]) {
			return 0, h, fmt.Errorf("engine: invalid response header key %q", line[:colon])
		}
		if hasBlank(key) {
			// Tolerated, but the connection closes (as fasthttp).
			h.close = true
		}
		// Only three headers matter, so only their values are trimmed.
		var value []byte
		if len(key) == len("content-length") || len(key) == len("transfer-encoding") || len(key) == len("connection") {
			value = trimBlanks(line[colon+1:])
		}
		switch {
		case equalFold(key, "content-length"):
			if lengthSeen {
				return 0, h, errors.New("engine: duplicate Content-Length in the response")
			}
			lengthSeen = true
			cl, ok := parseDecimal(value)
			if !ok {
				return 0, h, fmt.Errorf("engine: invalid Content-Length %q in the response", value)
			}
			if h.contentLength != -1 {
				h.contentLength = cl
			}
		case equalFold(key, "transfer-encoding"):
			if !http11 {
				continue
			}
			if chunkedSeen {
				return 0, h, errors.New("engine: too many Transfer-Encoding headers in the response")
			}
			chunkedSeen = true
			if !equalFold(value, "chunked") {
				return 0, h, fmt.Errorf("engine: unsupported Transfer-Encoding %q in the response", value)
			}
			h.contentLength = -1
		case equalFold(key, "connection"):
			if hasToken(value, "close") {
				h.close = true
			}
			if hasToken(value, "keep-alive") {
				keepAlive = true
			}
		}
	}
	if h.contentLength == -2 && !bodyless(h.status) {
		h.close = true
	}
	if !http11 && !keepAlive {
		h.close = true
	}
	return n, h, nil
}

// nextLine returns the line of b starting at from, without its CRLF or
// LF, and the offset after it; ok is false when the line is not complete.
func nextLine(b []byte, from int) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(b[from:], '\n')
	if i < 0 {
		return nil, from, false
	}
	line = b[from : from+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, from + i + 1, true
}

// parseStatusLine parses "HTTP/d.d SP ddd [SP reason]" into h.status and
// reports whether the version is HTTP/1.1.
func parseStatusLine(line []byte, h *respHead) (http11 bool, err error) {
	proto, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return false, fmt.Errorf("engine: no space in the response's status line %q", line)
	}
	code, _, _ := bytes.Cut(bytes.TrimLeft(rest, " "), []byte{' '})
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return false, fmt.Errorf("engine: invalid status code %q in the response's status line %q", code, line)
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if h.status < 100 {
		return false, fmt.Errorf("engine: invalid status code %q in the response's status line %q (HTTP's are 100 to 999)", code, line)
	}
	if len(proto) != 8 || string(proto[:5]) != "HTTP/" || !isDigit(proto[5]) || proto[6] != '.' || !isDigit(proto[7]) {
		return false, fmt.Errorf("engine: unsupported HTTP version %q in the response", proto)
	}
	return string(proto) == "HTTP/1.1", nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseDecimal parses a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = 10*v + int64(c-'0')
	}
	return v, true
}

// equalFold reports whether b equals the lower-case ASCII s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if b[i]|0x20 != s[i] && b[i] != s[i] {
			return false
		}
	}
	return true
}

// isBlank tells a space or a tab, the white space around a header's key
// and value.
func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// trimBlanks cuts the spaces and tabs at both ends of b, trimRightBlanks
// at its end (bytes.Trim with a cutset builds the set at every call).
func trimBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return trimRightBlanks(b)
}

func trimRightBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// hasBlank tells whether b holds a space or a tab.
func hasBlank(b []byte) bool { return slices.ContainsFunc(b, isBlank) }

// hasToken reports whether the comma-separated list v holds the lower-case
// token tok, ignoring case and white space.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if equalFold(trimBlanks(item), tok) {
			return true
		}
	}
	return false
}

// bodyRules is how a response body is read: the run's settings.
type bodyRules struct {
	skipBody bool     // HEAD: no body
	capBytes int64    // MaxBodyBytes: a longer body is cut and its connection closed
	contains *matcher // Expect.BodyContains, nil when not matched
}

// Parser states.
const (
	psHead   uint8 = iota // reading the head
	psLength              // a body of Content-Length bytes
	psChunk               // a chunked body
	psClose               // a body read until the close
	psDone                // the response has ended
)

// Chunked body states.
const (
	chSize        uint8 = iota // hex digits of a chunk size
	chSizeEnd                  // white space or an extension, up to CR
	chSizeLF                   // LF after the size line
	chData                     // chunk data
	chDataCR                   // CR after the data
	chDataLF                   // LF after the data
	chTrailer                  // the start of a trailer line (after the last chunk)
	chTrailerLine              // inside a trailer line
	chEndLF                    // LF of the empty line that ends the body
)

// feedResult is what [respParser.feed] found.
type feedResult uint8

const (
	// feedMore: every byte was used; the response goes on.
	feedMore feedResult = iota
	// feedHead: the head is incomplete; the unused bytes must be given
	// again, followed by more.
	feedHead
	// feedDone: the response ended; the unused bytes come after it.
	feedDone
)

// respParser is the state of one response being read: a few dozen bytes,
// with nothing of the response kept but what the counts need. Its zero
// value is ready for a response.
type respParser struct {
	state   uint8
	chunk   uint8
	digits  uint8 // hex digits of the chunk size so far
	flags   uint8 // chunk size line: ext, white space seen
	interim uint8 // 1xx responses skipped
	close   bool  // the connection closes after the response
	status  int32
	match   int32 // the matcher's state
	// remaining is the Content-Length left, or the chunk's data left.
	remaining int64
	// seen counts the body bytes read (after chunked decoding), up to
	// capBytes+1: one past the cap means the body was cut.
	seen int64
}

const (
	chunkExt = 1 << iota // inside a chunk extension
	chunkOWS             // white space after the size
)

// feed parses b, the next bytes of the response, and returns how many it
// used and what it found; an error means the response is malformed.
func (p *respParser) feed(b []byte, rules *bodyRules) (used int, res feedResult, err error) {
	for used < len(b) {
		switch p.state {
		case psHead:
			n, h, err := parseHead(b[used:])
			if err != nil {
				return used, feedMore, err
			}
			if n == 0 {
				if len(b)-used >= readBufferBytes {
					return used, feedMore, errHeadTooLarge
				}
				return used, feedHead, nil
			}
			used += n
			if h.status >= 100 && h.status < 200 && h.status != 101 {
				if p.interim++; p.interim > maxInterimResponses {
					return used, feedMore, errInterim
				}
				continue
			}
			p.status, p.close = int32(h.status), h.close
			switch {
			case rules.skipBody || bodyless(h.status) || h.contentLength == 0:
				p.state = psDone
				return used, feedDone, nil
			case h.contentLength == -1:
				p.state, p.chunk = psChunk, chSize
			case h.contentLength == -2:
				p.state = psClose
			default:
				p.state, p.remaining = psLength, h.contentLength
			}
		case psLength:
			n := p.body(b[used:used+int(min(int64(len(b)-used), p.remaining))], rules)
			used += n
			p.remaining -= int64(n)
			if p.remaining == 0 || p.seen > rules.capBytes {
				p.state = psDone
				return used, feedDone, nil
			}
		case psClose:
			used += p.body(b[used:], rules)
			if p.seen > rules.capBytes {
				p.state = psDone
				return used, feedDone, nil
			}
		case psChunk:
			if p.chunk == chData {
				n := p.body(b[used:used+int(min(int64(len(b)-used), p.remaining))], rules)
				used += n
				p.remaining -= int64(n)
				if p.seen > rules.capBytes {
					p.state = psDone
					return used, feedDone, nil
				}
				if p.remaining == 0 {
					p.chunk = chDataCR
				}
				continue
			}
			done, err := p.chunkByte(b[used])
			if err != nil {
				return used, feedMore, err
			}
			used++
			if done {
				p.state = psDone
				return used, feedDone, nil
			}
		default:
			return used, feedDone, nil
		}
	}
	return used, feedMore, nil
}

// chunkByte advances the chunked framing over c, a byte outside chunk
// data, and reports whether the body has ended.
func (p *respParser) chunkByte(c byte) (done bool, err error) {
	switch p.chunk {
	case chSize:
		if v, ok := hexValue(c); ok {
			if p.digits++; p.digits > maxChunkSizeDigits {
				return false, errBrokenChunk
			}
			p.remaining = p.remaining<<4 | int64(v)
			return false, nil
		}
		if p.digits == 0 {
			return false, errBrokenChunk
		}
		p.chunk, p.flags = chSizeEnd, 0
		return p.chunkByte(c)
	case chSizeEnd:
		switch {
		case c == '\r':
			p.chunk = chSizeLF
		case c == '\n':
			return false, errBrokenChunk
		case p.flags&chunkExt != 0:
		case c == ' ' || c == '\t':
			p.flags |= chunkOWS
		case c == ';' && p.flags&chunkOWS == 0:
			p.flags |= chunkExt
		default:
			return false, errBrokenChunk
		}
	case chSizeLF:
		if c != '\n' {
			return false, errBrokenChunk
		}
		p.digits = 0
		if p.remaining == 0 {
			p.chunk = chTrailer
		} else {
			p.chunk = chData
		}
	case chDataCR:
		if c != '\r' {
			return false, errBrokenChunk
		}
		p.chunk = chDataLF
	case chDataLF:
		if c != '\n' {
			return false, errBrokenChunk
		}
		p.chunk = chSize
	case chTrailer:
		switch c {
		case '\r':
			p.chunk = chEndLF
		case '\n':
			return true, nil
		default:
			p.chunk = chTrailerLine
		}
	case chTrailerLine:
		if c == '\n' {
			p.chunk = chTrailer
		}
	case chEndLF:
		if c != '\n' {
			return false, errBrokenChunk
		}
		return true, nil
	}
	return false, nil
}

func hexValue(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// body takes the body bytes b, up to one past the cap, matching them
// against Expect.BodyContains within the cap; it returns how many it took.
func (p *respParser) body(b []byte, rules *bodyRules) int {
	n := min(int64(len(b)), rules.capBytes+1-p.seen)
	if m := rules.contains; m != nil && p.seen < rules.capBytes {
		p.match = int32(m.feed(int(p.match), b[:min(n, rules.capBytes-p.seen)]))
	}
	p.seen += n
	return int(n)
}

// eof tells p the connection was closed; it reports whether that ended the
// response (a body read until the close) rather than cut it.
func (p *respParser) eof() bool {
	if p.state == psClose {
		p.state = psDone
		return true
	}
	return p.state == psDone
}

// truncated reports whether the body was longer than the cap.
func (p *respParser) truncated(rules *bodyRules) bool { return p.seen > rules.capBytes }
