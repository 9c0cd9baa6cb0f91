package pipeline

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseSize: a size is never negative, and an error says the fix.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "512MB", "1.5GB", "-1MB", "12XB", "", "1KiB", "9999999999999EB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Errorf("ParseSize(%q) = %d, no error", s, n)
		}
		if err != nil && !strings.Contains(err.Error(), "0 for no bound") {
			t.Errorf("ParseSize(%q) error %q does not say the fix", s, err)
		}
	})
}

func TestParseRetention(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * day, true},
		{"2w", 14 * day, true},
		{"1y", 365 * day, true},
		{"1y2w3d", (365 + 14 + 3) * day, true},
		{"0", 0, true},
		{"2160h0m0s", 90 * day, true},
		{"1.5h", 90 * time.Minute, true},
		{"-1h", -time.Hour, true},
		{"3q", 0, false},
		{"", 0, false},
		{"1Y", 0, false},
	} {
		got, err := ParseRetention(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRetention(%q) = %s, %v; want %s, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseRetention: an error says the fix; what is accepted prints back
// as a duration that parses to the same value.
func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{"0", "90d", "1y", "1y2w", "1.5h", "-1h", "3q", "", "999999999y", "1ns", "1h1us"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseRetention(s)
		if err != nil {
			if !strings.Contains(err.Error(), "0 to keep the history forever") {
				t.Errorf("ParseRetention(%q) error %q does not say the fix", s, err)
			}
			return
		}
		if back, err := ParseRetention(FormatRetention(d)); err != nil || back != d {
			t.Errorf("ParseRetention(%q) = %s, which parses back as %s, %v", s, d, back, err)
		}
	})
}
