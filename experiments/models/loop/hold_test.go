package loop

import (
	"context"
	"testing"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/hold"
)

// With hold.OneAtATime every result is made by the collector and consumed
// whole and verified by every Run of a warm Exec, on the loop's one thread.
func TestHoldOneAtATimeOnTheLoopThread(t *testing.T) {
	j := must(hold.NewJob(7, 100_003, hold.OneAtATime))
	x, err := Model{}.Start(context.Background(), j)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer x.Close()
	tid := x.(*holdExec).x.l.TID()
	for i := range 2 {
		r := modeltest.RunVerified(t, x, j)
		if r.Done != j.Workers || r.Digest != j.Want {
			t.Errorf("run %d: Done %d, Digest %#x; want %d, %#x", i, r.Done, r.Digest, j.Workers, j.Want)
		}
		onLoopThread(t, i, r, tid)
	}
	modeltest.CloseGone(t, x, tid)
}

// The claim hold measures, on the loop: with hold.Hold, and with
// hold.Release too (the producers run to their ends before the collector
// runs: see tasks), all Workers results are resident at once at the Run's
// peak; with hold.OneAtATime (the article's fix) one result is, plus what
// the Go runtime has not yet collected of those dropped: hold's peak is at
// least 0.9 × Workers results above one-at-a-time's. Release's is logged.
func TestHoldOneAtATimeKeepsOneResultAlive(t *testing.T) {
	const workers, size = 64, 4 << 20
	held := holdRise(t, must(hold.NewJob(workers, size, hold.Hold)))
	released := holdRise(t, must(hold.NewJob(workers, size, hold.Release)))
	one := holdRise(t, must(hold.NewJob(workers, size, hold.OneAtATime)))
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	t.Logf("peak RSS rise during Run: hold %.1f MiB, release %.1f MiB, one-at-a-time %.1f MiB", mib(held), mib(released), mib(one))
	if want := int64(workers * size * 9 / 10); held < want {
		t.Errorf("hold's peak rose by %d bytes; want ≥ %d (0.9 × %d results of %d bytes)", held, want, workers, size)
	}
	if want := int64(workers * size * 9 / 10); held-one < want {
		t.Errorf("hold's peak is %d bytes above one-at-a-time's; want ≥ %d (0.9 × %d results of %d bytes)", held-one, want, workers, size)
	}
}

// holdRise runs j once on a new Exec and returns its peak rise
// (modeltest.StartPeakRise).
func holdRise(t *testing.T, j hold.Job) int64 {
	t.Helper()
	return modeltest.StartPeakRise(t, Model{}, j)
}
