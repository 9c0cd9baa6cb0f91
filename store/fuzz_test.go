package store

import (
	"testing"
)

// FuzzDecodeHistogram feeds DecodeHistogram bytes as a damaged or hostile
// database file could hold them: it must return a histogram or an error,
// never panic, and whatever it decodes must encode again.
func FuzzDecodeHistogram(f *testing.F) {
	for _, seed := range []uint64{1, 2} {
		b, err := EncodeHistogram(testHistogram(seed, 100))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("HISTFAAAACB4nJNpmSzMwMDAzQABMDoAAkQAgw=="))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHistogram(b)
		if err != nil || h == nil {
			return
		}
		if _, err := EncodeHistogram(h); err != nil {
			t.Errorf("re-encode of a decoded histogram: %v", err)
		}
	})
}
