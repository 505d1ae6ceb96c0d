// Package primes is the article's CPU-bound workload: counting primes by
// naive trial division.
//
// The article's Python divides every i in [2, n] by every j in [2, i) and
// stops at the first divisor. Count does exactly that, so the work per number
// is the same as in the article: about i divisions for a prime i, and
// smallest-factor − 2 divisions for a composite. It is deliberately slow; do
// not "optimise" it (a √i bound would change the workload by a factor of ~300).
package primes

import (
	"fmt"
	"slices"
)

// Count returns how many primes lie in [lo, hi] (inclusive), by the article's
// trial division. Values below 2 are not prime.
//
// poll, when not nil, is called before the first division and then after
// every PollEvery divisions, in the middle of a candidate if need be: the
// emulated GIL uses it to hand the lock over, as CPython's eval loop checks
// its eval breaker every few bytecodes. Without poll, Count runs the plain
// loop, with nothing else in it.
func Count(lo, hi int, poll func()) int {
	lo = max(lo, 2)
	if poll != nil {
		return countPolled(lo, hi, poll)
	}
	count := 0
	for i := lo; i <= hi; i++ {
		prime := true
		for j := 2; j < i; j++ {
			if i%j == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count
}

// PollEvery is how many divisions Count makes between two calls of its poll
// function. Measured here (AMD EPYC, Go 1.26): Count(2, 100000) makes
// 455 189 150 divisions in 0.755 s, 1.66 ns each, so 16 384 divisions are
// ~27 µs of work, within the ~50 µs a GIL holder may compute before it
// notices a drop request; polling once per candidate, as before, left up to
// ~0.17 ms (99 989 divisions for the prime 99 991) between polls.
const PollEvery = 1 << 14

// countPolled is Count with poll, for lo ≥ 2. It makes the same divisions in
// the same order, in runs of at most PollEvery between polls.
func countPolled(lo, hi int, poll func()) int {
	count := 0
	left := 0 // divisions before the next poll
	for i := lo; i <= hi; i++ {
		prime := true
		for j := 2; j < i; {
			if left == 0 {
				poll()
				left = PollEvery
			}
			from, end := j, min(i, j+left)
			for ; j < end; j++ {
				if i%j == 0 {
					prime = false
					break
				}
			}
			if !prime {
				left -= j - from + 1 // the division that found the factor
				break
			}
			left -= j - from
		}
		if prime {
			count++
		}
	}
	return count
}

// Pi returns π(n), the number of primes ≤ n, by a sieve of Eratosthenes. It is
// independent of Count and is used to verify it. Pi(100000) = 9592.
func Pi(n int) int {
	if n < 2 {
		return 0
	}
	return len(sieve(n).primes)
}

type sieved struct {
	spf    []int // smallest prime factor of every i ≤ n (spf[i] = i for primes)
	primes []int
}

func sieve(n int) sieved {
	spf := make([]int, n+1)
	var ps []int
	for i := 2; i <= n; i++ {
		if spf[i] == 0 {
			spf[i] = i
			ps = append(ps, i)
		}
		for _, p := range ps {
			if p > spf[i] || i*p > n {
				break
			}
			spf[i*p] = p
		}
	}
	return sieved{spf: spf, primes: ps}
}

// Range is an inclusive range of candidates [Lo, Hi].
type Range struct{ Lo, Hi int }

// Split says how a job's range is shared among its workers.
type Split string

const (
	// Replicate gives every worker the whole range [2, n], as in the article's
	// table (2 workers, n = 100000, 9592 primes each).
	Replicate Split = "replicate"
	// Partition shares [2, n] among the workers in ranges of equal work.
	Partition Split = "partition"
)

// Job is one execution of the workload: one Count per range, each by its own
// worker. Want holds the verified answer for each range.
type Job struct {
	N      int
	Split  Split
	Ranges []Range
	Want   []int
}

// NewJob builds the job for n and workers, and computes the expected counts
// with the sieve (outside any timed region: call it before the timer starts).
func NewJob(n, workers int, split Split) (Job, error) {
	if n < 2 {
		return Job{}, fmt.Errorf("primes: n = %d; want n ≥ 2", n)
	}
	if workers < 1 {
		return Job{}, fmt.Errorf("primes: workers = %d; want workers ≥ 1", workers)
	}
	s := sieve(n)
	job := Job{N: n, Split: split}
	switch split {
	case Replicate:
		for range workers {
			job.Ranges = append(job.Ranges, Range{2, n})
			job.Want = append(job.Want, len(s.primes))
		}
	case Partition:
		if workers > n-1 {
			return Job{}, fmt.Errorf("primes: %d workers cannot share the %d candidates in [2, %d]", workers, n-1, n)
		}
		job.Ranges = balance(s, n, workers)
		for _, r := range job.Ranges {
			job.Want = append(job.Want, countSieved(s, r))
		}
	default:
		return Job{}, fmt.Errorf("primes: split = %q; want %q or %q", split, Replicate, Partition)
	}
	return job, nil
}

// Cost is the number of divisions Count makes for candidate i: i−2 for a
// prime, spf(i)−1 for a composite.
func cost(s sieved, i int) int {
	if s.spf[i] == i {
		return i - 2
	}
	return s.spf[i] - 1
}

// balance cuts [2, n] into workers ranges of near-equal total cost. Equal
// lengths would be badly unbalanced: the cost of a prime grows with it, so the
// last range of an equal split holds most of the work.
func balance(s sieved, n, workers int) []Range {
	total := 0
	for i := 2; i <= n; i++ {
		total += cost(s, i) + 1 // +1: the loop overhead of a candidate
	}
	ranges := make([]Range, 0, workers)
	lo, acc := 2, 0
	for i := 2; i <= n && len(ranges) < workers-1; i++ {
		acc += cost(s, i) + 1
		// Close the range once it holds its share, leaving at least one
		// candidate for every range still to come.
		if acc*workers >= total*(len(ranges)+1) && n-i >= workers-1-len(ranges) {
			ranges = append(ranges, Range{lo, i})
			lo = i + 1
		}
	}
	return append(ranges, Range{lo, n})
}

func countSieved(s sieved, r Range) int {
	lo, _ := slices.BinarySearch(s.primes, r.Lo)
	hi, _ := slices.BinarySearch(s.primes, r.Hi+1)
	return hi - lo
}

// Verify checks counts, one per range in order, against the sieve.
func (j Job) Verify(counts []int) error {
	if len(counts) != len(j.Want) {
		return fmt.Errorf("primes: %d counts for %d ranges", len(counts), len(j.Want))
	}
	for i, c := range counts {
		if c != j.Want[i] {
			r := j.Ranges[i]
			return fmt.Errorf("primes: worker %d counted %d primes in [%d, %d]; want %d", i, c, r.Lo, r.Hi, j.Want[i])
		}
	}
	return nil
}

// Workload is "primes", the workload's name in the matrix.
func (j Job) Workload() string { return "primes" }
