package thread

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osthread"
)

// MaxThreads is the most OS threads one Exec may create. Each is a kernel
// task with its own stack; the matrix allows up to 20 000 workers, and a
// request beyond that is a mistake, not a measurement.
const MaxThreads = 20000

// threadHeadroom is how many threads, above those alive and those a job asks
// for, the runtime's thread limit must leave: the runtime starts threads of
// its own (sysmon, GC workers, one for every goroutine stuck in a system call)
// while a job runs.
const threadHeadroom = 256

// threadExitTimeout bounds how long Close waits for the kernel to remove a
// thread whose goroutine has returned. It normally takes microseconds.
const threadExitTimeout = 10 * time.Second

// limitMu serialises updates of the runtime's thread limit, which is
// process-wide state: two Starts must not both read the old limit and then
// one lower what the other raised.
var limitMu sync.Mutex

// raiseThreadLimit makes sure the runtime lets this process have n more
// threads than it has now. The runtime's limit (debug.SetMaxThreads, 10 000
// by default) is a guard against runaway thread creation, and reaching it is
// not an error the runtime returns: it aborts the whole process. A sleep job
// of 10 000 tasks at concurrency 10 000 needs more than the default, so the
// limit is raised before the threads are created. It is only ever raised, never
// lowered: other code in the process (another Exec still open) may rely on it.
func raiseThreadLimit(n int) {
	limitMu.Lock()
	defer limitMu.Unlock()
	// The number of Ms the runtime knows (allm): the threads it counts
	// against the limit. Threads that exited have left the list.
	live, _ := runtime.ThreadCreateProfile(nil)
	need := live + n + threadHeadroom
	// SetMaxThreads has no getter: set the largest value to learn the old
	// one, so that the limit is never, even briefly, below what it was.
	old := debug.SetMaxThreads(math.MaxInt32)
	debug.SetMaxThreads(max(old, need))
}

// threads is a fixed set of OS threads that run tasks: thread i runs task(i),
// all of them at once (release). Between tasks every thread is blocked, in
// one of two ways:
//
//   - futex (the thread model): every thread blocks in the kernel on one
//     futex word, gen, as pthreads wait at a barrier; a task is handed to all
//     of them at once by storing it, incrementing gen and waking every waiter
//     with one system call. Each thread then needs a P to run Go code, which
//     is why the thread model lends them Ps (see lendPs).
//   - channels (thread-gil): thread i waits on tasks[i], a Go channel. A
//     thread parked on a channel hands its P over at once, and release wakes
//     the threads one after another through the Go scheduler. With the
//     emulated GIL this trickle matters: thousands of threads released at
//     once all queue for the GIL at the same moment, and its hand-overs
//     collapse (see Model.Start).
type threads struct {
	tids   []int // reported by each thread when it started
	exited sync.WaitGroup

	// The futex gate; unused with channels.
	gen  atomic.Uint32             // the futex word: incremented to release the threads
	task atomic.Pointer[func(int)] // stored before gen moves; nil ends the threads
	// endTurn[i] becomes 1 when thread i may end: the threads end newest
	// first, each waking the next (see end).
	endTurn []atomic.Uint32

	// The channels, nil with the futex gate. Capacity 1: release hands a
	// thread its task without waiting for the thread to be back at its
	// receive (it finished the previous task, but may not have looped yet).
	tasks []chan func(i int)

	closeOnce sync.Once
	closeErr  error
}

// startThreads creates n OS threads that wait for tasks on a futex gate, or
// on channels if chans is set, and returns once every one of them is running
// and has reported its thread ID. Thread creation cannot be interrupted, so
// ctx is checked once all have reported: if it has ended, the threads are
// stopped again and ctx's error is returned. extra is how many more threads
// the runtime may need meanwhile (one per P lent to the Exec: a GC runs a
// mark worker on a quarter of the Ps, and idle Ps with work get threads).
func startThreads(ctx context.Context, n, extra int, chans bool) (*threads, error) {
	raiseThreadLimit(n + extra)
	ts := &threads{tids: make([]int, n)}
	if chans {
		ts.tasks = make([]chan func(int), n)
	} else {
		ts.endTurn = make([]atomic.Uint32, n)
		if n > 0 {
			ts.endTurn[n-1].Store(1)
		}
	}
	type hello struct{ i, tid int }
	ready := make(chan hello, n)
	for i := range n {
		var tasks chan func(int)
		if chans {
			tasks = make(chan func(int), 1)
			ts.tasks[i] = tasks
		}
		ts.exited.Add(1)
		spawn(func() {
			defer ts.exited.Done()
			if chans {
				ready <- hello{i, unix.Gettid()}
				for f := range tasks {
					f(i)
				}
				return
			}
			seen := ts.gen.Load() // before hello: no release can be missed
			ready <- hello{i, unix.Gettid()}
			for {
				seen = ts.await(seen)
				task := ts.task.Load()
				if task == nil {
					ts.end(i)
					return
				}
				(*task)(i)
			}
		})
	}
	for range n {
		h := <-ready
		ts.tids[h.i] = h.tid
	}
	if err := ctx.Err(); err != nil {
		return nil, errors.Join(err, ts.close())
	}
	return ts, nil
}

// await blocks the calling thread in the kernel until gen differs from seen,
// and returns the new generation.
func (ts *threads) await(seen uint32) uint32 {
	for {
		if g := ts.gen.Load(); g != seen {
			return g
		}
		futexWait(&ts.gen, seen)
	}
}

