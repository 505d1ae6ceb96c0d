package thread

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// startSpawn creates the job's Workers OS threads, each locked for its whole
// life as every worker of this package is, and returns once all of them are
// running. That creation is what the spawn workload prices: a warm cell has
// the threads before its timer starts (a pool) and a Run only hands each one
// an empty task; a cold cell's timed region also covers this Start and the
// Close that joins the threads (threading.Thread start and join).
func (m Model) startSpawn(ctx context.Context, j spawnjob.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	if j.Workers > MaxThreads {
		return nil, fmt.Errorf("%s: spawn job needs %d threads; this model creates at most %d", m.Name(), j.Workers, MaxThreads)
	}
	b, err := m.startBase(ctx, j.Workers)
	if err != nil {
		return nil, err
	}
	return &spawnExec{base: b, job: j}, nil
}

// spawnExec hands every thread one empty task per Run.
type spawnExec struct {
	*base
	job spawnjob.Job
}

// Run releases every thread at once (the package's gate) with a task that
// only records who ran it, and waits for all of them. With the GIL the task
// takes it first, as running the smallest Python function needs it.
func (x *spawnExec) Run(ctx context.Context) (model.Result, error) {
	n := x.job.Workers
	pids, tids := make([]int, n), make([]int, n)
	err := x.each(ctx, "spawn", func(i int) {
		g := x.gs[i]
		g.Acquire()
		pids[i], tids[i] = unix.Getpid(), unix.Gettid()
		g.Release()
	}, nil)
	if err != nil {
		return model.Result{}, err
	}
	var res model.Result
	for _, tid := range tids {
		if tid != 0 {
			res.Done++
		}
	}
	fillIDs(&res.Usage, pids, tids)
	return res, nil
}
