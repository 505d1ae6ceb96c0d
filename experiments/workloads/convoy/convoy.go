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
// worker is done. The cell's time is the I/O worker's.
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
	switch {
	case ops < 1:
		return Job{}, fmt.Errorf("convoy: ops = %d; want ≥ 1", ops)
	case ioWait <= 0:
		return Job{}, fmt.Errorf("convoy: io wait = %v; want > 0", ioWait)
	case cpuWorkers < 0:
		return Job{}, fmt.Errorf("convoy: cpu_workers = %d; want ≥ 0", cpuWorkers)
	case chunkN < 2:
		return Job{}, fmt.Errorf("convoy: chunk_n = %d; want ≥ 2", chunkN)
	}
	return Job{Ops: ops, IOWait: ioWait, CPUWorkers: cpuWorkers, ChunkN: chunkN, Pi: primes.Pi(chunkN)}, nil
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
// than the wait it made (a physical bound), and every CPU worker did at
// least one chunk (it really ran beside the I/O worker; chunks counts them
// over all CPU workers).
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
		return fmt.Errorf("convoy: %d CPU chunks done by %d CPU workers; want at least one each", chunks, j.CPUWorkers)
	}
	return nil
}
