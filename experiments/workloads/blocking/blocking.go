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
	switch {
	case tasks < 1:
		return Job{}, fmt.Errorf("blocking: tasks = %d; want ≥ 1", tasks)
	case block < 0 || wait < 0:
		return Job{}, fmt.Errorf("blocking: block %v, wait %v; want ≥ 0", block, wait)
	case offload != None && offload != Pool:
		return Job{}, fmt.Errorf("blocking: offload = %q; want %q or %q", offload, None, Pool)
	case pool < 0:
		return Job{}, fmt.Errorf("blocking: pool = %d; want ≥ 0 (0 = one thread per task)", pool)
	}
	if pool == 0 {
		pool = tasks
	}
	return Job{Tasks: tasks, Block: block, Wait: wait, Offload: offload, PoolSize: pool}, nil
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
	rounds := (j.Tasks + j.PoolSize - 1) / j.PoolSize
	return time.Duration(rounds)*j.Block + j.Wait
}

// Verify checks that every task completed both its steps (done counts
// them) and that the job took at least Block + Wait, which no task can beat.
// It is a physical lower bound, not a speed threshold.
func (j Job) Verify(done int, elapsed time.Duration) error {
	if done != j.Tasks {
		return fmt.Errorf("blocking: %d of %d tasks completed", done, j.Tasks)
	}
	if least := j.Block + j.Wait; elapsed < least {
		return fmt.Errorf("blocking: finished in %v, less than one task's %v + %v", elapsed, j.Block, j.Wait)
	}
	return nil
}
