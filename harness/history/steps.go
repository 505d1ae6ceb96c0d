package history

import (
	"math"
	"slices"
)

// A Fit is the piecewise-constant fit of one series: the runs where a new
// level starts and each segment's level.
type Fit struct {
	// Starts holds the index of each segment's first point; Starts[0] is 0.
	Starts []int
	// Levels are the segments' weighted means, in the series' scale (log
	// of the metric here).
	Levels []float64
}

// FitSteps fits y (one value per run, in run order) with the piecewise-
// constant function that minimises
//
//	Σ_i (y_i − level(i))² / σ_i²  +  penalty × (segments − 1)
//
// exactly (optimal partitioning, O(n²)): a new level costs penalty, so it is
// taken only where it explains the points well beyond their noise σ. σ must
// be positive. This is the penalised fit asv's step detection is built on
// (with squared rather than absolute deviations, since σ is known here).
//
// A level inside the series spans at least two points: one run off on its
// own, with the level back after it, is noise, not a step. The first and
// the last level may be one run alone, so that a change after the first
// run is seen, and a change at the newest run is seen the run it comes
// (the next run confirms it or not).
func FitSteps(y, sigma []float64, penalty float64) Fit { return fit(y, sigma, penalty, 2) }

// fit is FitSteps with levels inside the series of at least interior
// points.
func fit(y, sigma []float64, penalty float64, interior int) Fit {
	n := len(y)
	if n == 0 {
		return Fit{}
	}
	// Prefix sums of w, w·y and w·y² make any segment's cost O(1).
	w := make([]float64, n+1)
	wy := make([]float64, n+1)
	wyy := make([]float64, n+1)
	for i := range n {
		wi := 1 / (sigma[i] * sigma[i])
		w[i+1], wy[i+1], wyy[i+1] = w[i]+wi, wy[i]+wi*y[i], wyy[i]+wi*y[i]*y[i]
	}
	cost := func(i, j int) float64 { // points i..j-1
		sw, swy := w[j]-w[i], wy[j]-wy[i]
		return max(0, wyy[j]-wyy[i]-swy*swy/sw)
	}
	best := make([]float64, n+1)
	prev := make([]int, n+1)
	best[0] = -penalty
	for j := 1; j <= n; j++ {
		best[j] = math.Inf(1)
		for i := range j {
			if j-i < interior && i > 0 && j < n || math.IsInf(best[i], 1) {
				continue // a one-run level inside the series
			}
			if c := best[i] + cost(i, j) + penalty; c < best[j] {
				best[j], prev[j] = c, i
			}
		}
	}
	var f Fit
	for j := n; j > 0; j = prev[j] {
		i := prev[j]
		f.Starts = append(f.Starts, i)
		f.Levels = append(f.Levels, (wy[j]-wy[i])/(w[j]-w[i]))
	}
	slices.Reverse(f.Starts)
	slices.Reverse(f.Levels)
	return f
}

// Strays are the points a fit that allows one-run levels anywhere puts in
// a level of their own inside the series: runs off on their own, which a
// fit that forbids such levels would otherwise pair with a neighbour and
// turn into a false step up and down.
func Strays(y, sigma []float64, penalty float64) []int {
	f := fit(y, sigma, penalty, 1)
	var out []int
	for k := 1; k+1 < len(f.Starts); k++ {
		if f.Starts[k+1]-f.Starts[k] == 1 {
			out = append(out, f.Starts[k])
		}
	}
	return out
}

// Noise is each point's σ for FitSteps: its own uncertainty s_i (from its
// median's CI) and the noise between runs that no single run sees (the
// machine's state from one run to the next), τ, added in quadrature.
//
// τ is estimated from the series itself, from its successive differences
// d (Var d = 2τ² where the level holds). The largest fifth of |d| (at least
// three) is left out, so that a step (one large difference) and a stray run
// (two) do not count as noise; the mean square of the rest is scaled up
// by what that trimming takes from a normal sample (asymptotically) and
// divided by the median of χ² with a degree of freedom per difference kept
// rather than by their number, so that it is as often above τ as below. It
// is not reduced by what the runs' own uncertainty explains. A series of
// fewer than six runs cannot estimate τ and is given short instead. tau is
// never below floor.
func Noise(y, s []float64, floor, short float64) (sigma []float64, tau float64) {
	tau = max(floor, short)
	if len(y) >= 6 {
		d := make([]float64, len(y)-1)
		for i := range d {
			d[i] = math.Abs(y[i+1] - y[i])
		}
		slices.Sort(d)
		drop := max(3, (len(d)+4)/5)
		kept := d[:len(d)-drop]
		ss := 0.0
		for _, v := range kept {
			ss += v * v
		}
		ss /= trimmedShare(float64(drop) / float64(len(d)))
		tau = max(floor, math.Sqrt(ss/2/chi2Median(float64(len(kept)))))
	}
	sigma = make([]float64, len(y))
	for i, v := range s {
		sigma[i] = math.Sqrt(v*v + tau*tau)
	}
	return sigma, tau
}

// trimmedShare is the share of a normal sample's sum of squares left when
// the largest fraction p of |z| is left out: 1 − 2cφ(c) with c the
// (1 − p/2) quantile (E[z²; |z| < c] = (1 − p) − 2cφ(c), per value kept).
func trimmedShare(p float64) float64 {
	c := math.Sqrt2 * math.Erfinv(1-p)
	phi := math.Exp(-c*c/2) / math.Sqrt(2*math.Pi)
	return 1 - 2*c*phi/(1-p)
}

// Penalty is the cost FitSteps charges a new level in a series of n runs:
// 5 ln n (at least 5 ln 3). Under no change, the best split of n points
// improves the fit by about the largest of n−1 χ²(1) values, which stays
// below 2 ln n when σ is right; τ estimated from ten runs is often a
// quarter off, which nearly doubles that, and the rest is margin. A real
// step moves several points and clears it easily; a change at the newest
// run, one point alone, must exceed √(5 ln n · n/(n−1)) σ: 2.6 σ at 3 runs,
// 3.6 σ at 10, 4.8 σ at 100.
func Penalty(n int) float64 { return 5 * math.Log(float64(max(n, 3))) }

// chi2Median is the median of χ² with k degrees of freedom, by Wilson and
// Hilferty's approximation (within 1% for k ≥ 2).
func chi2Median(k float64) float64 {
	a := 2 / (9 * k)
	return k * math.Pow(1-a, 3)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}
