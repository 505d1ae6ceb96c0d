// Package stats summarises a cell's samples: the median and its
// distribution-free 95% confidence interval (golang.org/x/perf/benchmath, as
// benchstat computes them), the usual descriptive statistics
// (github.com/montanaflynn/stats), and outliers by Tukey's fences — flagged,
// never dropped.
package stats

import (
	"math"
	"slices"

	mstats "github.com/montanaflynn/stats"
	"golang.org/x/perf/benchmath"
)

// Confidence is the confidence level of every interval the lab reports.
const Confidence = 0.95

// HighCV is the coefficient of variation above which a cell's time is
// flagged as noisy.
const HighCV = 0.05

// MinSamplesForCI is the fewest samples for which benchmath gives a finite 95%
// CI of the median.
const MinSamplesForCI = 6

// Summary describes one metric's samples. Values are in the metric's unit.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"` // sample standard deviation (n−1); 0 for n = 1
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	CV     float64 `json:"cv"` // StdDev / Mean; 0 when Mean is 0
	// CILo and CIHi bound the 95% CI of the median; nil when there are too
	// few samples for one (fewer than MinSamplesForCI).
	CILo *float64 `json:"ci_lo"`
	CIHi *float64 `json:"ci_hi"`
	// Q1 and Q3 are the quartiles Tukey's fences are built on (linear
	// interpolation between order statistics, NumPy's default).
	Q1       float64   `json:"q1"`
	Q3       float64   `json:"q3"`
	Outliers []Outlier `json:"outliers,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Outlier is a sample outside Tukey's fences: "mild" beyond 1.5 IQR from the
// quartiles, "extreme" beyond 3 IQR.
type Outlier struct {
	Index int     `json:"index"` // position in the samples as given
	Value float64 `json:"value"`
	Kind  string  `json:"kind"`
}

// Summarize describes vals, which it does not modify. It needs at least one
// value.
func Summarize(vals []float64) Summary {
	s := Summary{N: len(vals)}
	if len(vals) == 0 {
		s.Warnings = []string{"no samples"}
		return s
	}
	data := mstats.Float64Data(vals)
	s.Mean, _ = data.Mean()
	s.Min, _ = data.Min()
	s.Max, _ = data.Max()
	if len(vals) > 1 {
		s.StdDev, _ = data.StandardDeviationSample()
	}
	if s.Mean != 0 {
		s.CV = s.StdDev / math.Abs(s.Mean)
	}

	// benchmath sorts in place: give it a copy.
	sample := benchmath.NewSample(slices.Clone(vals), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(sample, Confidence)
	s.Median = sum.Center
	if !math.IsInf(sum.Lo, 0) && !math.IsInf(sum.Hi, 0) {
		s.CILo, s.CIHi = &sum.Lo, &sum.Hi
	}
	for _, w := range sum.Warnings {
		s.Warnings = append(s.Warnings, w.Error())
	}

	s.Q1, s.Q3 = s.Min, s.Max
	if len(vals) > 1 {
		s.Q1, _ = data.Percentile(25)
		s.Q3, _ = data.Percentile(75)
	}
	iqr := s.Q3 - s.Q1
	for i, v := range vals {
		switch {
		case v < s.Q1-3*iqr || v > s.Q3+3*iqr:
			s.Outliers = append(s.Outliers, Outlier{i, v, "extreme"})
		case v < s.Q1-1.5*iqr || v > s.Q3+1.5*iqr:
			s.Outliers = append(s.Outliers, Outlier{i, v, "mild"})
		}
	}
	return s
}

// CIWithin reports whether the 95% CI of the median lies within frac of the
// median on both sides (false when there is no CI).
func (s Summary) CIWithin(frac float64) bool {
	if s.CILo == nil || s.CIHi == nil {
		return false
	}
	tol := frac * math.Abs(s.Median)
	return s.Median-*s.CILo <= tol && *s.CIHi-s.Median <= tol
}
