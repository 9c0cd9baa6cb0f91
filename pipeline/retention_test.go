package pipeline

import (
	"strings"
	"testing"
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
