package engine

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestParseHead(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		n      int // -1: the whole input
		status int
		length int64
		close  bool
		err    string // "" means none
	}{
		{name: "content length", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", n: -1, status: 200, length: 2},
		{name: "head then body", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", n: 38, status: 200, length: 2},
		{name: "incomplete", in: "HTTP/1.1 200 OK\r\nContent-Le", n: 0, length: -2},
		{name: "incomplete status line", in: "HTTP/1.1 20", n: 0, length: -2},
		{name: "empty", in: "", n: 0, length: -2},
		{name: "no reason", in: "HTTP/1.1 204\r\n\r\n", n: -1, status: 204, length: -2},
		{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", n: -1, status: 200, length: -1},
		{name: "chunked any case", in: "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n", n: -1, status: 200, length: -1},
		{name: "no length: until close", in: "HTTP/1.1 200 OK\r\n\r\n", n: -1, status: 200, length: -2, close: true},
		{name: "204 without length", in: "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", n: -1, status: 204, length: -2},
		{name: "304 with length", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", n: -1, status: 304, length: 1234},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", n: -1, status: 200, length: 0, close: true},
		{name: "connection close in a list", in: "HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n", n: -1, status: 200, length: 0, close: true},
		{name: "HTTP/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", n: -1, status: 200, length: 0, close: true},
		{name: "HTTP/1.0 kept alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", n: -1, status: 200, length: 0},
		{name: "HTTP/1.0 ignores chunked", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", n: -1, status: 200, length: 3},
		{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", n: -1, status: 200, length: 0},
		{name: "empty lines first", in: "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", n: -1, status: 200, length: 0},
		{name: "white space around value", in: "HTTP/1.1 200 OK\r\nContent-Length:   7 \t\r\n\r\n", n: -1, status: 200, length: 7},
		{name: "not http", in: "NOT HTTP AT ALL\r\n\r\n", err: "invalid status code"},
		{name: "garbage", in: "garbage\r\n\r\n", err: "no space"},
		{name: "short status", in: "HTTP/1.1 20 OK\r\n\r\n", err: "invalid status code"},
		{name: "letters in status", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: "invalid status code"},
		{name: "bad version", in: "HTTP/11 200 OK\r\n\r\n", err: "unsupported HTTP version"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n", err: "invalid Content-Length"},
		{name: "negative length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: "invalid Content-Length"},
		{name: "duplicate length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", err: "duplicate Content-Length"},
		{name: "other transfer encoding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: "unsupported Transfer-Encoding"},
		{name: "line without colon", in: "HTTP/1.1 200 OK\r\nContent-Length 1\r\n\r\n", err: "without a colon"},
		{name: "empty key", in: "HTTP/1.1 200 OK\r\n: 1\r\n\r\n", err: "invalid response header key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, h, err := parseHead([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.n
			if want < 0 {
				want = len(tt.in)
			}
			if n != want {
				t.Fatalf("head of %d bytes, want %d", n, want)
			}
			if n == 0 {
				return
			}
			if h.status != tt.status || h.contentLength != tt.length || h.close != tt.close {
				t.Errorf("status %d, length %d, close %t; want %d, %d, %t", h.status, h.contentLength, h.close, tt.status, tt.length, tt.close)
			}
		})
	}
}

// parsed is what feeding a response to a respParser came to.
type parsed struct {
	done      bool
	status    int
	seen      int64
	found     bool
	close     bool
	truncated bool
	rest      string // bytes after the response
	err       bool
}

// feedPieces feeds pieces to a new parser as the loop does: an incomplete
// head is given again with the next piece after it. eof tells it the
// stream closed after the pieces.
func feedPieces(pieces []string, rules *bodyRules, eof bool) parsed {
	var p respParser
	var pending []byte
	for i, piece := range pieces {
		data := slices.Concat(pending, []byte(piece))
		used, res, err := p.feed(data, rules)
		if err != nil {
			return parsed{err: true}
		}
		switch res {
		case feedHead:
			pending = bytes.Clone(data[used:])
			continue
		case feedDone:
			rest := string(data[used:]) + strings.Join(pieces[i+1:], "")
			return p.result(rules, rest)
		}
		pending = nil
	}
	if eof && p.eof() {
		return p.result(rules, "")
	}
	return parsed{}
}

func (p *respParser) result(rules *bodyRules, rest string) parsed {
	found := rules.contains != nil && int(p.match) == len(rules.contains.needle)
	return parsed{done: true, status: int(p.status), seen: p.seen, found: found, close: p.close, truncated: p.truncated(rules), rest: rest}
}

func TestRespParser(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	tests := []struct {
		name  string
		resp  string
		rules bodyRules // capBytes 0 means 1000
		eof   bool
		want  parsed
	}{
		{name: "content length", resp: ok, want: parsed{done: true, status: 200, seen: 2}},
		{name: "bytes after the response", resp: ok + "HTTP/1.1", want: parsed{done: true, status: 200, seen: 2, rest: "HTTP/1.1"}},
		{name: "zero length", resp: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", want: parsed{done: true, status: 200}},
		{name: "chunked", resp: chunked, want: parsed{done: true, status: 200, seen: 11}},
		{name: "chunked, extension and trailer", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\nA  \r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT",
			want: parsed{done: true, status: 200, seen: 15, rest: "NEXT"}},
		{name: "chunked, bare LF ends the trailer", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\n", want: parsed{done: true, status: 200, seen: 1}},
		{name: "chunk without CRLF after data", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX", want: parsed{err: true}},
		{name: "chunk size not hex", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", want: parsed{err: true}},
		{name: "chunk size with bare LF", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", want: parsed{err: true}},
		{name: "chunk size too long", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", want: parsed{err: true}},
		{name: "until close", resp: "HTTP/1.1 200 OK\r\n\r\nhello", eof: true, want: parsed{done: true, status: 200, seen: 5, close: true}},
		{name: "until close, not closed yet", resp: "HTTP/1.1 200 OK\r\n\r\nhello", want: parsed{}},
		{name: "closed inside the body", resp: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", eof: true, want: parsed{}},
		{name: "HEAD", resp: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", rules: bodyRules{skipBody: true}, want: parsed{done: true, status: 200}},
		{name: "204 has no body", resp: "HTTP/1.1 204 No Content\r\n\r\nNEXT", want: parsed{done: true, status: 204, rest: "NEXT"}},
		{name: "304 has no body", resp: "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", want: parsed{done: true, status: 304}},
		{name: "interim 100 skipped", resp: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + ok, want: parsed{done: true, status: 200, seen: 2}},
		{name: "101 is final", resp: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nRAW", want: parsed{done: true, status: 101, rest: "RAW"}},
		{name: "cut at the cap", resp: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", rules: bodyRules{capBytes: 4}, want: parsed{done: true, status: 200, seen: 5, truncated: true, rest: "56789"}},
		{name: "exactly the cap", resp: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0123", rules: bodyRules{capBytes: 4}, want: parsed{done: true, status: 200, seen: 4}},
		{name: "chunked cut at the cap", resp: chunked, rules: bodyRules{capBytes: 6}, want: parsed{done: true, status: 200, seen: 7, truncated: true, rest: "orld\r\n0\r\n\r\n"}},
		{name: "until close cut at the cap", resp: "HTTP/1.1 200 OK\r\n\r\nhello", rules: bodyRules{capBytes: 2}, want: parsed{done: true, status: 200, seen: 3, close: true, truncated: true, rest: "lo"}},
		{name: "match", resp: "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhay needle x", rules: bodyRules{contains: newMatcher("needle")}, want: parsed{done: true, status: 200, seen: 12, found: true}},
		{name: "match across chunks", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nnee\r\n3\r\ndle\r\n0\r\n\r\n", rules: bodyRules{contains: newMatcher("needle")}, want: parsed{done: true, status: 200, seen: 6, found: true}},
		{name: "no match in the head", resp: "HTTP/1.1 200 OK\r\nX-Needle: needle\r\nContent-Length: 2\r\n\r\nok", rules: bodyRules{contains: newMatcher("needle")}, want: parsed{done: true, status: 200, seen: 2}},
		{name: "no match past the cap", resp: "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhay needle x", rules: bodyRules{contains: newMatcher("needle"), capBytes: 8}, want: parsed{done: true, status: 200, seen: 9, truncated: true, rest: "e x"}},
		{name: "malformed", resp: "garbage\r\n\r\n", want: parsed{err: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := tt.rules
			if rules.capBytes == 0 {
				rules.capBytes = 1000
			}
			// Whole, cut in two at every offset, and byte by byte: the same.
			if got := feedPieces([]string{tt.resp}, &rules, tt.eof); got != tt.want {
				t.Fatalf("whole: %+v, want %+v", got, tt.want)
			}
			for cut := 1; cut < len(tt.resp); cut++ {
				if got := feedPieces([]string{tt.resp[:cut], tt.resp[cut:]}, &rules, tt.eof); got != tt.want {
					t.Fatalf("cut at %d: %+v, want %+v", cut, got, tt.want)
				}
			}
			var bytewise []string
			for i := range len(tt.resp) {
				bytewise = append(bytewise, tt.resp[i:i+1])
			}
			if got := feedPieces(bytewise, &rules, tt.eof); got != tt.want {
				t.Fatalf("byte by byte: %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseHeadTooLarge: a head longer than the read buffer is an error,
// as it is for the goroutine path's bufio.Reader.
func TestParseHeadTooLarge(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", readBufferBytes)
	var p respParser
	rules := bodyRules{capBytes: 1000}
	if _, _, err := p.feed([]byte(head), &rules); err == nil {
		t.Fatalf("no error for a head of %d bytes", len(head))
	}
	var q respParser
	if _, res, err := q.feed([]byte(head[:readBufferBytes-1]), &rules); err != nil || res != feedHead {
		t.Fatalf("%d bytes of a head: %v, %v; want feedHead", readBufferBytes-1, res, err)
	}
}

// FuzzParseHead checks parseHead against fasthttp's ResponseHeader.Read,
// which the goroutine path uses: where both accept a head, they agree on
// its length, status code, framing and whether the connection closes.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n",
		"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, h, err := parseHead(b)
		if err != nil || n == 0 {
			return
		}
		var fh fasthttp.ResponseHeader
		br := bufio.NewReaderSize(bytes.NewReader(b), readBufferBytes)
		if err := fh.Read(br); err != nil {
			return
		}
		if fn := len(b) - br.Buffered(); fn != n {
			t.Fatalf("%q: head of %d bytes, fasthttp %d", b, n, fn)
		}
		if fh.StatusCode() != h.status {
			t.Fatalf("%q: status %d, fasthttp %d", b, h.status, fh.StatusCode())
		}
		if !bodyless(h.status) && int64(fh.ContentLength()) != h.contentLength {
			t.Fatalf("%q: length %d, fasthttp %d", b, h.contentLength, fh.ContentLength())
		}
		if fh.ConnectionClose() != h.close {
			t.Fatalf("%q: close %t, fasthttp %t", b, h.close, fh.ConnectionClose())
		}
	})
}

// FuzzRespParser checks that how a response is cut into reads does not
// change what the parser makes of it.
func FuzzRespParser(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 30, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP"), 10, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\nneedle"), 3, true)
	f.Fuzz(func(t *testing.T, b []byte, cut int, eof bool) {
		if len(b) > 4096 || cut < 0 || cut > len(b) {
			return
		}
		rules := bodyRules{capBytes: 64, contains: newMatcher("needle")}
		whole := feedPieces([]string{string(b)}, &rules, eof)
		if split := feedPieces([]string{string(b[:cut]), string(b[cut:])}, &rules, eof); split != whole {
			t.Fatalf("%q cut at %d: %+v, whole %+v", b, cut, split, whole)
		}
	})
}
