package loop

import (
	"context"
	"testing"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/hold"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// The spawn and hold tasks run on the loop's one thread, in this process,
// and every Run is verified (modeltest.Run): spawn's every task ran, hold's
// every result was consumed whole (a size that is not a multiple of 8),
// either way.
func TestSpawnAndHoldOnTheLoopThread(t *testing.T) {
	tests := []struct {
		name string
		work model.Work
	}{
		{"spawn/1", must(spawnjob.NewJob(1))},
		{"spawn/500", must(spawnjob.NewJob(500))},
		{"hold/hold", must(hold.NewJob(7, 100_003, hold.Hold))},
		{"hold/release", must(hold.NewJob(7, 100_003, hold.Release))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := Model{}.Start(context.Background(), tt.work)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			var tid int
			switch x := x.(type) {
			case *spawnExec:
				tid = x.x.l.TID()
			case *holdExec:
				tid = x.x.l.TID()
			default:
				t.Fatalf("Start returned %T", x)
			}
			defer x.Close()
			for i := range 2 {
				onLoopThread(t, i, modeltest.RunVerified(t, x, tt.work), tid)
			}
			modeltest.CloseGone(t, x, tid)
		})
	}
}

func TestSpawnAndHoldRejectBadJobs(t *testing.T) {
	modeltest.StartRefuses(t, Model{},
		spawnjob.Job{Workers: 0},
		hold.Job{Workers: 0, Bytes: 8, Keep: hold.Hold},
		hold.Job{Workers: 1, Bytes: 8, Keep: "keep"},
	)
}
