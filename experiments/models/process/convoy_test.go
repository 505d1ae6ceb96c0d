package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
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

// TestConvoyWorkers runs the convoy with and without CPU workers, twice on
// one Exec (modeltest.Run verifies every result and collects the usage
// after each): every worker a process of its own working on one thread, at
// least one chunk per CPU worker, and no process left after Close.
func TestConvoyWorkers(t *testing.T) {
	for _, cpu := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("cpu=%d", cpu), func(t *testing.T) {
			j := convoyJob(t, 10, cpu)
			for i, r := range modeltest.Run(t, Model{}, j, 2) {
				if r.Chunks < cpu {
					t.Errorf("run %d: %d chunks by %d CPU workers; want at least one each", i, r.Chunks, cpu)
				}
				if cpu == 0 && r.Chunks != 0 {
					t.Errorf("run %d: %d chunks with no CPU worker; want 0", i, r.Chunks)
				}
				if got, want := len(r.PIDs), 1+cpu; got != want {
					t.Errorf("run %d: %d distinct PIDs %v; want %d (the I/O worker and the CPU workers)", i, got, r.PIDs, want)
				}
				if slices.Contains(r.PIDs, os.Getpid()) {
					t.Errorf("run %d: PIDs %v include this process (%d); want only workers", i, r.PIDs, os.Getpid())
				}
				if got, want := len(r.TIDs), 1+cpu; got != want {
					t.Errorf("run %d: %d distinct TIDs %v; want %d", i, got, r.TIDs, want)
				}
			}
			modeltest.NoChildren(t)
		})
	}
}

// TestConvoyUsageAndClose checks that the workers report their usage when
// asked (the CPU workers computed, so the CPU time is not zero), and that
// Close ends them by the end of their control pipes, not by killing them.
func TestConvoyUsageAndClose(t *testing.T) {
	j := convoyJob(t, 10, 1)
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	start := time.Now()
	r, err := x.Run(t.Context())
	if err == nil {
		err = model.Verify(j, r, time.Since(start))
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.ChildCPU != 0 || r.ChildPeakRSS != 0 {
		t.Errorf("Result has ChildCPU %v, ChildPeakRSS %d; want zeros (CollectUsage reports them)", r.ChildCPU, r.ChildPeakRSS)
	}
	uc := x.(model.UsageCollector)
	cpu, peak, err := uc.CollectUsage(t.Context())
	if err != nil {
		t.Fatalf("CollectUsage: %v", err)
	}
	if cpu <= 0 || peak <= 0 {
		t.Errorf("CollectUsage = %v, %d bytes; want both > 0", cpu, peak)
	}
	if cpu, peak, err := uc.CollectUsage(t.Context()); err != nil || cpu != 0 || peak != 0 {
		t.Errorf("CollectUsage again = %v, %d bytes, %v; want zeros (nothing ran)", cpu, peak, err)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	g := x.(*convoyExec).g
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

// TestConvoyRunHonoursContext ends a Run's context during its operations:
// Run fails with ctx's error, the Exec refuses to run again, and no worker
// is left after Close.
func TestConvoyRunHonoursContext(t *testing.T) {
	j := convoyJob(t, 1000, 1)
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := x.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past its deadline: %v; want an error wrapping %v", err, context.DeadlineExceeded)
	}
	if _, err := x.Run(t.Context()); err == nil {
		t.Errorf("Run after a failed Run succeeded; want an error")
	}
	closeAndCheck(t, x)
}

func TestConvoyStartRefuses(t *testing.T) {
	for _, j := range []convoy.Job{
		{},
		{Ops: 1, IOWait: time.Millisecond, CPUWorkers: MaxWorkers, ChunkN: 10},
	} {
		if x, err := (Model{}).Start(t.Context(), j); err == nil {
			x.Close()
			t.Errorf("Start(%+v) succeeded; want an error", j)
		}
	}
	modeltest.NoChildren(t)
}
