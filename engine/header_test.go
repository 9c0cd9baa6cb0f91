package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in      string
		want    Header
		wantErr bool
	}{
		{in: "Host: example.com", want: Header{Name: "Host", Value: "example.com"}},
		{in: "X-A:1", want: Header{Name: "X-A", Value: "1"}},
		{in: "X-A:  spaced value \t", want: Header{Name: "X-A", Value: "spaced value"}},
		{in: "Authorization: Bearer a:b:c", want: Header{Name: "Authorization", Value: "Bearer a:b:c"}},
		{in: "X-Empty:", want: Header{Name: "X-Empty", Value: ""}},
		{in: "no colon", wantErr: true},
		{in: ": value", wantErr: true},
		{in: "X A: 1", wantErr: true},
		{in: "X-A : 1", wantErr: true},
		{in: "X-A: 1\r\nX-B: 2", wantErr: true},
		{in: "X-A: a\x00b", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidHeader) || !strings.HasPrefix(err.Error(), "engine: ") {
					t.Fatalf("ParseHeader(%q) = %+v, %v; want ErrInvalidHeader", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseHeader(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"Host: example.com", "X-A:1", "a: b: c", "bad", "X: \r\n", " X: y", "X-A: \t v \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeader(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHeader) {
				t.Fatalf("ParseHeader(%q): error %v does not wrap ErrInvalidHeader", s, err)
			}
			return
		}
		if !validToken(h.Name) || strings.ContainsAny(h.Value, "\r\n\x00") {
			t.Fatalf("ParseHeader(%q) = %+v: not writable as a header line", s, h)
		}
		// A parsed header prints back to a line that parses to itself.
		again, err := ParseHeader(h.Name + ": " + h.Value)
		if err != nil || again != h {
			t.Fatalf("ParseHeader(%q) = %+v, but its line parses to %+v, %v", s, h, again, err)
		}
		// And the engine accepts it in a plan.
		_, err = compile(Plan{URL: "http://127.0.0.1/", Headers: []Header{h}})
		refused := strings.EqualFold(h.Name, "Content-Length") || strings.EqualFold(h.Name, "Transfer-Encoding") ||
			(strings.EqualFold(h.Name, "Host") && h.Value == "")
		if err != nil && !refused {
			t.Fatalf("plan with header %+v: %v", h, err)
		}
	})
}
