// Package loop is the event-loop model: ONE OS thread running a reactor, as
// asyncio's event loop does, that drives cooperative tasks.
//
// The reactor (Loop) is a goroutine locked to its thread for good, so the
// thread ends when the loop does. It blocks in epoll_wait on a timerfd, armed
// to the earliest timer of a heap, and an eventfd that other threads ring when
// they hand it work (Submit), and on the sockets the tasks wait on (fd.go:
// edge-triggered, as asyncio's add_reader and add_writer). Tasks are
// coroutines resumed by the loop: a task gives the thread back only where it
// awaits (a timer, a queue, a semaphore, a future, an fd's readiness), so a
// CPU-bound task holds up every other task until it returns, and cancellation
// reaches it only then.
//
// Run starts one Group of tasks per run:
//   - primes: one task per range, each counting without awaiting, so the
//     tasks run one after another;
//   - sleep: one task per sleep, each awaiting a timer of D, at most
//     Concurrency at once through a FIFO Semaphore;
//   - pipeline: a source, one task per stage and a sink, joined by Queues of
//     pipeline.QueueDepth; payloads move by reference and come back to the
//     source through a free list of pipeline.InFlight buffers made in Start.
//
// The echo workload is a server rather than a run of tasks (echo.go): Start
// sets the listening socket non-blocking, registers it with the loop and
// starts one group that outlives the Runs, an acceptor task and one task per
// accepted connection (non-blocking accept4, read and write, waiting for
// readiness on EAGAIN), all on the loop thread; a Run waits until Connections
// more connections have been served and closed. warm and cold differ only
// in whether the caller times Start: either way it creates the loop thread
// and the acceptor, and the connection tasks are created as connections come.
//
// Every task records its TID (gettid) when it first runs; the
// package's tests check that all of them ran on the loop's one thread.
//
// Linux only: epoll, timerfd, eventfd, accept4 and gettid.
package loop

import (
	"context"
	"fmt"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/blocking"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/hold"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// Model is the event-loop model.
type Model struct{}

// Name returns "loop".
func (Model) Name() string { return "loop" }

// Start starts a loop thread for w (and, for the pipeline, makes its
// buffers); the tasks are created by each Run, as asyncio creates them in
// the coroutine it runs. For echo, Start also starts the server: the
// acceptor is registered and waiting when Start returns (echo.go).
func (Model) Start(ctx context.Context, w model.Work) (model.Exec, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loop: start: %w", err)
	}
	var spawn func(*Group) func(*model.Result)
	switch w := w.(type) {
	case primes.Job:
		if len(w.Ranges) == 0 {
			return nil, fmt.Errorf("loop: primes job has no ranges")
		}
		spawn = primesTasks(w)
	case sleep.Job:
		if w.Tasks < 1 || w.Concurrency < 1 {
			return nil, fmt.Errorf("loop: sleep job of %d tasks at concurrency %d; want both ≥ 1", w.Tasks, w.Concurrency)
		}
		spawn = sleepTasks(w, sleep.NewClock())
	case *pipeline.Job:
		spawn = pipelineTasks(w)
	case echo.Job:
		return startEcho(w)
	case interleave.Job:
		return startInterleave(w)
	case blocking.Job:
		return startBlocking(w)
	case spawnjob.Job:
		return startSpawn(w)
	case hold.Job:
		return startHold(w)
	case convoy.Job:
		return startConvoy(w)
	default:
		return nil, fmt.Errorf("loop: unsupported work %T", w)
	}
	l, err := New()
	if err != nil {
		return nil, err
	}
	return &exec{l: l, spawn: spawn}, nil
}

// exec is a started loop and the tasks to run on it.
type exec struct {
	l *Loop
	// spawn starts one run's tasks in g, on the loop thread, and returns
	// what fills the Result once g is done.
	spawn  func(g *Group) func(*model.Result)
	failed error // why an earlier Run failed; the exec is then unusable
}

