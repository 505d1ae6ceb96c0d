package loop

import (
	"context"
	"fmt"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
)

// startConvoy starts a loop for the convoy workload. Each Run starts, on the
// loop thread, one task per CPU worker and then the I/O task:
//
//   - a CPU task counts one chunk without awaiting, checks it, and yields
//     to the loop (asyncio's `await asyncio.sleep(0)`), until the I/O task
//     is done; it checks that both before and after it yields, so it ends
//     within one chunk of the I/O task, and it always completes at least
//     one.
//   - the I/O task, started after the CPU tasks (which have therefore begun,
//     and each done a chunk, when it first runs), awaits a loop timer of
//     IOWait per operation, the loop's own I/O wait, and times each from
//     just before it arms the timer until it runs again.
//
// That is the loop's convoy: a timer that expires while a CPU task computes
// is seen only when the task yields, and the I/O task is resumed in the
// loop's next pass after the tasks that yielded before it, so each
// operation may wait up to one chunk of every CPU task.
func startConvoy(j convoy.Job) (model.Exec, error) {
	if _, err := convoy.NewJob(j.Ops, j.IOWait, j.CPUWorkers, j.ChunkN); err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	l, err := New()
	if err != nil {
		return nil, err
	}
	return &convoyExec{exec: &exec{l: l, spawn: convoyTasks(j)}, job: j}, nil
}

// convoyExec is a loop running the convoy's tasks; its Run verifies the
// result.
type convoyExec struct {
	*exec
	job convoy.Job
}

func (x *convoyExec) Run(ctx context.Context) (model.Result, error) {
	res, err := x.exec.Run(ctx)
	if err != nil {
		return model.Result{}, err
	}
	if err := x.job.Verify(res.Latencies, res.Chunks, res.Early); err != nil {
		return model.Result{}, fmt.Errorf("loop: %w", err)
	}
	return res, nil
}

func convoyTasks(j convoy.Job) func(*Group) func(*model.Result) {
	return func(g *Group) func(*model.Result) {
		lat := make([]time.Duration, 0, j.Ops)
		chunks := 0
		done := false // the I/O task has made its operations
		for range j.CPUWorkers {
			g.Go(func(t *Task) error {
				for {
					if err := j.CheckChunk(j.Chunk(nil)); err != nil {
						return err
					}
					chunks++
					if done {
						return nil
					}
					if err := t.Yield(); err != nil {
						return err
					}
					if done {
						return nil
					}
				}
			})
		}
		g.Go(func(t *Task) error {
			defer func() { done = true }()
			for range j.Ops {
				start := time.Now()
				if err := t.Sleep(j.IOWait); err != nil {
					return err
				}
				lat = append(lat, time.Since(start))
			}
			return nil
		})
		return func(res *model.Result) { res.Latencies, res.Chunks = lat, chunks }
	}
}
