package loop

import (
	"context"
	"fmt"

	"concurrency-lab/experiments/model"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// startSpawn starts a loop thread for the spawn job. The loop's workers are
// its tasks, and they are created by each Run, not here, as asyncio creates
// tasks (create_task) in the coroutine it runs: there is no pool of tasks to
// keep warm. So a warm cell times the creation of the Workers tasks, their
// run and their end, and a cold one also the loop thread's start and end.
func startSpawn(j spawnjob.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	l, err := New()
	if err != nil {
		return nil, err
	}
	x := &spawnExec{job: j}
	x.x = &exec{l: l, spawn: x.tasks}
	return x, nil
}

// spawnExec runs the spawn tasks through the package's exec, one group per
// Run.
type spawnExec struct {
	x    *exec
	job  spawnjob.Job
	done int // tasks that ran in the last Run; only the loop thread writes it
}

// tasks starts one Run's Workers tasks in g. Each does nothing but run: the
// task records its thread when it first runs (Task.record), and counts
// itself.
func (x *spawnExec) tasks(g *Group) func(*model.Result) {
	x.done = 0
	for range x.job.Workers {
		g.Go(func(*Task) error {
			x.done++
			return nil
		})
	}
	return func(res *model.Result) { res.Done = x.done }
}

// Run runs the tasks once; Result.Done counts those that ran.
func (x *spawnExec) Run(ctx context.Context) (model.Result, error) { return x.x.Run(ctx) }

// Close stops the loop and waits for its thread to end.
func (x *spawnExec) Close() error { return x.x.Close() }
