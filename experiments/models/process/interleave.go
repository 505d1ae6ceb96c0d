package process

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/interleave"
)

var _ model.UsageCollector = (*interleaveExec)(nil)

// The interleave workers' protocol. A worker (role "interleave") has
//
//	fd 3: from the parent: kInterleaveConfig once, before its hello; then
//	      kInterleaveGo (run one repeat) and kAsk, one at a time, each
//	      answered before the next is sent;
//	fd 4: to the parent: kHello, then kDone (pid, tid) when its repeat's
//	      events are all written, kUsage for kAsk (as a pool worker's), kFail;
//	fd 5: the write end of the one events pipe every worker shares, whose
//	      read end the parent holds.
//
// An event is an eventRecord-byte record (task, seq) written to fd 5 in one
// write: a write of at most PIPE_BUF bytes reaches a pipe whole, never
// interleaved with another writer's, so the parent reads the records in the
// order the workers' writes reached the pipe.
const (
	kInterleaveConfig kind = 'I' // task, tasks, events, between (0: wait, 1: compute), gap (ns), compute_n
	kInterleaveGo     kind = 'R' // no values: emit this task's events once
)

// eventRecord is the size of an event on the events pipe: task and seq, each
// a little-endian uint32.
const eventRecord = 8

// startInterleave spawns one worker process per task (the article's program
// with multiprocessing.Process instead of threads), all writing their events
// to one pipe, and waits until every one is ready. A warm cell has them
// before its timer starts; a cold one pays for them.
func (m Model) startInterleave(ctx context.Context, exe string, j interleave.Job) (model.Exec, error) {
	if j.Tasks < 2 || j.Tasks > interleave.MaxTasks || j.Events < 1 || j.Repeats < 1 ||
		(j.Between != interleave.Wait && j.Between != interleave.Compute) {
		return nil, fmt.Errorf("process: interleave job of %d tasks × %d events × %d repeats, between %q; build it with interleave.NewJob", j.Tasks, j.Events, j.Repeats, j.Between)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("process: interleave: the events pipe: %w", err)
	}
	x := &interleaveExec{
		g: newGroup(j.Tasks), job: j, owed: make([]bool, j.Tasks),
		events: evR, records: make(chan [2]uint32, min(j.Tasks*j.Events, 4096)), quit: make(chan struct{}),
	}
	x.reader.Go(x.read)
	fail := func(err error) (model.Exec, error) {
		evW.Close()
		x.g.abort(err)
		x.Close()
		return nil, err
	}
	between := uint64(0)
	if j.Between == interleave.Compute {
		between = 1
	}
	for i := range j.Tasks {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("process: start: %w", err))
		}
		ctlR, ctlW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("process: interleave worker %d: %w", i, err))
		}
		// The configuration waits in the pipe until the worker reads it.
		if err := writeFrame(ctlW, kInterleaveConfig, uint64(i), uint64(j.Tasks), uint64(j.Events), between, uint64(j.Gap), uint64(j.ComputeN)); err != nil {
			ctlR.Close()
			ctlW.Close()
			return fail(fmt.Errorf("process: interleave worker %d: configuration: %w", i, err))
		}
		repR, repW, err := os.Pipe()
		if err != nil {
			ctlR.Close()
			ctlW.Close()
			return fail(fmt.Errorf("process: interleave worker %d: %w", i, err))
		}
		// g.start closes the files it passes, so each worker gets its own
		// descriptor of the events pipe's write end.
		ev, err := dupFile(evW, "events")
		if err != nil {
			ctlR.Close()
			ctlW.Close()
			repR.Close()
			repW.Close()
			return fail(fmt.Errorf("process: interleave worker %d: %w", i, err))
		}
		x.g.files = append(x.g.files, ctlW)
		x.ctl = append(x.ctl, ctlW)
		if err := x.g.start(fmt.Sprintf("interleave worker %d", i), exe, roleInterleave, []*os.File{ctlR, repW, ev}, repR); err != nil {
			return fail(fmt.Errorf("process: starting interleave worker %d: %w", i, err))
		}
	}
	// From here only the workers hold the write end: the events pipe ends
	// when the last of them exits.
	evW.Close()
	if err := x.g.waitReady(ctx); err != nil {
		return fail(err)
	}
	return x, nil
}

