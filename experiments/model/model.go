// Package model defines what a concurrency model is to the lab: something that
// starts workers for a piece of work, runs that work (possibly many times), and
// reports what it ran on. The models themselves live in experiments/models/*.
//
// A cell's timed region is decided by the caller, not the model:
//
//	warm:  x := m.Start(ctx, w)  | timer on | x.Run(ctx) … | timer off | x.Close()
//	cold:  timer on | x := m.Start(ctx, w); x.Run(ctx); x.Close() | timer off
//
// so Start must do all the set-up a pool would do (spawn processes, create and
// lock threads, start the loop) and Run only the work.
package model

import (
	"context"
	"fmt"
	"slices"
	"time"

	"concurrency-lab/experiments/workloads/blocking"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/hold"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
	"concurrency-lab/experiments/workloads/spawn"
)

// Work is one of the workload jobs: primes.Job, sleep.Job, *pipeline.Job,
// echo.Job, interleave.Job, blocking.Job, spawn.Job, hold.Job or convoy.Job.
// Workload names the job's workload as the matrix spells it, so that a value
// of any other type is not Work and cannot reach a model.
type Work interface {
	Workload() string
}

// The workloads' jobs are Work (checked by the compiler).
var (
	_ Work = primes.Job{}
	_ Work = sleep.Job{}
	_ Work = (*pipeline.Job)(nil)
	_ Work = echo.Job{}
	_ Work = interleave.Job{}
	_ Work = blocking.Job{}
	_ Work = spawn.Job{}
	_ Work = hold.Job{}
	_ Work = convoy.Job{}
)

// Model is one concurrency model.
type Model interface {
	// Name is the model's name in the matrix and in cell names.
	Name() string
	// Start brings up everything needed to run w: processes, threads, the
	// loop. The returned Exec must be closed, also when Run fails.
	Start(ctx context.Context, w Work) (Exec, error)
}

// Exec is work that has been started and can be run.
type Exec interface {
	// Run executes the work once. It does not verify the result (the caller
	// does, with the workload's Verify), but it returns an error if a worker
	// failed, the context ended or a deadline passed; then the Exec is no
	// longer usable and Close must still be called.
	Run(ctx context.Context) (Result, error)
	// Close stops every worker and waits for it: when Close returns, no
	// process or thread that Start created is left running.
	Close() error
}

// UsageCollector is an Exec whose worker processes report their CPU time and
// peak RSS when asked rather than with every reply, so that reading them (a
// getrusage and a /proc read per worker) stays out of the timed region. The
// caller asks after every Run, with its timer stopped and before Close; the
// figures cover the Runs since the last call (the usual case: exactly one).
// Run's Result then leaves ChildCPU and ChildPeakRSS at zero.
type UsageCollector interface {
	// CollectUsage returns the user+system CPU time the child processes
	// used and the sum of their peak resident sets, in bytes, over the
	// Runs since the last call.
	CollectUsage(ctx context.Context) (cpu time.Duration, peakRSS int64, err error)
}

