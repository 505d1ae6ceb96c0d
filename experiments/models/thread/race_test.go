//go:build race

package thread

// raceEnabled reports whether the tests run under the race detector, which
// slows every step of a GIL hand-over about tenfold.
const raceEnabled = true