// end waits until it is thread i's turn to end, and passes the turn on to
// thread i-1. The runtime removes an exiting thread from its list of threads
// (allm, newest first) by a linear search under its scheduler lock, so ending
// 10 000 threads oldest first, the order in which one futex wake-up releases
// them, costs O(n²): measured 1.1–1.8 s instead of 0.4 s.
func (ts *threads) end(i int) {
	for ts.endTurn[i].Load() == 0 {
		futexWait(&ts.endTurn[i], 0)
	}
	if i > 0 {
		ts.endTurn[i-1].Store(1)
		futexWake(&ts.endTurn[i-1], 1)
	}
}

// release hands task to every thread, or ends the threads if task is nil.
// The previous task must have returned on every thread (one still running it
// would miss this one), except when ending them.
func (ts *threads) release(task func(i int)) {
	if ts.tasks != nil {
		if task == nil {
			// Newest first: see end.
			for _, tasks := range slices.Backward(ts.tasks) {
				close(tasks)
			}
			return
		}
		for _, tasks := range ts.tasks {
			tasks <- task // never blocks: the buffer is empty between runs
		}
		return
	}
	if task == nil {
		ts.task.Store(nil)
	} else {
		ts.task.Store(&task)
	}
	ts.gen.Add(1)
	futexWakeAll(&ts.gen)
}

// spawn runs body on a new goroutine locked to an OS thread of its own for
// its whole life. The goroutine never unlocks: when a goroutine exits while
// locked, the runtime does not return its thread to the pool but ends it. So
// closing the threads really ends them, and starting again really creates new
// ones (clone), which is what a cold start must pay. (A goroutine may begin on
// an idle thread the runtime already had; the runtime then clones a
// replacement when it next needs one, so each thread is still paid for.)
//
// The exception is the process's main thread, which the runtime wedges
// instead of ending (on Linux, its exit would turn the process into a zombie).
// A goroutine that finds itself locked to the main thread starts a
// replacement, which cannot land on the main thread while it is still
// locked, and unlocks it only once the replacement has its own thread.
func spawn(body func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			body()
			return // still locked: the thread ends with the goroutine
		}
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			body()
		}()
		<-locked
		runtime.UnlockOSThread()
	}()
}

// close ends every thread and waits until the kernel has removed them.
// Threads busy with a task finish it first: a Count cannot be interrupted.
// It is safe to call more than once.
func (ts *threads) close() error {
	ts.closeOnce.Do(func() {
		ts.release(nil)
		ts.exited.Wait()
		ts.closeErr = waitGone(ts.tids)
	})
	return ts.closeErr
}

// waitGone waits until none of tids is a thread of this process: a
// goroutine's return is not the end of its locked thread (osthread.WaitGone).
func waitGone(tids []int) error { return osthread.WaitGone(threadExitTimeout, tids...) }

// base is what every Exec of this package shares: its threads, its GIL (nil
// without one) and each thread's handle on it.
type base struct {
	name string // the model's name, which prefixes errors
	ts   *threads
	gil  *GIL
	gs   []*GILThread // per thread; nil entries without the GIL
	// givePsBack returns the Ps lent to the Exec (see lendPs).
	givePsBack func()

	// failed is set once a Run has failed; the Exec is then unusable
	// because that Run's tasks may still be running.
	failed error
}

func (m Model) startBase(ctx context.Context, n int) (*base, error) {
	// The Ps are lent before the threads are created: a new thread that
	// blocks in its first wait keeps the P it started on (see lendPs), so
	// with the process's own Ps the creation of many threads queues behind
	// the runtime's monitor (10 000 threads: 1.2 s instead of 0.2 s).
	lent, givePsBack := 0, func() {}
	if !m.GIL {
		lent, givePsBack = lendPs(n)
	}
	ts, err := startThreads(ctx, n, lent, m.GIL)
	if err != nil {
		givePsBack()
		return nil, fmt.Errorf("%s: starting %d threads: %w", m.Name(), n, err)
	}
	if lent >= psForcedGC {
		collectGarbage()
	}
	b := &base{name: m.Name(), ts: ts, gs: make([]*GILThread, n), givePsBack: givePsBack}
	if m.GIL {
		b.gil = NewGIL(m.interval())
		for i := range b.gs {
			b.gs[i] = b.gil.NewThread()
		}
	}
	return b, nil
}

// GIL returns the Exec's GIL, or nil if the model has none. Callers outside
// the package reach it with a type assertion to interface{ GIL() *GIL }.
func (b *base) GIL() *GIL { return b.gil }

// Close stops every thread and waits until the kernel has removed it. A
// thread in the middle of a Count (which cannot be interrupted) or a sleep
// (at most the job's D) finishes it first.
func (b *base) Close() error {
	err := b.ts.close()
	// After the threads are gone: waking them to end needs their Ps too.
	b.givePsBack()
	if err != nil {
		return fmt.Errorf("%s: close: %w", b.name, err)
	}
	return nil
}

// each runs f(i) on every thread i, all at once, and waits until every call
// has returned or ctx ends. When ctx ends, abort (if not nil) is called to
// make the threads give up early, and the Exec is marked unusable.
func (b *base) each(ctx context.Context, what string, f func(i int), abort func()) error {
	if b.failed != nil {
		return fmt.Errorf("%s: %s: an earlier run failed (%v); close this exec", b.name, what, b.failed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s: %w", b.name, what, err)
	}
	var pending atomic.Int64
	pending.Store(int64(len(b.ts.tids)))
	done := make(chan struct{})
	task := func(i int) {
		f(i)
		if pending.Add(-1) == 0 {
			close(done)
		}
	}
	b.ts.release(task)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if abort != nil {
			abort()
		}
		err := fmt.Errorf("%s: %s: %w", b.name, what, ctx.Err())
		b.failed = err
		return err
	}
}