// Run starts the run's tasks on the loop and waits for them.
//
// When ctx ends first, Run returns at once with an error wrapping ctx.Err(),
// and the loop drops the run's tasks as soon as it gets the thread back:
// immediately if they are all waiting (timers, queues, the semaphore), only
// after the running task returns if one is computing, since a task cannot be
// interrupted (Close waits for it too).
func (x *exec) Run(ctx context.Context) (model.Result, error) {
	if x.failed != nil {
		return model.Result{}, fmt.Errorf("loop: run after a failed run: %w", x.failed)
	}
	if err := ctx.Err(); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("loop: run: %w", err)
	}
	done := make(chan error, 1)
	var (
		g       *Group // written and read on the loop thread, read here after done
		collect func(*model.Result)
	)
	if err := x.l.Submit(func() {
		g = x.l.NewGroup(func(err error) { done <- err })
		collect = x.spawn(g)
	}); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("loop: run: %w", err)
	}
	select {
	case err := <-done:
		if err != nil {
			x.failed = err
			return model.Result{}, fmt.Errorf("loop: run: %w", err)
		}
	case <-ctx.Done():
		x.failed = ctx.Err()
		cause := ctx.Err()
		// If the loop is closed already, it has cancelled the group itself.
		_ = x.l.Submit(func() { g.Cancel(cause) })
		return model.Result{}, fmt.Errorf("loop: run: %w", cause)
	}
	var res model.Result
	collect(&res)
	g.IDs().Fill(&res.Usage)
	return res, nil
}

// Close stops the loop and waits for its thread to end.
func (x *exec) Close() error { return x.l.Close() }

func primesTasks(j primes.Job) func(*Group) func(*model.Result) {
	return func(g *Group) func(*model.Result) {
		counts := make([]int, len(j.Ranges))
		for i, r := range j.Ranges {
			g.Go(func(*Task) error {
				// No await: the task keeps the thread until it is done.
				counts[i] = primes.Count(r.Lo, r.Hi, nil)
				return nil
			})
		}
		return func(res *model.Result) { res.Counts = counts }
	}
}

// sleepTasks makes one task per sleep. Each records the span of its wait
// (clk, made in Start) from just before it arms its timer to just after it
// resumes, so the caller can count how many were waiting at once.
func sleepTasks(j sleep.Job, clk sleep.Clock) func(*Group) func(*model.Result) {
	return func(g *Group) func(*model.Result) {
		sem := NewSemaphore(j.Concurrency)
		waits := make([]sleep.Span, 0, j.Tasks)
		body := func(t *Task) error {
			if err := sem.Acquire(t); err != nil {
				return err
			}
			defer sem.Release()
			start := clk.Now()
			if err := t.Sleep(j.D); err != nil {
				return err
			}
			waits = append(waits, sleep.Span{Start: start, End: clk.Now()})
			return nil
		}
		for range j.Tasks {
			g.Go(body)
		}
		return func(res *model.Result) { res.Slept, res.Waits = len(waits), waits }
	}
}

func pipelineTasks(j *pipeline.Job) func(*Group) func(*model.Result) {
	n := pipeline.InFlight(j.Stages)
	// Enough buffers that the source never waits for one (see InFlight):
	// the free list only makes them go round.
	free := NewQueue[[]byte](n)
	for range n {
		free.TryPut(pipeline.NewBuffer(j.PayloadBytes))
	}
	return func(g *Group) func(*model.Result) {
		qs := make([]*Queue[[]byte], j.Stages+1)
		for i := range qs {
			qs[i] = NewQueue[[]byte](pipeline.QueueDepth)
		}
		sink := j.NewSink()
		g.Go(func(t *Task) error {
			for k := range j.Messages {
				buf, err := free.Get(t)
				if err != nil {
					return err
				}
				pipeline.Fill(buf, k)
				if err := qs[0].Put(t, buf); err != nil {
					return err
				}
			}
			return nil
		})
		for i := range j.Stages {
			in, out := qs[i], qs[i+1]
			g.Go(func(t *Task) error {
				for range j.Messages {
					buf, err := in.Get(t)
					if err != nil {
						return err
					}
					pipeline.Stage(buf)
					if err := out.Put(t, buf); err != nil {
						return err
					}
				}
				return nil
			})
		}
		g.Go(func(t *Task) error {
			for range j.Messages {
				buf, err := qs[j.Stages].Get(t)
				if err != nil {
					return err
				}
				if err := sink.Accept(buf); err != nil {
					return err
				}
				if err := free.Put(t, buf); err != nil {
					return err
				}
			}
			return nil
		})
		return func(res *model.Result) { res.Received = sink.Received() }
	}
}
