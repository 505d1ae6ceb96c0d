package loop

import (
	"context"
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/blocking"
)

// On the loop, the blocking calls stall it: they run on the loop thread, one
// after another, so the Run takes at least Tasks × Block (a physical lower
// bound: calls on one thread cannot overlap).
func TestBlockingOnTheLoop(t *testing.T) {
	j, err := blocking.NewJob(4, 20*time.Millisecond, 20*time.Millisecond, blocking.None, 0)
	if err != nil {
		t.Fatal(err)
	}
	x := start[*blockingExec](t, j)
	defer x.Close()
	tid := x.x.l.TID()
	for i := range 2 {
		begin := time.Now()
		r, err := x.Run(context.Background())
		elapsed := time.Since(begin)
		if err != nil {
			t.Fatalf("Run %d: %v", i, err)
		}
		if err := model.Verify(j, r, elapsed); err != nil {
			t.Fatalf("Run %d: %v", i, err)
		}
		if least := time.Duration(j.Tasks) * j.Block; elapsed < least {
			t.Errorf("Run %d took %v; %d blocking calls of %v on one thread take at least %v", i, elapsed, j.Tasks, j.Block, least)
		}
		for k, bt := range x.blockTIDs {
			if bt != tid {
				t.Errorf("Run %d: task %d's blocking call ran on thread %d; want the loop thread %d", i, k, bt, tid)
			}
		}
		if got, want := r.TIDs, []int{tid}; !slices.Equal(got, want) {
			t.Errorf("Run %d: TIDs %v; want only the loop thread %v", i, got, want)
		}
	}
	modeltest.CloseGone(t, x, tid)
}

// Offloaded, every blocking call runs on a pool thread (never the loop's),
// on at most PoolSize of them, every task completes, and Close ends the pool
// threads and the loop thread.
func TestBlockingOffloaded(t *testing.T) {
	for _, pool := range []int{0, 1, 2} {
		j, err := blocking.NewJob(4, 20*time.Millisecond, 20*time.Millisecond, blocking.Pool, pool)
		if err != nil {
			t.Fatal(err)
		}
		x := start[*blockingExec](t, j)
		tid := x.x.l.TID()
		poolTIDs := slices.Clone(x.pool.tids)
		if len(poolTIDs) != j.PoolSize {
			t.Errorf("pool %d: %d pool threads; want %d", pool, len(poolTIDs), j.PoolSize)
		}
		for i := range 2 {
			begin := time.Now()
			r, err := x.Run(context.Background())
			if err != nil {
				x.Close()
				t.Fatalf("pool %d: Run %d: %v", pool, i, err)
			}
			if err := model.Verify(j, r, time.Since(begin)); err != nil {
				t.Errorf("pool %d: Run %d: %v", pool, i, err)
			}
			used := map[int]bool{}
			for k, bt := range x.blockTIDs {
				if bt == tid || !slices.Contains(poolTIDs, bt) {
					t.Errorf("pool %d: Run %d: task %d's blocking call ran on thread %d; want a pool thread %v (the loop is %d)", pool, i, k, bt, poolTIDs, tid)
				}
				used[bt] = true
			}
			if len(used) > j.PoolSize {
				t.Errorf("pool %d: Run %d: blocking calls ran on %d threads; want at most %d", pool, i, len(used), j.PoolSize)
			}
			// The tasks themselves ran on the loop thread.
			if !slices.Contains(r.TIDs, tid) {
				t.Errorf("pool %d: Run %d: TIDs %v lack the loop thread %d", pool, i, r.TIDs, tid)
			}
		}
		if err := x.Close(); err != nil {
			t.Fatalf("pool %d: Close: %v", pool, err)
		}
		for _, pt := range append(poolTIDs, tid) {
			if threadExists(pt) {
				t.Errorf("pool %d: thread %d still exists after Close", pool, pt)
			}
		}
	}
}

// A Run cancelled while the pool threads are blocked fails; Close waits for
// the calls in hand and ends every thread.
func TestBlockingCancelled(t *testing.T) {
	j, err := blocking.NewJob(4, 20*time.Millisecond, time.Hour, blocking.Pool, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := start[*blockingExec](t, j)
	threads := append(slices.Clone(x.pool.tids), x.x.l.TID())
	modeltest.RunPastDeadline(t, x, 5*time.Millisecond)
	modeltest.CloseGone(t, x, threads...)
}
