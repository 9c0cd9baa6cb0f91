package proc

import (
	"fmt"
	"unicode/utf8"
)

// printable returns b as text safe to print in a terminal and to store as
// an error: terminal escape sequences (CSI such as colours, OSC such as a
// window title, two-byte ESC x) are dropped, "\r\n" and a lone "\r" become
// "\n", tabs and newlines stay, other control bytes (NUL, DEL, C1) are
// written as \xNN, and invalid UTF-8 as U+FFFD.
func printable(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0x1b:
			i = skipEscape(b, i)
			continue
		case c == '\r':
			out = append(out, '\n')
			i++
			if i < len(b) && b[i] == '\n' {
				i++
			}
			continue
		case c == '\n' || c == '\t':
			out = append(out, c)
			i++
			continue
		case c < 0x20 || c == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			out = utf8.AppendRune(out, utf8.RuneError)
		case r >= 0x80 && r <= 0x9f: // C1 controls
			out = fmt.Appendf(out, `\x%02x`, r)
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// skipEscape returns the index after the escape sequence starting at
// b[i] (ESC): CSI "ESC [ parameters intermediates final", OSC "ESC ] ...
// BEL or ESC \", or ESC and one more byte; an unfinished sequence runs to
// the end of b.
func skipEscape(b []byte, i int) int {
	i++ // ESC
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '[':
		for i++; i < len(b); i++ {
			if b[i] >= 0x40 && b[i] <= 0x7e {
				return i + 1
			}
			if b[i] < 0x20 { // not a sequence after all: keep what follows
				return i
			}
		}
		return i
	case ']':
		for i++; i < len(b); i++ {
			if b[i] == 0x07 {
				return i + 1
			}
			if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\' {
				return i + 2
			}
			if b[i] == '\n' {
				return i
			}
		}
		return i
	}
	return i + 1
}
