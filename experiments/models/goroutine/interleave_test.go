package goroutine

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/interleave"
)

// Every Run's orders are verified (by modeltest.Run) for both pauses, the
// tasks ran in this process, and Close leaves no goroutine behind. How many
// distinct orders the scheduler produces is the measurement: not asserted.
func TestInterleave(t *testing.T) {
	for _, c := range []modeltest.InterleaveCase{
		{Name: "wait/2", Tasks: 2, Between: interleave.Wait, Gap: time.Millisecond, ComputeN: 2},
		{Name: "wait/4", Tasks: 4, Between: interleave.Wait, Gap: 500 * time.Microsecond, ComputeN: 2},
		{Name: "wait/gap0", Tasks: 2, Between: interleave.Wait, ComputeN: 2},
		{Name: "compute/2", Tasks: 2, Between: interleave.Compute, ComputeN: 3000},
		{Name: "compute/3", Tasks: 3, Between: interleave.Compute, ComputeN: 2000},
	} {
		t.Run(c.Name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			for i, r := range modeltest.RunInterleave(t, Model{}, c) {
				modeltest.InThisProcess(t, fmt.Sprintf("run %d", i), r)
				if len(r.TIDs) == 0 {
					t.Errorf("run %d: no TIDs recorded", i)
				}
			}
			noGoroutinesLeft(t, before)
		})
	}
}

// A Run whose context has ended fails, any later Run is refused, and Close
// still ends the goroutines.
func TestInterleaveCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	j, err := interleave.NewJob(2, 3, 50, interleave.Wait, 2*time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	x, err := Model{}.Start(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := x.Run(ctx); err == nil {
		t.Errorf("Run past its context's deadline succeeded; want an error")
	}
	if _, err := x.Run(context.Background()); err == nil {
		t.Errorf("Run after a failed Run succeeded; want an error")
	}
	if err := x.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	noGoroutinesLeft(t, before)
}
