// Package spawn measures what starting workers costs: W workers that do
// nothing but report who they are, started and joined inside the timed
// region (start = cold), or handed the same empty task from a pool started
// beforehand (start = warm). The difference per worker is the price a pool
// amortises.
package spawn

import "fmt"

// Job is Workers workers that each run an empty task.
type Job struct{ Workers int }

// NewJob builds a job.
func NewJob(workers int) (Job, error) {
	j := Job{Workers: workers}
	if err := j.Check(); err != nil {
		return Job{}, err
	}
	return j, nil
}

// Check reports whether j is a job NewJob would build; a model's Start
// checks a job with it before it starts anything.
func (j Job) Check() error {
	if j.Workers < 1 {
		return fmt.Errorf("spawn: workers = %d; want ≥ 1", j.Workers)
	}
	return nil
}

// Workload is "spawn", the workload's name in the matrix.
func (j Job) Workload() string { return "spawn" }

// Verify checks that every worker ran its task (done counts them).
func (j Job) Verify(done int) error {
	if done != j.Workers {
		return fmt.Errorf("spawn: %d of %d workers ran", done, j.Workers)
	}
	return nil
}
