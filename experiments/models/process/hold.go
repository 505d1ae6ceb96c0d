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
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/hold"
)

var _ model.UsageCollector = (*holdExec)(nil)

// The hold workers' protocol. A worker (role "hold") has
//
//	fd 3: from the parent: kHoldStart once, before its hello; then
//	      kHoldProduce and kAsk, one at a time, each answered before the
//	      next is sent;
//	fd 4: to the parent: kHello (pid, tid), then kDone (pid, tid) once a
//	      result is written whole on fd 5, kUsage for kAsk (as a pool
//	      worker's), kFail;
//	fd 5: to the parent: the results, raw, Bytes bytes each (too large for
//	      a frame, and read by the parent straight into its own memory).
const (
	kHoldStart   kind = 'K' // result bytes, worker number w
	kHoldProduce kind = 'W' // no values: produce the result and send it on fd 5
)

// holdChunk is the most a release Run reads of a result at once: the size of
// a pipe's buffer, so that one read takes whatever the worker has written.
const holdChunk = 64 << 10

// startHold spawns the job's Workers worker processes, each told its worker
// number and result size, and waits until each has said hello. The caller
// has checked Workers against MaxWorkers.
func (m Model) startHold(ctx context.Context, exe string, j hold.Job) (model.Exec, error) {
	if j.Workers < 1 || j.Bytes < 8 || (j.Keep != hold.Hold && j.Keep != hold.Release) {
		return nil, fmt.Errorf("process: hold job of %d workers × %d bytes, results %q; build it with hold.NewJob", j.Workers, j.Bytes, j.Keep)
	}
	g, cmds, outs, err := startRole(ctx, exe, roleHold, j.Workers, 1, func(i int, cmd *os.File) error {
		return writeFrame(cmd, kHoldStart, uint64(j.Bytes), uint64(i))
	})
	if err != nil {
		return nil, err
	}
	x := &holdExec{g: g, cmds: cmds, results: make([]*os.File, j.Workers), owed: make([]bool, j.Workers), job: j}
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
// pipe; every byte is copied through the kernel.
type holdExec struct {
	g       *group
	cmds    []*os.File // parent → worker w; closing them ends the workers
	results []*os.File // worker w → parent: its results (the group's files)
	chunks  [][]byte   // hold.Release: the buffer worker w's results stream through
	owed    []bool     // worker w has produced since its usage was last collected
	job     hold.Job
	// receivers are the goroutines reading the results of a Run; Close
	// waits for them (they end when the pipes do).
	receivers sync.WaitGroup
}

// received is one result read from worker w's pipe: the result itself
// (hold.Hold) or its digest (hold.Release).
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
	for w, cmd := range x.cmds {
		x.owed[w] = true
		if err := writeFrame(cmd, kHoldProduce); err != nil {
			// The worker is gone; its exit status, known once it is
			// reaped, tells why. Stopping every worker ends the
			// receivers' pipes.
			x.g.stop()
			return model.Result{}, x.g.abort(x.g.procs[w].fail("died before it could take a job"))
		}
	}
	var kept [][]byte // hold.Hold: every result, until the last arrives
	if j.Keep == hold.Hold {
		kept = make([][]byte, 0, n)
	}
	digests := make([]uint64, 0, n)
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
			if j.Keep == hold.Hold {
				kept = append(kept, r.buf)
				continue
			}
			digests = append(digests, r.digest)
		case ev := <-x.g.events:
			w, p := ev.w, x.g.procs[ev.w]
			if ev.exited {
				return model.Result{}, x.g.abort(p.fail("died during the run"))
			}
			err := ev.f.want(kDone, 2)
			if err == nil && (replied[w] || ev.f.vals[0] != uint64(p.pid)) {
				err = fmt.Errorf("a second reply, or one from pid %d", ev.f.vals[0])
			}
			if err != nil {
				return model.Result{}, x.g.abort(&workerError{name: p.name, pid: p.pid, what: "broke the protocol", reason: err.Error()})
			}
			replied[w] = true
			done++
			ids.Add(int(ev.f.vals[0]), int(ev.f.vals[1]))
		case <-ctx.Done():
			return model.Result{}, x.g.abort(fmt.Errorf("process: run: %w", ctx.Err()))
		}
	}
	for k, buf := range kept {
		digests = append(digests, hold.Digest(buf))
		kept[k] = nil
	}
	res := model.Result{Done: len(digests), Digest: hold.Sum(digests)}
	if err := j.Verify(res.Digest, res.Done); err != nil {
		return model.Result{}, x.g.abort(fmt.Errorf("process: %w", err))
	}
	ids.Fill(&res.Usage)
	return res, nil
}

// receive reads worker w's result from its pipe: whole, into a new buffer
// (hold.Hold), or through the pipe's chunk buffer into a running CRC-32,
// which is what hold.Digest computes over the whole (hold.Release).
func (x *holdExec) receive(w int) received {
	pipe := x.results[w]
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

// CollectUsage asks every worker that produced since the last collection
// for its CPU time and peak RSS (see usageSinceAsk). It implements
// model.UsageCollector.
func (x *holdExec) CollectUsage(ctx context.Context) (time.Duration, int64, error) {
	return x.g.collectUsage(ctx, x.cmds, x.owed, nil)
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
// byte written) and writes it whole on fd 5, then replies kDone (pid, tid),
// and answers each kAsk with its usage, until the parent closes fd 3.
//
// The result is the worker's own memory: one buffer, allocated before the
// hello (its pages become resident when the first job writes them) and
// rewritten by every job. A new buffer per job would be the same memory
// again once the runtime collected the old one, but the worker's peak would
// then depend on when that collection ran.
func serveHold() error {
	cmds, err := inherited(3, "commands")
	if err != nil {
		return err
	}
	replies, err := inherited(4, "replies")
	if err != nil {
		return err
	}
	out, err := inherited(5, "results")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		writeText(replies, kFail, err.Error()) // best effort: the error also goes to stderr
		return err
	}
	r := bufio.NewReader(cmds)
	f, err := readFrame(r)
	if err == nil {
		err = f.want(kHoldStart, 2)
	}
	if err != nil {
		return fail(fmt.Errorf("reading the start frame: %w", err))
	}
	size, w := int(f.vals[0]), int(f.vals[1])
	if size < 8 || size > 1<<30 {
		return fail(fmt.Errorf("start frame: results of %d bytes; want 8 to 1 GiB", size))
	}
	buf := make([]byte, size)
	u, err := openUsage()
	if err != nil {
		return fail(err)
	}
	defer u.close()
	pid, tid := uint64(os.Getpid()), uint64(unix.Gettid())
	if err := writeFrame(replies, kHello, pid, tid); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	for {
		f, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return nil // the parent closed the pipe: Close, or the parent died
		}
		if err != nil {
			return fail(fmt.Errorf("reading a job: %w", err))
		}
		switch f.kind {
		case kHoldProduce:
			if err := f.want(kHoldProduce, 0); err != nil {
				return fail(err)
			}
			u.jobStarts()
			hold.Produce(buf, w)
			if _, err := out.Write(buf); err != nil {
				return fail(fmt.Errorf("writing the result: %w", err))
			}
			if err := writeFrame(replies, kDone, pid, tid); err != nil {
				return fmt.Errorf("reply: %w", err)
			}
		case kAsk:
			if err := f.want(kAsk, 0); err != nil {
				return fail(err)
			}
			if err := u.report(replies); err != nil {
				return fail(err)
			}
		default:
			return fail(fmt.Errorf("unknown job %v", f.kind))
		}
	}
}
