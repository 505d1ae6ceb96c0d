// Package sleep is the article's I/O-bound workload, reduced to its essence:
// tasks that wait without using the CPU. A model must make each task wait its
// own way: a blocking nanosleep that parks an OS thread (process, thread), a
// timer in the reactor (loop), time.Sleep (goroutine).
package sleep

import (
	"fmt"
	"time"
)

// Job is Tasks tasks that each wait D, at most Concurrency at once.
type Job struct {
	Tasks       int
	Concurrency int // ≥ 1 and ≤ Tasks
	D           time.Duration
}

// NewJob builds a job. workers caps how many tasks wait at once; 0 means one
// worker per task (every task waits at the same time).
func NewJob(tasks, workers int, d time.Duration) (Job, error) {
	switch {
	case tasks < 1:
		return Job{}, fmt.Errorf("sleep: tasks = %d; want tasks ≥ 1", tasks)
	case workers < 0:
		return Job{}, fmt.Errorf("sleep: workers = %d; want workers ≥ 0 (0 = one per task)", workers)
	case d < 0:
		return Job{}, fmt.Errorf("sleep: sleep = %v; want ≥ 0", d)
	}
	c := workers
	if c == 0 || c > tasks {
		c = tasks
	}
	return Job{Tasks: tasks, Concurrency: c, D: d}, nil
}

// Ideal is the least time the job can take: D × ⌈Tasks / Concurrency⌉.
func (j Job) Ideal() time.Duration {
	rounds := (j.Tasks + j.Concurrency - 1) / j.Concurrency
	return j.D * time.Duration(rounds)
}

// Verify checks that every task completed (done is the number of tasks that
// finished their wait) and that the whole job took at least Ideal: a shorter
// run means some task did not really wait. This is a physical lower bound,
// not a speed threshold.
func (j Job) Verify(done int, elapsed time.Duration) error {
	if done != j.Tasks {
		return fmt.Errorf("sleep: %d of %d tasks completed", done, j.Tasks)
	}
	if elapsed < j.Ideal() {
		return fmt.Errorf("sleep: %d tasks of %v at concurrency %d finished in %v, less than the %v they must wait", j.Tasks, j.D, j.Concurrency, elapsed, j.Ideal())
	}
	return nil
}

// Workload is "sleep", the workload's name in the matrix.
func (j Job) Workload() string { return "sleep" }
