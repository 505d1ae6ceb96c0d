package goroutine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
)

// convoyExec runs the convoy workload on goroutines that Start creates: an
// I/O goroutine and CPUWorkers CPU goroutines, each waiting for the next Run
// on a channel of its own.
//
// In a Run every CPU goroutine says it has begun and counts chunks until the
// I/O goroutine is done, finishing the chunk in hand first, so each
// completes at least one. The I/O goroutine waits until every CPU goroutine
// has begun, then makes its Ops waits with time.Sleep, which parks it on a
// runtime timer and frees its thread; it times each from just before the
// call until it runs again. How soon it runs again is up to Go's scheduler:
// a P must be free, or a CPU goroutine preempted, to run it.
type convoyExec struct {
	job    convoy.Job
	starts []chan *convoyRun // worker i's Runs; 0 is the I/O goroutine
	done   sync.WaitGroup    // the workers
	failed error             // why an earlier Run failed; the exec is then unusable
	closed sync.Once
}

// convoyRun is one Run's shared state. Each worker writes only its own
// entries, and Run reads them after finished.
type convoyRun struct {
	job       convoy.Job
	begun     sync.WaitGroup // the CPU goroutines that have not begun
	stop      atomic.Bool    // the I/O goroutine is done, or gave up
	abandoned atomic.Bool    // Run returned early: the I/O goroutine gives up
	finished  sync.WaitGroup

	lat    []time.Duration // the I/O goroutine's
	chunks []int
	tids   [][]int // the distinct threads each worker ran on
	errs   []error
}

func startConvoy(ctx context.Context, j convoy.Job) (model.Exec, error) {
	if _, err := convoy.NewJob(j.Ops, j.IOWait, j.CPUWorkers, j.ChunkN); err != nil {
		return nil, fmt.Errorf("goroutine: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("goroutine: start: %w", err)
	}
	n := 1 + j.CPUWorkers
	x := &convoyExec{job: j, starts: make([]chan *convoyRun, n)}
	x.done.Add(n)
	for i := range n {
		runs := make(chan *convoyRun, 1)
		x.starts[i] = runs
		go func() {
			defer x.done.Done()
			for r := range runs {
				if i == 0 {
					r.io()
				} else {
					r.cpu(i)
				}
				r.finished.Done()
			}
		}()
	}
	return x, nil
}

// io is the I/O goroutine's part of a Run.
func (r *convoyRun) io() {
	// Set last: the CPU goroutines stop after their chunk in hand.
	defer r.stop.Store(true)
	r.begun.Wait()
	for range r.job.Ops {
		if r.abandoned.Load() {
			return
		}
		start := time.Now()
		time.Sleep(r.job.IOWait)
		r.lat = append(r.lat, time.Since(start))
		r.tids[0] = addTID(r.tids[0], unix.Gettid())
	}
}

// cpu is CPU goroutine i's part of a Run.
func (r *convoyRun) cpu(i int) {
	r.begun.Done()
	for {
		if err := r.job.CheckChunk(r.job.Chunk(nil)); err != nil {
			r.errs[i] = fmt.Errorf("CPU goroutine %d: %w", i, err)
			r.abandoned.Store(true)
			return
		}
		r.chunks[i]++
		r.tids[i] = addTID(r.tids[i], unix.Gettid())
		if r.stop.Load() {
			return
		}
	}
}

// addTID adds tid to tids unless it is there already. A goroutine runs on
// few threads, so a linear search is enough.
func addTID(tids []int, tid int) []int {
	for _, t := range tids {
		if t == tid {
			return tids
		}
	}
	return append(tids, tid)
}

// Run hands the Run to every goroutine and waits until all are done: the
// I/O goroutine's operations, then the CPU goroutines' chunks in hand. When
// ctx ends first it returns at once; the goroutines stop after the
// operation or chunk in hand, and Close waits for them.
func (x *convoyExec) Run(ctx context.Context) (model.Result, error) {
	if x.failed != nil {
		return model.Result{}, fmt.Errorf("goroutine: convoy: an earlier run failed (%v); close this exec", x.failed)
	}
	if err := ctx.Err(); err != nil {
		return model.Result{}, fmt.Errorf("goroutine: convoy: %w", err)
	}
	j := x.job
	n := 1 + j.CPUWorkers
	r := &convoyRun{job: j, lat: make([]time.Duration, 0, j.Ops),
		chunks: make([]int, n), tids: make([][]int, n), errs: make([]error, n)}
	r.begun.Add(j.CPUWorkers)
	r.finished.Add(n)
	for _, runs := range x.starts {
		runs <- r // never blocks: the previous Run is over
	}
	finished := make(chan struct{})
	go func() {
		r.finished.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		r.abandoned.Store(true)
		r.stop.Store(true)
		x.failed = ctx.Err()
		return model.Result{}, fmt.Errorf("goroutine: convoy: %w", ctx.Err())
	}
	if err := errors.Join(r.errs...); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("goroutine: convoy: %w", err)
	}
	res := model.Result{Latencies: r.lat}
	var ids model.IDs
	pid := os.Getpid()
	for i, c := range r.chunks {
		res.Chunks += c
		for _, tid := range r.tids[i] {
			ids.Add(pid, tid)
		}
	}
	if err := j.Verify(res.Latencies, res.Chunks, 0); err != nil {
		return model.Result{}, fmt.Errorf("goroutine: %w", err)
	}
	ids.Fill(&res.Usage)
	return res, nil
}

// Close ends the goroutines and waits for them; after a failed Run, once
// they have finished the operation or chunk in hand.
// It is safe to call more than once.
func (x *convoyExec) Close() error {
	x.closed.Do(func() {
		for _, runs := range x.starts {
			close(runs)
		}
	})
	x.done.Wait()
	return nil
}
