//go:build race

package regress

// raceEnabled is true when the tests run under -race, which makes the
// statistical trials too slow; they skip then and run without it.
const raceEnabled = true
