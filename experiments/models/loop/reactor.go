package loop

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osthread"
)

// ErrClosed is returned by Submit once the loop is closed, and ends the
// groups (runs) that were still going when it closed.
var ErrClosed = errors.New("loop: closed")

// threadExitTimeout bounds how long Close waits for the kernel to release the
// loop's thread after its goroutine has returned (normally microseconds).
const threadExitTimeout = 5 * time.Second

// Loop is a reactor on one OS thread: an epoll instance watching a timerfd
// (armed to the earliest timer), an eventfd (rung by Submit) and the file
// descriptors the tasks and callbacks wait on (see fd.go), a timer heap and a
// run queue of tasks and callbacks. Everything except Submit, TID and Close
// must be called on the loop thread: from a callback passed to Submit, a
// timer callback, an fd callback, or a task.
type Loop struct {
	epfd, tfd, efd int
	tid            int       // the loop thread; fixed once New returns
	pid            int       // this process, which the tasks record with their TID
	base           time.Time // origin of Now
	exited         chan struct{}

	mu       sync.Mutex
	inbox    []func() // submitted by other threads, not yet on the run queue
	notified bool     // the eventfd was written since the inbox was last taken
	closed   bool     // Submit refuses work; the loop is stopping or stopped

	fatal     error // why the loop stopped on its own; written before exited is closed
	closeOnce sync.Once
	closeErr  error

	// Owned by the loop thread.
	runq    fifo[runnable]
	timers  timerHeap
	seq     uint64        // insertion counter: FIFO order among equal deadlines
	armed   time.Duration // deadline the timerfd is set for; -1 when not armed
	current *Task         // the task being resumed or stopped, if any
	groups  map[*Group]struct{}
	fds     map[int]*fdWatch // the watched file descriptors (fd.go)
	spare   []func()         // the other half of the inbox double buffer
}

// runnable is one entry of the run queue: a task to resume, a callback, or
// an fd callback (run only if still registered when its turn comes).
type runnable struct {
	task *Task
	fn   func()
	cb   *fdCallback
}

// New creates the loop's file descriptors and starts its thread, and returns
// once the thread is running. Close releases both.
func New() (*Loop, error) {
	l := &Loop{
		epfd: -1, tfd: -1, efd: -1,
		armed:  -1,
		base:   time.Now(),
		exited: make(chan struct{}),
		groups: map[*Group]struct{}{},
		fds:    map[int]*fdWatch{},
	}
	if err := l.open(); err != nil {
		l.closeFDs()
		return nil, err
	}
	l.pid = unix.Getpid()
	tids := make(chan int)
	go l.start(tids)
	l.tid = <-tids
	return l, nil
}

func (l *Loop) open() error {
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("loop: epoll_create1: %w", err)
	}
	// The timerfd, not epoll_wait's timeout, carries the next deadline:
	// epoll_wait takes whole milliseconds and the kernel rounds the wait up,
	// so a 10 ms sleep armed 0.1 ms into a millisecond would wake up to 1 ms
	// late (10% on the sleep workload). A timerfd takes nanoseconds.
	if l.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
		return fmt.Errorf("loop: timerfd_create: %w", err)
	}
	if l.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("loop: eventfd: %w", err)
	}
	for _, fd := range []int{l.tfd, l.efd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fmt.Errorf("loop: epoll_ctl add fd %d: %w", fd, err)
		}
	}
	return nil
}

func (l *Loop) closeFDs() error {
	var errs []error
	for _, fd := range []*int{&l.epfd, &l.tfd, &l.efd} {
		if *fd >= 0 {
			if err := unix.Close(*fd); err != nil {
				errs = append(errs, fmt.Errorf("loop: close fd %d: %w", *fd, err))
			}
			*fd = -1
		}
	}
	return errors.Join(errs...)
}

// start locks the calling goroutine to its thread for good and runs the
// loop there; when the goroutine returns, still locked, the runtime ends the
// thread. The main thread is the exception (the runtime parks it instead of
// ending it), so if this goroutine landed there it holds the main thread
// while a fresh goroutine, which therefore lands elsewhere, takes over.
func (l *Loop) start(tids chan<- int) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		moved := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(moved)
			tids <- unix.Gettid()
			l.run()
		}()
		<-moved
		runtime.UnlockOSThread()
		return
	}
	tids <- unix.Gettid()
	l.run()
}

