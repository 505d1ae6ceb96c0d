package primes

import (
	"testing"
)

// TestCount checks both loops: the plain one and the one that polls.
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
	for _, poll := range []func(){nil, func() {}} {
		for _, tt := range tests {
			if got := Count(tt.lo, tt.hi, poll); got != tt.want {
				t.Errorf("Count(%d, %d, poll %v) = %d; want %d", tt.lo, tt.hi, poll != nil, got, tt.want)
			}
		}
	}
}

// TestCountPolls checks that the poll comes before the first division and
// then after every PollEvery divisions, counted with the sieve's smallest
// factors (not timed): ⌈divisions / PollEvery⌉ polls.
func TestCountPolls(t *testing.T) {
	s := sieve(5000)
	for _, r := range []Range{{2, 2}, {2, 3}, {2, 100}, {2, 2000}, {1000, 3000}, {4990, 5000}} {
		divisions := 0
		for i := r.Lo; i <= r.Hi; i++ {
			divisions += cost(s, i)
		}
		polls := 0
		Count(r.Lo, r.Hi, func() { polls++ })
		if want := (divisions + PollEvery - 1) / PollEvery; polls != want {
			t.Errorf("Count(%d, %d) polled %d times for %d divisions; want %d (one per %d)", r.Lo, r.Hi, polls, divisions, want, PollEvery)
		}
	}
}

// TestCountPollsInsideACandidate checks that a prime whose trial divisions
// outnumber PollEvery is polled during its own test, not only before it.
func TestCountPollsInsideACandidate(t *testing.T) {
	const p = 99991 // prime: 99 989 divisions
	polls := 0
	if got := Count(p, p, func() { polls++ }); got != 1 {
		t.Fatalf("Count(%d, %d) = %d; want 1", p, p, got)
	}
	if want := (p - 2 + PollEvery - 1) / PollEvery; polls != want {
		t.Errorf("testing %d polled %d times; want %d", p, polls, want)
	}
}

func BenchmarkCount(b *testing.B) {
	const n = 30000
	want := Pi(n)
	b.Run("poll=nil", func(b *testing.B) {
		for b.Loop() {
			if Count(2, n, nil) != want {
				b.Fatal("wrong count")
			}
		}
	})
	b.Run("poll=func", func(b *testing.B) {
		polls := 0
		for b.Loop() {
			if Count(2, n, func() { polls++ }) != want {
				b.Fatal("wrong count")
			}
		}
	})
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
