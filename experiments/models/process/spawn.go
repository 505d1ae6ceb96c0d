package process

import (
	"bufio"
	"context"
	"fmt"

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
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	g, cmds, _, err := startRole(ctx, exe, roleStart{role: roleSpawn, n: j.Workers})
	if err != nil {
		return nil, err
	}
	return &spawnExec{workers: newWorkers(g, cmds), job: j}, nil
}

// spawnExec hands each of its worker processes one empty task per Run.
type spawnExec struct {
	workers // cmds: parent → worker i
	job     spawnjob.Job
}

// Run sends every worker its task and waits for every reply, which carries
// the worker's pid and tid.
func (x *spawnExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.g.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	for w := range x.cmds {
		if err := x.send(w, "take a task", kSpawnTask); err != nil {
			return model.Result{}, err
		}
	}
	replied := make([]bool, len(x.cmds))
	var res model.Result
	var ids model.IDs
	for res.Done < len(x.cmds) {
		select {
		case ev := <-x.g.events:
			if err := x.takeDone(ev, replied, &ids); err != nil {
				return model.Result{}, err
			}
			res.Done++
		case <-ctx.Done():
			return model.Result{}, x.g.abort(fmt.Errorf("process: run: %w", ctx.Err()))
		}
	}
	ids.Fill(&res.Usage)
	return res, nil
}

// Close closes the workers' command pipes, which ends them, and reaps them.
func (x *spawnExec) Close() error { return x.g.close() }

// serveSpawn is a spawn worker (roleSpawn): it says hello, then answers each
// kSpawnTask with kDone (pid, tid) and each kAsk with its usage, until the
// parent closes fd 3.
func serveSpawn() error {
	w, files, err := newRoleWorker("tasks", "replies")
	if err != nil {
		return err
	}
	defer w.close()
	if err := w.hello(); err != nil {
		return err
	}
	return w.serve(bufio.NewReader(files[0]), "a task", func(f frame) error {
		if f.kind != kSpawnTask {
			return w.fail(fmt.Errorf("unknown task %v", f.kind))
		}
		if err := f.want(kSpawnTask, 0); err != nil {
			return w.fail(err)
		}
		if err := writeFrame(w.replies, kDone, w.pid, w.tid); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
		return nil
	})
}