// TID is the loop thread's ID (gettid).
func (l *Loop) TID() int { return l.tid }

// Now is the loop's clock: monotonic time since New.
func (l *Loop) Now() time.Duration { return time.Since(l.base) }

// Submit hands fn to the loop, to run on the loop thread after the callbacks
// and tasks already queued. It may be called from any goroutine, including
// the loop's own; it is how other threads give work to the loop (and how a
// thread doing a blocking call for a task hands back the result, by settling
// a Future). fn must not block: it runs on the loop thread and holds up
// every task while it runs.
func (l *Loop) Submit(fn func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.inbox = append(l.inbox, fn)
	return l.notifyLocked()
}

// notifyLocked wakes the loop through the eventfd, at most once per drain of
// the inbox: further writes would only cost syscalls.
func (l *Loop) notifyLocked() error {
	if l.notified {
		return nil
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(l.efd, one[:]); err != nil {
		return fmt.Errorf("loop: write eventfd: %w", err)
	}
	l.notified = true
	return nil
}

// Close stops the loop: the groups still going end with ErrClosed (their
// tasks are stopped), the loop thread exits, and the file descriptors are
// closed. It returns once the kernel has released the thread. It must not
// be called on the loop thread; calling it again returns the first result.
func (l *Loop) Close() error {
	l.mu.Lock()
	var err error
	if !l.closed {
		// Once closed (by an earlier Close, or by the loop itself after an
		// error) the loop is on its way out and the eventfd may be gone.
		l.closed = true
		err = l.notifyLocked()
	}
	l.mu.Unlock()
	if err != nil {
		// The loop cannot be told to stop; its thread and fds are left.
		return fmt.Errorf("loop: close: %w", err)
	}
	l.closeOnce.Do(func() {
		<-l.exited
		l.closeErr = errors.Join(l.fatal, l.closeFDs(), l.waitThreadExit())
	})
	return l.closeErr
}

// waitThreadExit waits until the loop thread no longer exists. Its goroutine
// has returned by now, but the runtime ends the thread a moment later.
func (l *Loop) waitThreadExit() error {
	if err := osthread.WaitGone(threadExitTimeout, l.tid); err != nil {
		return fmt.Errorf("loop: the loop thread: %w", err)
	}
	return nil
}

// maxEvents bounds the epoll_wait batch, which starts small (the timer and
// queue workloads only ever see the timerfd and the eventfd) and doubles
// whenever a wait fills it, as with many sockets ready at once.
const maxEvents = 1024

// run is the loop, in the order of asyncio's _run_once: wait for an event
// or the next deadline (not at all if something is ready), queue the tasks
// and callbacks of the fds that became ready, take submitted callbacks, move
// expired timers to the run queue, then run what was queued when the pass
// began. Whatever that queues runs on the next pass, after another look at
// the clock and the fds.
func (l *Loop) run() {
	defer close(l.exited)
	events := make([]unix.EpollEvent, 4)
	for {
		timeout := 0
		if l.runq.len() == 0 {
			// Nothing to do: park the thread in the kernel until the
			// timerfd or the eventfd fires.
			timeout = -1
			if err := l.arm(); err != nil {
				l.shutdown(err)
				return
			}
		}
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			l.shutdown(fmt.Errorf("loop: epoll_wait: %w", err))
			return
		}
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd != l.tfd && fd != l.efd {
				l.ready(fd, ev.Events)
				continue
			}
			// Both fds hold an 8-byte counter; reading it resets it and
			// with it their readiness.
			if err := readCounter(fd); err != nil {
				l.shutdown(err)
				return
			}
			if fd == l.tfd {
				l.armed = -1
			}
		}
		if n == len(events) && n < maxEvents {
			events = make([]unix.EpollEvent, 2*n)
		}
		if l.takeInbox() {
			l.shutdown(nil)
			return
		}
		l.fireTimers()
		for n := l.runq.len(); n > 0; n-- {
			l.dispatch(l.runq.pop())
		}
	}
}

func readCounter(fd int) error {
	var buf [8]byte
	if _, err := unix.Read(fd, buf[:]); err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("loop: read fd %d: %w", fd, err)
	}
	return nil
}

