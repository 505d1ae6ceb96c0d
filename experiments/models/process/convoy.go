package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osthread"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
)

var _ model.UsageCollector = (*convoyExec)(nil)

// The convoy's frames, besides kHello, kDone, kAsk, kUsage and kFail.
const (
	// Parent → convoy worker, once, before its hello: role (convoyIO or
	// convoyCPU), ops, I/O wait (ns), chunk_n.
	kConvoyStart kind = 'c'
	// Parent → convoy worker: start the Run's work (no values).
	kConvoyRun kind = 'r'
	// Parent → CPU worker: the I/O worker is done; finish the chunk in
	// hand and report (no values).
	kConvoyStop kind = 's'
	// CPU worker → parent: it has begun its chunks (no values).
	kConvoyBegun kind = 'b'
	// I/O worker → parent: up to convoyLatsPerFrame operation latencies
	// (ns), in order. A Run's are followed by its kDone: ops, pid, tid and
	// its own time (ns) from just before its first wait until after its last.
	kConvoyLats kind = 'l'
)

// The roles in kConvoyStart.
const (
	convoyIO  = 0
	convoyCPU = 1
)

// convoyLatsPerFrame keeps a latency frame well under maxFrame.
const convoyLatsPerFrame = 4096

// convoyExec runs the convoy workload on worker processes that Start
// spawns: the I/O worker (procs[0]) and CPUWorkers CPU workers. A worker's
// files: fd 3 from the parent (kConvoyStart, then kConvoyRun, kConvoyStop,
// kAsk), fd 4 to the parent. Each works on its one locked thread, in
// blocking system calls.
//
// A Run tells every CPU worker to start and waits until each has begun
// (kConvoyBegun), then tells the I/O worker to start; the I/O worker makes
// its Ops waits, each a nanosleep, timing each from just before the call
// until it runs again, and then sends the latencies (kConvoyLats) and its
// own time from just before its first wait until after its last (kDone).
// The parent then tells every CPU worker to stop (kConvoyStop); each
// finishes the chunk in hand, so it completes at least one, and reports
// its chunks (kDone). Between chunks a CPU worker looks for the stop with a
// zero-timeout poll of fd 3 (~1 µs, against chunks of milliseconds).
//
// Nothing is shared but the CPUs: the I/O worker waits for no one when its
// nanosleep ends but the kernel's scheduler.
type convoyExec struct {
	workers // cmds: parent → worker i
	job     convoy.Job
}

func (m Model) startConvoy(ctx context.Context, exe string, j convoy.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	n := 1 + j.CPUWorkers
	if n > MaxWorkers {
		return nil, fmt.Errorf("process: convoy: %d workers exceed the cap of %d worker processes", n, MaxWorkers)
	}
	roleOf := func(i int) uint64 {
		if i == 0 {
			return convoyIO
		}
		return convoyCPU
	}
	g, cmds, _, err := startRole(ctx, exe, roleStart{
		role: roleConvoy,
		n:    n,
		name: func(i int) string {
			if i == 0 {
				return "convoy I/O worker"
			}
			return fmt.Sprintf("convoy CPU worker %d", i)
		},
		first: func(i int, cmd *os.File) error {
			return writeFrame(cmd, kConvoyStart, roleOf(i), uint64(j.Ops), uint64(j.IOWait), uint64(j.ChunkN))
		},
	})
	if err != nil {
		return nil, err
	}
	return &convoyExec{workers: newWorkers(g, cmds), job: j}, nil
}

