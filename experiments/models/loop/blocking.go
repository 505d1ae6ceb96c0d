package loop

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osthread"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/blocking"
)

// startBlocking starts a loop thread for the blocking job and, to offload
// the blocking calls, its pool of PoolSize OS threads (asyncio's default
// executor, a ThreadPoolExecutor). The pool is created here, so a warm cell
// has it before its timer starts and a cold one pays for it; Close stops it.
func startBlocking(j blocking.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	l, err := New()
	if err != nil {
		return nil, err
	}
	x := &blockingExec{job: j, blockTIDs: make([]int, j.Tasks)}
	if j.Offload == blocking.Pool {
		x.pool = startBlockingPool(l, j.PoolSize, j.Tasks)
	}
	x.x = &exec{l: l, spawn: x.tasks}
	return x, nil
}

// blockingExec runs the blocking tasks through the package's exec, one group
// per Run.
type blockingExec struct {
	x    *exec
	job  blocking.Job
	pool *blockingPool // nil for Offload = None
	// blockTIDs[k] is the thread that made task k's blocking call in the
	// last Run (0 if it did not make it): the loop's, or the pool thread's
	// that settled the task's Future. Written by the tasks on the loop
	// thread, read once the group is done.
	blockTIDs []int
	done      int // tasks that finished both steps in the last Run
}

// tasks starts one Run's tasks in g: each makes its blocking call, on the
// loop thread (stalling every other task, the article's time.sleep in a
// coroutine) or on the pool (awaiting its completion, run_in_executor), then
// awaits a timer of Wait.
func (x *blockingExec) tasks(g *Group) func(*model.Result) {
	j := x.job
	clear(x.blockTIDs)
	x.done = 0
	for k := range j.Tasks {
		g.Go(func(t *Task) error {
			if x.pool == nil {
				x.blockTIDs[k] = unix.Gettid()
				if err := osthread.Nanosleep(j.Block); err != nil {
					return fmt.Errorf("task %d: the blocking call: %w", k, err)
				}
			} else {
				tid, err := x.pool.run(t, j.Block)
				if err != nil {
					return fmt.Errorf("task %d: the offloaded blocking call: %w", k, err)
				}
				x.blockTIDs[k] = tid
			}
			if err := t.Sleep(j.Wait); err != nil {
				return err
			}
			x.done++
			return nil
		})
	}
	return func(res *model.Result) { res.Done = x.done }
}

// Run runs the tasks once; Result.Done counts those that completed both
// steps. Result.Usage holds the loop thread (every task ran there) and,
// offloaded, the pool threads that made blocking calls.
func (x *blockingExec) Run(ctx context.Context) (model.Result, error) {
	res, err := x.x.Run(ctx)
	if err != nil {
		return model.Result{}, err
	}
	var ids model.IDs
	pid := x.x.l.pid
	for _, tid := range res.TIDs {
		ids.Add(pid, tid)
	}
	for _, tid := range x.blockTIDs {
		ids.Add(pid, tid)
	}
	ids.Fill(&res.Usage)
	return res, nil
}

// Close stops the loop, then the pool: a pool thread still in a blocking
// call (a Run that failed) finishes it first, its completion refused by the
// closed loop.
func (x *blockingExec) Close() error {
	err := x.x.Close()
	if x.pool != nil {
		err = errors.Join(err, x.pool.close())
	}
	return err
}

// blockingPool is a fixed pool of OS threads that make blocking calls for the
// loop's tasks: a task queues a call and awaits a Future, and the thread
// that made the call settles the Future through Loop.Submit, whose eventfd
// wakes the loop. The threads are goroutines locked to their threads for
// good, as the loop's own is, so they end when Close ends them.
type blockingPool struct {
	l      *Loop
	calls  chan blockingCall
	tids   []int
	exited sync.WaitGroup
	once   sync.Once
	err    error
}

// blockingCall is one blocking call handed to the pool: block for d, then
// settle f with the thread's ID.
type blockingCall struct {
	d time.Duration
	f *Future[int]
}

// startBlockingPool starts n pool threads for the loop l and returns once
// all of them are running. queue is the most calls a Run queues at once (one
// per task), so that queueing a call never blocks the loop.
func startBlockingPool(l *Loop, n, queue int) *blockingPool {
	p := &blockingPool{l: l, calls: make(chan blockingCall, queue), tids: make([]int, n)}
	tids := make(chan int, n)
	p.exited.Add(n)
	for range n {
		go p.thread(tids)
	}
	for i := range n {
		p.tids[i] = <-tids
	}
	return p
}

// thread is one pool thread: it takes calls until the pool is closed. A
// goroutine that finds itself on the process's main thread (which the
// runtime parks instead of ending) hands over to a fresh one, as Loop.start
// does.
func (p *blockingPool) thread(tids chan<- int) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		moved := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(moved)
			p.serve(tids)
		}()
		<-moved
		runtime.UnlockOSThread()
		return
	}
	p.serve(tids)
}

// serve makes the pool's calls on the calling thread, which stays locked:
// when the pool is closed the goroutine returns and the runtime ends the
// thread.
func (p *blockingPool) serve(tids chan<- int) {
	defer p.exited.Done()
	tid := unix.Gettid()
	tids <- tid
	for c := range p.calls {
		err := osthread.Nanosleep(c.d)
		// ErrClosed: the loop is gone and nobody awaits the result.
		_ = p.l.Submit(func() { c.f.Set(tid, err) })
	}
}

// run hands a blocking call of d to the pool and awaits its completion,
// giving the loop thread back meanwhile. It returns the ID of the pool
// thread that made the call.
func (p *blockingPool) run(t *Task, d time.Duration) (int, error) {
	f := &Future[int]{}
	select {
	case p.calls <- blockingCall{d: d, f: f}:
	default:
		return 0, fmt.Errorf("the pool's queue of %d calls is full", cap(p.calls))
	}
	return f.Await(t)
}

// close ends the pool threads once they have finished the calls queued, and
// waits until the kernel has removed them.
func (p *blockingPool) close() error {
	p.once.Do(func() {
		close(p.calls)
		p.exited.Wait()
		if err := osthread.WaitGone(threadExitTimeout, p.tids...); err != nil {
			p.err = fmt.Errorf("loop: the blocking pool: %w", err)
		}
	})
	return p.err
}
