// Package convoy is the GIL's best-known failure: an I/O-bound thread beside
// a CPU-bound one. Each time the I/O thread's blocking call returns it needs
// the GIL back, and the CPU-bound thread gives it up only when asked, after
// the switch interval (CPython: 5 ms), so every short I/O operation costs
// up to a switch interval. Threads without a GIL and processes do not pay it.
//
// The I/O worker makes Ops blocking waits of IOWait each (a nanosleep in the
// kernel; CPython's time.sleep, which like any blocking call releases the
// GIL) and times each from before the call until it runs again. Beside it,
// CPUWorkers workers count primes in chunks of [2, ChunkN] until the I/O
// worker is done.
//
// The cell's time is the I/O worker's: from just before its first blocking
// wait until it runs again after its last (as the CPython driver reports
// it), which every Go model returns as Result.Timed. It leaves out what the
// Run does around the operations: handing out the work, the I/O worker's
// wait until every CPU worker has begun (and, under an emulated GIL, its
// first take of the GIL, which a CPU worker holds by then: up to a switch
// interval), and the CPU workers' last chunk after the stop.
package convoy

import (
	"fmt"
	"time"

	"concurrency-lab/experiments/workloads/primes"
)

// Job is one I/O worker beside CPUWorkers CPU-bound ones.
type Job struct {
	Ops        int
	IOWait     time.Duration
	CPUWorkers int
	ChunkN     int
	// Pi is the number of primes in [2, ChunkN], which each chunk must
	// count.
	Pi int
}

// NewJob builds a job.
func NewJob(ops int, ioWait time.Duration, cpuWorkers, chunkN int) (Job, error) {
	j := Job{Ops: ops, IOWait: ioWait, CPUWorkers: cpuWorkers, ChunkN: chunkN}
	if err := j.Check(); err != nil {
		return Job{}, err
	}
	j.Pi = primes.Pi(chunkN)
	return j, nil
}

// Check reports whether j's parameters make a job, as NewJob requires; a
// model's Start checks a job with it before it starts anything. It does not
// recompute Pi, which NewJob sets.
func (j Job) Check() error {
	switch {
	case j.Ops < 1:
		return fmt.Errorf("convoy: ops = %d; want ≥ 1", j.Ops)
	case j.IOWait <= 0:
		return fmt.Errorf("convoy: io wait = %v; want > 0", j.IOWait)
	case j.CPUWorkers < 0:
		return fmt.Errorf("convoy: cpu_workers = %d; want ≥ 0", j.CPUWorkers)
	case j.ChunkN < 2:
		return fmt.Errorf("convoy: chunk_n = %d; want ≥ 2", j.ChunkN)
	}
	return nil
}

// Workload is "convoy", the workload's name in the matrix.
func (j Job) Workload() string { return "convoy" }

// Chunk is one unit of the CPU workers' work; they check each count with
// CheckChunk.
func (j Job) Chunk(poll func()) int { return primes.Count(2, j.ChunkN, poll) }

// CheckChunk verifies a chunk's count.
func (j Job) CheckChunk(got int) error {
	if got != j.Pi {
		return fmt.Errorf("convoy: a CPU chunk counted %d primes in [2, %d]; want %d", got, j.ChunkN, j.Pi)
	}
	return nil
}

// Verify checks an execution: one latency per I/O operation, none shorter
// than the wait it made (less the runtime's early; a physical bound), and at
// least CPUWorkers chunks in all (chunks counts them over all CPU workers):
// each model's CPU workers finish the chunk in hand after the stop, so each
// does at least one.
func (j Job) Verify(latencies []time.Duration, chunks int, early time.Duration) error {
	if len(latencies) != j.Ops {
		return fmt.Errorf("convoy: %d of %d I/O operations completed", len(latencies), j.Ops)
	}
	for i, l := range latencies {
		if l+early < j.IOWait {
			return fmt.Errorf("convoy: I/O operation %d took %v, less than its %v wait", i+1, l, j.IOWait)
		}
	}
	if chunks < j.CPUWorkers {
		return fmt.Errorf("convoy: %d CPU chunks done by %d CPU workers; want at least %d", chunks, j.CPUWorkers, j.CPUWorkers)
	}
	return nil
}
