package thread

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSwitchInterval is CPython's default switch interval,
// sys.getswitchinterval() = 0.005 s.
const DefaultSwitchInterval = 5 * time.Millisecond

// GIL emulates CPython's global interpreter lock as it has worked since
// Python 3.2 (the "new GIL", Python/ceval_gil.c: take_gil and drop_gil):
//
//   - A thread must hold the GIL to compute.
//   - A thread that wants it while another holds it waits on a condition
//     with a timeout of the switch interval. If the interval passes and no
//     hand-over happened meanwhile, it sets the drop request and waits again.
//   - The holder checks the drop request in its compute loop (Check: CPython
//     checks its eval breaker between bytecodes) and, when it is set, releases
//     the GIL and takes it again.
//   - A thread that releases the GIL while a drop request is pending then
//     waits until another thread has taken it (CPython's FORCE_SWITCHING).
//     Without this the releasing thread, still running on its CPU, would
//     usually take the GIL back before the woken waiter was scheduled.
//   - Blocking calls are made with the GIL released (BeginBlocking and
//     EndBlocking, CPython's Py_BEGIN_ALLOW_THREADS and
//     Py_END_ALLOW_THREADS).
//
// Waiting threads block on channels; a goroutine locked to its OS thread that
// blocks parks that thread in the kernel, as a waiter on CPython's condition
// variable does. The timeouts are timer callbacks (see waitTimed).
//
// CPython guards the lock and the hand-over with two mutexes (mutex and
// switch_mutex); one is enough here because every wait releases it. Waiters
// are woken in arrival order, which a POSIX condition does not promise.
type GIL struct {
	interval time.Duration

	mu         sync.Mutex
	lastHolder *GILThread
	// locked and switches (hand-overs: takes by a thread other than
	// lastHolder) change only under mu, but a waiter's timer reads them
	// without it (see waitTimed).
	locked        atomic.Bool
	switches      atomic.Int64
	head, tail    *GILThread // threads waiting to take the GIL, oldest first
	switchWaiters []*GILThread
	dropRequest   atomic.Bool // read without mu by the holder's Check

	// Instrumentation (see GILStats). holding and blocked are kept apart
	// from the lock's own state so that a broken lock would show in them.
	holding, maxHolding atomic.Int32
	blocked, maxBlocked atomic.Int32
	takes               int64 // under mu, as are the counts below
	takesWhileBlocked   int64
	requests            int64
	forced              int64
}

// NewGIL returns an unlocked GIL with the given switch interval; an interval
// ≤ 0 means DefaultSwitchInterval.
func NewGIL(interval time.Duration) *GIL {
	if interval <= 0 {
		interval = DefaultSwitchInterval
	}
	return &GIL{interval: interval}
}

// Interval returns the switch interval.
func (g *GIL) Interval() time.Duration { return g.interval }

// GILThread is one thread's handle on a GIL (what CPython's PyThreadState is
// to take_gil and drop_gil). A handle must be used by one goroutine at a
// time. Its methods do nothing on a nil handle, so code can run with or
// without a GIL unchanged.
type GILThread struct {
	g *GIL
	// wake carries one signal, sent under g.mu by whoever ends t's wait:
	// a releasing thread or t's timer (the GIL's condition), or a taking
	// thread when t waits for the hand-over (CPython's switch_cond). A
	// thread waits for one of them at a time, and its channel is empty
	// whenever it starts waiting.
	wake chan bool // true: the wait timed out

	prev, next *GILThread // in the queue of waiters, under g.mu
	queued     bool

	holds  bool // read and written only by the thread itself
	forced int  // this thread's releases on request, ditto
}

// NewThread returns a handle on g for one thread.
func (g *GIL) NewThread() *GILThread {
	return &GILThread{g: g, wake: make(chan bool, 1)}
}

