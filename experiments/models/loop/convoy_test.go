package loop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
)

func startConvoyTest(t *testing.T, j convoy.Job) *convoyExec {
	t.Helper()
	x, err := Model{}.Start(context.Background(), j)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return x.(*convoyExec)
}

// TestConvoy runs the convoy on the loop, with and without CPU tasks: every
// result verified, at least one chunk per CPU task, every task on the loop's
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
			// Chunks of primes in [2, 3000] (~1 ms), ops of 100 µs.
			j, err := convoy.NewJob(10, 100*time.Microsecond, cpu, 3000)
			if err != nil {
				t.Fatal(err)
			}
			x := startConvoyTest(t, j)
			tid := x.l.TID()
			for i := range 2 {
				begin := time.Now()
				r, err := x.Run(context.Background())
				if err == nil {
					err = model.Verify(j, r, time.Since(begin))
				}
				if err != nil {
					x.Close()
					t.Fatalf("Run %d: %v", i, err)
				}
				if r.Chunks < j.Ops*cpu {
					t.Errorf("Run %d: %d chunks by %d CPU tasks over %d operations; want at least %d (one per task per operation)", i, r.Chunks, cpu, j.Ops, j.Ops*cpu)
				}
				if cpu == 0 && r.Chunks != 0 {
					t.Errorf("Run %d: %d chunks with no CPU task; want 0", i, r.Chunks)
				}
				if got, want := r.TIDs, []int{tid}; !slices.Equal(got, want) {
					t.Errorf("Run %d: tasks ran on threads %v; want only the loop thread %v", i, got, want)
				}
				if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
					t.Errorf("Run %d: tasks ran in processes %v; want %v", i, got, want)
				}
			}
			if err := x.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if threadExists(tid) {
				t.Errorf("loop thread %d still in /proc/self/task after Close", tid)
			}
		})
	}
}

// TestConvoyCancelled ends a Run's context during its operations: the Run
// fails with ctx's error (once the CPU task in hand yields) and the exec
// refuses to run again.
func TestConvoyCancelled(t *testing.T) {
	j, err := convoy.NewJob(1000, 100*time.Microsecond, 1, 3000)
	if err != nil {
		t.Fatal(err)
	}
	x := startConvoyTest(t, j)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := x.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past its deadline: %v; want an error wrapping %v", err, context.DeadlineExceeded)
	}
	if _, err := x.Run(context.Background()); err == nil {
		t.Errorf("Run after a failed Run succeeded; want an error")
	}
	tid := x.l.TID()
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if threadExists(tid) {
		t.Errorf("loop thread %d still exists after Close", tid)
	}
}

func TestConvoyStartRejects(t *testing.T) {
	if x, err := (Model{}).Start(context.Background(), convoy.Job{}); err == nil {
		x.Close()
		t.Errorf("Start(convoy.Job{}) succeeded; want an error")
	}
}
