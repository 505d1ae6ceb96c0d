package thread

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osthread"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
)

// convoyExec runs the convoy workload: thread 0 is the I/O thread, threads
// 1…CPUWorkers the CPU threads, all created by Start.
//
// In a Run every CPU thread takes the GIL (thread-gil), says it has begun,
// and counts chunks, polling the GIL's drop request inside each (as CPython
// checks its eval breaker), until the I/O thread is done; it finishes the
// chunk in hand first, so every CPU thread completes at least one. The I/O
// thread waits until every CPU thread has begun, takes the GIL, and makes
// its Ops waits, each a nanosleep with the GIL released around it
// (time.sleep's Py_BEGIN_ALLOW_THREADS). It times each from just before it
// releases the GIL until it has taken the GIL back: the CPU thread holding
// the GIL by then lets it go only when asked, after the I/O thread has
// waited a switch interval, which is the convoy. Without the GIL the same
// threads run the same code and nothing holds the I/O thread back but the
// kernel.
//
// The Run ends once every thread has returned: the I/O thread's ops, then
// at most the CPU threads' chunks in hand.
//
// A Run's Result.Timed is the I/O thread's own time, from just before its
// first wait (with the GIL, its first release) until it ran again after its
// last (with the GIL, holding it again): see package convoy. It leaves out
// the release of the threads, the I/O thread's wait until every CPU thread
// has begun, its first take of the GIL, which a CPU thread holds by then
// (up to a switch interval), and the CPU threads' last chunk after the stop.
type convoyExec struct {
	*base
	job convoy.Job
}

func (m Model) startConvoy(ctx context.Context, j convoy.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	n := 1 + j.CPUWorkers
	if n > MaxThreads {
		return nil, fmt.Errorf("%s: convoy needs %d threads; this model creates at most %d", m.Name(), n, MaxThreads)
	}
	b, err := m.startBase(ctx, n)
	if err != nil {
		return nil, err
	}
	return &convoyExec{base: b, job: j}, nil
}

func (x *convoyExec) Run(ctx context.Context) (model.Result, error) {
	j := x.job
	n := 1 + j.CPUWorkers
	lat := make([]time.Duration, 0, j.Ops) // the I/O thread's alone
	var timed time.Duration                // the I/O thread's, from its first wait to its last
	chunks := make([]int, n)
	errs := make([]error, n)
	pids, tids := make([]int, n), make([]int, n)
	begun := newConvoyGate(j.CPUWorkers, x.ts.tasks != nil)
	// stop tells the CPU threads that the I/O thread is done (or gave up);
	// abandoned makes the I/O thread give up.
	var stop, abandoned atomic.Bool
	err := x.each(ctx, "convoy", func(i int) {
		pids[i], tids[i] = unix.Getpid(), unix.Gettid()
		g := x.gs[i]
		if i == 0 {
			begun.wait()
			g.Acquire()
			// Deferred calls run last first: stop is set while the I/O
			// thread still holds the GIL, so the CPU thread that takes it
			// next ends after its chunk in hand.
			defer g.Release()
			defer stop.Store(true)
			var first, last time.Time
			for k := range j.Ops {
				if abandoned.Load() {
					return
				}
				start := time.Now()
				if k == 0 {
					first = start
				}
				g.BeginBlocking()
				err := osthread.Nanosleep(j.IOWait)
				g.EndBlocking()
				last = time.Now()
				lat = append(lat, last.Sub(start))
				if err != nil {
					errs[i] = fmt.Errorf("the I/O thread (tid %d): %w", tids[i], err)
					return
				}
			}
			timed = last.Sub(first)
			return
		}
		var poll func() // nil without the GIL: primes.Count's unpolled loop
		if g != nil {
			poll = g.Check
		}
		g.Acquire()
		defer g.Release()
		begun.arrive()
		for {
			if err := j.CheckChunk(j.Chunk(poll)); err != nil {
				errs[i] = fmt.Errorf("CPU thread %d (tid %d): %w", i, tids[i], err)
				abandoned.Store(true)
				return
			}
			chunks[i]++
			if stop.Load() {
				return
			}
		}
	}, func() {
		abandoned.Store(true)
		stop.Store(true)
	})
	if err != nil {
		return model.Result{}, err
	}
	if err := errors.Join(errs...); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("%s: convoy: %w", x.name, err)
	}
	res := model.Result{Latencies: lat, Timed: timed}
	for _, c := range chunks {
		res.Chunks += c
	}
	fillIDs(&res.Usage, pids, tids)
	return res, nil
}

// convoyGate is how the I/O thread waits until every CPU thread has begun:
// the thread model blocks it in the kernel on a futex word, as a pthread
// would wait on a barrier; thread-gil parks it on a channel, as it does all
// its waits (see threads).
type convoyGate struct {
	left atomic.Uint32 // CPU threads that have not begun: the futex word
	ch   chan struct{} // closed when left reaches 0; nil with the futex
}

func newConvoyGate(cpu int, chans bool) *convoyGate {
	b := &convoyGate{}
	b.left.Store(uint32(cpu))
	if chans {
		b.ch = make(chan struct{})
		if cpu == 0 {
			close(b.ch)
		}
	}
	return b
}

// arrive is a CPU thread's news that it has begun.
func (b *convoyGate) arrive() {
	if b.left.Add(^uint32(0)) != 0 {
		return
	}
	if b.ch != nil {
		close(b.ch)
		return
	}
	futexWake(&b.left, 1)
}

// wait returns once every CPU thread has arrived.
func (b *convoyGate) wait() {
	if b.ch != nil {
		<-b.ch
		return
	}
	for v := b.left.Load(); v != 0; v = b.left.Load() {
		futexWait(&b.left, v)
	}
}
