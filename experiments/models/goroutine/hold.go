package goroutine

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/hold"
)

// startHold starts the job's Workers goroutines, which each Run sets to
// produce one result each; Close ends them.
func startHold(ctx context.Context, j hold.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("goroutine: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("goroutine: start: %w", err)
	}
	return &holdExec{job: j, crew: startCrew(j.Workers)}, nil
}

// holdExec runs the hold workload: goroutine i allocates and fills result i
// and sends it, by reference, to the collector, Run's own goroutine; with
// hold.OneAtATime it sends only its index, and the collector makes result i.
type holdExec struct {
	*crew
	job hold.Job
}

// produced is one result sent to the collector (with hold.OneAtATime only
// its index w, buf nil), and the thread that sent it.
type produced struct {
	w   int
	buf []byte
	tid int
}

// Run sets every goroutine going; each allocates a result of Bytes bytes (a
// fresh allocation every Run), writes every byte of it (hold.Produce) and
// sends it to the collector. With hold.Hold the collector keeps every
// result until the last has arrived and only then digests them, so all
// Workers results are alive at the peak; with hold.Release it digests each
// as it arrives and drops it, so the results alive at the peak are those
// produced and not yet digested: with goroutines producing side by side,
// possibly all of them (and a dropped one's memory is reused only after the
// runtime's next collection). With hold.OneAtATime (the article's fix) a
// goroutine sends only its index, and the collector makes each result as
// its index arrives (a new buffer, every byte written), digests it and
// drops it before it takes the next: one result is alive at the peak, plus
// what the runtime has not yet collected of those dropped. The collector is
// a hold.Consumer.
func (x *holdExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.usable(ctx, "hold"); err != nil {
		return model.Result{}, err
	}
	j := x.job
	n := j.Workers
	results := make(chan produced, n) // never blocks a goroutine
	x.hand(func(i int) {
		var buf []byte
		if j.Keep != hold.OneAtATime {
			buf = make([]byte, j.Bytes)
			hold.Produce(buf, i)
		}
		results <- produced{i, buf, unix.Gettid()}
	})
	c := j.NewConsumer()
	var ids model.IDs
	pid := os.Getpid()
	for range n {
		select {
		case r := <-results:
			ids.Add(pid, r.tid)
			if j.Keep == hold.OneAtATime {
				c.Make(r.w, nil) // make it, digest it, drop it
			} else {
				c.Take(r.buf)
			}
		case <-ctx.Done():
			x.failed = ctx.Err()
			return model.Result{}, fmt.Errorf("goroutine: hold: %w", ctx.Err())
		}
	}
	var res model.Result
	res.Done, res.Digest = c.Finish()
	ids.Fill(&res.Usage)
	return res, nil
}
