package goroutine

import (
	"os"
	"runtime"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/spawn"
)

// Every goroutine runs its one task per Run, in this process, and Close ends
// them all.
func TestSpawn(t *testing.T) {
	const workers = 32
	j, err := spawn.NewJob(workers)
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for run, r := range modeltest.Run(t, Model{}, j, 3) {
		if r.Done != workers {
			t.Errorf("run %d: Done %d; want %d", run, r.Done, workers)
		}
		if len(r.PIDs) != 1 || r.PIDs[0] != os.Getpid() {
			t.Errorf("run %d: PIDs %v; want only this process, %d", run, r.PIDs, os.Getpid())
		}
	}
	// A goroutine that has returned is counted until it has exited.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close; want at most the %d before Start", n, before)
	}
}
