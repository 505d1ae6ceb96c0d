// Package blocking is the article's warning about the event loop: a task
// that makes a blocking call (the article's time.sleep(3) inside a
// coroutine) stalls every other task on the loop, and handing the call to a
// thread pool (asyncio's run_in_executor / to_thread) lets them overlap.
//
// Each of Tasks tasks makes a blocking call of Block, then waits Wait
// asynchronously (a timer on the loop). With the blocking call on the loop
// the tasks' calls run one after another; offloaded to a pool of Pool
// threads, Pool of them run at once.
package blocking

import (
	"fmt"
	"time"
)

// Where a task's blocking call runs.
const (
	// None: on the loop's own thread (the article's mistake).
	None = "none"
	// Pool: on a thread of a pool the loop hands it to, the task awaiting
	// its completion (run_in_executor).
	Pool = "pool"
)

// Job is Tasks tasks that each block for Block, then wait Wait.
type Job struct {
	Tasks       int
	Block, Wait time.Duration
	Offload     string // None or Pool
	PoolSize    int    // threads in the pool, for Offload = Pool
}

// NewJob builds a job; pool = 0 means one pool thread per task.
func NewJob(tasks int, block, wait time.Duration, offload string, pool int) (Job, error) {
	if pool < 0 {
		return Job{}, fmt.Errorf("blocking: pool = %d; want ≥ 0 (0 = one thread per task)", pool)
	}
	if pool == 0 {
		pool = tasks
	}
	j := Job{Tasks: tasks, Block: block, Wait: wait, Offload: offload, PoolSize: pool}
	if err := j.Check(); err != nil {
		return Job{}, err
	}
	return j, nil
}

// Check reports whether j is a job NewJob would build; a model's Start
// checks a job with it before it starts anything.
func (j Job) Check() error {
	switch {
	case j.Tasks < 1:
		return fmt.Errorf("blocking: tasks = %d; want ≥ 1", j.Tasks)
	case j.Block < 0 || j.Wait < 0:
		return fmt.Errorf("blocking: block %v, wait %v; want ≥ 0", j.Block, j.Wait)
	case j.Offload != None && j.Offload != Pool:
		return fmt.Errorf("blocking: offload = %q; want %q or %q", j.Offload, None, Pool)
	case j.Offload == Pool && j.PoolSize < 1:
		return fmt.Errorf("blocking: pool size = %d; want ≥ 1 to offload", j.PoolSize)
	}
	return nil
}

// Workload is "blocking", the workload's name in the matrix.
func (j Job) Workload() string { return "blocking" }

// Ideal is the least time the job can take where it runs: on the loop every
// blocking call runs alone (Tasks × Block, then the last task's Wait);
// offloaded, ⌈Tasks / PoolSize⌉ rounds of blocking calls, then a Wait.
func (j Job) Ideal() time.Duration {
	if j.Offload == None {
		return time.Duration(j.Tasks)*j.Block + j.Wait
	}
	pool := max(j.PoolSize, 1) // Check requires ≥ 1; no division by 0 for a job it refused
	rounds := (j.Tasks + pool - 1) / pool
	return time.Duration(rounds)*j.Block + j.Wait
}

// Verify checks that every task completed both its steps (done counts
// them) and that the job took at least Ideal(): on the loop its blocking
// calls run one after another, offloaded at most PoolSize at once, and the
// last task's Wait follows its call. It is a physical lower bound, not a
// speed threshold. elapsed is the execution's time with the runtime's early
// (model.Result.Early) already added.
func (j Job) Verify(done int, elapsed time.Duration) error {
	if done != j.Tasks {
		return fmt.Errorf("blocking: %d of %d tasks completed", done, j.Tasks)
	}
	if least := j.Ideal(); elapsed < least {
		return fmt.Errorf("blocking: finished in %v, less than the %v that %d blocking calls of %v (offload %q, %d at once) and a wait of %v take",
			elapsed, least, j.Tasks, j.Block, j.Offload, j.concurrent(), j.Wait)
	}
	return nil
}

// concurrent is how many blocking calls can run at once.
func (j Job) concurrent() int {
	if j.Offload == None {
		return 1
	}
	return j.PoolSize
}
