package thread

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/hold"
)

// Every result is consumed whole and verified, in both modes, by every Run
// of a warm Exec, and each was produced on a thread of its own. The result
// size is not a multiple of 8 and spans several of thread-gil's chunks.
func TestHoldConsumesEveryResult(t *testing.T) {
	const workers, size = 5, 2*produceChunk + 13
	for _, m := range []Model{{}, fast} {
		for _, keep := range []string{hold.Hold, hold.Release} {
			t.Run(m.Name()+"/"+keep, func(t *testing.T) {
				j := mustWork(hold.NewJob(workers, size, keep))
				x, tids := startWorkersOf(t, m, j)
				for run := range 2 {
					r := runVerified(t, x, j)
					if r.Done != workers || r.Digest != j.Want {
						t.Errorf("run %d: Done %d, Digest %#x; want %d, %#x", run, r.Done, r.Digest, workers, j.Want)
					}
					if !sameInts(r.TIDs, tids) {
						t.Errorf("run %d: results produced on threads %v; want the Exec's %v, one each", run, r.TIDs, tids)
					}
				}
				closeGone(t, x, tids)
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

// holdRise runs j once on a new Exec of m and returns how far this process's
// resident set rose above its size at the start of the Run, at its peak.
//
// Go's collector keeps freed memory for reuse and returns it to the OS only
// slowly, so what an earlier Run (or test) left free would be reused by this
// Run's results without raising the RSS. So the Exec is started first (its
// threads exist in either mode), then a collection returns every free page
// to the OS (debug.FreeOSMemory, which osmeter.ResetPeakRSS calls after
// runtime.GC), and the peak is reset to the RSS that is left: each Run's
// rise is then memory it made resident itself.
func holdRise(t *testing.T, m Model, j hold.Job) int64 {
	t.Helper()
	x, tids := startWorkersOf(t, m, j)
	defer closeGone(t, x, tids)
	runtime.GC()
	debug.FreeOSMemory()
	if err := osmeter.ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	rss0, err := osmeter.RSS()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := x.Run(ctx)
	peak, perr := osmeter.PeakRSS()
	if err == nil {
		err = perr
	}
	if err == nil {
		err = model.Verify(j, r, 0)
	}
	if err != nil {
		t.Fatalf("%s: %v", j.Keep, err)
	}
	return peak - rss0
}
