package thread

import (
	"runtime"
	"sync"
)

// PsPerCPU bounds the Ps (GOMAXPROCS slots) an Exec borrows: one per thread,
// up to PsPerCPU for each P the process had (see lendPs).
//
// A thread in a system call keeps its P until the runtime's monitor (sysmon)
// takes it back, which it does only after 10 ms while other Ps are idle; and
// when none is idle, a thread coming back from the kernel waits, parked, for
// sysmon or some other thread to hand it one, while sysmon is itself one
// thread among thousands that the kernel is running. So there must be a free
// P for most threads that come back within those 10 ms. Here one CPU wakes a
// thread about every 10 µs (a release of 10 000 sleeping threads spreads over
// ~50 ms on 2 CPUs), up to ~1000 per CPU in 10 ms. Measured with 10 000 warm
// sleeping threads (100 ms) on 2 CPUs, 8 to 24 samples each: 64 or 256
// borrowed Ps, 0.17–1.3 s; 512, 1024 or 2048 Ps, 0.15–0.22 s. 512 per CPU
// is twice the knee. Each P costs ~22 KB of heap, never freed (about 25–45 KB
// resident with what its allocation cache holds), and ~6 µs of
// stop-the-world to create.
const PsPerCPU = 512

// psForcedGC is how many borrowed Ps make Start collect garbage once its
// threads exist (see collectGarbage).
const psForcedGC = 256

// The Ps lent to open Execs. GOMAXPROCS is process-wide, so the Execs share
// one account: while any is open, GOMAXPROCS is psBase plus the sum of what
// they borrowed; when the last closes, it returns to psBase.
var (
	psMu   sync.Mutex
	psBase int // GOMAXPROCS before the first open Exec borrowed
	psLent int // Ps lent to the open Execs
)

// psFor is how many Ps lendPs lends for threads threads (before any other
// loan is counted against it).
func psFor(threads int) int {
	psMu.Lock()
	defer psMu.Unlock()
	return psForLocked(threads)
}

func psForLocked(threads int) int {
	base := psBase
	if psLent == 0 {
		base = runtime.GOMAXPROCS(0)
	}
	return max(0, min(threads, PsPerCPU*base))
}

// lendPs raises GOMAXPROCS by psFor(threads) for the life of an Exec and
// returns how many Ps it lent and the function that gives them back (safe to
// call more than once).
//
// Why: a goroutine locked to its thread runs Go code only while it holds a P,
// and a thread in a system call (nanosleep, futex) keeps its P until sysmon
// takes it back (see PsPerCPU). With the default GOMAXPROCS (the CPU count),
// threads coming back from a wait queue for a couple of Ps, and each
// hand-over is a scheduler round trip between two threads: 10 000 warm
// 100 ms sleeps took 0.84 s where C threads took 0.30 s. With a P for each
// thread (up to PsPerCPU per CPU), a thread that wakes finds an idle P at
// once, and which threads run is the kernel's decision, as for pthreads.
//
// GOMAXPROCS changes stop the world (~6 µs per P), and a value set with
// runtime.GOMAXPROCS turns off the runtime's automatic GOMAXPROCS updates for
// the rest of the process.
func lendPs(threads int) (lent int, giveBack func()) {
	psMu.Lock()
	defer psMu.Unlock()
	n := psForLocked(threads)
	if n == 0 {
		return 0, func() {}
	}
	if psLent == 0 {
		psBase = runtime.GOMAXPROCS(0)
	}
	psLent += n
	runtime.GOMAXPROCS(psBase + psLent)
	return n, sync.OnceFunc(func() {
		psMu.Lock()
		defer psMu.Unlock()
		psLent -= n
		runtime.GOMAXPROCS(psBase + psLent)
	})
}

// collectGarbage runs a garbage collection with GOMAXPROCS back at psBase for
// its duration. Creating thousands of threads and Ps fills the heap (each P
// is ~22 KB of it); a collection in Start keeps the next one out of the
// first Runs. (A warm cell's Start is outside its timed region; a cold cell
// pays this collection with its thread start-up.) With every lent P taking part, a
// collection costs more and starts more threads (a mark worker on a quarter
// of the Ps: measured with 1000 threads, Start took 60 ms and left 250 more
// threads instead of 45 ms), so the Ps are taken away meanwhile; the runtime
// keeps them, and they come back at once.
func collectGarbage() {
	psMu.Lock()
	defer psMu.Unlock()
	if psLent == 0 {
		runtime.GC()
		return
	}
	runtime.GOMAXPROCS(psBase)
	runtime.GC()
	runtime.GOMAXPROCS(psBase + psLent)
}
