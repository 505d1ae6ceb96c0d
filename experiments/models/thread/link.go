package thread

import (
	"math"
	"sync/atomic"
)

// link is a bounded queue of payload buffers from one thread (the only one
// that puts) to another (the only one that gets), as a pthread program would
// build it from a ring and a futex: a thread that finds the ring full (put)
// or empty (get) blocks in the kernel until the other side has moved, or
// until the run is abandoned.
type link struct {
	ring [][]byte
	head atomic.Uint64 // buffers taken out, written by the getter only
	tail atomic.Uint64 // buffers put in, written by the putter only
	// seq is the futex word: incremented after every put and get, and on
	// abandon. sleepers counts the threads about to block on it, so that a
	// put or get makes the wake-up system call only when one may be asleep.
	seq      atomic.Uint32
	sleepers atomic.Int32
	stop     *atomic.Bool // set when the run is abandoned
}

func newLink(capacity int, stop *atomic.Bool) *link {
	return &link{ring: make([][]byte, capacity), stop: stop}
}

// put appends buf, blocking while the ring is full. It reports false,
// without putting, if the run is abandoned first. g, if not nil, is released
// while put blocks (see queue).
func (l *link) put(buf []byte, g *GILThread) bool {
	t := l.tail.Load()
	n := uint64(len(l.ring))
	if !l.wait(func() bool { return t-l.head.Load() < n }, g) {
		return false
	}
	l.ring[t%n] = buf
	l.tail.Store(t + 1) // publishes the slot to get's Load
	l.moved()
	return true
}

// get removes the oldest buffer, blocking while the ring is empty. It
// reports false if the run is abandoned first. g, as for put.
func (l *link) get(g *GILThread) ([]byte, bool) {
	h := l.head.Load()
	if !l.wait(func() bool { return l.tail.Load() != h }, g) {
		return nil, false
	}
	n := uint64(len(l.ring))
	buf := l.ring[h%n]
	l.ring[h%n] = nil
	l.head.Store(h + 1) // hands the slot back to put's Load
	l.moved()
	return buf, true
}

// wait returns true as soon as ready does, blocking the thread in the kernel
// meanwhile, or false once the run is abandoned. Either side registers as a
// sleeper before its last look at the ring, and the other side moves the
// ring before it looks for sleepers (all sync/atomic operations are
// sequentially consistent), so a wake-up cannot be lost; and futexWait
// returns at once if seq moved since it was read.
func (l *link) wait(ready func() bool, g *GILThread) bool {
	for released := false; ; {
		if ready() {
			if released {
				g.EndBlocking()
			}
			return true
		}
		if l.stop.Load() {
			if released {
				g.EndBlocking()
			}
			return false
		}
		if g != nil && !released {
			g.BeginBlocking()
			released = true
		}
		v := l.seq.Load()
		l.sleepers.Add(1)
		if !ready() && !l.stop.Load() {
			futexWait(&l.seq, v)
		}
		l.sleepers.Add(-1)
	}
}

// moved tells a thread that may be blocked on l that the ring changed.
func (l *link) moved() {
	l.seq.Add(1)
	if l.sleepers.Load() > 0 {
		futexWake(&l.seq, math.MaxInt32)
	}
}
