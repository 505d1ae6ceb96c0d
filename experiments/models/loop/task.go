package loop

import (
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
)

// ErrCancelled is returned by every await of a task whose group was
// cancelled. The task should return; it is not resumed again.
var ErrCancelled = errors.New("loop: task cancelled")

type taskState uint8

const (
	parked    taskState = iota // waiting for wake: a timer, a queue, a semaphore…
	queued                     // on the run queue
	running                    // being resumed
	cancelled                  // being stopped: its awaits fail at once
	finished
)

// Task is a cooperative task: a body that runs on the loop thread and gives
// the thread back only where it awaits (Sleep, Yield, Semaphore.Acquire,
// Queue.Get and Put, Future.Await, WaitReadable and WaitWritable, and the
// Read, Write and Accept built on them). Code between two awaits runs to the end
// without interruption, however long it takes, and every other task waits.
// So does a blocking call in a body (a syscall, a channel receive,
// time.Sleep): to wait for one without stalling the loop, run it on another
// goroutine and await a Future that it settles through Submit. (Socket I/O
// needs no other goroutine: Read, Write and Accept make non-blocking calls
// and await the fd's readiness.)
//
// A task is an iter.Pull coroutine created and resumed by the loop's
// goroutine. The runtime hands the locked thread over on every coroutine
// switch (coroswitch requires the thread-lock state at creation and at every
// switch to match, and throws otherwise), so the body runs on the loop thread;
// the one-TID test checks it. A body must therefore not lock or unlock the
// thread, nor call runtime.Goexit (t.Fatal in a test): Goexit would end the
// loop goroutine itself.
type Task struct {
	l     *Loop
	g     *Group
	id    int // order of creation in its group, for error messages
	slot  int // index in g.tasks while the task is live
	tid   int // the thread it runs on, once it has run (record)
	state taskState
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	timer *Timer // pending Sleep
	sleep Timer  // Sleep's timer, kept in the task to save an allocation
	// unwatched: the fd the task waits on was unwatched meanwhile (fd.go).
	unwatched bool
	err       error // the body's result
}

// Loop is the loop the task runs on.
func (t *Task) Loop() *Loop { return t.l }

// Sleep suspends the task for d (d ≤ 0: until the next pass of the loop).
func (t *Task) Sleep(d time.Duration) error {
	t.checkCurrent()
	if t.state == cancelled {
		return ErrCancelled
	}
	t.sleep = Timer{l: t.l, when: t.l.Now() + d, task: t}
	t.timer = &t.sleep
	t.l.schedule(t.timer)
	err := t.park()
	t.timer = nil
	return err
}

// Yield lets every task and callback queued before it run, like asyncio's
// sleep(0).
func (t *Task) Yield() error {
	t.checkCurrent()
	if t.state == cancelled {
		return ErrCancelled
	}
	t.state = parked
	t.wake()
	return t.suspend()
}

// park suspends the task until wake. It is the one primitive every await is
// built on: register the task somewhere wake will be called from, then park.
func (t *Task) park() error {
	t.checkCurrent()
	if t.state == cancelled {
		return ErrCancelled
	}
	t.state = parked
	return t.suspend()
}

func (t *Task) checkCurrent() {
	if t.l.current != t {
		panic("loop: await outside the task's own body")
	}
}

// suspend gives the thread back to the loop. yield returns false when the
// loop stops the task instead of resuming it.
func (t *Task) suspend() error {
	if !t.yield(struct{}{}) {
		return ErrCancelled
	}
	return nil
}

// wake queues a parked task to be resumed. It does nothing to a task that is
// not parked (queued already, cancelled or finished), which is what lets
// waiter lists keep the entries of cancelled tasks and skip them later.
func (t *Task) wake() {
	if t.state == parked {
		t.state = queued
		t.l.runq.push(runnable{task: t})
	}
}

// record notes, from the task's own code, the thread it runs on. It is called
// once, when the task first runs: a gettid costs ~0.1 µs, and a task of the
// sleep workload does nothing else but arm a timer, so one per resume would
// cost the 10 000-task cell 2–3% of its time. Later resumptions cannot move
// the body to another thread: the runtime throws if a coroutine switch would
// (see Task). The process is the loop's, read once when it started.
func (t *Task) record() {
	tid, g := unix.Gettid(), t.g
	t.tid = tid
	if tid != g.lastTID {
		g.ids.Add(t.l.pid, tid)
		g.lastTID = tid
	}
}

