package goroutine

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/primes"
)

func TestConformance(t *testing.T) { modeltest.Conformance(t, Model{}) }

func TestRunsInThisProcess(t *testing.T) {
	for i, r := range modeltest.Run(t, Model{}, mustPrimes(t), 1) {
		modeltest.InThisProcess(t, fmt.Sprintf("run %d", i), r)
	}
}

func mustPrimes(t *testing.T) primes.Job {
	j, err := primes.NewJob(2000, 2, primes.Replicate)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestStartRejectsUnknownWork(t *testing.T) {
	if x, err := (Model{}).Start(t.Context(), modeltest.UnknownWork{}); err == nil {
		x.Close()
		t.Error("Start accepted work of an unknown workload")
	}
}

// noGoroutinesLeft waits until this process runs no more goroutines than
// before, as after a Close that left none of its own behind (a goroutine
// that has just returned, or the load generator's, may take a moment to
// end): a liveness bound, not a speed threshold.
func noGoroutinesLeft(t *testing.T, before int) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before Start:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	}
}