// takeInbox moves submitted callbacks to the run queue and reports whether
// the loop was closed.
func (l *Loop) takeInbox() (closed bool) {
	l.mu.Lock()
	jobs := l.inbox
	l.inbox, l.spare = l.spare, nil
	l.notified = false
	closed = l.closed
	l.mu.Unlock()
	for i, fn := range jobs {
		l.runq.push(runnable{fn: fn})
		jobs[i] = nil
	}
	l.spare = jobs[:0]
	return closed
}

func (l *Loop) dispatch(r runnable) {
	switch {
	case r.task != nil:
		l.resume(r.task)
	case r.cb != nil:
		r.cb.run()
	default:
		r.fn()
	}
}

// shutdown ends the loop: because of err, or because Close was called (err
// nil). Callbacks already handed to the loop still run, since a caller may
// be waiting for a group one of them starts; tasks are not resumed again.
// Then every group still going is cancelled.
func (l *Loop) shutdown(err error) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.fatal = err
	l.takeInbox()
	for l.runq.len() > 0 {
		if r := l.runq.pop(); r.fn != nil {
			r.fn()
		}
	}
	// fd callbacks are not run: like tasks, they are the loop's own work,
	// which ends with it.
	cause := ErrClosed
	if err != nil {
		cause = err
	}
	for g := range l.groups {
		g.Cancel(cause)
	}
	l.runq = fifo[runnable]{}
	l.timers = nil
}

// arm sets the timerfd to the earliest deadline, unless it is set for it
// already. A timerfd left armed for a timer that was stopped costs one
// spurious wake-up, which finds nothing expired.
func (l *Loop) arm() error {
	if len(l.timers) == 0 || l.timers[0].when == l.armed {
		return nil
	}
	when := l.timers[0].when
	// Relative to a clock read before the call, so the timerfd (also
	// CLOCK_MONOTONIC, like Go's monotonic clock) never fires before when.
	// An it_value of zero would disarm it: a past deadline gets 1 ns.
	d := max(when-l.Now(), 1)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(l.tfd, 0, &spec, nil); err != nil {
		return fmt.Errorf("loop: timerfd_settime: %w", err)
	}
	l.armed = when
	return nil
}

// fireTimers queues, in deadline order, every timer whose deadline has passed.
func (l *Loop) fireTimers() {
	now := l.Now()
	for len(l.timers) > 0 && l.timers[0].when <= now {
		tm := heap.Pop(&l.timers).(*Timer)
		if tm.task != nil {
			tm.task.wake()
		} else {
			l.runq.push(runnable{fn: tm.fn})
		}
	}
}

// Timer is a callback (or a sleeping task) scheduled on the loop.
type Timer struct {
	l     *Loop
	when  time.Duration // deadline on the loop's clock (Now)
	seq   uint64
	index int // in the heap; -1 once fired or stopped
	task  *Task
	fn    func()
}

// At schedules fn to run on the loop thread once Now reaches when. Timers
// run in deadline order; timers with the same deadline run in the order At
// was called.
func (l *Loop) At(when time.Duration, fn func()) *Timer {
	tm := &Timer{l: l, when: when, fn: fn}
	l.schedule(tm)
	return tm
}

// After schedules fn to run on the loop thread d from now.
func (l *Loop) After(d time.Duration, fn func()) *Timer {
	return l.At(l.Now()+d, fn)
}

func (l *Loop) schedule(tm *Timer) {
	l.seq++
	tm.seq = l.seq
	heap.Push(&l.timers, tm)
}

// Stop removes the timer if it has not fired yet, and reports whether it had
// not. Loop thread only.
func (tm *Timer) Stop() bool {
	if tm.index < 0 {
		return false
	}
	heap.Remove(&tm.l.timers, tm.index)
	return true
}

// timerHeap is a min-heap of timers by (deadline, insertion order), for
// container/heap.
type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	tm := x.(*Timer)
	tm.index = len(*h)
	*h = append(*h, tm)
}

func (h *timerHeap) Pop() any {
	old := *h
	n := len(old) - 1
	tm := old[n]
	old[n] = nil
	tm.index = -1
	*h = old[:n]
	return tm
}
