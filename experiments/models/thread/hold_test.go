package thread

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/hold"
)

// Every result is consumed whole and verified, in every mode, by every Run
// of a warm Exec, and each came from a thread of its own (with
// hold.OneAtATime, the thread that sent its index). The result size is not a
// multiple of 8 and spans several of thread-gil's chunks.
func TestHoldConsumesEveryResult(t *testing.T) {
	const workers, size = 5, 2*produceChunk + 13
	for _, m := range []Model{{}, fast} {
		for _, keep := range []string{hold.Hold, hold.Release, hold.OneAtATime} {
			t.Run(m.Name()+"/"+keep, func(t *testing.T) {
				j := mustWork(hold.NewJob(workers, size, keep))
				x, tids := startThreadsOf(t, m, j)
				for run := range 2 {
					r := modeltest.RunVerified(t, x, j)
					if r.Done != workers || r.Digest != j.Want {
						t.Errorf("run %d: Done %d, Digest %#x; want %d, %#x", run, r.Done, r.Digest, workers, j.Want)
					}
					if !sameInts(r.TIDs, tids) {
						t.Errorf("run %d: results produced on threads %v; want the Exec's %v, one each", run, r.TIDs, tids)
					}
				}
				modeltest.CloseGone(t, x, tids...)
			})
		}
	}
}

// The claim hold measures, measured rather than assumed: with hold.Hold
// all Workers results are resident at once at the Run's peak.
//
// What releasing saves depends on how many results are alive at once, and
// here that is not the model alone. Measured (64 results of 2 MiB, 2 CPUs):
//
//   - thread-gil: the GIL lets one thread produce at a time and the
//     collector digests each result as it comes, so release's peak rose by
//     10–18 MiB against hold's 129 MiB. The dropped results' memory comes
//     back only at the Go runtime's next collection (CPython's reference
//     counting would free each at once), which is why it is not one or two
//     results: hold − release was 111–119 MiB, not always the 0.9 × 128 MiB
//     an immediate free would give; the test asks for half (not under the
//     race detector, whose own memory for every allocation and tenfold
//     slower steps made release's peak 98 MiB once).
//   - thread: all 64 threads run at once on 2 CPUs, and the kernel
//     interleaves them, so a dozen to all of the results are being produced
//     at the same time (counted: 12 to 28 of 32 allocated and not yet
//     digested), and the collector's thread is one of 65 runnable threads;
//     release's peak was anywhere from 4 MiB to hold's. The test only logs
//     it.
func TestHoldKeepsEveryResultAlive(t *testing.T) {
	const workers, size = 64, 2 << 20
	for _, m := range []Model{{}, {GIL: true}} {
		t.Run(m.Name(), func(t *testing.T) {
			held := holdRise(t, m, mustWork(hold.NewJob(workers, size, hold.Hold)))
			released := holdRise(t, m, mustWork(hold.NewJob(workers, size, hold.Release)))
			t.Logf("peak RSS rise during Run: hold %.1f MiB, release %.1f MiB", float64(held)/(1<<20), float64(released)/(1<<20))
			if want := int64(workers * size * 9 / 10); held < want {
				t.Errorf("hold's peak rose by %d bytes; want ≥ %d (0.9 × %d results of %d bytes)", held, want, workers, size)
			}
			if want := int64(workers * size / 2); m.GIL && !raceEnabled && held-released < want {
				t.Errorf("hold's peak is %d bytes above release's; want ≥ %d (half of %d results of %d bytes)", held-released, want, workers, size)
			}
		})
	}
}

// With hold.OneAtATime (the article's fix) one result is alive at a time,
// plus what the Go runtime has not yet collected of those dropped: hold's
// peak is at least 0.9 × Workers results above one-at-a-time's, with the
// GIL and without.
//
// The runtime's allowance for garbage is not small against 64 results, the
// most threads a test may start: with the default GOGC=100 one-at-a-time's
// peak rose by 3 to 8 results' worth (64 results of 4 MiB, 2 CPUs: 12–32
// MiB; gctrace: each collection finds the result being made, and one made
// during its concurrent mark, alive, and sets its next goal at twice that;
// without the GIL the 64 Ps lent to the threads lengthen every cycle),
// which made hold − one-at-a-time fall below 0.9 × 64 results now and then.
// So the assertion is made with the collector paced tightly (GOGC=1: 2 to 4
// results' worth measured), where what is left is what the model keeps
// alive; the default's rise is logged.
func TestHoldOneAtATimeKeepsOneResultAlive(t *testing.T) {
	const workers, size = 64, 4 << 20
	for _, m := range []Model{{}, {GIL: true}} {
		t.Run(m.Name(), func(t *testing.T) {
			held := holdRise(t, m, mustWork(hold.NewJob(workers, size, hold.Hold)))
			released := holdRise(t, m, mustWork(hold.NewJob(workers, size, hold.Release)))
			one := holdRise(t, m, mustWork(hold.NewJob(workers, size, hold.OneAtATime)))
			tight := holdRiseTightGC(t, m, mustWork(hold.NewJob(workers, size, hold.OneAtATime)))
			t.Logf("peak RSS rise during Run: hold %.1f MiB, release %.1f MiB, one-at-a-time %.1f MiB (GOGC=1: %.1f MiB)",
				mib(held), mib(released), mib(one), mib(tight))
			if want := int64(workers * size * 9 / 10); held-tight < want {
				t.Errorf("hold's peak is %d bytes above one-at-a-time's (GOGC=1); want ≥ %d (0.9 × %d results of %d bytes)", held-tight, want, workers, size)
			}
		})
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// holdRiseTightGC is holdRise with the collector's GOGC set to 1 for the
// Run: a collection whenever the heap has grown by 1% of what the last one
// left live.
func holdRiseTightGC(t *testing.T, m Model, j hold.Job) int64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(1))
	return holdRise(t, m, j)
}

// holdRise runs j once on a new Exec of m and returns how far this
// process's resident set rose above its size at the start of the Run, at
// its peak (modeltest.RunPeakRise: the Exec's threads exist before the
// peak is reset, in either mode).
func holdRise(t *testing.T, m Model, j hold.Job) int64 {
	t.Helper()
	x, tids := startThreadsOf(t, m, j)
	defer modeltest.CloseGone(t, x, tids...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, rise := modeltest.RunPeakRise(t, ctx, x, j)
	return rise
}
