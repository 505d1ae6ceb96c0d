package thread

import (
	"context"
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
	for _, m := range []Model{{}, fast} {
		for _, c := range modeltest.InterleaveCases {
			t.Run(m.Name()+"/"+c.Name, func(t *testing.T) {
				for i, r := range modeltest.RunInterleave(t, m, c) {
					onOwnThreads(t, i, r, c.Tasks) // one per task
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
	modeltest.RunVerified(t, x, j)
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
