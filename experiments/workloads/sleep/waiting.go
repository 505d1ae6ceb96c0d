package sleep

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Span is one task's wait: from just before it began waiting to just after
// its wait ended, in nanoseconds of the system's CLOCK_MONOTONIC. That clock
// is shared by every process on the machine, so spans recorded by worker
// processes and by the lab's own threads can be compared with each other.
type Span struct{ Start, End int64 }

// Clock reads CLOCK_MONOTONIC in nanoseconds, cheaply enough to bracket
// every task's wait inside a timed region: it is Go's monotonic clock (a
// vDSO read) shifted by an offset taken once per process, since
// unix.ClockGettime is a real system call and time.Time hides its
// monotonic reading. Both sides of the offset read the same kernel clock,
// so they do not drift apart; the offset's error (the few nanoseconds
// between the two readings) is the same for every span of a process.
type Clock struct {
	anchor time.Time
	mono   int64
}

// NewClock anchors a Clock. Make one per process (or per Start), outside
// any timed region.
func NewClock() Clock {
	var ts unix.Timespec
	c := Clock{anchor: time.Now()}
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		c.mono = ts.Nano()
	}
	return c
}

// Now returns CLOCK_MONOTONIC in nanoseconds.
func (c Clock) Now() int64 { return c.mono + int64(time.Since(c.anchor)) }

// PeakWaiting returns the most spans that were open at the same instant: how
// many tasks were really waiting together, which is at most the job's
// Concurrency and less when the model could not start every wait before the
// first ones ended. A span that ends exactly when another starts does not
// overlap it; a span shorter than 1 ns (or with End < Start) counts as 1 ns.
func PeakWaiting(spans []Span) int {
	type edge struct {
		t     int64
		delta int // +1 start, -1 end
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, s := range spans {
		edges = append(edges, edge{s.Start, +1}, edge{max(s.End, s.Start+1), -1})
	}
	// Ends before starts at the same instant: touching spans do not overlap.
	slices.SortFunc(edges, func(a, b edge) int {
		if a.t != b.t {
			if a.t < b.t {
				return -1
			}
			return 1
		}
		return a.delta - b.delta
	})
	open, peak := 0, 0
	for _, e := range edges {
		open += e.delta
		peak = max(peak, open)
	}
	return peak
}
