package proc

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzPrintable: whatever a target writes, the quoted text is valid UTF-8
// with no control byte but newline and tab, and plain text passes as is.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"plain\n", "\x1b[31mred\x1b[0m", "\x1b]0;t\x07x", "a\r\nb\rc", "nul\x00", "\xff\xfe", "\u0085x", "\x1b", "\x1b[", "\x1b]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := printable(in)
		if !utf8.Valid(out) {
			t.Fatalf("printable(%q) = %q: not UTF-8", in, out)
		}
		for _, r := range string(out) {
			if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) {
				t.Fatalf("printable(%q) = %q: holds %U", in, out, r)
			}
		}
		plain := true
		for _, r := range string(in) {
			plain = plain && r != utf8.RuneError && r >= 0x20 && (r < 0x7f || r > 0x9f)
		}
		if plain && utf8.Valid(in) && !bytes.Equal(out, in) {
			t.Fatalf("printable(%q) = %q, want it unchanged", in, out)
		}
	})
}