func (l *Loop) resume(t *Task) {
	if t.state != queued {
		return // cancelled after it was queued
	}
	t.state = running
	l.current = t
	_, more := t.next()
	l.current = nil
	if !more {
		t.g.finish(t)
	}
}

// cancel stops a task that is not running: its pending await fails with
// ErrCancelled and the body runs on from there to its return.
func (l *Loop) cancel(t *Task) {
	if t.state == finished || t.state == cancelled {
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.state = cancelled
	prev := l.current
	l.current = t
	t.stop()
	l.current = prev
	t.g.finish(t)
}

// Group is a set of tasks that end together, like an asyncio TaskGroup: the
// group is done when every task has returned, or as soon as one task fails
// or the group is cancelled, which stops the other tasks. A run of a
// workload is one group; the echo server is one group that lives as long as
// the server, its acceptor and a task per connection, so the group holds
// only its live tasks (a finished one leaves it), not every task it ran.
type Group struct {
	l          *Loop
	tasks      []*Task // the live tasks, in no particular order
	started    int     // tasks started so far
	cancelling bool
	ended      bool
	done       func(error)

	ids     model.IDs
	lastTID int
}

// NewGroup makes an empty group; done is called once, on the loop thread,
// when the group ends, with nil if every task returned nil. A group ends
// only after a task has been started in it.
func (l *Loop) NewGroup(done func(err error)) *Group {
	g := &Group{l: l, done: done}
	l.groups[g] = struct{}{}
	return g
}

// Go starts a task running body; it is first resumed after the tasks and
// callbacks already queued. It must be called on the loop thread (a callback
// or a task): the coroutine has to be created on the thread that resumes
// it. A group that has ended starts nothing.
func (g *Group) Go(body func(t *Task) error) {
	if g.ended || g.cancelling {
		return
	}
	t := &Task{l: g.l, g: g, id: g.started, slot: len(g.tasks)}
	t.next, t.stop = iter.Pull(func(yield func(struct{}) bool) {
		t.yield = yield
		t.record()
		defer func() {
			if p := recover(); p != nil {
				t.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		t.err = body(t)
	})
	g.tasks = append(g.tasks, t)
	g.started++
	t.state = parked
	t.wake()
}

// Cancel ends the group with err, stopping every task still going (each
// pending await returns ErrCancelled). A task computing cannot be
// interrupted: called from a task, Cancel takes effect when that task next
// gives the thread back. It does nothing to a group that has ended.
func (g *Group) Cancel(err error) {
	if g.ended || g.cancelling {
		return
	}
	if g.l.current != nil {
		g.l.runq.push(runnable{fn: func() { g.Cancel(err) }})
		return
	}
	g.cancelling = true
	// Each cancel removes its task from g.tasks; stop them in the order
	// they were started, as asyncio does.
	tasks := slices.Clone(g.tasks)
	slices.SortFunc(tasks, func(a, b *Task) int { return a.id - b.id })
	for _, t := range tasks {
		g.l.cancel(t)
	}
	g.end(err)
}

// IDs returns the process and thread IDs the group's tasks recorded. Read it
// once the group is done.
func (g *Group) IDs() *model.IDs { return &g.ids }

func (g *Group) finish(t *Task) {
	wasCancelled := t.state == cancelled
	t.state = finished
	t.next, t.stop, t.yield = nil, nil, nil
	if g.tasks != nil {
		// Swap the last live task into t's slot.
		last := g.tasks[len(g.tasks)-1]
		g.tasks[t.slot], last.slot = last, t.slot
		g.tasks[len(g.tasks)-1] = nil
		g.tasks = g.tasks[:len(g.tasks)-1]
	}
	switch {
	case g.cancelling || g.ended:
	case t.err != nil && !wasCancelled:
		g.Cancel(fmt.Errorf("task %d: %w", t.id, t.err))
	case len(g.tasks) == 0:
		g.end(nil)
	}
}

func (g *Group) end(err error) {
	g.ended = true
	g.tasks = nil
	delete(g.l.groups, g)
	if g.done != nil {
		g.done(err)
	}
}
