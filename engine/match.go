package engine

import "bytes"

// matcher finds one byte string in a stream read in pieces, so that a match
// split across two reads is found (Knuth–Morris–Pratt over the stream; the
// standard library searches whole slices only). It allocates nothing after
// newMatcher and is read-only: the state of one stream is an int its
// caller keeps.
type matcher struct {
	needle []byte
	// fail[i] is the length of the longest proper prefix of needle[:i+1]
	// that is also a suffix of it.
	fail []int
}

// newMatcher returns a matcher of needle, which must not be empty.
func newMatcher(needle string) *matcher {
	m := &matcher{needle: []byte(needle), fail: make([]int, len(needle))}
	for i, k := 1, 0; i < len(m.needle); i++ {
		for k > 0 && m.needle[i] != m.needle[k] {
			k = m.fail[k-1]
		}
		if m.needle[i] == m.needle[k] {
			k++
		}
		m.fail[i] = k
	}
	return m
}

// feed advances state, the length of the needle's prefix that ended the
// stream so far (0 at its start), over p and returns the new state; it
// returns len(needle) once the needle was found, and keeps returning it.
func (m *matcher) feed(state int, p []byte) int {
	n := len(m.needle)
	if state == n {
		return n
	}
	for i := 0; i < len(p); i++ {
		if state == 0 {
			// Skip to the next possible start at memchr speed.
			j := bytes.IndexByte(p[i:], m.needle[0])
			if j < 0 {
				return 0
			}
			i += j
		}
		c := p[i]
		for state > 0 && m.needle[state] != c {
			state = m.fail[state-1]
		}
		if m.needle[state] == c {
			state++
		}
		if state == n {
			return n
		}
	}
	return state
}
