package thread

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/interleave"
)

// Every task is a thread of its own in this process, for both pauses, with
// and without the GIL; modeltest.Run verifies every Run's orders (one per
// repeat, each holding every task's events). How many distinct orders the
// threads produce is the measurement, not a property: it is not asserted.
func TestInterleave(t *testing.T) {
	tests := []struct {
		name     string
		tasks    int
		between  string
		gap      time.Duration
		computeN int
	}{
		{name: "wait/2", tasks: 2, between: interleave.Wait, gap: time.Millisecond, computeN: 2},
		{name: "wait/3", tasks: 3, between: interleave.Wait, gap: 500 * time.Microsecond, computeN: 2},
		{name: "wait/gap0", tasks: 2, between: interleave.Wait, computeN: 2},
		{name: "compute/2", tasks: 2, between: interleave.Compute, computeN: 3000},
		{name: "compute/4", tasks: 4, between: interleave.Compute, computeN: 2000},
	}
	for _, m := range []Model{{}, fast} {
		for _, tc := range tests {
			t.Run(m.Name()+"/"+tc.name, func(t *testing.T) {
				j, err := interleave.NewJob(tc.tasks, 5, 4, tc.between, tc.gap, tc.computeN)
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range modeltest.Run(t, m, j, 2) {
					if len(r.Orders) != j.Repeats {
						t.Errorf("run %d: %d orders; want %d", i, len(r.Orders), j.Repeats)
					}
					if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
						t.Errorf("run %d: PIDs %v; want %v", i, got, want)
					}
					if got := len(r.TIDs); got != tc.tasks {
						t.Errorf("run %d: %d distinct TIDs %v; want one per task, %d", i, got, r.TIDs, tc.tasks)
					}
					if slices.Contains(r.TIDs, os.Getpid()) {
						t.Errorf("run %d: a task ran on the main thread (TIDs %v)", i, r.TIDs)
					}
				}
			})
		}
	}
}

// With the GIL, the tasks' events are emitted under it: it is never held by
// two threads at once, and the waits release it.
func TestInterleaveHoldsTheGIL(t *testing.T) {
	j, err := interleave.NewJob(3, 4, 3, interleave.Wait, time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	x, err := fast.Start(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := x.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := x.(interface{ GIL() *GIL }).GIL().Stats()
	if st.MaxHolders != 1 {
		t.Errorf("at most %d threads held the GIL at once; want 1", st.MaxHolders)
	}
	if st.MaxBlocked < 1 {
		t.Errorf("no thread waited with the GIL released (MaxBlocked %d); want the waits outside it", st.MaxBlocked)
	}
	if err := x.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A Run whose context has ended fails, and Close still ends every thread.
func TestInterleaveCancelled(t *testing.T) {
	j, err := interleave.NewJob(2, 3, 2, interleave.Wait, time.Millisecond, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Model{{}, fast} {
		x, err := m.Start(context.Background(), j)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := x.Run(ctx); err == nil {
			t.Errorf("%s: Run with an ended context succeeded; want an error", m.Name())
		}
		if err := x.Close(); err != nil {
			t.Errorf("%s: Close: %v", m.Name(), err)
		}
	}
}
