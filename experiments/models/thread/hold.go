package thread

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/hold"
)

// produceChunk is how much of a result a thread-gil thread writes between
// two polls of the GIL's drop request (CPython's eval breaker is checked
// between bytecodes; a Python loop building a result polls it many times per
// 64 KiB).
const produceChunk = 64 << 10

// startHold creates the job's Workers OS threads (locked for life, as every
// worker of this package), which each Run sets to produce one result each.
func (m Model) startHold(ctx context.Context, j hold.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	if j.Workers > MaxThreads {
		return nil, fmt.Errorf("%s: hold job needs %d threads; this model creates at most %d", m.Name(), j.Workers, MaxThreads)
	}
	b, err := m.startBase(ctx, j.Workers)
	if err != nil {
		return nil, err
	}
	x := &holdExec{base: b, job: j}
	if b.gil != nil && j.Keep == hold.OneAtATime {
		x.consumer = b.gil.NewThread()
	}
	return x, nil
}

// holdExec runs the hold workload: thread i allocates and fills result i in
// the memory every thread shares, and hands it by reference to the
// collector, Run's own goroutine (the article's main thread collecting what
// its threads return); with hold.OneAtATime thread i hands over only its
// index, and the collector makes result i itself.
type holdExec struct {
	*base
	job hold.Job
	// consumer is the collector's handle on the GIL (thread-gil,
	// hold.OneAtATime: it makes the results, which is Python code), nil
	// otherwise.
	consumer *GILThread
}

// produced is one result handed to the collector: the result itself, or
// with hold.OneAtATime only its index (buf nil).
type produced struct {
	w   int
	buf []byte
}

// Run releases every thread at once; each allocates a result of Bytes bytes
// (a fresh allocation every Run, as a Python function returns a new object
// every call), writes every byte of it (hold.Produce) and sends it to the
// collector. With hold.Hold the collector keeps every result until the last
// has arrived and only then digests them, so all Workers results are alive
// at the peak; with hold.Release it digests each as it arrives and drops it,
// so the results alive at the peak are those produced and not yet digested:
// with threads producing side by side, possibly all of them (and the memory
// of a dropped one comes back at the Go runtime's next collection, not at
// once as CPython's reference counting would give it back).
//
// With hold.OneAtATime (the article's fix) a thread only sends its index,
// and the collector makes each result as its index arrives: a new buffer,
// every byte written, digested and dropped before it takes the next index.
// One result is alive at the peak, plus what the runtime has not yet
// collected of those dropped.
//
// With the GIL a thread holds it while it produces, polling the drop request
// every produceChunk bytes; with hold.OneAtATime a thread takes it only to
// note who it is, and the collector takes it to produce, polling the same
// way. The collector digests without it: CPython's zlib.crc32 releases the
// GIL for buffers of more than 5 KiB. The collector is a hold.Consumer.
func (x *holdExec) Run(ctx context.Context) (model.Result, error) {
	j := x.job
	n := j.Workers
	pids, tids := make([]int, n), make([]int, n)
	results := make(chan produced, n) // never blocks a thread
	ran := make(chan error, 1)
	go func() {
		ran <- x.each(ctx, "hold", func(i int) {
			g := x.gs[i]
			g.Acquire()
			pids[i], tids[i] = unix.Getpid(), unix.Gettid()
			var buf []byte
			if j.Keep != hold.OneAtATime {
				buf = make([]byte, j.Bytes)
				produce(buf, i, g)
			}
			g.Release()
			results <- produced{i, buf}
		}, nil)
	}()
	c, makeResult := j.NewConsumer(), x.makeResult
	eachDone := false
	for got := 0; got < n; {
		select {
		case r := <-results:
			got++
			if j.Keep == hold.OneAtATime {
				c.Make(r.w, makeResult) // make it, digest it, drop it
			} else {
				c.Take(r.buf)
			}
		case err := <-ran:
			if err != nil {
				return model.Result{}, err
			}
			// Every thread has sent its result: the rest are buffered.
			eachDone, ran = true, nil
		}
	}
	if !eachDone {
		// Every result is in, but each returns only once every thread
		// has counted itself done; an error now is ctx ending in between.
		if err := <-ran; err != nil {
			return model.Result{}, err
		}
	}
	var res model.Result
	res.Done, res.Digest = c.Finish()
	fillIDs(&res.Usage, pids, tids)
	return res, nil
}

// makeResult is how the collector makes result w with hold.OneAtATime, in
// the new buffer the hold.Consumer hands it: under the GIL, with one,
// polling its drop request as the threads do.
func (x *holdExec) makeResult(buf []byte, w int) {
	x.consumer.Acquire()
	produce(buf, w, x.consumer)
	x.consumer.Release()
}

// produce fills buf with result w (hold.Produce) chunk by chunk, polling g's
// drop request after each chunk (g holds the GIL; nil without one).
func produce(buf []byte, w int, g *GILThread) {
	for lo := 0; lo < len(buf); lo += produceChunk {
		// A chunk starts at a multiple of 8, where the pattern starts
		// again: the chunks make up the whole result.
		hold.Produce(buf[lo:min(lo+produceChunk, len(buf))], w)
		g.Check()
	}
}