// Run runs the convoy once (see convoyExec). A worker that dies or breaks
// the protocol, or the end of ctx, kills every worker and makes the Exec
// unusable. It reads no usage: CollectUsage does, after the Run.
//
// Its Result's Timed is the I/O worker's own time, measured by the worker
// from just before its first nanosleep until it ran again after its last
// (see package convoy): not the frames that start and stop the workers,
// the wait until every CPU worker has begun, the latencies' way back, nor
// the CPU workers' last chunk after the stop.
func (x *convoyExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.g.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	j := x.job
	n := len(x.g.procs)
	send := func(w int, k kind) error { return x.send(w, "take a job", k) }
	// next returns the next frame from a worker of the wanted role (I/O
	// or CPU); a worker's exit, a frame from the other role, or the end of
	// ctx fails the Run.
	next := func(fromIO bool) (event, error) {
		select {
		case ev := <-x.g.events:
			p := x.g.procs[ev.w]
			if ev.exited {
				return ev, x.g.abort(p.fail("died mid-run"))
			}
			if (ev.w == 0) != fromIO {
				return ev, x.broke(ev.w, fmt.Errorf("sent frame %v out of turn", ev.f.kind))
			}
			return ev, nil
		case <-ctx.Done():
			return event{}, x.g.abort(fmt.Errorf("process: convoy run: %w", ctx.Err()))
		}
	}
	var ids model.IDs
	begun := make([]bool, n)
	for w := 1; w < n; w++ {
		if err := send(w, kConvoyRun); err != nil {
			return model.Result{}, err
		}
	}
	for left := n - 1; left > 0; left-- {
		ev, err := next(false)
		if err != nil {
			return model.Result{}, err
		}
		if err := ev.f.want(kConvoyBegun, 0); err != nil || begun[ev.w] {
			if err == nil {
				err = errors.New("began twice")
			}
			return model.Result{}, x.broke(ev.w, err)
		}
		begun[ev.w] = true
	}
	if err := send(0, kConvoyRun); err != nil {
		return model.Result{}, err
	}
	lat := make([]time.Duration, 0, j.Ops)
	var timed time.Duration // the I/O worker's own
	for {
		ev, err := next(true)
		if err != nil {
			return model.Result{}, err
		}
		if ev.f.kind == kConvoyLats && len(lat)+len(ev.f.vals) <= j.Ops {
			for _, v := range ev.f.vals {
				lat = append(lat, nsDuration(v))
			}
			continue
		}
		if err := ev.f.want(kDone, 4); err != nil || len(lat) != j.Ops {
			if err == nil {
				err = fmt.Errorf("done after %d of %d latencies", len(lat), j.Ops)
			}
			return model.Result{}, x.broke(0, err)
		}
		ids.Add(int(ev.f.vals[1]), int(ev.f.vals[2]))
		timed = nsDuration(ev.f.vals[3])
		break
	}
	for w := 1; w < n; w++ {
		if err := send(w, kConvoyStop); err != nil {
			return model.Result{}, err
		}
	}
	res := model.Result{Latencies: lat, Timed: timed}
	for left := n - 1; left > 0; left-- {
		ev, err := next(false)
		if err != nil {
			return model.Result{}, err
		}
		if err := ev.f.want(kDone, 3); err != nil || !begun[ev.w] {
			if err == nil {
				err = errors.New("reported twice")
			}
			return model.Result{}, x.broke(ev.w, err)
		}
		begun[ev.w] = false
		res.Chunks += int(ev.f.vals[0])
		ids.Add(int(ev.f.vals[1]), int(ev.f.vals[2]))
	}
	ids.Fill(&res.Usage)
	return res, nil
}

// broke fails the Run because worker w broke the protocol.
func (x *convoyExec) broke(w int, err error) error {
	return x.g.abort(x.g.procs[w].broke(err))
}

// Close closes the workers' control pipes, which ends them, and reaps them.
func (x *convoyExec) Close() error { return x.g.close() }

