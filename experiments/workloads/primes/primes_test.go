package primes

import (
	"testing"
)

func TestCount(t *testing.T) {
	tests := []struct{ lo, hi, want int }{
		{0, 1, 0},
		{2, 2, 1},
		{2, 10, 4},
		{10, 20, 4},
		{2, 1000, 168},
		{2, 100000, 9592},
		{99990, 100000, 1}, // 99991
	}
	for _, tt := range tests {
		if got := Count(tt.lo, tt.hi, nil); got != tt.want {
			t.Errorf("Count(%d, %d) = %d; want %d", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestCountPolls(t *testing.T) {
	polls := 0
	Count(2, 100, func() { polls++ })
	if polls != 99 {
		t.Errorf("Count(2, 100) polled %d times; want once per candidate (99)", polls)
	}
}

func TestPi(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 0, 2: 1, 3: 2, 10: 4, 100: 25, 1000: 168, 100000: 9592} {
		if got := Pi(n); got != want {
			t.Errorf("Pi(%d) = %d; want %d", n, got, want)
		}
	}
}

func TestNewJob(t *testing.T) {
	for _, split := range []Split{Replicate, Partition} {
		for _, workers := range []int{1, 2, 3, 4, 8} {
			job, err := NewJob(20000, workers, split)
			if err != nil {
				t.Fatal(err)
			}
			if len(job.Ranges) != workers {
				t.Fatalf("%s/%d: %d ranges", split, workers, len(job.Ranges))
			}
			counts := make([]int, workers)
			for i, r := range job.Ranges {
				counts[i] = Count(r.Lo, r.Hi, nil)
			}
			if err := job.Verify(counts); err != nil {
				t.Errorf("%s/%d: %v", split, workers, err)
			}
			if split == Partition {
				next, sum := 2, 0
				for _, r := range job.Ranges {
					if r.Lo != next || r.Hi < r.Lo {
						t.Fatalf("partition %d: ranges %v do not tile [2, 20000]", workers, job.Ranges)
					}
					next = r.Hi + 1
					sum += Count(r.Lo, r.Hi, nil)
				}
				if next != 20001 || sum != Pi(20000) {
					t.Errorf("partition %d: ranges %v end at %d, count %d; want 20000, %d", workers, job.Ranges, next-1, sum, Pi(20000))
				}
			}
		}
	}
}

// TestPartitionBalance checks that the ranges hold near-equal work, measured in
// divisions (not time, so the test does not depend on the machine).
func TestPartitionBalance(t *testing.T) {
	s := sieve(100000)
	for _, workers := range []int{2, 4, 8} {
		job, _ := NewJob(100000, workers, Partition)
		var costs []int
		for _, r := range job.Ranges {
			c := 0
			for i := r.Lo; i <= r.Hi; i++ {
				c += cost(s, i) + 1
			}
			costs = append(costs, c)
		}
		lo, hi := costs[0], costs[0]
		for _, c := range costs {
			lo, hi = min(lo, c), max(hi, c)
		}
		if float64(hi-lo) > 0.01*float64(hi) {
			t.Errorf("%d workers: work per range %v differs by more than 1%%", workers, costs)
		}
	}
}

func TestNewJobErrors(t *testing.T) {
	for _, tt := range []struct {
		n, w  int
		split Split
	}{{1, 1, Replicate}, {10, 0, Replicate}, {10, 2, "halves"}, {3, 3, Partition}} {
		if _, err := NewJob(tt.n, tt.w, tt.split); err == nil {
			t.Errorf("NewJob(%d, %d, %q) succeeded; want an error", tt.n, tt.w, tt.split)
		}
	}
}

func TestVerifyCatchesWrongCount(t *testing.T) {
	job, _ := NewJob(100, 2, Replicate)
	if err := job.Verify([]int{25, 24}); err == nil {
		t.Error("Verify accepted a wrong count")
	}
	if err := job.Verify([]int{25}); err == nil {
		t.Error("Verify accepted a missing count")
	}
}
