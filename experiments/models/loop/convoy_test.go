package loop

import (
	"fmt"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/convoy"
)

// TestConvoy runs the convoy on the loop, with and without CPU tasks: every
// result verified (and the I/O task's own time), every task on the loop's
// one thread, which Close ends.
//
// It also checks the loop's own convoy, which follows from the order of a
// pass and not from any timing: between arming its timer and resuming, the
// I/O task waits for at least one pass, and every CPU task, which yields
// once per chunk and was queued before the timer fired, runs a whole chunk
// in every pass. So each operation spans a chunk of every CPU task:
// Chunks ≥ Ops × CPUWorkers.
func TestConvoy(t *testing.T) {
	for _, cpu := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("cpu=%d", cpu), func(t *testing.T) {
			j := modeltest.ConvoyJob(t, 10, cpu)
			x := start[*exec](t, j)
			tid := x.l.TID()
			for i := range 2 {
				r := modeltest.RunVerified(t, x, j)
				// One per CPU task per operation.
				modeltest.WantChunks(t, fmt.Sprintf("Run %d", i), r, cpu, j.Ops*cpu)
				onLoopThread(t, i, r, tid)
			}
			modeltest.CloseGone(t, x, tid)
		})
	}
}

// TestConvoyCancelled ends a Run's context during its operations: the Run
// fails with ctx's error (once the CPU task in hand yields) and the exec
// refuses to run again.
func TestConvoyCancelled(t *testing.T) {
	x := start[*exec](t, modeltest.ConvoyJob(t, 1000, 1))
	modeltest.RunPastDeadline(t, x, 20*time.Millisecond)
	modeltest.CloseGone(t, x, x.l.TID())
}

func TestConvoyStartRejects(t *testing.T) {
	modeltest.StartRefuses(t, Model{}, convoy.Job{})
}
