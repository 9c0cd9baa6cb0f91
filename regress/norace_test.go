//go:build !race

package regress

// raceEnabled is false when the tests run without -race.
const raceEnabled = false
