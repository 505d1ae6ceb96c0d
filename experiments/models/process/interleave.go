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

	"concurrency-lab/experiments/internal/osthread"
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
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("process: interleave: the events pipe: %w", err)
	}
	between := uint64(0)
	if j.Between == interleave.Compute {
		between = 1
	}
	g, ctl, _, err := startRole(ctx, exe, roleStart{
		role: roleInterleave,
		n:    j.Tasks,
		first: func(i int, cmd *os.File) error {
			return writeFrame(cmd, kInterleaveConfig, uint64(i), uint64(j.Tasks), uint64(j.Events), between, uint64(j.Gap), uint64(j.ComputeN))
		},
		// Each worker gets its own descriptor of the events pipe's write
		// end, as fd 5.
		extra: func(i int) ([]*os.File, error) {
			ev, err := dupFile(evW, "events")
			if err != nil {
				return nil, fmt.Errorf("process: interleave worker %d: %w", i, err)
			}
			return []*os.File{ev}, nil
		},
	})
	// From here only the workers hold the write end: the events pipe ends
	// when the last of them exits.
	evW.Close()
	if err != nil {
		evR.Close()
		return nil, err
	}
	x := &interleaveExec{
		workers: newWorkers(g, ctl), job: j,
		events: evR, records: make(chan [2]uint32, min(j.Tasks*j.Events, 4096)), quit: make(chan struct{}),
	}
	x.reader.Go(x.read)
	return x, nil
}

// interleaveExec is the interleave workers, task i on worker i.
type interleaveExec struct {
	workers // cmds: parent → worker i (fd 3)
	job     interleave.Job

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
// task's events and every worker's end of the repeat have arrived. Each
// repeat's log is checked (an event skipped or repeated); the caller
// verifies the orders. A worker that dies, or ctx ending, fails the Run;
// every worker is then killed and the Exec is no longer usable. It reads no
// usage: CollectUsage does.
func (x *interleaveExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.g.usable(ctx, "interleave run"); err != nil {
		return model.Result{}, err
	}
	j := x.job
	orders := make([]string, 0, j.Repeats)
	var ids model.IDs
	for range j.Repeats {
		for w := range x.cmds {
			if err := x.send(w, "start a repeat", kInterleaveGo); err != nil {
				return model.Result{}, err
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
					return model.Result{}, x.g.abort(pr.broke(err))
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
	res := model.Result{Orders: orders}
	ids.Fill(&res.Usage)
	return res, nil
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
	w, files, err := newRoleWorker("control", "replies", "events")
	if err != nil {
		return err
	}
	defer w.close()
	r, events := bufio.NewReader(files[0]), files[2]
	f, err := w.first(r, kInterleaveConfig, 6, "the configuration")
	if err != nil {
		return err
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
		return w.fail(fmt.Errorf("configuration: %w", err))
	}
	if err := w.hello(); err != nil {
		return err
	}
	var rec [eventRecord]byte
	binary.LittleEndian.PutUint32(rec[:], uint32(task))
	return w.serve(r, "a request", func(f frame) error {
		if f.kind != kInterleaveGo {
			return w.fail(fmt.Errorf("unknown request %v", f.kind))
		}
		if err := f.want(kInterleaveGo, 0); err != nil {
			return w.fail(err)
		}
		for seq := range j.Events {
			binary.LittleEndian.PutUint32(rec[4:], uint32(seq))
			if _, err := events.Write(rec[:]); err != nil {
				return w.fail(fmt.Errorf("writing event %d: %w", seq, err))
			}
			if seq == j.Events-1 {
				break
			}
			if j.Between == interleave.Wait {
				if err := osthread.Nanosleep(j.Gap); err != nil {
					return w.fail(err)
				}
			} else if err := j.CheckPause(j.Pause()); err != nil {
				return w.fail(err)
			}
		}
		if err := writeFrame(w.replies, kDone, w.pid, w.tid); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
		return nil
	})
}