// Acquire takes the GIL, waiting as CPython's take_gil does. It panics if t
// already holds it.
func (t *GILThread) Acquire() {
	if t == nil {
		return
	}
	if t.holds {
		panic("thread: GIL acquired by a thread that holds it")
	}
	g := t.g
	g.mu.Lock()
	for g.locked.Load() {
		saved := g.switches.Load()
		// The drop request is set only if the interval passed with no
		// hand-over: a thread that was just given the GIL gets its slice.
		if t.waitTimed(&saved) && g.locked.Load() && g.switches.Load() == saved {
			if !g.dropRequest.Swap(true) {
				g.requests++
			}
		}
	}
	g.locked.Store(true)
	if g.lastHolder != t {
		if g.lastHolder != nil {
			g.switches.Add(1)
		}
		g.lastHolder = t
		for i, w := range g.switchWaiters {
			w.wake <- false
			g.switchWaiters[i] = nil
		}
		g.switchWaiters = g.switchWaiters[:0]
	}
	// Whatever was requested has now happened.
	g.dropRequest.Store(false)
	g.takes++
	if g.blocked.Load() > 0 {
		g.takesWhileBlocked++
	}
	g.mu.Unlock()
	t.holds = true
	raise(&g.maxHolding, g.holding.Add(1))
}

// Release drops the GIL, as CPython's drop_gil does: it wakes one waiter and,
// if a drop request is pending, waits until another thread has taken the GIL.
// It panics if t does not hold it.
func (t *GILThread) Release() {
	if t == nil {
		return
	}
	if !t.holds {
		panic("thread: GIL released by a thread that does not hold it")
	}
	t.holds = false
	g := t.g
	g.holding.Add(-1)
	g.mu.Lock()
	g.lastHolder = t
	g.locked.Store(false)
	if w := g.head; w != nil {
		g.dequeue(w)
		w.wake <- false
	}
	// A pending request means a thread is waiting in Acquire (it set the
	// request and queued again under mu), so the hand-over will come.
	if g.dropRequest.Load() {
		g.dropRequest.Store(false)
		g.forced++
		t.forced++
		for g.lastHolder == t {
			g.switchWaiters = append(g.switchWaiters, t)
			g.mu.Unlock()
			<-t.wake
			g.mu.Lock()
		}
	}
	g.mu.Unlock()
}

// Check is the holder's poll of the drop request, called in its compute loop:
// if another thread has asked for the GIL, it releases it and takes it again
// after that thread had its turn. The primes workload calls it every
// primes.PollEvery divisions (~27 µs of work here). It costs one atomic load
// when there is no request.
func (t *GILThread) Check() {
	if t != nil && t.g.dropRequest.Load() {
		t.Release()
		t.Acquire()
	}
}

// BeginBlocking releases the GIL before a blocking call (a sleep, a wait on a
// channel) so that other threads can compute meanwhile; EndBlocking takes it
// back after the call.
func (t *GILThread) BeginBlocking() {
	if t == nil {
		return
	}
	raise(&t.g.maxBlocked, t.g.blocked.Add(1))
	t.Release()
}

// EndBlocking takes the GIL back after a blocking call.
func (t *GILThread) EndBlocking() {
	if t == nil {
		return
	}
	t.g.blocked.Add(-1)
	t.Acquire()
}

// abandonBlocking ends a blocking call without taking the GIL back, for a
// thread that gives up (its server is stopping, or the call failed) and
// must not queue for the GIL only to end: thousands of threads woken at once
// to end would otherwise all hand the GIL round (see Model.Start). The thread
// no longer holds the GIL.
func (t *GILThread) abandonBlocking() {
	if t == nil {
		return
	}
	t.g.blocked.Add(-1)
}

