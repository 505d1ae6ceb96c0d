package goroutine

import (
	"context"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/spawn"
)

// startSpawn starts the job's Workers goroutines, each waiting for one empty
// task per Run; Close ends them. Creating them is what the spawn workload
// prices: a warm cell has them before its timer starts (a pool), a cold
// cell's timed region covers this Start and the Close that joins them.
func startSpawn(ctx context.Context, j spawn.Job) (model.Exec, error) {
	if err := j.Check(); err != nil {
		return nil, fmt.Errorf("goroutine: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("goroutine: start: %w", err)
	}
	return &spawnExec{job: j, crew: startCrew(j.Workers)}, nil
}

// crew is a fixed set of goroutines, goroutine i running task(i) for every
// task it is handed: each has a channel of its own, so that a Run reaches
// every one of them exactly once (a shared queue would let a quick goroutine
// take a second task before a slow one had its first). The spawn, hold,
// interleave and convoy execs run on one.
type crew struct {
	in     []chan func(int) // goroutine i's tasks; closed by Close
	done   sync.WaitGroup   // the goroutines
	failed error            // why a Run failed: its tasks may still be running
}

// startCrew starts n goroutines, each waiting for its first task.
func startCrew(n int) *crew {
	c := &crew{in: make([]chan func(int), n)}
	c.done.Add(n)
	for i := range c.in {
		in := make(chan func(int), 1)
		c.in[i] = in
		go func() {
			defer c.done.Done()
			for task := range in {
				task(i)
			}
		}()
	}
	return c
}

// hand gives every goroutine task. It never blocks: each has finished the
// previous Run's task or, after a failed Run (which makes the Exec
// unusable), is never handed another.
func (c *crew) hand(task func(int)) {
	for _, in := range c.in {
		in <- task
	}
}

// usable reports whether a Run of what may start.
func (c *crew) usable(ctx context.Context, what string) error {
	if c.failed != nil {
		return fmt.Errorf("goroutine: %s: an earlier run failed: %w", what, c.failed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("goroutine: %s: %w", what, err)
	}
	return nil
}

// Close ends the goroutines once they have finished the task in hand. It is
// safe to call more than once.
func (c *crew) Close() error {
	if c.in != nil {
		for _, in := range c.in {
			close(in)
		}
		c.in = nil
	}
	c.done.Wait()
	return nil
}

// spawnExec hands each of its goroutines one empty task per Run.
type spawnExec struct {
	*crew
	job spawn.Job
}

// Run hands every goroutine a task that only reports the thread it ran on,
// and waits for every report.
func (x *spawnExec) Run(ctx context.Context) (model.Result, error) {
	if err := x.usable(ctx, "spawn"); err != nil {
		return model.Result{}, err
	}
	n := x.job.Workers
	tids := make(chan int, n) // never blocks a goroutine
	x.hand(func(int) { tids <- unix.Gettid() })
	var res model.Result
	var ids model.IDs
	pid := os.Getpid()
	for range n {
		select {
		case tid := <-tids:
			res.Done++
			ids.Add(pid, tid)
		case <-ctx.Done():
			x.failed = ctx.Err()
			return model.Result{}, fmt.Errorf("goroutine: spawn: %w", ctx.Err())
		}
	}
	ids.Fill(&res.Usage)
	return res, nil
}
