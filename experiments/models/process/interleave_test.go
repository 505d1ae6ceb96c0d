package process

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/interleave"
)

// Every task is a worker process of its own (not this one), for both pauses;
// modeltest.Run verifies every Run's orders and collects the workers' usage
// after each, and no worker is left after Close. How many distinct orders
// the processes produce is the measurement: not asserted.
func TestInterleave(t *testing.T) {
	for _, c := range modeltest.InterleaveCases {
		t.Run(c.Name, func(t *testing.T) {
			for i, r := range modeltest.RunInterleave(t, Model{}, c) {
				wantWorkers(t, i, r, c.Tasks) // one per task
			}
			modeltest.NoChildren(t)
		})
	}
}

// After a good Run, Close only has to end the workers' control pipes: each
// exits on its own with status 0, and the events pipe's reader ends.
func TestInterleaveCloseEndsWorkersByEOF(t *testing.T) {
	runThenCloseByEOF(t, must(interleave.NewJob(2, 3, 2, interleave.Wait, time.Millisecond, 2)))
}

// A worker that dies fails the Run, which names it; a cancelled Run fails
// too. Either way Close leaves no child.
func TestInterleaveFailedRun(t *testing.T) {
	j, err := interleave.NewJob(2, 3, 50, interleave.Wait, 2*time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("killed", func(t *testing.T) {
		x, err := Model{}.Start(t.Context(), j)
		if err != nil {
			t.Fatal(err)
		}
		victim := x.(*interleaveExec).g.procs[1]
		if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_, err = x.Run(t.Context())
		var we *workerError
		if !errors.As(err, &we) || we.pid != victim.pid {
			t.Errorf("Run after worker %d was killed: %v; want a failure of that worker", victim.pid, err)
		}
		closeAndCheck(t, x)
	})
	t.Run("cancelled", func(t *testing.T) {
		x, err := Model{}.Start(t.Context(), j)
		if err != nil {
			t.Fatal(err)
		}
		modeltest.RunPastDeadline(t, x, 10*time.Millisecond)
		closeAndCheck(t, x)
	})
}