// dupFile duplicates f's descriptor, close-on-exec.
func dupFile(f *os.File, name string) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fd, derr := -1, error(nil)
	if err := sc.Control(func(u uintptr) { fd, derr = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if derr != nil {
		return nil, fmt.Errorf("duplicating %s: %w", name, derr)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// interleaveExec is the interleave workers, task i on worker i.
type interleaveExec struct {
	g    *group
	job  interleave.Job
	ctl  []*os.File // parent → worker i (fd 3); closing them ends the workers
	owed []bool     // worker i has run a repeat since its usage was last collected

	// The events pipe's read end and the goroutine that reads its records,
	// in arrival order, into records; it closes records when the pipe
	// ends, with readErr set if it ended otherwise than by EOF.
	events  *os.File
	records chan [2]uint32
	readErr error
	quit    chan struct{} // closed by Close: nobody reads records any more
	reader  sync.WaitGroup
	closed  bool
}

func (x *interleaveExec) read() {
	defer close(x.records)
	r := bufio.NewReader(x.events)
	var rec [eventRecord]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				x.readErr = err
			}
			return
		}
		select {
		case x.records <- [2]uint32{binary.LittleEndian.Uint32(rec[:]), binary.LittleEndian.Uint32(rec[4:])}:
		case <-x.quit:
			return
		}
	}
}

// Run runs the job's repeats one after another. For each it sends every
// worker its start message, one after the other (a few microseconds apart),
// then logs the events in the order they come out of the pipe until every
// task's events and every worker's end of the repeat have arrived. A worker
// that dies, or ctx ending, fails the Run; every worker is then killed and
// the Exec is no longer usable. It reads no usage: CollectUsage does.
func (x *interleaveExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.g.usable(ctx, "interleave run"); err != nil {
		return model.Result{}, err
	}
	j := x.job
	orders := make([]string, 0, j.Repeats)
	var ids model.IDs
	for range j.Repeats {
		for w, ctl := range x.ctl {
			x.owed[w] = true
			if err := writeFrame(ctl, kInterleaveGo); err != nil {
				x.g.stop()
				return model.Result{}, x.g.abort(x.g.procs[w].fail("died before it could start a repeat"))
			}
		}
		log := interleave.NewLog(j.Tasks)
		for got, done := 0, 0; got < j.Tasks*j.Events || done < j.Tasks; {
			select {
			case rec, ok := <-x.records:
				if !ok {
					err := x.readErr
					if err == nil {
						err = io.ErrUnexpectedEOF
					}
					return model.Result{}, x.g.abort(fmt.Errorf("process: interleave: the events pipe ended after %d of %d events: %w", got, j.Tasks*j.Events, err))
				}
				log.Emit(int(rec[0]), int(rec[1]))
				got++
			case ev := <-x.g.events:
				pr := x.g.procs[ev.w]
				if ev.exited {
					return model.Result{}, x.g.abort(pr.fail("died mid-repeat"))
				}
				if err := ev.f.want(kDone, 2); err != nil {
					return model.Result{}, x.g.abort(&workerError{name: pr.name, pid: pr.pid, what: "broke the protocol", reason: err.Error()})
				}
				ids.Add(int(ev.f.vals[0]), int(ev.f.vals[1]))
				done++
			case <-ctx.Done():
				return model.Result{}, x.g.abort(fmt.Errorf("process: interleave run: %w", ctx.Err()))
			}
		}
		order, err := log.Order()
		if err != nil {
			return model.Result{}, x.g.abort(fmt.Errorf("process: %w", err))
		}
		orders = append(orders, order)
	}
	if err := j.Verify(orders); err != nil {
		return model.Result{}, x.g.abort(fmt.Errorf("process: %w", err))
	}
	res := model.Result{Orders: orders}
	ids.Fill(&res.Usage)
	return res, nil
}

// CollectUsage asks every worker that has run a repeat since the last
// collection for its usage, as the pool's CollectUsage does.
func (x *interleaveExec) CollectUsage(ctx context.Context) (time.Duration, int64, error) {
	return x.g.collectUsage(ctx, x.ctl, x.owed, nil)
}

