package engine

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// answer returns a keep-alive response of status code with body.
func answer(code int, body string) []byte {
	return []byte("HTTP/1.1 " + strconv.Itoa(code) + " X\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// inPieces answers with resp written in pieces, cut at each cut offset,
// with a pause between them so that the client reads them apart.
func inPieces(resp []byte, cuts ...int) behaviour {
	return func(c net.Conn, _ int) bool {
		from := 0
		for _, to := range append(cuts, len(resp)) {
			if _, err := c.Write(resp[from:to]); err != nil {
				return false
			}
			from = to
			time.Sleep(2 * time.Millisecond)
		}
		return true
	}
}

// cycle answers the n-th request of a connection with resps[n%len].
func cycle(resps ...[]byte) behaviour {
	return func(c net.Conn, n int) bool {
		_, err := c.Write(resps[n%len(resps)])
		return err == nil
	}
}

func TestRunExpect(t *testing.T) {
	body := "<html>" + strings.Repeat("x", 90) + "needle</html>" // 109 bytes
	ok := answer(200, body)
	chunked := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nxxnee\r\n6\r\ndlexxx\r\n0\r\n\r\n")
	tests := []struct {
		name   string
		server behaviour
		expect Expect
		max    int  // Plan.MaxBodyBytes
		want   bool // every response unexpected; else none
	}{
		{"default: 200", respond(ok), Expect{}, 0, false},
		{"default: 301", respond(answer(301, "")), Expect{}, 0, false},
		{"default: 404", respond(answer(404, "no")), Expect{}, 0, true},
		{"default: 503", respond(answer(503, "")), Expect{}, 0, true},
		{"status set: listed", respond(answer(301, "")), Expect{Status: []int{200, 301}}, 0, false},
		{"status set: not listed", respond(answer(302, "")), Expect{Status: []int{200, 301}}, 0, true},
		{"status set: 404 listed", respond(answer(404, "")), Expect{Status: []int{404}}, 0, false},
		{"contains: found", respond(ok), Expect{BodyContains: "needle"}, 0, false},
		{"contains: missing", respond(ok), Expect{BodyContains: "needles"}, 0, true},
		{"contains: in the head only", respond(answer(200, "body")), Expect{BodyContains: "Content-Length"}, 0, true},
		{"contains: split across reads", inPieces(ok, len(ok)-10, len(ok)-9), Expect{BodyContains: "needle"}, 0, false},
		{"contains: split across chunks", inPieces(chunked, 52), Expect{BodyContains: "needle"}, 0, false},
		{"contains: 204 has no body", respond([]byte("HTTP/1.1 204 No Content\r\n\r\n")), Expect{BodyContains: "x"}, 0, true},
		{"contains: past MaxBodyBytes", respond(ok), Expect{BodyContains: "needle"}, 100, true},
		{"size: in range", respond(ok), Expect{BodyMinBytes: 109, BodyMaxBytes: 109}, 0, false},
		{"size: too small", respond(ok), Expect{BodyMinBytes: 110}, 0, true},
		{"size: too large", respond(ok), Expect{BodyMaxBytes: 108}, 0, true},
		{"size: cut at MaxBodyBytes", respond(ok), Expect{BodyMaxBytes: 100}, 100, true},
		{"size: chunked", respond(chunked), Expect{BodyMinBytes: 11, BodyMaxBytes: 11}, 0, false},
		{"status fails, body passes: once", respond(answer(500, body)), Expect{BodyContains: "needle"}, 0, true},
		{"both fail: once", respond(answer(500, body)), Expect{BodyContains: "nope", BodyMaxBytes: 10}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startRaw(t, tt.server)
			p := Plan{URL: srv.url, Connections: 2, Threads: 1, Duration: 200 * time.Millisecond, Expect: tt.expect, MaxBodyBytes: tt.max}
			res, err := Run(t.Context(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, res)
			if res.Completed() == 0 || res.TotalErrors() != 0 {
				t.Fatalf("completed %d, errors %v; want responses only", res.Completed(), res.Errors)
			}
			want := uint64(0)
			if tt.want {
				want = res.Completed()
			}
			if res.Unexpected != want {
				t.Errorf("unexpected %d of %d responses, want %d", res.Unexpected, res.Completed(), want)
			}
			if got, want := res.ErrorRatio(), float64(want)/float64(res.Sent); got != want {
				t.Errorf("error ratio %v, want %v", got, want)
			}
		})
	}
}

// TestExpectDefaultIsNon2xx3xx checks that with the default Expect the
// error ratio is exactly the former (errors + 4xx + 5xx) / sent, over
// every class and the codes at their edges, errors included.
func TestExpectDefaultIsNon2xx3xx(t *testing.T) {
	var resps [][]byte
	for _, code := range []int{200, 299, 300, 399, 400, 404, 499, 500, 599} {
		resps = append(resps, answer(code, "b"))
	}
	// A malformed answer closes the connection: a read error, and a new
	// connection starts the cycle again.
	resps = append(resps, []byte("garbage\r\n\r\n"))
	srv := startRaw(t, cycle(resps...))
	res, err := Run(t.Context(), Plan{URL: srv.url, Connections: 2, Threads: 1, Duration: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, res)
	if res.Non2xx3xx() == 0 || res.Responses[Class2xx] == 0 || res.Responses[Class3xx] == 0 || res.Errors[KindRead] == 0 {
		t.Fatalf("responses %v, errors %v; want every class and read errors", res.Responses, res.Errors)
	}
	if res.Unexpected != res.Non2xx3xx() {
		t.Errorf("unexpected %d, want Non2xx3xx %d", res.Unexpected, res.Non2xx3xx())
	}
	if got, want := res.ErrorRatio(), float64(res.TotalErrors()+res.Non2xx3xx())/float64(res.Sent); got != want {
		t.Errorf("error ratio %v, want (errors + 4xx + 5xx) / sent = %v", got, want)
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		needle string
		pieces []string
		want   bool
	}{
		{"needle", []string{"a needle in"}, true},
		{"needle", []string{"a nee", "dle in"}, true},
		{"needle", []string{"n", "e", "e", "d", "l", "e"}, true},
		{"needle", []string{"neeneedl", "e"}, true},
		{"needle", []string{"needl", "", "x", "e"}, false},
		{"aab", []string{"aaa", "ab"}, true},
		{"abab", []string{"aba", "c", "abab"}, true},
		{"abab", []string{"abaab"}, false},
		{"x", []string{}, false},
	}
	for _, tt := range tests {
		m := newMatcher(tt.needle)
		state := 0
		for _, p := range tt.pieces {
			state = m.feed(state, []byte(p))
		}
		if got := state == len(tt.needle); got != tt.want {
			t.Errorf("%q in %q: found %v, want %v", tt.needle, tt.pieces, got, tt.want)
		}
	}
}

// FuzzMatcher checks the streaming match against bytes.Contains over the
// whole haystack, for every way of cutting it in two and in one-byte reads.
func FuzzMatcher(f *testing.F) {
	f.Add("needle", []byte("hay needle hay"))
	f.Add("aab", []byte("aaab"))
	f.Add("abcabd", []byte("abcabcabd"))
	f.Fuzz(func(t *testing.T, needle string, hay []byte) {
		if needle == "" || len(needle) > 64 || len(hay) > 512 {
			return
		}
		m := newMatcher(needle)
		want := bytes.Contains(hay, []byte(needle))
		for cut := 0; cut <= len(hay); cut++ {
			if got := m.feed(m.feed(0, hay[:cut]), hay[cut:]) == len(needle); got != want {
				t.Fatalf("%q in %q cut at %d: found %v, want %v", needle, hay, cut, got, want)
			}
		}
		state := 0
		for i := range hay {
			state = m.feed(state, hay[i:i+1])
		}
		if got := state == len(needle); got != want {
			t.Fatalf("%q in %q byte by byte: found %v, want %v", needle, hay, got, want)
		}
	})
}
