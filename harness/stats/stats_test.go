package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSummarize(t *testing.T) {
	vals := []float64{10, 12, 11, 13, 12, 11, 40}
	orig := slices.Clone(vals)
	s := Summarize(vals)
	if !slices.Equal(vals, orig) {
		t.Errorf("Summarize modified its input: %v", vals)
	}
	if s.N != 7 || s.Median != 12 || s.Min != 10 || s.Max != 40 {
		t.Errorf("N, median, min, max = %d, %v, %v, %v; want 7, 12, 10, 40", s.N, s.Median, s.Min, s.Max)
	}
	if math.Abs(s.Mean-109.0/7) > 1e-9 {
		t.Errorf("mean = %v; want %v", s.Mean, 109.0/7)
	}
	// Sample standard deviation, by hand.
	var ss float64
	for _, v := range vals {
		ss += (v - s.Mean) * (v - s.Mean)
	}
	if want := math.Sqrt(ss / 6); math.Abs(s.StdDev-want) > 1e-9 || math.Abs(s.CV-want/s.Mean) > 1e-9 {
		t.Errorf("stddev, cv = %v, %v; want %v, %v", s.StdDev, s.CV, want, want/s.Mean)
	}
	if s.CILo == nil || s.CIHi == nil || *s.CILo > s.Median || *s.CIHi < s.Median {
		t.Errorf("CI = %v, %v; want an interval around the median", s.CILo, s.CIHi)
	}
	if len(s.Outliers) != 1 || s.Outliers[0].Index != 6 || s.Outliers[0].Kind != "extreme" {
		t.Errorf("outliers = %+v; want sample 6 (40) as extreme", s.Outliers)
	}
}

func TestTooFewForCI(t *testing.T) {
	s := Summarize([]float64{1, 2, 3, 4, 5})
	if s.CILo != nil || s.CIHi != nil || len(s.Warnings) == 0 {
		t.Errorf("5 samples: CI %v–%v, warnings %v; want no CI and a warning", s.CILo, s.CIHi, s.Warnings)
	}
	if s.CIWithin(0.5) {
		t.Error("CIWithin is true without a CI")
	}
	one := Summarize([]float64{7})
	if one.Median != 7 || one.StdDev != 0 || len(one.Outliers) != 0 {
		t.Errorf("one sample: %+v", one)
	}
	if none := Summarize(nil); none.N != 0 || len(none.Warnings) == 0 {
		t.Errorf("no samples: %+v; want a warning", none)
	}
}

func TestCIWithin(t *testing.T) {
	tight := Summarize([]float64{100, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9})
	if !tight.CIWithin(0.02) {
		t.Errorf("CI %v–%v around %v is not within 2%%", *tight.CILo, *tight.CIHi, tight.Median)
	}
	wide := Summarize([]float64{50, 150, 100, 70, 130, 90, 110})
	if wide.CIWithin(0.02) {
		t.Errorf("CI %v–%v around %v is within 2%%", *wide.CILo, *wide.CIHi, wide.Median)
	}
}

// TestDrawerGivesTheSortedResamplesMedians: the counting bootstrap gives,
// for a seed, exactly the medians resampling into a slice and sorting it
// gives (odd and even sizes, ties), so no interval moved when it came.
func TestDrawerGivesTheSortedResamplesMedians(t *testing.T) {
	for _, x := range [][]float64{
		{3, 1, 2},
		{5, 1, 4, 2},
		{1, 1, 2, 2, 2, 7},
		{0.9, 1.3, 1.1, 1.0, 1.2, 1.0, 0.8, 1.5, 1.1, 1.4, 1.0},
	} {
		want, got := rand.New(rand.NewPCG(7, 9)), rand.New(rand.NewPCG(7, 9))
		d := newDrawer(x)
		r := make([]float64, len(x))
		for k := range 2000 {
			for i := range r {
				r[i] = x[want.IntN(len(x))]
			}
			if m, g := Median(r), d.median(got); m != g {
				t.Fatalf("%v, resample %d: drawer %v, sorted %v", x, k, g, m)
			}
		}
	}
}