// waitTimed is COND_TIMED_WAIT(gil->cond, gil->mutex, interval) in take_gil's
// loop: called and returning with g.mu held, it waits until a releasing
// thread signals t, or until a switch interval has passed with the GIL held
// and no hand-over since *saved, which it reports as a timeout.
//
// CPython's waiter wakes at the end of every interval, and if the GIL changed
// hands meanwhile it updates its saved switch number and waits again. Here a
// timer callback makes that check and re-arms the wait without waking the
// thread: the outcome is the same, but a wake-up of a locked thread costs the
// Go scheduler a hand-off of a P (~10× a kernel wake-up), and with thousands
// of waiters the wake-ups for nothing starved the hand-overs themselves
// (4000 sleep-task threads under -race did not finish in 20 s).
func (t *GILThread) waitTimed(saved *int64) (timedOut bool) {
	g := t.g
	g.enqueue(t)
	w := &gilWait{t: t}
	w.saved.Store(*saved)
	time.AfterFunc(g.interval, w.expire)
	g.mu.Unlock()
	timedOut = <-t.wake
	g.mu.Lock()
	// Whoever sent the signal dequeued t. A later callback of this wait
	// must do nothing.
	w.over = true
	if timedOut {
		*saved = w.saved.Load()
	}
	return timedOut
}

// gilWait is one waitTimed. Its timer callbacks are never stopped: one that
// runs after the wait is over finds over set and returns.
type gilWait struct {
	t     *GILThread
	saved atomic.Int64 // the switch number at the start of the interval
	over  bool         // under g.mu
}

// expire runs at the end of each of the wait's intervals.
func (w *gilWait) expire() {
	g := w.t.g
	if n := g.switches.Load(); n != w.saved.Load() && g.locked.Load() {
		// A hand-over happened during the interval and the GIL is held:
		// CPython's waiter would wait again from here.
		w.saved.Store(n)
		time.AfterFunc(g.interval, w.expire)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.over || !w.t.queued {
		return // the wait ended, or a release has signalled t
	}
	g.dequeue(w.t)
	w.t.wake <- true
}

func (g *GIL) enqueue(t *GILThread) {
	t.prev, t.next, t.queued = g.tail, nil, true
	if g.tail != nil {
		g.tail.next = t
	} else {
		g.head = t
	}
	g.tail = t
}

func (g *GIL) dequeue(t *GILThread) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		g.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		g.tail = t.prev
	}
	t.prev, t.next, t.queued = nil, nil, false
}

// raise stores v in hi if it is larger.
func raise(hi *atomic.Int32, v int32) {
	for {
		m := hi.Load()
		if v <= m || hi.CompareAndSwap(m, v) {
			return
		}
	}
}

// GILStats is what a GIL counted since it was made.
type GILStats struct {
	// Takes is the number of acquisitions.
	Takes int64
	// Switches is the number of hand-overs: acquisitions by a thread other
	// than the one that held the GIL last (CPython's switch_number, except
	// that the very first acquisition does not count).
	Switches int64
	// DropRequests is how many times a waiting thread saw a whole switch
	// interval pass without a hand-over and set the drop request.
	DropRequests int64
	// ForcedDrops is how many releases happened with a drop request
	// pending, after which the releasing thread waited for another thread to
	// take the GIL.
	ForcedDrops int64
	// TakesWhileBlocked is how many acquisitions happened while at least one
	// other thread was in a blocking call with the GIL released.
	TakesWhileBlocked int64
	// MaxHolders is the largest number of threads that held the GIL at the
	// same moment: 1 for a working lock (0 if it was never taken).
	MaxHolders int
	// MaxBlocked is the largest number of threads in blocking calls at the
	// same moment.
	MaxBlocked int
}

// Stats returns the counts so far.
func (g *GIL) Stats() GILStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return GILStats{
		Takes:             g.takes,
		Switches:          g.switches.Load(),
		DropRequests:      g.requests,
		ForcedDrops:       g.forced,
		TakesWhileBlocked: g.takesWhileBlocked,
		MaxHolders:        int(g.maxHolding.Load()),
		MaxBlocked:        int(g.maxBlocked.Load()),
	}
}