// Close closes the workers' control pipes, which ends them, reaps them, and
// then stops reading the events pipe, which their exit has ended.
func (x *interleaveExec) Close() error {
	if x.closed {
		return nil
	}
	x.closed = true
	err := x.g.close()
	close(x.quit)
	x.events.Close()
	x.reader.Wait()
	return err
}

// serveInterleave reads its configuration (kInterleaveConfig) from fd 3,
// says hello on fd 4, then for every kInterleaveGo emits its task's events
// to the shared events pipe (fd 5), pausing between two of them, and reports
// the repeat done on fd 4; it answers kAsk with its usage, as servePool
// does. It returns when the parent closes fd 3. All of it on the worker's one
// locked thread: the waits are nanosleep, the pauses j.Pause.
func serveInterleave() error {
	var files [3]*os.File
	for i, name := range []string{"control", "replies", "events"} {
		f, err := inherited(3+i, name)
		if err != nil {
			return err
		}
		files[i] = f
	}
	ctl, replies, events := files[0], files[1], files[2]
	fail := func(err error) error {
		writeText(replies, kFail, err.Error()) // best effort: the error also goes to stderr
		return err
	}
	r := bufio.NewReader(ctl)
	f, err := readFrame(r)
	if err == nil {
		err = f.want(kInterleaveConfig, 6)
	}
	if err != nil {
		return fail(fmt.Errorf("reading the configuration: %w", err))
	}
	between := interleave.Wait
	if f.vals[3] == 1 {
		between = interleave.Compute
	}
	task := int(f.vals[0])
	j, err := interleave.NewJob(int(f.vals[1]), int(f.vals[2]), 1, between, time.Duration(f.vals[4]), int(f.vals[5]))
	if err == nil && (task < 0 || task >= j.Tasks) {
		err = fmt.Errorf("task %d of %d", task, j.Tasks)
	}
	if err != nil {
		return fail(fmt.Errorf("configuration: %w", err))
	}
	m, err := osmeter.OpenMeter()
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	pid, tid := uint64(os.Getpid()), uint64(unix.Gettid())
	if err := m.ResetPeak(); err != nil {
		return fail(err)
	}
	if err := writeFrame(replies, kHello, pid, tid); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	var rec [eventRecord]byte
	binary.LittleEndian.PutUint32(rec[:], uint32(task))
	var cpu0 uint64   // CPU time at the first repeat since the last ask
	counting := false // a repeat has started since the last ask
	for {
		f, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return nil // the parent closed the pipe: Close, or the parent died
		}
		if err != nil {
			return fail(fmt.Errorf("reading a request: %w", err))
		}
		switch f.kind {
		case kInterleaveGo:
			if err := f.want(kInterleaveGo, 0); err != nil {
				return fail(err)
			}
			if !counting {
				cpu0, counting = cpuTime(), true
			}
			for seq := range j.Events {
				binary.LittleEndian.PutUint32(rec[4:], uint32(seq))
				if _, err := events.Write(rec[:]); err != nil {
					return fail(fmt.Errorf("writing event %d: %w", seq, err))
				}
				if seq == j.Events-1 {
					break
				}
				if j.Between == interleave.Wait {
					nanosleep(j.Gap)
				} else if err := j.CheckPause(j.Pause()); err != nil {
					return fail(err)
				}
			}
			if err := writeFrame(replies, kDone, pid, tid); err != nil {
				return fmt.Errorf("reply: %w", err)
			}
		case kAsk:
			if err := f.want(kAsk, 0); err != nil {
				return fail(err)
			}
			var used uint64
			if counting {
				used = max(cpuTime(), cpu0) - cpu0
				counting = false
			}
			peak, err := peakRSS(m)
			if err != nil {
				return fail(err)
			}
			if err := m.ResetPeak(); err != nil {
				return fail(err)
			}
			if err := writeFrame(replies, kUsage, used, peak); err != nil {
				return fmt.Errorf("usage: %w", err)
			}
		default:
			return fail(fmt.Errorf("unknown request %v", f.kind))
		}
	}
}
