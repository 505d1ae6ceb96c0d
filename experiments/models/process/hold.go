package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/hold"
)

var _ model.UsageCollector = (*holdExec)(nil)

// The hold workers' protocol. A worker (role "hold") has
//
//	fd 3: from the parent: kHoldStart once, before its hello; then
//	      kHoldProduce (hold.Hold, hold.Release) or kHoldIndex
//	      (hold.OneAtATime), and kAsk, one at a time, each answered before
//	      the next is sent;
//	fd 4: to the parent: kHello (pid, tid), then kDone (pid, tid) once a
//	      result (or its index) is written whole on fd 5, kUsage for kAsk
//	      (as a pool worker's), kFail;
//	fd 5: to the parent: the results, raw, Bytes bytes each (too large for
//	      a frame, and read by the parent straight into its own memory), or
//	      for kHoldIndex a kHoldIndex frame (w).
const (
	kHoldStart   kind = 'K' // result bytes (0: the worker only sends its index), worker number w
	kHoldProduce kind = 'W' // no values: produce the result and send it on fd 5
	// To the worker, no values: send your index on fd 5 (in a kHoldIndex
	// frame, w), and make no result. From it, on fd 5: w.
	kHoldIndex kind = 'N'
)

// holdChunk is the most a release Run reads of a result at once: the size of
// a pipe's buffer, so that one read takes whatever the worker has written.
const holdChunk = 64 << 10

// startHold spawns the job's Workers worker processes, each told its worker
// number and result size, and waits until each has said hello. The caller
// has checked Workers against MaxWorkers.
func (m Model) startHold(ctx context.Context, exe string, j hold.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	g, cmds, outs, err := startRole(ctx, exe, roleStart{
		role: roleHold,
		n:    j.Workers,
		first: func(i int, cmd *os.File) error {
			size := uint64(j.Bytes)
			if j.Keep == hold.OneAtATime {
				size = 0 // it makes no result: it allocates none
			}
			return writeFrame(cmd, kHoldStart, size, uint64(i))
		},
		outs: 1,
	})
	if err != nil {
		return nil, err
	}
	x := &holdExec{workers: newWorkers(g, cmds), results: make([]*os.File, j.Workers), job: j}
	for w, o := range outs {
		x.results[w] = o[0]
	}
	if j.Keep == hold.Release {
		// Made here, outside a warm cell's timed region, and reused by
		// every Run.
		x.chunks = make([][]byte, j.Workers)
		for w := range x.chunks {
			x.chunks[w] = make([]byte, min(j.Bytes, holdChunk))
		}
	}
	return x, nil
}

// holdExec runs the hold workload: worker process w produces result w in its
// own memory and sends it to the parent, the collector, over its results
// pipe; every byte is copied through the kernel. With hold.OneAtATime worker
// w sends only its index, in a frame, and the parent makes result w.
type holdExec struct {
	workers            // cmds: parent → worker w
	results []*os.File // worker w → parent: its results (the group's files)
	chunks  [][]byte   // hold.Release: the buffer worker w's results stream through
	job     hold.Job
	// receivers are the goroutines reading the results of a Run; Close
	// waits for them (they end when the pipes do).
	receivers sync.WaitGroup
}

// received is one result read from worker w's pipe: the result itself
// (hold.Hold), its digest (hold.Release), or only the index the worker sent
// (hold.OneAtATime), which is w.
type received struct {
	w      int
	buf    []byte
	digest uint64
	err    error
}

// Run sets every worker producing, and reads every worker's result from its
// pipe as it streams in, a goroutine per pipe (parked in the netpoller while
// the pipe is empty). With hold.Hold each result is read whole into a fresh
// buffer of this process's, and the collector keeps every one until the
// last has arrived, then digests them: this process holds all Workers
// results at its peak. With hold.Release each result is digested as it
// streams in, through its pipe's reused buffer of holdChunk bytes, and
// nothing of it is kept. Either way each worker holds its own result while
// it sends it.
//
// With hold.OneAtATime (the article's fix) each worker sends only its index,
// and the collector makes each result as its index arrives (a new buffer,
// every byte written), digests it and drops it before it takes the next:
// this process holds one result at its peak, plus what the Go runtime has
// not yet collected of those dropped, and the workers hold none. The
// collector is a hold.Consumer.
func (x *holdExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.g.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	j := x.job
	n := j.Workers
	arrived := make(chan received, n) // never blocks a receiver
	for w := range n {
		x.receivers.Go(func() { arrived <- x.receive(w) })
	}
	job := kHoldProduce
	if j.Keep == hold.OneAtATime {
		job = kHoldIndex
	}
	for w := range x.cmds {
		// A worker that cannot take its job stops them all, which ends
		// the receivers' pipes.
		if err := x.send(w, "take a job", job); err != nil {
			return model.Result{}, err
		}
	}
	c := j.NewConsumer()
	replied := make([]bool, n)
	var ids model.IDs
	for got, done := 0, 0; got < n || done < n; {
		select {
		case r := <-arrived:
			if r.err != nil {
				x.g.stop() // reaped: its exit status is known
				return model.Result{}, x.g.abort(x.g.procs[r.w].fail("failed to send its result: " + r.err.Error()))
			}
			got++
			switch j.Keep {
			case hold.Hold:
				c.Take(r.buf)
			case hold.Release: // digested as it streamed in
				c.TakeDigest(r.digest)
			default: // hold.OneAtATime: make it, digest it, drop it
				c.Make(r.w, nil)
			}
		case ev := <-x.g.events:
			if err := x.takeDone(ev, replied, &ids); err != nil {
				return model.Result{}, err
			}
			done++
		case <-ctx.Done():
			return model.Result{}, x.g.abort(fmt.Errorf("process: run: %w", ctx.Err()))
		}
	}
	var res model.Result
	res.Done, res.Digest = c.Finish()
	ids.Fill(&res.Usage)
	return res, nil
}

