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
	if workers < 1 {
		return Job{}, fmt.Errorf("spawn: workers = %d; want ≥ 1", workers)
	}
	return Job{Workers: workers}, nil
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
