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
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("loop: %w", err)
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
// the Go runtime has not yet collected of those dropped. The collector is a
// hold.Consumer.
func (x *holdExec) tasks(g *Group) func(*model.Result) {
	j := x.job
	c := j.NewConsumer() // only the collector task, on the loop thread, uses it
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
	var done int
	var digest uint64
	g.Go(func(t *Task) error {
		for range j.Workers {
			r, err := q.Get(t)
			if err != nil {
				return err
			}
			if j.Keep == hold.OneAtATime {
				c.Make(r.w, nil) // make it, digest it, drop it
			} else {
				c.Take(r.buf)
			}
		}
		done, digest = c.Finish()
		return nil
	})
	return func(res *model.Result) { res.Done, res.Digest = done, digest }
}

// produced is what a producer puts on the queue: its result, or with
// hold.OneAtATime only its index w (buf nil).
type produced struct {
	w   int
	buf []byte
}

// Run runs the tasks once; Result.Done and Result.Digest are what the
// collector consumed.
func (x *holdExec) Run(ctx context.Context) (model.Result, error) { return x.x.Run(ctx) }

// Close stops the loop and waits for its thread to end.
func (x *holdExec) Close() error { return x.x.Close() }
