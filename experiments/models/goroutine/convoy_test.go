package goroutine

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/convoy"
)

// TestConvoy runs the convoy with and without CPU goroutines, twice on one
// Exec: verified results (and the I/O goroutine's own time), at least
// CPUWorkers chunks in all (each CPU goroutine finishes the chunk in hand
// after the stop, so each does one), all in this process, and no goroutine
// left after Close.
func TestConvoy(t *testing.T) {
	for _, cpu := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("cpu=%d", cpu), func(t *testing.T) {
			before := runtime.NumGoroutine()
			j := modeltest.ConvoyJob(t, 10, cpu)
			for i, r := range modeltest.Run(t, Model{}, j, 2) {
				modeltest.WantChunks(t, fmt.Sprintf("run %d", i), r, cpu, cpu) // at least CPUWorkers in all
				modeltest.InThisProcess(t, fmt.Sprintf("run %d", i), r)
			}
			noGoroutinesLeft(t, before)
		})
	}
}

// TestConvoyCancelled ends a Run's context during its operations: Run fails
// with ctx's error, the Exec refuses to run again, and Close waits for the
// goroutines.
func TestConvoyCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	j := modeltest.ConvoyJob(t, 1000, 1)
	x, err := Model{}.Start(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.RunPastDeadline(t, x, 20*time.Millisecond)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	noGoroutinesLeft(t, before)
}

func TestConvoyStartRejects(t *testing.T) {
	modeltest.StartRefuses(t, Model{}, convoy.Job{})
}
