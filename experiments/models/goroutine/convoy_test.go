package goroutine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/convoy"
)

func convoyJob(t *testing.T, ops, cpu int) convoy.Job {
	t.Helper()
	// Chunks of primes in [2, 3000] (~1 ms), operations of 100 µs.
	j, err := convoy.NewJob(ops, 100*time.Microsecond, cpu, 3000)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// goroutinesBack waits until no more goroutines run than before, as after a
// Close that left none of its own behind; a goroutine that has just
// returned may take a moment to leave the count.
func goroutinesBack(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines after Close; want at most the %d before Start", runtime.NumGoroutine(), before)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConvoy runs the convoy with and without CPU goroutines, twice on one
// Exec: verified results, at least one chunk per CPU goroutine, all in this
// process, and no goroutine left after Close.
func TestConvoy(t *testing.T) {
	for _, cpu := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("cpu=%d", cpu), func(t *testing.T) {
			before := runtime.NumGoroutine()
			j := convoyJob(t, 10, cpu)
			for _, r := range modeltest.Run(t, Model{}, j, 2) {
				if r.Chunks < cpu {
					t.Errorf("%d chunks by %d CPU goroutines; want at least one each", r.Chunks, cpu)
				}
				if cpu == 0 && r.Chunks != 0 {
					t.Errorf("%d chunks with no CPU goroutine; want 0", r.Chunks)
				}
				if len(r.PIDs) != 1 || r.PIDs[0] != os.Getpid() {
					t.Errorf("ran in processes %v; want only this one (%d)", r.PIDs, os.Getpid())
				}
			}
			goroutinesBack(t, before)
		})
	}
}

// TestConvoyCancelled ends a Run's context during its operations: Run fails
// with ctx's error, the Exec refuses to run again, and Close waits for the
// goroutines.
func TestConvoyCancelled(t *testing.T) {
	before := runtime.NumGoroutine()
	j := convoyJob(t, 1000, 1)
	x, err := Model{}.Start(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := x.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past its deadline: %v; want an error wrapping %v", err, context.DeadlineExceeded)
	}
	if _, err := x.Run(context.Background()); err == nil {
		t.Errorf("Run after a failed Run succeeded; want an error")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	goroutinesBack(t, before)
}

func TestConvoyStartRejects(t *testing.T) {
	var w model.Work = convoy.Job{}
	if x, err := (Model{}).Start(context.Background(), w); err == nil {
		x.Close()
		t.Errorf("Start(convoy.Job{}) succeeded; want an error")
	}
}
