package thread

import (
	"fmt"
	"slices"
	"testing"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/hold"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// A cold execution (Start, Run, Close) creates its workers: each reports
// Workers distinct threads of this process, made by its Start, and two
// executions share none of them (measured: the kernel hands out thread IDs
// cyclically up to pid_max, so an ID comes back only after ~32 000 others).
// Close leaves none of them.
func TestSpawnColdCreatesNewThreads(t *testing.T) {
	const workers = 16
	j := mustWork(spawnjob.NewJob(workers))
	for _, m := range []Model{{}, fast} {
		t.Run(m.Name(), func(t *testing.T) {
			var seen []int
			for exec := range 2 {
				x, tids := startThreadsOf(t, m, j)
				r := modeltest.RunVerified(t, x, j)
				modeltest.CloseGone(t, x, tids...)
				if r.Done != workers {
					t.Errorf("execution %d: Done %d; want %d", exec, r.Done, workers)
				}
				modeltest.InThisProcess(t, fmt.Sprintf("execution %d", exec), r)
				if len(r.TIDs) != workers || !sameInts(r.TIDs, tids) {
					t.Errorf("execution %d: tasks ran on threads %v; want the %d its Start created, %v", exec, r.TIDs, workers, tids)
				}
				for _, tid := range r.TIDs {
					if slices.Contains(seen, tid) {
						t.Errorf("execution %d: thread %d also ran a task of an earlier execution", exec, tid)
					}
				}
				seen = append(seen, r.TIDs...)
			}
		})
	}
}

// A warm Exec is a pool: every Run hands its tasks to the threads Start
// created, and creates none.
func TestSpawnWarmReusesThreads(t *testing.T) {
	const workers = 16
	j := mustWork(spawnjob.NewJob(workers))
	for _, m := range []Model{{}, fast} {
		t.Run(m.Name(), func(t *testing.T) {
			x, tids := startThreadsOf(t, m, j)
			for run := range 3 {
				r := modeltest.RunVerified(t, x, j)
				if r.Done != workers || !sameInts(r.TIDs, tids) {
					t.Errorf("run %d: Done %d on threads %v; want %d on the Exec's %v", run, r.Done, r.TIDs, workers, tids)
				}
			}
			modeltest.CloseGone(t, x, tids...)
		})
	}
}

func TestSpawnAndHoldStartRefuse(t *testing.T) {
	modeltest.StartRefuses(t, Model{},
		spawnjob.Job{Workers: 0},
		spawnjob.Job{Workers: MaxThreads + 1},
		hold.Job{Workers: 1, Bytes: 8, Keep: "keep"},
		hold.Job{Workers: MaxThreads + 1, Bytes: 8, Keep: hold.Hold},
	)
}

// sameInts reports whether a and b hold the same distinct values.
func sameInts(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
