package loop

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/hold"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// The spawn and hold tasks run on the loop's one thread, in this process,
// and every Run verifies: spawn's every task ran, hold's every result was
// consumed whole (a size that is not a multiple of 8), either way.
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
				begin := time.Now()
				r, err := x.Run(context.Background())
				if err == nil {
					err = model.Verify(tt.work, r, time.Since(begin))
				}
				if err != nil {
					t.Fatalf("Run %d: %v", i, err)
				}
				if got, want := r.TIDs, []int{tid}; !slices.Equal(got, want) {
					t.Errorf("Run %d: tasks ran on threads %v; want only the loop thread %v", i, got, want)
				}
				if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
					t.Errorf("Run %d: tasks ran in processes %v; want only this one %v", i, got, want)
				}
			}
			if err := x.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if threadExists(tid) {
				t.Errorf("loop thread %d still exists after Close", tid)
			}
		})
	}
}

func TestSpawnAndHoldRejectBadJobs(t *testing.T) {
	for _, w := range []model.Work{
		spawnjob.Job{Workers: 0},
		hold.Job{Workers: 0, Bytes: 8, Keep: hold.Hold},
		hold.Job{Workers: 1, Bytes: 8, Keep: "keep"},
	} {
		if x, err := (Model{}).Start(context.Background(), w); err == nil {
			x.Close()
			t.Errorf("Start(%+v) succeeded; want an error", w)
		}
	}
}
