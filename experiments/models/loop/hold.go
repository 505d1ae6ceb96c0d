package loop

import (
	"context"
	"fmt"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/hold"
)

// startHold starts a loop thread for the hold job; each Run creates the
// producing tasks and the collector.
func startHold(j hold.Job) (model.Exec, error) {
	if j.Workers < 1 || j.Bytes < 8 || (j.Keep != hold.Hold && j.Keep != hold.Release && j.Keep != hold.OneAtATime) {
		return nil, fmt.Errorf("loop: hold job of %d workers × %d bytes, results %q; build it with hold.NewJob", j.Workers, j.Bytes, j.Keep)
	}
	l, err := New()
	if err != nil {
		return nil, err
	}
	x := &holdExec{job: j}
	x.x = &exec{l: l, spawn: x.tasks}
	return x, nil
}

// holdExec runs the hold tasks through the package's exec, one group per
// Run.
type holdExec struct {
	x   *exec
	job hold.Job
	// What the last Run's collector consumed; only the loop thread writes
	// them, and Run reads them once the group is done.
	digests []uint64
}

// tasks starts one Run's tasks in g: Workers producers, each allocating its
// result (a fresh allocation every Run), writing every byte of it
// (hold.Produce) and putting it on a queue, and a collector that takes them
// from the queue as they arrive. With hold.Hold the collector keeps every
// result until it has them all and then digests them (asyncio.gather); with
// hold.Release it digests each as it comes and drops it (as_completed).
// With hold.OneAtATime (the article's fix) a producer puts only its index
// on the queue, and the collector makes each result as its index comes (a
// new buffer, every byte written), digests it and drops it before it takes
// the next.
//
// A producer computes without awaiting, so the producers run one after
// another, each to its end, in the order they were created, and the
// collector, woken by the first result, runs only after every producer
// already queued: as with asyncio's ready queue, all Workers results are
// alive at once with hold.Hold and with hold.Release alike. What releasing
// saves on the loop is only the time the results are kept after that (the
// collector's digests), not the peak: the memory lesson needs producers
// that run side by side with the collector. With hold.OneAtATime no
// producer makes a result, so one result is alive at the peak, plus what
// the Go runtime has not yet collected of those dropped.
func (x *holdExec) tasks(g *Group) func(*model.Result) {
	j := x.job
	x.digests = make([]uint64, 0, j.Workers)
	q := NewQueue[produced](0)
	for w := range j.Workers {
		g.Go(func(t *Task) error {
			var buf []byte
			if j.Keep != hold.OneAtATime {
				buf = make([]byte, j.Bytes)
				hold.Produce(buf, w)
			}
			return q.Put(t, produced{w, buf}) // never waits: the queue has no bound
		})
	}
	g.Go(func(t *Task) error {
		var kept [][]byte // hold.Hold: every result, until the last arrives
		if j.Keep == hold.Hold {
			kept = make([][]byte, 0, j.Workers)
		}
		for range j.Workers {
			r, err := q.Get(t)
			if err != nil {
				return err
			}
			switch j.Keep {
			case hold.Hold:
				kept = append(kept, r.buf)
			case hold.Release:
				x.digests = append(x.digests, hold.Digest(r.buf))
			default: // hold.OneAtATime: make it, digest it, drop it
				buf := make([]byte, j.Bytes)
				hold.Produce(buf, r.w)
				x.digests = append(x.digests, hold.Digest(buf))
			}
		}
		for k, buf := range kept {
			x.digests = append(x.digests, hold.Digest(buf))
			kept[k] = nil
		}
		return nil
	})
	return func(res *model.Result) { res.Done, res.Digest = len(x.digests), hold.Sum(x.digests) }
}

// produced is what a producer puts on the queue: its result, or with
// hold.OneAtATime only its index w (buf nil).
type produced struct {
	w   int
	buf []byte
}

// Run runs the tasks once and checks what the collector consumed.
func (x *holdExec) Run(ctx context.Context) (model.Result, error) {
	res, err := x.x.Run(ctx)
	if err != nil {
		return model.Result{}, err
	}
	if err := x.job.Verify(res.Digest, res.Done); err != nil {
		x.x.failed = err
		return model.Result{}, fmt.Errorf("loop: %w", err)
	}
	return res, nil
}

// Close stops the loop and waits for its thread to end.
func (x *holdExec) Close() error { return x.x.Close() }
