package stats

import (
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
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, 0, resamples)
	for range resamples {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		if m := Median(ra); m > 0 {
			ratios = append(ratios, Median(rb)/m)
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
	rb := make([]float64, len(b))
	ratios := make([]float64, resamples)
	for i := range ratios {
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		ratios[i] = Median(rb) / c
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

// median sorts vals in place and returns their median.
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
