package goroutine

import (
	"context"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/interleave"
)

// Every Run's orders are verified (by modeltest.Run) for both pauses, the
// tasks ran in this process, and Close leaves no goroutine behind. How many
// distinct orders the scheduler produces is the measurement: not asserted.
func TestInterleave(t *testing.T) {
	tests := []struct {
		name     string
		tasks    int
		between  string
		gap      time.Duration
		computeN int
	}{
		{"wait/2", 2, interleave.Wait, time.Millisecond, 2},
		{"wait/4", 4, interleave.Wait, 500 * time.Microsecond, 2},
		{"wait/gap0", 2, interleave.Wait, 0, 2},
		{"compute/2", 2, interleave.Compute, 0, 3000},
		{"compute/3", 3, interleave.Compute, 0, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			j, err := interleave.NewJob(tt.tasks, 5, 4, tt.between, tt.gap, tt.computeN)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range modeltest.Run(t, Model{}, j, 2) {
				if len(r.Orders) != j.Repeats {
					t.Errorf("run %d: %d orders; want %d", i, len(r.Orders), j.Repeats)
				}
				if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
					t.Errorf("run %d: PIDs %v; want %v", i, got, want)
				}
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
