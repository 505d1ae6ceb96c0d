package stats

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
)

// Ratio is the ratio of two medians, B/A, with a confidence interval.
type Ratio struct {
	Point float64 `json:"point"` // median(B) / median(A)
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	// Confidence is the level of [Lo, Hi], e.g. 0.95.
	Confidence float64 `json:"confidence"`
	// Resamples and Seed say how the interval was drawn, so that it can be
	// reproduced exactly.
	Resamples int    `json:"resamples"`
	Seed      uint64 `json:"seed"`
}

// DefaultResamples is the number of bootstrap resamples RatioCI draws when
// asked for 0.
const DefaultResamples = 10000

// RatioCI estimates median(b)/median(a) and its confidence interval by a
// seeded percentile bootstrap: both samples are resampled with replacement,
// the ratio of the resampled medians is taken, and the interval is the
// central confidence share of those ratios (criterion.rs estimates its change
// intervals the same way). The same inputs and seed give the same interval.
//
// It needs at least 2 values on each side and a positive median of a; values
// are typically times, all positive. With few samples the bootstrap
// distribution is coarse and the interval conservative rather than exact.
func RatioCI(a, b []float64, confidence float64, resamples int, seed uint64) (Ratio, error) {
	if len(a) < 2 || len(b) < 2 {
		return Ratio{}, errors.New("stats: a ratio's interval needs at least 2 samples on each side")
	}
	if resamples <= 0 {
		resamples = DefaultResamples
	}
	ma, mb := Median(slices.Clone(a)), Median(slices.Clone(b))
	if ma <= 0 {
		return Ratio{}, errors.New("stats: the baseline median is not positive")
	}
	rng := rand.New(rand.NewPCG(seed, 0x726174696f)) // "ratio"
	da, db := newDrawer(a), newDrawer(b)
	ratios := make([]float64, 0, resamples)
	for range resamples {
		ma := da.median(rng) // a's draws first, then b's, as always
		mb := db.median(rng)
		if ma > 0 {
			ratios = append(ratios, mb/ma)
		}
	}
	slices.Sort(ratios)
	tail := (1 - confidence) / 2
	return Ratio{
		Point:      mb / ma,
		Lo:         QuantileSorted(ratios, tail),
		Hi:         QuantileSorted(ratios, 1-tail),
		Confidence: confidence, Resamples: resamples, Seed: seed,
	}, nil
}

// RatioToConstant estimates median(b)/c, for a constant c > 0 (an ideal
// time, a bound computed from parameters), with a confidence interval drawn
// by the same seeded percentile bootstrap as RatioCI, resampling b only: a
// constant has no sampling error, so it is not resampled and is not made
// into a sample. It needs at least 2 values of b.
func RatioToConstant(c float64, b []float64, confidence float64, resamples int, seed uint64) (Ratio, error) {
	if len(b) < 2 {
		return Ratio{}, errors.New("stats: a ratio's interval needs at least 2 samples")
	}
	if !(c > 0) {
		return Ratio{}, errors.New("stats: the constant to compare with is not positive")
	}
	if resamples <= 0 {
		resamples = DefaultResamples
	}
	rng := rand.New(rand.NewPCG(seed, 0x636f6e7374)) // "const"
	db := newDrawer(b)
	ratios := make([]float64, resamples)
	for i := range ratios {
		ratios[i] = db.median(rng) / c
	}
	slices.Sort(ratios)
	tail := (1 - confidence) / 2
	return Ratio{
		Point:      Median(slices.Clone(b)) / c,
		Lo:         QuantileSorted(ratios, tail),
		Hi:         QuantileSorted(ratios, 1-tail),
		Confidence: confidence, Resamples: resamples, Seed: seed,
	}, nil
}

// A drawer takes bootstrap resamples of a sample and their medians without
// sorting each one: it counts how often each rank of the sorted sample is
// drawn and walks the counts to the middle. It draws len(x) indices with
// rng.IntN(len(x)) in turn, as resampling into a slice would, so a seed
// gives the very medians it always gave; only the sort per resample (most
// of a bootstrap's time) is gone.
type drawer struct {
	sorted []float64 // the sample, sorted
	rank   []int     // rank[i]: the position of x[i] in sorted
	count  []int
}

func newDrawer(x []float64) *drawer {
	n := len(x)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(x[i], x[j]) })
	d := &drawer{sorted: make([]float64, n), rank: make([]int, n), count: make([]int, n)}
	for k, i := range idx {
		d.sorted[k], d.rank[i] = x[i], k
	}
	return d
}

// median draws one resample and returns its median, as Median computes it.
func (d *drawer) median(rng *rand.Rand) float64 {
	n := len(d.sorted)
	clear(d.count)
	for range n {
		d.count[d.rank[rng.IntN(n)]]++
	}
	if n%2 == 1 {
		return d.at(n / 2)
	}
	return (d.at(n/2-1) + d.at(n/2)) / 2
}

// at is the value at position p (0-based) of the resample, sorted.
func (d *drawer) at(p int) float64 {
	seen := 0
	for k, c := range d.count {
		if seen += c; seen > p {
			return d.sorted[k]
		}
	}
	return d.sorted[len(d.sorted)-1]
}

// Median sorts vals in place and returns their median.
func Median(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

// quantileSorted interpolates the q-quantile of sorted values (type 7).
func QuantileSorted(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}
