package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/pipeline"
)

// pipeSize is the buffer of every pipe that carries payloads. Linux gives a
// pipe 64 KiB; measured on a 2-vCPU VM, 64 KiB writes
// through a 64 KiB pipe reach 1.1–1.3 GiB/s between two processes and
// 2.6–3.5 GiB/s through a 1 MiB pipe, because every time the pipe fills the
// writer sleeps and the reader must be woken. 1 MiB is the default
// /proc/sys/fs/pipe-max-size, the most an unprivileged process may ask for.
// The lab thus measures process IPC at its best, not at a default it does not
// study; a pipe that cannot be raised fails Start rather than silently
// measuring something else.
const pipeSize = 1 << 20

// chain is a running pipeline: one process per stage, joined directly to
// each other by pipes, so every payload crosses the kernel once per hop. The
// parent writes the first pipe (the source) and reads the last (the sink).
type chain struct {
	job     *pipeline.Job
	g       *group // the stages; their control pipes carry hello and usage
	src     *os.File
	sink    *os.File
	srcBuf  []byte
	sinkBuf []byte
}

func startChain(ctx context.Context, exe string, flt fault, j *pipeline.Job) (*chain, error) {
	c := &chain{job: j, g: newGroup(j.Stages), srcBuf: pipeline.NewBuffer(j.PayloadBytes), sinkBuf: pipeline.NewBuffer(j.PayloadBytes)}
	// Data pipe i feeds stage i; pipe Stages feeds the sink. The parent
	// holds every end until the process that owns it has started.
	rs, ws := make([]*os.File, j.Stages+1), make([]*os.File, j.Stages+1)
	fail := func(err error) (*chain, error) {
		for _, f := range slices.Concat(rs, ws) {
			if f != nil {
				f.Close()
			}
		}
		c.g.abort(err)
		c.g.close()
		return nil, err
	}
	for i := range rs {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("process: pipe %d: %w", i, err))
		}
		rs[i], ws[i] = r, w
		if err := growPipe(w); err != nil {
			return fail(fmt.Errorf("process: pipe %d: %w", i, err))
		}
	}
	for i := range j.Stages {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("process: start: %w", err))
		}
		cfgR, cfgW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("process: stage %d: %w", i, err))
		}
		ctlR, ctlW, err := os.Pipe()
		if err != nil {
			cfgR.Close()
			cfgW.Close()
			return fail(fmt.Errorf("process: stage %d: %w", i, err))
		}
		var fk, fr uint64
		if flt.kind != 0 && flt.at == i {
			fk, fr = uint64(flt.kind), uint64(flt.run)
		}
		// The configuration waits in the pipe until the stage reads it.
		err = writeFrame(cfgW, kStage, uint64(j.PayloadBytes), uint64(j.Messages), fk, fr)
		cfgW.Close()
		files := []*os.File{cfgR, ctlW, rs[i], ws[i+1]}
		rs[i], ws[i+1] = nil, nil // start closes them
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			ctlR.Close()
			return fail(fmt.Errorf("process: stage %d: configuration: %w", i, err))
		}
		if err := c.g.start(fmt.Sprintf("stage %d", i), exe, roleStage, files, ctlR); err != nil {
			return fail(fmt.Errorf("process: starting stage %d: %w", i, err))
		}
	}
	c.src, c.sink = ws[0], rs[j.Stages]
	ws[0], rs[j.Stages] = nil, nil
	c.g.files = append(c.g.files, c.src, c.sink)
	if err := c.g.waitReady(ctx); err != nil {
		return fail(err)
	}
	return c, nil
}

// growPipe raises the buffer of the pipe f belongs to to pipeSize.
func growPipe(f *os.File) error {
	// SyscallConn rather than Fd: Fd would switch f to blocking mode.
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) { _, ferr = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) }); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("raising the pipe buffer to %d bytes (see /proc/sys/fs/pipe-max-size): %w", pipeSize, ferr)
	}
	return nil
}

type sourced struct {
	tid int
	err error
}