// serveConvoy is a convoy worker (roleConvoy): it reads its start frame
// (kConvoyStart) from fd 3, says hello on fd 4, then serves Runs
// (kConvoyRun) and usage requests (kAsk, answered as servePool does) until
// the parent closes fd 3. fd 3 is read unbuffered: a CPU worker polls it
// for the stop, which a buffer could hide.
func serveConvoy() error {
	w, files, err := newRoleWorker("control", "replies")
	if err != nil {
		return err
	}
	defer w.close()
	ctl := files[0]
	f, err := w.first(ctl, kConvoyStart, 4, "the start frame")
	if err != nil {
		return err
	}
	role := f.vals[0]
	if role != convoyIO && role != convoyCPU {
		return w.fail(fmt.Errorf("start frame: role %d; want %d (I/O) or %d (CPU)", role, convoyIO, convoyCPU))
	}
	j, err := convoy.NewJob(int(f.vals[1]), time.Duration(f.vals[2]), 0, int(f.vals[3]))
	if err != nil {
		return w.fail(fmt.Errorf("start frame: %w", err))
	}
	// Made once: a Run writes the I/O worker's latencies here.
	var lats []uint64
	if role == convoyIO {
		lats = make([]uint64, j.Ops)
	}
	if err := w.hello(); err != nil {
		return err
	}
	return w.serve(ctl, "a request", func(f frame) error {
		if f.kind != kConvoyRun {
			return w.fail(fmt.Errorf("unknown request %v", f.kind))
		}
		if err := f.want(kConvoyRun, 0); err != nil {
			return w.fail(err)
		}
		var err error
		if role == convoyIO {
			err = convoyOps(j, lats, w.replies, w.pid, w.tid)
		} else {
			err = convoyChunks(j, ctl, w.replies, w.pid, w.tid)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return w.fail(err)
		}
		return err // io.EOF: the parent closed the pipe mid-run
	})
}

// convoyOps is the I/O worker's Run: its operations, each a nanosleep timed
// from just before the call until the thread runs again, then the
// latencies (in lats, one per operation) and kDone (ops, pid, tid, and the
// worker's time in ns from just before its first wait until after its last:
// the cell's time).
func convoyOps(j convoy.Job, lats []uint64, replies *os.File, pid, tid uint64) error {
	var first, last time.Time
	for i := range lats {
		start := time.Now()
		if i == 0 {
			first = start
		}
		if err := osthread.Nanosleep(j.IOWait); err != nil {
			return fmt.Errorf("I/O operation %d: %w", i+1, err)
		}
		last = time.Now()
		lats[i] = uint64(last.Sub(start))
	}
	for rest := lats; len(rest) > 0; {
		k := min(len(rest), convoyLatsPerFrame)
		if err := writeFrame(replies, kConvoyLats, rest[:k]...); err != nil {
			return fmt.Errorf("latencies: %w", err)
		}
		rest = rest[k:]
	}
	if err := writeFrame(replies, kDone, uint64(len(lats)), pid, tid, uint64(last.Sub(first))); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return nil
}

// convoyChunks is a CPU worker's Run: it says it has begun, counts and
// checks chunks until the parent's stop has arrived on ctl (looked for
// between chunks), and reports kDone (chunks, pid, tid). It returns io.EOF
// if the parent closed ctl instead.
func convoyChunks(j convoy.Job, ctl, replies *os.File, pid, tid uint64) error {
	if err := writeFrame(replies, kConvoyBegun); err != nil {
		return fmt.Errorf("begun: %w", err)
	}
	fds := []unix.PollFd{{Fd: int32(ctl.Fd()), Events: unix.POLLIN}}
	chunks := 0
	for {
		if err := j.CheckChunk(j.Chunk(nil)); err != nil {
			return err
		}
		chunks++
		n, err := unix.Poll(fds, 0)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll: %w", err)
		}
		if n > 0 {
			break // the stop, or the end of the pipe (POLLHUP)
		}
	}
	f, err := readFrame(ctl)
	if err != nil {
		return err
	}
	if err := f.want(kConvoyStop, 0); err != nil {
		return err
	}
	if err := writeFrame(replies, kDone, uint64(chunks), pid, tid); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return nil
}
