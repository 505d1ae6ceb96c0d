package process

import (
	"context"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/hold"
)

// Every result is consumed whole and verified, in both modes, by every Run
// of a warm Exec, each produced by a worker process of its own. The size is
// larger than a pipe's buffer and not a multiple of 8.
func TestHoldConsumesEveryResult(t *testing.T) {
	const workers = 3
	for _, keep := range []string{hold.Hold, hold.Release} {
		t.Run(keep, func(t *testing.T) {
			j, err := hold.NewJob(workers, 3*holdChunk+5, keep)
			if err != nil {
				t.Fatal(err)
			}
			for run, r := range modeltest.Run(t, Model{}, j, 2) {
				if r.Done != workers || r.Digest != j.Want {
					t.Errorf("run %d: Done %d, Digest %#x; want %d, %#x", run, r.Done, r.Digest, workers, j.Want)
				}
				if len(r.PIDs) != workers || len(r.TIDs) != workers {
					t.Errorf("run %d: PIDs %v, TIDs %v; want %d of each", run, r.PIDs, r.TIDs, workers)
				}
			}
			modeltest.NoChildren(t)
		})
	}
}

// The claim hold measures, measured rather than assumed: with hold.Hold this
// process holds every worker's result at once at the Run's peak; with
// hold.Release it digests each as it streams in and keeps none. Each worker
// holds its own result in both modes, so the usage the workers report adds
// about the same to both sides.
func TestHoldKeepsEveryResultAlive(t *testing.T) {
	const workers, size = 16, 4 << 20
	heldSelf, heldKids := holdPeaks(t, workers, size, hold.Hold)
	relSelf, relKids := holdPeaks(t, workers, size, hold.Release)
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	t.Logf("hold: this process's peak rose by %.1f MiB, the workers' peaks sum to %.1f MiB; release: %.1f MiB, %.1f MiB",
		mib(heldSelf), mib(heldKids), mib(relSelf), mib(relKids))
	if want := int64(workers * size * 9 / 10); heldSelf+heldKids-(relSelf+relKids) < want {
		t.Errorf("hold's peaks are %d bytes above release's; want ≥ %d (0.9 × %d results of %d bytes)",
			heldSelf+heldKids-(relSelf+relKids), want, workers, size)
	}
	if want := int64(workers * size); heldKids < want || relKids < want {
		t.Errorf("the workers' peaks sum to %d (hold) and %d (release); want ≥ %d each: every worker holds its result", heldKids, relKids, want)
	}
}

// holdPeaks runs a hold job once on a new Exec and returns how far this
// process's resident set rose above its size at the start of the Run, at its
// peak, and the sum of the workers' peaks over the Run (CollectUsage).
//
// Go's collector keeps freed memory for reuse and returns it to the OS only
// slowly, so what an earlier Run (or test) left free would be reused by this
// Run's results without raising this process's RSS. So the Exec is started
// first, then a collection returns every free page to the OS (runtime.GC and
// debug.FreeOSMemory), and the peak is reset to the RSS that is left.
func holdPeaks(t *testing.T, workers, size int, keep string) (self, kids int64) {
	t.Helper()
	j, err := hold.NewJob(workers, size, keep)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x, err := Model{}.Start(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAndCheck(t, x)
	runtime.GC()
	debug.FreeOSMemory()
	if err := osmeter.ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	rss0, err := osmeter.RSS()
	if err != nil {
		t.Fatal(err)
	}
	r, err := x.Run(ctx)
	peak, perr := osmeter.PeakRSS()
	if err == nil {
		err = perr
	}
	if err == nil {
		err = model.Verify(j, r, 0)
	}
	if err == nil {
		_, kids, err = x.(model.UsageCollector).CollectUsage(ctx)
	}
	if err != nil {
		t.Fatalf("%s: %v", keep, err)
	}
	return peak - rss0, kids
}

// A worker that dies between Runs fails the next Run, which says so, and
// leaves no process behind (nor a goroutine reading a result: Close waits
// for them).
func TestHoldRunFailsOnADeadWorker(t *testing.T) {
	for _, keep := range []string{hold.Hold, hold.Release} {
		t.Run(keep, func(t *testing.T) {
			j, err := hold.NewJob(3, 1<<20, keep)
			if err != nil {
				t.Fatal(err)
			}
			x, err := Model{}.Start(t.Context(), j)
			if err != nil {
				t.Fatal(err)
			}
			hx := x.(*holdExec)
			pid := hx.g.procs[2].pid
			if err := hx.g.procs[2].cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if _, err := x.Run(t.Context()); err == nil {
				t.Errorf("Run after killing worker %d succeeded; want an error", pid)
			} else {
				t.Logf("Run: %v", err)
			}
			closeAndCheck(t, x)
			if slices.Contains(modeltest.Children(), pid) {
				t.Errorf("worker %d left behind", pid)
			}
		})
	}
}
