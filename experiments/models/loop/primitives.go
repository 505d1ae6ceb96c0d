package loop

// The awaitable primitives, after asyncio's Semaphore, Queue and Future. They
// are not safe for concurrent use: only tasks and callbacks of the loop touch
// them, on the loop thread, so they need no lock.
//
// An await that completed before its task was cancelled reports success (the
// permit is held, the item was taken or delivered); the task's next await
// reports the cancellation. Waiter lists keep the entries of cancelled tasks
// and skip them when they come to the front.

// Semaphore limits how many tasks hold a permit at once. Waiters get permits
// in the order they asked: Release hands the permit straight to the first
// waiter, so a task that has not waited cannot take it first.
type Semaphore struct {
	value   int // free permits; 0 whenever a live waiter exists
	waiters fifo[*grant]
}

type grant struct {
	t  *Task
	ok bool
}

// NewSemaphore returns a semaphore with n permits.
func NewSemaphore(n int) *Semaphore { return &Semaphore{value: n} }

// Acquire takes a permit, waiting for one if there is none.
func (s *Semaphore) Acquire(t *Task) error {
	if s.value > 0 {
		s.value--
		return nil
	}
	g := &grant{t: t}
	s.waiters.push(g)
	err := t.park()
	if g.ok {
		return nil
	}
	return err
}

// Release returns a permit: to the first live waiter, or to the semaphore.
func (s *Semaphore) Release() {
	for s.waiters.len() > 0 {
		if g := s.waiters.pop(); g.t.state == parked {
			g.ok = true
			g.t.wake()
			return
		}
	}
	s.value++
}

// Queue is a FIFO queue of at most max items (no bound if max ≤ 0), like
// asyncio.Queue(maxsize): Put waits while it is full, Get while it is empty.
// Waiting putters and getters are served in the order they came, by direct
// hand-over, so a value never waits in the queue while a getter does.
type Queue[T any] struct {
	max     int
	items   fifo[T]
	getters fifo[*slot[T]]
	putters fifo[*slot[T]]
}

type slot[T any] struct {
	t    *Task
	v    T
	done bool
}

// NewQueue returns an empty queue of at most max items (max ≤ 0: no bound).
func NewQueue[T any](max int) *Queue[T] { return &Queue[T]{max: max} }

// Len is the number of items in the queue.
func (q *Queue[T]) Len() int { return q.items.len() }

func (q *Queue[T]) full() bool { return q.max > 0 && q.items.len() >= q.max }

// TryPut adds v without waiting and reports whether there was room. It is
// also how a queue is filled before the loop first sees it (on any
// goroutine, then).
func (q *Queue[T]) TryPut(v T) bool {
	if g := firstLive(&q.getters); g != nil {
		g.v, g.done = v, true
		g.t.wake()
		return true
	}
	if q.full() {
		return false
	}
	q.items.push(v)
	return true
}

// Put adds v, waiting while the queue is full.
func (q *Queue[T]) Put(t *Task, v T) error {
	if q.TryPut(v) {
		return nil
	}
	p := &slot[T]{t: t, v: v}
	q.putters.push(p)
	err := t.park()
	if p.done {
		return nil
	}
	return err
}

// Get removes and returns the first item, waiting while the queue is empty.
func (q *Queue[T]) Get(t *Task) (T, error) {
	if q.items.len() > 0 {
		v := q.items.pop()
		if p := firstLive(&q.putters); p != nil {
			q.items.push(p.v)
			p.done = true
			p.t.wake()
		}
		return v, nil
	}
	g := &slot[T]{t: t}
	q.getters.push(g)
	err := t.park()
	if g.done {
		return g.v, nil
	}
	var zero T
	return zero, err
}

// firstLive pops and returns the first waiter whose task is still parked,
// dropping those of cancelled tasks; nil if there is none.
func firstLive[T any](w *fifo[*slot[T]]) *slot[T] {
	for w.len() > 0 {
		if s := w.pop(); s.t.state == parked {
			return s
		}
	}
	return nil
}

// Future is a result that tasks can await and that is set once, on the loop
// thread. It is how a task waits for work done elsewhere: another goroutine
// (a thread running a blocking call, say) computes the value and calls
// loop.Submit(func() { f.Set(v, err) }), which wakes the loop through its
// eventfd.
type Future[T any] struct {
	set     bool
	v       T
	err     error
	waiters []*Task
}

// Set settles the future and wakes the tasks awaiting it; later calls do
// nothing.
func (f *Future[T]) Set(v T, err error) {
	if f.set {
		return
	}
	f.set, f.v, f.err = true, v, err
	for _, t := range f.waiters {
		t.wake()
	}
	f.waiters = nil
}

// Await waits until the future is set and returns its value and error.
func (f *Future[T]) Await(t *Task) (T, error) {
	for !f.set {
		f.waiters = append(f.waiters, t)
		if err := t.park(); err != nil && !f.set {
			var zero T
			return zero, err
		}
	}
	return f.v, f.err
}

// fifo is a growable ring buffer.
type fifo[T any] struct {
	buf     []T
	head, n int
}

func (q *fifo[T]) len() int { return q.n }

func (q *fifo[T]) push(v T) {
	if q.n == len(q.buf) {
		buf := make([]T, max(8, 2*len(q.buf)))
		for i := range q.n {
			buf[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = buf, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

// pop removes the first element; the fifo must not be empty.
func (q *fifo[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero // let the garbage collector have it
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return v
}
