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
// Every level but the last spans at least two points: one run off on its
// own, with the level back after it, is noise, not a step. The last level
// may be the newest run alone, so that a change is seen the run it comes
// (the next run confirms it or not).
func FitSteps(y, sigma []float64, penalty float64) Fit {
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
		least := 2
		if j == n {
			least = 1
		}
		for i := 0; i <= j-least; i++ {
			if i > 0 && math.IsInf(best[i], 1) {
				continue
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

// Noise is each point's σ for FitSteps: its own uncertainty s_i (from its
// median's CI) and the noise between runs that no single run sees (the
// machine's state from one run to the next), τ, added in quadrature.
//
// τ is estimated from the series itself, from its successive differences
// d (Var d = 2τ² without a step): the largest |d| is left out, so that one
// step does not count as noise, and the mean square of the rest is raised
// to its one-sided 90% upper confidence bound (χ² with a degree of freedom
// per difference kept), since from ten runs the plain estimate is often a
// quarter low, which would let noise make levels. It errs large on purpose
// otherwise too: it is not reduced by what the runs' own uncertainty
// explains. A series of fewer than six runs says too little about τ and
// gets floor alone; tau is never below floor.
func Noise(y, s []float64, floor float64) (sigma []float64, tau float64) {
	tau = floor
	if len(y) >= 6 {
		d := make([]float64, len(y)-1)
		for i := range d {
			d[i] = math.Abs(y[i+1] - y[i])
		}
		slices.Sort(d)
		d = d[:len(d)-1]
		ss := 0.0
		for _, v := range d {
			ss += v * v
		}
		tau = max(tau, math.Sqrt(ss/2/chi2Lower10(float64(len(d)))))
	}
	sigma = make([]float64, len(y))
	for i, v := range s {
		sigma[i] = math.Sqrt(v*v + tau*tau)
	}
	return sigma, tau
}

// Penalty is the cost FitSteps charges a new level in a series of n runs:
// 5 ln n (at least 5 ln 3). Under no change, the best split of n points
// improves the fit by about the largest of n−1 χ²(1) values, which stays
// below 2 ln n when σ is right; τ estimated from ten runs is often a
// quarter off, which nearly doubles that, and the rest is margin. A real
// step moves several points and clears it easily; a change at the newest
// run, one point alone, must be about 3.2 σ.
func Penalty(n int) float64 { return 5 * math.Log(float64(max(n, 3))) }

// chi2Lower10 is the 10% quantile of χ² with k degrees of freedom, by
// Wilson and Hilferty's approximation (within 1% for k ≥ 5).
func chi2Lower10(k float64) float64 {
	const z = -1.2815516 // the standard normal's 10% quantile
	a := 2 / (9 * k)
	return k * math.Pow(1-a+z*math.Sqrt(a), 3)
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
