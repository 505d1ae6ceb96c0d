package process

import (
	"fmt"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/convoy"
)

// TestConvoyWorkers runs the convoy with and without CPU workers, twice on
// one Exec (modeltest.Run verifies every result and collects the usage
// after each): every worker a process of its own working on one thread, at
// least CPUWorkers chunks in all (each CPU worker finishes the chunk in hand
// after the stop, so each does one), and no process left after Close.
func TestConvoyWorkers(t *testing.T) {
	for _, cpu := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("cpu=%d", cpu), func(t *testing.T) {
			j := modeltest.ConvoyJob(t, 10, cpu)
			for i, r := range modeltest.Run(t, Model{}, j, 2) {
				modeltest.WantChunks(t, fmt.Sprintf("run %d", i), r, cpu, cpu) // at least CPUWorkers in all
				wantWorkers(t, i, r, 1+cpu)                                    // the I/O worker and the CPU workers
			}
			modeltest.NoChildren(t)
		})
	}
}

// TestConvoyUsageAndClose checks that the workers report their usage when
// asked (the CPU workers computed, so the CPU time is not zero), and that
// Close ends them by the end of their control pipes, not by killing them.
func TestConvoyUsageAndClose(t *testing.T) {
	j := modeltest.ConvoyJob(t, 10, 1)
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	start := time.Now()
	r, err := x.Run(t.Context())
	elapsed := time.Since(start)
	if err == nil {
		err = model.Verify(j, r, elapsed)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	modeltest.CheckConvoyTimed(t, "run 0", j, r, elapsed)
	wantUsage(t, "run 0", x, r)
	closedByEOF(t, x)
}

// TestConvoyRunHonoursContext ends a Run's context during its operations:
// Run fails with ctx's error, the Exec refuses to run again, and no worker
// is left after Close.
func TestConvoyRunHonoursContext(t *testing.T) {
	j := modeltest.ConvoyJob(t, 1000, 1)
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.RunPastDeadline(t, x, 20*time.Millisecond)
	closeAndCheck(t, x)
}

func TestConvoyStartRefuses(t *testing.T) {
	modeltest.StartRefuses(t, Model{},
		convoy.Job{},
		convoy.Job{Ops: 1, IOWait: time.Millisecond, CPUWorkers: MaxWorkers, ChunkN: 10},
	)
	modeltest.NoChildren(t)
}