// receive reads worker w's result from its pipe: whole, into a new buffer
// (hold.Hold), or through the pipe's chunk buffer into a running CRC-32,
// which is what hold.Digest computes over the whole (hold.Release); or the
// worker's index frame, which must name w (hold.OneAtATime).
func (x *holdExec) receive(w int) received {
	pipe := x.results[w]
	if x.job.Keep == hold.OneAtATime {
		f, err := readFrame(pipe)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if err == nil {
			err = f.want(kHoldIndex, 1)
		}
		if err == nil && f.vals[0] != uint64(w) {
			err = fmt.Errorf("index %d; want %d", f.vals[0], w)
		}
		if err != nil {
			return received{w: w, err: err}
		}
		return received{w: w}
	}
	if x.chunks == nil {
		buf := make([]byte, x.job.Bytes)
		if _, err := io.ReadFull(pipe, buf); err != nil {
			return received{w: w, err: err}
		}
		return received{w: w, buf: buf}
	}
	chunk := x.chunks[w]
	var crc uint32
	for left := x.job.Bytes; left > 0; {
		k, err := pipe.Read(chunk[:min(len(chunk), left)])
		crc = crc32.Update(crc, crc32.IEEETable, chunk[:k])
		left -= k
		if err != nil && left > 0 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return received{w: w, err: err}
		}
	}
	return received{w: w, digest: uint64(crc)}
}

// Close closes the workers' pipes, which ends them, reaps them, and waits for
// the goroutines that read their results (a failed Run's end with the
// pipes).
func (x *holdExec) Close() error {
	err := x.g.close()
	x.receivers.Wait()
	return err
}

// serveHold is a hold worker (roleHold): it reads its start frame, says
// hello, then for each kHoldProduce fills its result (hold.Produce, every
// byte written) and writes it whole on fd 5, or for each kHoldIndex writes
// only its index on fd 5 (a kHoldIndex frame), then replies kDone (pid,
// tid), and answers each kAsk with its usage, until the parent closes fd 3.
//
// The result is the worker's own memory: one buffer, allocated before the
// hello (its pages become resident when the first job writes them) and
// rewritten by every job. A new buffer per job would be the same memory
// again once the runtime collected the old one, but the worker's peak would
// then depend on when that collection ran. A worker told results of 0 bytes
// (hold.OneAtATime) allocates none and takes only kHoldIndex.
func serveHold() error {
	w, files, err := newRoleWorker("commands", "replies", "results")
	if err != nil {
		return err
	}
	defer w.close()
	r, out := bufio.NewReader(files[0]), files[2]
	f, err := w.first(r, kHoldStart, 2, "the start frame")
	if err != nil {
		return err
	}
	size, n := int(f.vals[0]), int(f.vals[1])
	if (size < 8 && size != 0) || size > 1<<30 {
		return w.fail(fmt.Errorf("start frame: results of %d bytes; want 0 (index only), or 8 to 1 GiB", size))
	}
	var buf []byte
	if size > 0 {
		buf = make([]byte, size)
	}
	if err := w.hello(); err != nil {
		return err
	}
	return w.serve(r, "a job", func(f frame) error {
		switch {
		case f.kind == kHoldIndex:
			if err := f.want(kHoldIndex, 0); err != nil {
				return w.fail(err)
			}
			if err := writeFrame(out, kHoldIndex, uint64(n)); err != nil {
				return w.fail(fmt.Errorf("writing the index: %w", err))
			}
		case f.kind == kHoldProduce && buf != nil:
			if err := f.want(kHoldProduce, 0); err != nil {
				return w.fail(err)
			}
			hold.Produce(buf, n)
			if _, err := out.Write(buf); err != nil {
				return w.fail(fmt.Errorf("writing the result: %w", err))
			}
		case f.kind == kHoldProduce:
			return w.fail(fmt.Errorf("job %v for a worker told to make no result", f.kind))
		default:
			return w.fail(fmt.Errorf("unknown job %v", f.kind))
		}
		if err := writeFrame(w.replies, kDone, w.pid, w.tid); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
		return nil
	})
}
