package loop

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
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
		name     string
		tasks    int
		between  string
		gap      time.Duration
		computeN int
		want     string
	}{
		{"wait/2", 2, interleave.Wait, time.Millisecond, 2, strings.Repeat("AB", 5)},
		{"wait/3", 3, interleave.Wait, 500 * time.Microsecond, 2, strings.Repeat("ABC", 5)},
		{"wait/gap0", 2, interleave.Wait, 0, 2, strings.Repeat("AB", 5)},
		{"compute/2", 2, interleave.Compute, 0, 3000, "AAAAABBBBB"},
		{"compute/3", 3, interleave.Compute, 0, 2000, "AAAAABBBBBCCCCC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := interleave.NewJob(tt.tasks, 5, 20, tt.between, tt.gap, tt.computeN)
			if err != nil {
				t.Fatal(err)
			}
			x, err := Model{}.Start(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			tid := x.(*interleaveExec).x.l.TID()
			for i := range 2 {
				begin := time.Now()
				r, err := x.Run(context.Background())
				if err != nil {
					t.Fatalf("Run %d: %v", i, err)
				}
				if err := model.Verify(j, r, time.Since(begin)); err != nil {
					t.Fatalf("Run %d: %v", i, err)
				}
				if n := interleave.Distinct(r.Orders); n != 1 {
					t.Errorf("Run %d: %d distinct orders over %d repeats %v; want 1", i, n, j.Repeats, interleave.Counts(r.Orders))
				}
				if r.Orders[0] != tt.want {
					t.Errorf("Run %d: order %q; want %q", i, r.Orders[0], tt.want)
				}
				if got, want := r.TIDs, []int{tid}; !slices.Equal(got, want) {
					t.Errorf("Run %d: tasks ran on threads %v; want only the loop thread %v", i, got, want)
				}
				if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
					t.Errorf("Run %d: PIDs %v; want %v", i, got, want)
				}
			}
			if err := x.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if threadExists(tid) {
				t.Errorf("loop thread %d still exists after Close", tid)
			}
		})
	}
}

func TestInterleaveRejectsABadJob(t *testing.T) {
	for _, j := range []interleave.Job{
		{},
		{Tasks: 2, Events: 1, Repeats: 1, Between: "sleep"},
	} {
		if x, err := (Model{}).Start(context.Background(), j); err == nil {
			x.Close()
			t.Errorf("Start(%+v) succeeded; want an error", j)
		}
	}
}
