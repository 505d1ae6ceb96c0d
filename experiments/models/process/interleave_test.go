package process

import (
	"context"
	"errors"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/interleave"
)

// Every task is a worker process of its own (not this one), for both pauses;
// modeltest.Run verifies every Run's orders and collects the workers' usage
// after each. Close ends the workers by EOF, and none is left. How many
// distinct orders the processes produce is the measurement: not asserted.
func TestInterleave(t *testing.T) {
	tests := []struct {
		name     string
		tasks    int
		between  string
		gap      time.Duration
		computeN int
	}{
		{"wait/2", 2, interleave.Wait, time.Millisecond, 2},
		{"wait/3", 3, interleave.Wait, 500 * time.Microsecond, 2},
		{"wait/gap0", 2, interleave.Wait, 0, 2},
		{"compute/2", 2, interleave.Compute, 0, 3000},
		{"compute/4", 4, interleave.Compute, 0, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := interleave.NewJob(tt.tasks, 5, 4, tt.between, tt.gap, tt.computeN)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range modeltest.Run(t, Model{}, j, 2) {
				if len(r.Orders) != j.Repeats {
					t.Errorf("run %d: %d orders; want %d", i, len(r.Orders), j.Repeats)
				}
				if got := len(r.PIDs); got != tt.tasks {
					t.Errorf("run %d: %d distinct PIDs %v; want one per task, %d", i, got, r.PIDs, tt.tasks)
				}
				if slices.Contains(r.PIDs, os.Getpid()) {
					t.Errorf("run %d: PIDs %v include this process (%d); want only workers", i, r.PIDs, os.Getpid())
				}
				if got := len(r.TIDs); got != tt.tasks {
					t.Errorf("run %d: %d distinct TIDs %v; want one per task, %d", i, got, r.TIDs, tt.tasks)
				}
			}
			modeltest.NoChildren(t)
		})
	}
}

// After a good Run, Close only has to end the workers' control pipes: each
// exits on its own with status 0, and the events pipe's reader ends.
func TestInterleaveCloseEndsWorkersByEOF(t *testing.T) {
	j, err := interleave.NewJob(2, 3, 2, interleave.Wait, time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := x.Run(t.Context())
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
	g := x.(*interleaveExec).g
	if g.killed.Load() {
		t.Errorf("Close killed workers; want them to exit at the end of their input")
	}
	for _, p := range g.procs {
		if p.status != nil {
			t.Errorf("%s (pid %d) ended with %v; want exit status 0", p.name, p.pid, p.status)
		}
	}
	modeltest.NoChildren(t)
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
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if _, err := x.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run: %v; want an error wrapping %v", err, context.DeadlineExceeded)
		}
		if _, err := x.Run(t.Context()); err == nil {
			t.Errorf("Run after a failed Run succeeded; want an error")
		}
		closeAndCheck(t, x)
	})
}
