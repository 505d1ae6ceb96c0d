package loop

import (
	"context"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/interleave"
)

// The claim the workload tests: the loop's interleaving is deterministic.
// Over 20 repeats (and two warm Runs) every order is the same, for both
// pauses, and it is the one the loop's rules give: a FIFO run queue and
// timers in deadline order make waiting tasks take turns (ABAB…), and a task
// that computes without awaiting runs all its events before the next task
// starts (AAA…BBB…). Every task ran on the loop thread.
func TestInterleaveIsDeterministic(t *testing.T) {
	tests := []struct {
		modeltest.InterleaveCase
		want string
	}{
		{modeltest.InterleaveCase{Name: "wait/2", Tasks: 2, Between: interleave.Wait, Gap: time.Millisecond, ComputeN: 2}, strings.Repeat("AB", 5)},
		{modeltest.InterleaveCase{Name: "wait/3", Tasks: 3, Between: interleave.Wait, Gap: 500 * time.Microsecond, ComputeN: 2}, strings.Repeat("ABC", 5)},
		{modeltest.InterleaveCase{Name: "wait/gap0", Tasks: 2, Between: interleave.Wait, ComputeN: 2}, strings.Repeat("AB", 5)},
		{modeltest.InterleaveCase{Name: "compute/2", Tasks: 2, Between: interleave.Compute, ComputeN: 3000}, "AAAAABBBBB"},
		{modeltest.InterleaveCase{Name: "compute/3", Tasks: 3, Between: interleave.Compute, ComputeN: 2000}, "AAAAABBBBBCCCCC"},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			j := tt.Job(t, 5, 20)
			x, err := Model{}.Start(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			tid := x.(*interleaveExec).x.l.TID()
			for i := range 2 {
				r := modeltest.RunVerified(t, x, j)
				if n := interleave.Distinct(r.Orders); n != 1 {
					t.Errorf("Run %d: %d distinct orders over %d repeats %v; want 1", i, n, j.Repeats, interleave.Counts(r.Orders))
				}
				if r.Orders[0] != tt.want {
					t.Errorf("Run %d: order %q; want %q", i, r.Orders[0], tt.want)
				}
				onLoopThread(t, i, r, tid)
			}
			modeltest.CloseGone(t, x, tid)
		})
	}
}

func TestInterleaveRejectsABadJob(t *testing.T) {
	modeltest.StartRefuses(t, Model{},
		interleave.Job{},
		interleave.Job{Tasks: 2, Events: 1, Repeats: 1, Between: "sleep"},
	)
}
