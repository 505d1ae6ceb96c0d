package goroutine

import (
	"fmt"
	"runtime"
	"testing"

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
		modeltest.InThisProcess(t, fmt.Sprintf("run %d", run), r)
	}
	noGoroutinesLeft(t, before)
}
