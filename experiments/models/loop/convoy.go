package loop

import (
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
//
// A Run's Result.Timed is the I/O task's own time, from just before it arms
// its first timer until it runs again after its last (see package convoy):
// not the CPU tasks' first chunks before it starts, nor their last chunk
// after it is done.
func startConvoy(j convoy.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("loop: %w", err)
	}
	l, err := New()
	if err != nil {
		return nil, err
	}
	return &exec{l: l, spawn: convoyTasks(j)}, nil
}

// convoyTasks starts one Run's tasks (see startConvoy).
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
		var timed time.Duration // the I/O task's, from its first wait to its last
		g.Go(func(t *Task) error {
			defer func() { done = true }()
			var first, last time.Time
			for k := range j.Ops {
				start := time.Now()
				if k == 0 {
					first = start
				}
				if err := t.Sleep(j.IOWait); err != nil {
					return err
				}
				last = time.Now()
				lat = append(lat, last.Sub(start))
			}
			timed = last.Sub(first)
			return nil
		})
		return func(res *model.Result) { res.Latencies, res.Chunks, res.Timed = lat, chunks, timed }
	}
}