// Run sends Messages payloads through the stages and verifies each at the
// sink. The source and the sink each run on an OS thread of their own for
// the Run, so that their thread IDs are the threads that did the work.
func (c *chain) Run(ctx context.Context) (model.Result, error) {
	if err := c.g.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	// Ending ctx kills the stages, which ends every read and write of the
	// source and the sink that waits on them.
	defer context.AfterFunc(ctx, c.g.kill)()
	srcDone := make(chan sourced, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		s := sourced{tid: unix.Gettid()}
		for k := range c.job.Messages {
			pipeline.Fill(c.srcBuf, k)
			if _, err := c.src.Write(c.srcBuf); err != nil {
				s.err = fmt.Errorf("source: message %d: %w", k, err)
				break
			}
		}
		srcDone <- s
	}()
	sinkTID, received, err := c.drain()
	if err != nil {
		if ctx.Err() == nil && received {
			// A payload arrived and was wrong: no stage has died.
			return c.fail(fmt.Errorf("process: pipeline: %w", err), srcDone)
		}
		return c.fail(c.cause(ctx, err), srcDone)
	}
	// Every stage reports its usage after writing the Run's last payload.
	reported := make([]bool, len(c.g.procs))
	stages := make([]frame, len(c.g.procs))
	for n := 0; n < len(stages); {
		select {
		case ev := <-c.g.events:
			p := c.g.procs[ev.w]
			if ev.exited {
				return c.fail(c.cause(ctx, errors.New("a stage exited")), srcDone)
			}
			if err := ev.f.want(kDone, 5); err != nil || reported[ev.w] {
				if err == nil {
					err = errors.New("two usage reports in one run")
				}
				return c.fail(p.broke(err), srcDone)
			}
			reported[ev.w], stages[ev.w] = true, ev.f
			n++
		case <-ctx.Done():
			return c.fail(c.cause(ctx, ctx.Err()), srcDone)
		}
	}
	src := <-srcDone
	if src.err != nil {
		return model.Result{}, c.g.abort(fmt.Errorf("process: pipeline: %w", src.err))
	}
	res := model.Result{Received: c.job.Messages}
	var ids model.IDs
	ids.Add(os.Getpid(), src.tid)
	ids.Add(os.Getpid(), sinkTID)
	for _, f := range stages {
		v := f.vals
		ids.Add(int(v[1]), int(v[2]))
		res.ChildCPU += nsDuration(v[3])
		res.ChildPeakRSS += int64(v[4])
	}
	ids.Fill(&res.Usage)
	return res, nil
}

// drain reads and verifies one Run's payloads at the sink. received is
// false when the pipe failed, true when a payload arrived but was wrong.
func (c *chain) drain() (tid int, received bool, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid = unix.Gettid()
	sink := c.job.NewSink()
	for k := range c.job.Messages {
		if _, err := io.ReadFull(c.sink, c.sinkBuf); err != nil {
			return tid, false, fmt.Errorf("sink: message %d: %w", k, err)
		}
		if err := sink.Accept(c.sinkBuf); err != nil {
			return tid, true, err
		}
	}
	return tid, true, nil
}

// cause names why a Run lost its stages: the context, or the stage that
// failed first.
func (c *chain) cause(ctx context.Context, symptom error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("process: pipeline run: %w", err)
	}
	c.g.stop() // reap them all: the statuses say who failed
	// A stage that lost a neighbour exits with neighbourStatus, and one at
	// the end of its input with 0; the stages the lab killed end by
	// SIGKILL. The one that failed on its own is the cause; the order of
	// exits only breaks ties.
	procs := slices.Clone(c.g.procs)
	slices.SortFunc(procs, func(a, b *proc) int { return int(a.exitSeq - b.exitSeq) })
	for _, p := range procs {
		if follower(p.status) {
			continue
		}
		return p.fail("died mid-run")
	}
	for _, p := range procs {
		if p.status != nil {
			return p.fail("died mid-run")
		}
	}
	return fmt.Errorf("process: pipeline: %w", symptom)
}

// follower reports whether a stage's exit status is that of a stage that did
// not fail on its own: a clean exit, a lost neighbour, or the lab's SIGKILL.
func follower(status error) bool {
	var ee *exec.ExitError
	if status == nil {
		return true
	}
	if !errors.As(status, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal() == syscall.SIGKILL
	}
	return ee.ExitCode() == neighbourStatus
}

// fail ends a failed Run: it kills and reaps every stage, waits for the
// source, and marks the Exec unusable.
func (c *chain) fail(err error, srcDone <-chan sourced) (model.Result, error) {
	c.g.abort(err)
	<-srcDone // the stages are gone, so its writes have failed
	return model.Result{}, err
}

// Close ends the source pipe (each stage exits at the end of its input, and
// so ends the next one's) and reaps the stages.
func (c *chain) Close() error { return c.g.close() }
