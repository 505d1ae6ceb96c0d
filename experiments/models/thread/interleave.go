package thread

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osthread"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/primes"
)

// startInterleave creates one OS thread per task (the article's two
// threading.Threads), locked for their whole life as every worker of this
// package is. They are created here, so a warm cell has them before its
// timer starts and a cold one pays for them; each repeat of a Run releases
// them all at once through the package's gate (a futex wake-up of every
// thread, or their channels for thread-gil) and waits for all of them, as
// the article starts its threads and joins them.
func (m Model) startInterleave(ctx context.Context, j interleave.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	b, err := m.startBase(ctx, j.Tasks)
	if err != nil {
		return nil, err
	}
	return &interleaveExec{base: b, job: j}, nil
}

// interleaveExec runs the interleave tasks, task i on thread i.
type interleaveExec struct {
	*base
	job interleave.Job
}

// Run runs the job's repeats one after another. In each, every thread emits
// its events into the repeat's log, which a mutex guards (print's lock in
// the article), and between two events waits Gap in nanosleep or counts the
// primes of a pause. With the GIL a thread holds it from its start to its
// end, so every Emit is made under it, and gives it up only around the
// nanosleep (Py_BEGIN_ALLOW_THREADS) or when another thread asks for it
// during a count (the eval breaker's poll). Nothing else is added: which
// thread's event reaches the log first is up to the kernel, the Go runtime
// and the GIL. Each repeat's log is checked (an event skipped or repeated);
// the caller verifies the orders.
func (x *interleaveExec) Run(ctx context.Context) (model.Result, error) {
	j := x.job
	pids, tids := make([]int, j.Tasks), make([]int, j.Tasks)
	errs := make([]error, j.Tasks)
	orders := make([]string, 0, j.Repeats)
	for range j.Repeats {
		var mu sync.Mutex
		log := interleave.NewLog(j.Tasks)
		err := x.each(ctx, "interleave", func(i int) {
			g := x.gs[i]
			g.Acquire()
			defer g.Release()
			pids[i], tids[i] = unix.Getpid(), unix.Gettid()
			errs[i] = x.task(i, g, &mu, log)
		}, nil)
		if err != nil {
			return model.Result{}, err
		}
		if err := errors.Join(errs...); err != nil {
			x.failed = err
			return model.Result{}, fmt.Errorf("%s: interleave: %w", x.name, err)
		}
		order, err := log.Order()
		if err != nil {
			x.failed = err
			return model.Result{}, fmt.Errorf("%s: %w", x.name, err)
		}
		orders = append(orders, order)
	}
	res := model.Result{Orders: orders}
	fillIDs(&res.Usage, pids, tids)
	return res, nil
}

// task is thread i's part of one repeat: its events, with the pause between
// two of them. g (nil without the GIL) is held on entry.
func (x *interleaveExec) task(i int, g *GILThread, mu *sync.Mutex, log *interleave.Log) error {
	j := x.job
	for seq := range j.Events {
		mu.Lock()
		log.Emit(i, seq)
		mu.Unlock()
		if seq == j.Events-1 {
			break
		}
		if j.Between == interleave.Wait {
			g.BeginBlocking()
			err := osthread.Nanosleep(j.Gap)
			g.EndBlocking()
			if err != nil {
				return fmt.Errorf("task %c (tid %d): %w", interleave.Letter(i), unix.Gettid(), err)
			}
			continue
		}
		// interleave.Compute (Start checked that it is one of the two).
		var n int
		if g != nil {
			n = primes.Count(2, j.ComputeN, g.Check)
		} else {
			n = j.Pause()
		}
		if err := j.CheckPause(n); err != nil {
			return fmt.Errorf("task %c: %w", interleave.Letter(i), err)
		}
	}
	return nil
}
