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

// convoyExec runs the convoy workload on a crew of goroutines that Start
// creates: goroutine 0 is the I/O goroutine, 1…CPUWorkers the CPU
// goroutines.
//
// In a Run every CPU goroutine says it has begun and counts chunks until the
// I/O goroutine is done, finishing the chunk in hand first, so each
// completes at least one. The I/O goroutine waits until every CPU goroutine
// has begun, then makes its Ops waits with time.Sleep, which parks it on a
// runtime timer and frees its thread; it times each from just before the
// call until it runs again. How soon it runs again is up to Go's scheduler:
// a P must be free, or a CPU goroutine preempted, to run it.
type convoyExec struct {
	*crew
	job convoy.Job
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
	timed  time.Duration   // the I/O goroutine's, from its first wait to its last
	chunks []int
	tids   [][]int // the distinct threads each worker ran on
	errs   []error
}

func startConvoy(ctx context.Context, j convoy.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("goroutine: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("goroutine: start: %w", err)
	}
	return &convoyExec{job: j, crew: startCrew(1 + j.CPUWorkers)}, nil
}

// io is the I/O goroutine's part of a Run.
//
// It records the thread it ran on after every operation, and a CPU
// goroutine after every chunk, inside the timed region: only a gettid says
// which thread a goroutine is on now, and a goroutine may move. A gettid is
// a system call of ~50 ns: 500 operations cost ~25 µs, under 0.1% of the
// smallest convoy cell (500 waits of 100 µs).
func (r *convoyRun) io() {
	// Set last: the CPU goroutines stop after their chunk in hand.
	defer r.stop.Store(true)
	r.begun.Wait()
	var first, last time.Time
	for k := range r.job.Ops {
		if r.abandoned.Load() {
			return
		}
		start := time.Now()
		if k == 0 {
			first = start
		}
		time.Sleep(r.job.IOWait)
		last = time.Now()
		r.lat = append(r.lat, last.Sub(start))
		r.tids[0] = addTID(r.tids[0], unix.Gettid())
	}
	r.timed = last.Sub(first)
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
//
// Its Result's Timed is the I/O goroutine's own time, from just before its
// first wait until it ran again after its last (see package convoy): not
// the hand-out, the wait until every CPU goroutine has begun, nor the CPU
// goroutines' last chunk after the stop.
func (x *convoyExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.usable(ctx, "convoy"); err != nil {
		return model.Result{}, err
	}
	j := x.job
	n := 1 + j.CPUWorkers
	r := &convoyRun{job: j, lat: make([]time.Duration, 0, j.Ops),
		chunks: make([]int, n), tids: make([][]int, n), errs: make([]error, n)}
	r.begun.Add(j.CPUWorkers)
	r.finished.Add(n)
	x.hand(func(i int) {
		if i == 0 {
			r.io()
		} else {
			r.cpu(i)
		}
		r.finished.Done()
	})
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
	res := model.Result{Latencies: r.lat, Timed: r.timed}
	var ids model.IDs
	pid := os.Getpid()
	for i, c := range r.chunks {
		res.Chunks += c
		for _, tid := range r.tids[i] {
			ids.Add(pid, tid)
		}
	}
	ids.Fill(&res.Usage)
	return res, nil
}
