package goroutine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/interleave"
)

// startInterleave starts one goroutine per task (a crew), which waits for
// the repeats of every Run; Close ends them.
func startInterleave(ctx context.Context, j interleave.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("goroutine: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("goroutine: start: %w", err)
	}
	return &interleaveExec{job: j, crew: startCrew(j.Tasks)}, nil
}

// interleaveExec is Tasks goroutines, goroutine i running task i of every
// repeat.
type interleaveExec struct {
	*crew
	job interleave.Job
}

// repeat is one repeat as the goroutines see it: its log and the log's lock
// (print's lock in the article), the gate that starts them all at once, and
// where each reports when it is done.
type repeat struct {
	mu   sync.Mutex
	log  *interleave.Log
	gate chan struct{}
	out  chan report
}

// report is one task's end of a repeat: the threads it emitted from (a
// goroutine may move between them) and its error.
type report struct {
	tids []int
	err  error
}

// task emits task i's events into r's log, sleeping Gap (time.Sleep: the
// goroutine parks on a timer) or counting a pause's primes between two.
func (x *interleaveExec) task(i int, r *repeat) report {
	j := x.job
	var rep report
	for seq := range j.Events {
		r.mu.Lock()
		r.log.Emit(i, seq)
		r.mu.Unlock()
		// Read after the Emit, outside the lock, so as not to lengthen
		// it: the goroutine may have moved to another thread in between,
		// but rarely does. Only a gettid says which thread it is on, so
		// there is one per event, inside the timed region: a system call
		// of ~50 ns, against events a wait or a count of primes apart.
		if tid := unix.Gettid(); len(rep.tids) == 0 || rep.tids[len(rep.tids)-1] != tid {
			rep.tids = append(rep.tids, tid)
		}
		if seq == j.Events-1 {
			break
		}
		if j.Between == interleave.Wait {
			time.Sleep(j.Gap)
			continue
		}
		if err := j.CheckPause(j.Pause()); err != nil {
			rep.err = fmt.Errorf("task %c: %w", interleave.Letter(i), err)
			return rep
		}
	}
	return rep
}

// Run runs the job's repeats one after another. Each repeat hands every
// goroutine the repeat, then opens its gate, so that they start together
// (as the scheduler runs them), and waits for all of them. It checks each
// repeat's log (an event skipped or repeated) but does not verify the
// orders: the caller does.
func (x *interleaveExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.usable(ctx, "interleave"); err != nil {
		return model.Result{}, err
	}
	j := x.job
	orders := make([]string, 0, j.Repeats)
	var ids model.IDs
	pid := os.Getpid()
	for range j.Repeats {
		if err := ctx.Err(); err != nil {
			x.failed = err
			return model.Result{}, fmt.Errorf("goroutine: interleave: %w", err)
		}
		r := &repeat{log: interleave.NewLog(j.Tasks), gate: make(chan struct{}), out: make(chan report, j.Tasks)}
		x.hand(func(i int) {
			<-r.gate
			r.out <- x.task(i, r) // never blocks: out has room for every task
		})
		close(r.gate)
		var errs []error
		for range j.Tasks {
			select {
			case rep := <-r.out:
				errs = append(errs, rep.err)
				for _, tid := range rep.tids {
					ids.Add(pid, tid)
				}
			case <-ctx.Done():
				x.failed = ctx.Err()
				return model.Result{}, fmt.Errorf("goroutine: interleave: %w", ctx.Err())
			}
		}
		if err := errors.Join(errs...); err != nil {
			x.failed = err
			return model.Result{}, fmt.Errorf("goroutine: interleave: %w", err)
		}
		order, err := r.log.Order()
		if err != nil {
			x.failed = err
			return model.Result{}, fmt.Errorf("goroutine: %w", err)
		}
		orders = append(orders, order)
	}
	res := model.Result{Orders: orders}
	ids.Fill(&res.Usage)
	return res, nil
}
