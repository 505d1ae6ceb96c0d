//go:build !race

package thread

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
