package engine

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidHeader is wrapped by the errors of [ParseHeader]. (A bad
// Plan.Headers entry makes Run fail with [ErrInvalidPlan] instead.)
var ErrInvalidHeader = errors.New("engine: invalid header")

// ParseHeader parses one header in the syntax of wrk's -H flag, "Name: value".
// The name is everything before the first colon and must be a non-empty
// HTTP token (no spaces); the value is the rest, with leading and trailing
// spaces and tabs removed, and may be empty. Errors wrap [ErrInvalidHeader]
// and quote s. ParseHeader is safe for concurrent use.
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return Header{}, fmt.Errorf("%w %q: want \"Name: value\"", ErrInvalidHeader, s)
	}
	h := Header{Name: name, Value: strings.Trim(value, " \t")}
	if err := checkHeader(h); err != nil {
		return Header{}, fmt.Errorf("%w %q: %w", ErrInvalidHeader, s, err)
	}
	return h, nil
}

// checkHeader reports whether h can be written as a header line as is.
func checkHeader(h Header) error {
	if !validToken(h.Name) {
		return fmt.Errorf("name %q is not an HTTP token (letters, digits and %s only, no spaces)", h.Name, tokenChars)
	}
	for i := 0; i < len(h.Value); i++ {
		if c := h.Value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("value of %s has control character %#02x (header values cannot hold line breaks or other control characters)", h.Name, c)
		}
	}
	if v := h.Value; v != strings.Trim(v, " \t") {
		return fmt.Errorf("value of %s has leading or trailing white space (remove it)", h.Name)
	}
	return nil
}

// tokenChars are the characters of an HTTP token besides letters and digits
// (RFC 9110, section 5.6.2).
const tokenChars = "!#$%&'*+-.^_`|~"

// validToken reports whether s is a non-empty RFC 9110 token.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(tokenChars, c) >= 0:
		default:
			return false
		}
	}
	return true
}
