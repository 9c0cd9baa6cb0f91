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

// FuzzDecodeRepeats feeds the repeats column (JSON that a hand-edited or
// damaged database may hold) to the decoder: it errors or round-trips.
func FuzzDecodeRepeats(f *testing.F) {
	f.Add(`[{"requests_per_second":5530.5,"latency_p50_seconds":0.002,"latency_p99_seconds":null,"error_ratio":0,"timeout_ratio":0.01}]`)
	f.Add(`[]`)
	f.Add(`null`)
	f.Add(`[{"requests_per_second":"x"}]`)
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := decodeRepeats(s)
		if err != nil {
			return
		}
		enc, err := encodeRepeats(rs)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := decodeRepeats(enc)
		if err != nil || len(again) != len(rs) {
			t.Fatalf("round trip of %q: %d repeats, %v; want %d", enc, len(again), err, len(rs))
		}
	})
}