// Result is what one Run produced and used.
type Result struct {
	// Counts holds the primes workload's counts, one per range in order.
	Counts []int
	// Slept is the number of sleep tasks that completed their wait.
	Slept int
	// Waits holds, for the sleep workload, one span per completed task:
	// when it began and ended its wait, as the code that waited recorded it
	// (sleep.Clock). The caller derives from them how many tasks were
	// really waiting at once (sleep.PeakWaiting), outside the timed region.
	Waits []sleep.Span
	// Received is the number of pipeline payloads the sink accepted; the
	// sink itself verifies each one (pipeline.Sink) and Run fails if it
	// rejects any.
	Received int
	// Served is the number of echo connections the server accepted,
	// echoed until the client closed, and closed. The load generator, not
	// the server, checks every echo.
	Served int
	// Orders holds, for the interleave workload, one order per repeat: the
	// tasks' letters in the order their events reached the shared log
	// (interleave.Log).
	Orders []string
	// Done counts what completed: blocking tasks that finished both their
	// steps, spawn workers that ran their task, hold results consumed.
	Done int
	// Digest is, for the hold workload, the sum of the consumed results'
	// digests (hold.Sum).
	Digest uint64
	// Latencies holds, for the convoy workload, the I/O worker's time for
	// each operation, from before its blocking call until it ran again.
	Latencies []time.Duration
	// Chunks is, for the convoy workload, how many chunks of CPU work the
	// CPU workers completed and checked (convoy.Job.CheckChunk).
	Chunks int
	// Timed, when not zero, is the Run's own measurement of its timed
	// region, which the caller uses instead of its own clock: an external
	// runtime's driver times the work inside the interpreter (see
	// SelfTimed), and for the convoy workload every model returns the I/O
	// worker's own time, from just before its first blocking wait until
	// it ran again after its last (see package convoy).
	Timed time.Duration
	// Early is how much sooner than asked a wait may end in the runtime
	// that ran the work, by the design of its timers: 0 for every model
	// but uvloop's loop, whose timers (libuv's) are set from a millisecond
	// clock read from CLOCK_MONOTONIC_COARSE, which lags the real one by up
	// to the kernel's tick. Verification allows for it; it is not added to
	// any time.
	Early time.Duration

	Usage
}

// SelfTimed marks a Model that runs in another runtime's driver process
// (experiments/runtimes): the driver is started by Start, outside any timed
// region, and it handles the cell's start itself (a cold cell's workers are
// created inside the driver's timed region); every Result carries Timed,
// and its ChildCPU and ChildPeakRSS are all the CPU time and memory the work
// used (the driver's and its workers'; the Go process measuring it is not
// part of the cell).
type SelfTimed interface {
	Model
	SelfTimed()
}

// Usage is what executed a Run, as recorded by the workers themselves.
type Usage struct {
	// PIDs are the distinct process IDs whose code did the work (for the
	// pipeline: source, stages and sink).
	PIDs []int
	// TIDs are the distinct OS thread IDs (gettid) that did the work.
	TIDs []int
	// ChildCPU is the user+system CPU time used by child processes during the
	// Run (worker processes report their own rusage). The calling process's
	// own CPU time is measured by the caller, not here.
	ChildCPU time.Duration
	// ChildPeakRSS is the sum over child processes of each one's peak
	// resident set size during the Run, in bytes. The calling process's own
	// peak is measured by the caller.
	ChildPeakRSS int64
}

// IDs collects distinct process and thread IDs. It is not safe for concurrent
// use; models record IDs per worker and merge them after the workers finish.
type IDs struct {
	pids, tids map[int]bool
}

// Add records one (pid, tid) pair.
func (s *IDs) Add(pid, tid int) {
	if s.pids == nil {
		s.pids, s.tids = map[int]bool{}, map[int]bool{}
	}
	s.pids[pid] = true
	s.tids[tid] = true
}

// Fill writes the sorted distinct IDs into u.
func (s *IDs) Fill(u *Usage) {
	u.PIDs = sortedKeys(s.pids)
	u.TIDs = sortedKeys(s.tids)
}

func sortedKeys(m map[int]bool) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Verify checks r against what w must produce; elapsed is the wall time of
// the Run (the sleep workload cannot finish faster than its waits).
func Verify(w Work, r Result, elapsed time.Duration) error {
	switch w := w.(type) {
	case primes.Job:
		return w.Verify(r.Counts)
	case sleep.Job:
		return w.Verify(r.Slept, elapsed+r.Early)
	case *pipeline.Job:
		if r.Received != w.Messages {
			return fmt.Errorf("pipeline: sink accepted %d of %d messages", r.Received, w.Messages)
		}
		return nil
	case echo.Job:
		return w.Verify(r.Served)
	case interleave.Job:
		return w.Verify(r.Orders)
	case blocking.Job:
		return w.Verify(r.Done, elapsed+r.Early)
	case spawn.Job:
		return w.Verify(r.Done)
	case hold.Job:
		return w.Verify(r.Digest, r.Done)
	case convoy.Job:
		return w.Verify(r.Latencies, r.Chunks, r.Early)
	}
	return fmt.Errorf("model: unknown work %T", w)
}
