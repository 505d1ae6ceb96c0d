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
	if j.Workers < 1 || j.Bytes < 8 || (j.Keep != hold.Hold && j.Keep != hold.Release && j.Keep != hold.OneAtATime) {
		return nil, fmt.Errorf("goroutine: hold job of %d workers × %d bytes, results %q; build it with hold.NewJob", j.Workers, j.Bytes, j.Keep)
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
// what the runtime has not yet collected of those dropped.
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
	var kept [][]byte // hold.Hold: every result, until the last arrives
	if j.Keep == hold.Hold {
		kept = make([][]byte, 0, n)
	}
	digests := make([]uint64, 0, n)
	var ids model.IDs
	pid := os.Getpid()
	for range n {
		select {
		case r := <-results:
			ids.Add(pid, r.tid)
			switch j.Keep {
			case hold.Hold:
				kept = append(kept, r.buf)
			case hold.Release:
				digests = append(digests, hold.Digest(r.buf))
			default: // hold.OneAtATime: make it, digest it, drop it
				buf := make([]byte, j.Bytes)
				hold.Produce(buf, r.w)
				digests = append(digests, hold.Digest(buf))
			}
		case <-ctx.Done():
			x.failed = ctx.Err()
			return model.Result{}, fmt.Errorf("goroutine: hold: %w", ctx.Err())
		}
	}
	for k, buf := range kept {
		digests = append(digests, hold.Digest(buf))
		kept[k] = nil
	}
	res := model.Result{Done: len(digests), Digest: hold.Sum(digests)}
	if err := j.Verify(res.Digest, res.Done); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("goroutine: %w", err)
	}
	ids.Fill(&res.Usage)
	return res, nil
}
