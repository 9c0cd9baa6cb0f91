package engine

import (
	"math/rand/v2"
	"testing"
)

// TestTimers drives the deadline heap with random sets, clears and pops
// against a plain array of due times: every timer pops once it is due,
// never before, and only the last set of a connection counts.
func TestTimers(t *testing.T) {
	const n = 50
	rng := rand.New(rand.NewPCG(1, 2))
	tm := newTimers(n)
	var due [n]int64
	now := int64(0)
	for step := range 20000 {
		id := int32(rng.IntN(n))
		switch op := rng.IntN(10); {
		case op < 5:
			// Mostly later, as request deadlines move; sometimes earlier.
			at := now + 1 + rng.Int64N(1000)
			tm.set(id, at)
			due[id] = at
		case op < 6:
			tm.clear(id)
			due[id] = 0
		default:
			now += rng.Int64N(100)
			popped := map[int32]bool{}
			for {
				got, ok := tm.pop(now)
				if !ok {
					break
				}
				if due[got] == 0 || due[got] > now || popped[got] {
					t.Fatalf("step %d: popped %d due at %d at %d (popped before: %t)", step, got, due[got], now, popped[got])
				}
				popped[got] = true
				due[got] = 0
			}
			for i, d := range due {
				if d != 0 && d <= now {
					t.Fatalf("step %d: timer %d due at %d not popped at %d", step, i, d, now)
				}
			}
			if at, ok := tm.next(); ok && at > now {
				for i, d := range due {
					if d != 0 && d < at {
						t.Fatalf("step %d: next %d, but timer %d is due at %d", step, at, i, d)
					}
				}
			}
		}
	}
}
