package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/model"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

var _ model.UsageCollector = (*spawnExec)(nil)

// The spawn workers' protocol. A worker (role "spawn") has
//
//	fd 3: from the parent: kSpawnTask and kAsk, one at a time, each
//	      answered before the next is sent;
//	fd 4: to the parent: kHello (pid, tid), then kDone (pid, tid) for each
//	      kSpawnTask, kUsage for kAsk (as a pool worker's), kFail.
const kSpawnTask kind = 'T' // no values: run the empty task

// startSpawn spawns the job's Workers worker processes (the binary
// re-executed, as for every role) and waits until each has said hello.
// Spawning them is what the spawn workload prices: a warm cell has them
// before its timer starts (a pool) and a Run only hands each one an empty
// task; a cold cell's timed region covers this Start and the Close that
// ends and reaps them (multiprocessing.Process start and join). The caller
// has checked Workers against MaxWorkers.
func (m Model) startSpawn(ctx context.Context, exe string, j spawnjob.Job) (model.Exec, error) {
	if j.Workers < 1 {
		return nil, fmt.Errorf("process: spawn job of %d workers; build it with spawn.NewJob", j.Workers)
	}
	g, cmds, _, err := startRole(ctx, exe, roleSpawn, j.Workers, 0, nil)
	if err != nil {
		return nil, err
	}
	return &spawnExec{g: g, cmds: cmds, owed: make([]bool, j.Workers), job: j}, nil
}

// startRole spawns n workers of role and waits for their hellos. Worker i
// gets fd 3, a pipe from the parent (cmds[i]), fd 4, a pipe for its replies
// (read by the group), and outs more pipes from it to the parent as fd 5,
// 6, … (the parent's read ends are outs[i]). first, if not nil, writes
// worker i's start frame on its fd 3 before it starts. The parent's ends
// are the group's files, which its close closes. If startRole fails, no
// worker it started is left.
func startRole(ctx context.Context, exe, role string, n, outs int, first func(i int, cmd *os.File) error) (*group, []*os.File, [][]*os.File, error) {
	g := newGroup(n)
	cmds := make([]*os.File, 0, n)
	outFiles := make([][]*os.File, 0, n)
	fail := func(err error) (*group, []*os.File, [][]*os.File, error) {
		g.abort(err)
		g.close()
		return nil, nil, nil, err
	}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("process: start: %w", err))
		}
		// The child's ends, passed as fds 3, 4, 5, …, and closed by
		// g.start once the child has them.
		var child []*os.File
		closeChild := func() {
			for _, f := range child {
				f.Close()
			}
		}
		cmdR, cmdW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("process: %s worker %d: %w", role, i, err))
		}
		g.files = append(g.files, cmdW)
		child = append(child, cmdR)
		if first != nil {
			// The start frame waits in the pipe until the worker reads it.
			if err := first(i, cmdW); err != nil {
				closeChild()
				return fail(fmt.Errorf("process: %s worker %d: start frame: %w", role, i, err))
			}
		}
		repR, repW, err := os.Pipe()
		if err != nil {
			closeChild()
			return fail(fmt.Errorf("process: %s worker %d: %w", role, i, err))
		}
		child = append(child, repW)
		var mine []*os.File
		for range outs {
			r, w, err := os.Pipe()
			if err != nil {
				closeChild()
				repR.Close()
				return fail(fmt.Errorf("process: %s worker %d: %w", role, i, err))
			}
			g.files = append(g.files, r)
			mine = append(mine, r)
			child = append(child, w)
		}
		if err := g.start(fmt.Sprintf("%s worker %d", role, i), exe, role, child, repR); err != nil {
			return fail(fmt.Errorf("process: starting %s worker %d: %w", role, i, err))
		}
		cmds = append(cmds, cmdW)
		outFiles = append(outFiles, mine)
	}
	if err := g.waitReady(ctx); err != nil {
		return fail(err)
	}
	return g, cmds, outFiles, nil
}

// spawnExec hands each of its worker processes one empty task per Run.
type spawnExec struct {
	g    *group
	cmds []*os.File // parent → worker i; closing them ends the workers
	owed []bool     // worker i has run a task since its usage was last collected
	job  spawnjob.Job
}

