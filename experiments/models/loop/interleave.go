package loop

import (
	"context"
	"fmt"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/interleave"
)

// startInterleave starts a loop thread for the interleave job. Each repeat of
// a Run is one group of Tasks tasks, started together on the loop as
// asyncio.gather starts the article's coroutines; the repeats run one after
// another.
func startInterleave(j interleave.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	l, err := New()
	if err != nil {
		return nil, err
	}
	x := &interleaveExec{job: j}
	x.x = &exec{l: l, spawn: x.repeat}
	return x, nil
}

// interleaveExec runs the repeats through the package's exec, one Run of it
// per repeat, which brings its handling of failures and of ctx.
type interleaveExec struct {
	x   *exec
	job interleave.Job
	// The order of the repeat that last ran and its log's error, set by
	// the repeat's collect (called by exec.Run once the group is done).
	order string
	err   error
}

// repeat starts one repeat's tasks in g, on the loop thread. Task i emits its
// events into the repeat's log (no lock: only the loop thread touches it)
// and between two of them awaits a timer of Gap or counts the primes of a
// pause inline, a coroutine that computes without awaiting. The loop adds
// nothing: the order is what its run queue and timer heap make of it.
func (x *interleaveExec) repeat(g *Group) func(*model.Result) {
	j := x.job
	log := interleave.NewLog(j.Tasks)
	for i := range j.Tasks {
		g.Go(func(t *Task) error {
			for seq := range j.Events {
				log.Emit(i, seq)
				if seq == j.Events-1 {
					break
				}
				if j.Between == interleave.Wait {
					if err := t.Sleep(j.Gap); err != nil {
						return err
					}
					continue
				}
				if err := j.CheckPause(j.Pause()); err != nil {
					return fmt.Errorf("task %c: %w", interleave.Letter(i), err)
				}
			}
			return nil
		})
	}
	return func(*model.Result) { x.order, x.err = log.Order() }
}

// Run runs the job's repeats and returns their orders (each checked by its
// log for an event skipped or repeated; the caller verifies them). A repeat
// that fails makes the Exec unusable, as a failed Run of any loop exec does.
func (x *interleaveExec) Run(ctx context.Context) (model.Result, error) {
	orders := make([]string, 0, x.job.Repeats)
	var ids model.IDs
	for range x.job.Repeats {
		r, err := x.x.Run(ctx)
		if err != nil {
			return model.Result{}, err
		}
		if x.err != nil {
			x.x.failed = x.err
			return model.Result{}, fmt.Errorf("loop: %w", x.err)
		}
		orders = append(orders, x.order)
		// One process and, as the tests check, one thread: the loop's.
		for _, pid := range r.PIDs {
			for _, tid := range r.TIDs {
				ids.Add(pid, tid)
			}
		}
	}
	res := model.Result{Orders: orders}
	ids.Fill(&res.Usage)
	return res, nil
}

// Close stops the loop and waits for its thread to end.
func (x *interleaveExec) Close() error { return x.x.Close() }