// Run sends every worker its task and waits for every reply, which carries
// the worker's pid and tid.
func (x *spawnExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.g.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	for w, cmd := range x.cmds {
		x.owed[w] = true
		if err := writeFrame(cmd, kSpawnTask); err != nil {
			// The worker is gone; its exit status, known once it is
			// reaped, tells why.
			x.g.stop()
			return model.Result{}, x.g.abort(x.g.procs[w].fail("died before it could take a task"))
		}
	}
	replied := make([]bool, len(x.cmds))
	var res model.Result
	var ids model.IDs
	for res.Done < len(x.cmds) {
		select {
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
			res.Done++
			ids.Add(int(ev.f.vals[0]), int(ev.f.vals[1]))
		case <-ctx.Done():
			return model.Result{}, x.g.abort(fmt.Errorf("process: run: %w", ctx.Err()))
		}
	}
	if err := x.job.Verify(res.Done); err != nil {
		return model.Result{}, x.g.abort(fmt.Errorf("process: %w", err))
	}
	ids.Fill(&res.Usage)
	return res, nil
}

// CollectUsage asks every worker that ran a task since the last collection
// for its CPU time and peak RSS (see usageSinceAsk). It implements
// model.UsageCollector.
func (x *spawnExec) CollectUsage(ctx context.Context) (time.Duration, int64, error) {
	return x.g.collectUsage(ctx, x.cmds, x.owed, nil)
}

// Close closes the workers' command pipes, which ends them, and reaps them.
func (x *spawnExec) Close() error { return x.g.close() }

// serveSpawn is a spawn worker (roleSpawn): it says hello, then answers each
// kSpawnTask with kDone (pid, tid) and each kAsk with its usage, until the
// parent closes fd 3.
func serveSpawn() error {
	cmds, err := inherited(3, "tasks")
	if err != nil {
		return err
	}
	replies, err := inherited(4, "replies")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		writeText(replies, kFail, err.Error()) // best effort: the error also goes to stderr
		return err
	}
	u, err := openUsage()
	if err != nil {
		return fail(err)
	}
	defer u.close()
	pid, tid := uint64(os.Getpid()), uint64(unix.Gettid())
	if err := writeFrame(replies, kHello, pid, tid); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	r := bufio.NewReader(cmds)
	for {
		f, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return nil // the parent closed the pipe: Close, or the parent died
		}
		if err != nil {
			return fail(fmt.Errorf("reading a task: %w", err))
		}
		switch f.kind {
		case kSpawnTask:
			if err := f.want(kSpawnTask, 0); err != nil {
				return fail(err)
			}
			u.jobStarts()
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
			return fail(fmt.Errorf("unknown task %v", f.kind))
		}
	}
}

// usageSinceAsk is a worker's account of its usage between two of the
// parent's asks (kAsk), kept as servePool keeps it: the CPU time from the
// start of its first job after the previous ask (or its hello) to this ask,
// which leaves out its start-up and its previous report, and its peak RSS
// since the previous ask (or its hello).
type usageSinceAsk struct {
	m        *osmeter.Meter
	cpu0     uint64 // CPU time at the first job since the last ask
	counting bool   // a job has started since the last ask
}

// openUsage opens the meter and starts the first peak; call it just before
// the hello.
func openUsage() (*usageSinceAsk, error) {
	m, err := osmeter.OpenMeter()
	if err != nil {
		return nil, err
	}
	if err := m.ResetPeak(); err != nil {
		m.Close()
		return nil, err
	}
	return &usageSinceAsk{m: m}, nil
}

// jobStarts notes the CPU time if this is the first job since the last ask.
func (u *usageSinceAsk) jobStarts() {
	if !u.counting {
		u.cpu0, u.counting = cpuTime(), true
	}
}

// report answers an ask on replies (kUsage: CPU ns, peak RSS bytes) and
// starts the next peak.
func (u *usageSinceAsk) report(replies io.Writer) error {
	var used uint64
	if u.counting {
		used = max(cpuTime(), u.cpu0) - u.cpu0
		u.counting = false
	}
	peak, err := peakRSS(u.m)
	if err != nil {
		return err
	}
	if err := u.m.ResetPeak(); err != nil {
		return err
	}
	if err := writeFrame(replies, kUsage, used, peak); err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	return nil
}

func (u *usageSinceAsk) close() { u.m.Close() }
