// Package claims judges the article's claims on measured run directories
// (the claims and rules are documented in the README, "The article and its claims"): every verdict
// rests on the confidence interval of a ratio of medians (stats.RatioCI, a
// seeded bootstrap) or of a median to an exact constant
// (stats.RatioToConstant), compared with a stated bound or equivalence
// margin. It is the lab's one judging engine: it chooses the run (Candidates,
// Latest), finds the cells (Find, ArticleCells) and draws the intervals
// (Options.Ratio) for the claims page, the decision guide and the compare
// page alike, all with one Options value.
package claims

import (
	"fmt"

	"concurrency-lab/harness/stats"
)

// Verdict is the outcome of judging a claim on one machine.
type Verdict string

// Verdicts.
const (
	Holds        Verdict = "holds"
	DoesNotHold  Verdict = "does not hold"
	Inconclusive Verdict = "inconclusive"
)

// Difference judges a claim of difference on the CI [r.Lo, r.Hi] of a ratio:
// the claim is "ratio ≥ bound" when atLeast, else "ratio ≤ bound". It holds
// when the whole CI lies on the claimed side of the bound, does not hold when
// the whole CI lies on the other side, and is inconclusive when the CI
// contains the bound (the data cannot tell). A bound exactly at an end of the
// CI counts as the claimed side.
func Difference(r stats.Ratio, bound float64, atLeast bool) Verdict {
	if atLeast {
		switch {
		case r.Lo >= bound:
			return Holds
		case r.Hi < bound:
			return DoesNotHold
		}
		return Inconclusive
	}
	switch {
	case r.Hi <= bound:
		return Holds
	case r.Lo > bound:
		return DoesNotHold
	}
	return Inconclusive
}

// Sameness judges a claim of sameness (equivalence) on the CI of a ratio and
// the margin [lo, hi] (e.g. [0.9, 1.1] for ±10%). It holds only when the
// whole CI lies inside the margin — two one-sided tests, each at the CI's
// tail level — and does not hold when the whole CI lies outside it. A CI
// that straddles a margin's edge is inconclusive: failing to find a
// difference never makes a sameness claim hold.
func Sameness(r stats.Ratio, lo, hi float64) Verdict {
	switch {
	case r.Lo >= lo && r.Hi <= hi:
		return Holds
	case r.Hi < lo || r.Lo > hi:
		return DoesNotHold
	}
	return Inconclusive
}

// Combine is the verdict of a claim made of several comparisons that must
// all hold: it holds when every part holds, does not hold when any part does
// not hold, and is inconclusive otherwise (and when there are no parts).
func Combine(vs ...Verdict) Verdict {
	if len(vs) == 0 {
		return Inconclusive
	}
	out := Holds
	for _, v := range vs {
		switch v {
		case DoesNotHold:
			return DoesNotHold
		case Inconclusive:
			out = Inconclusive
		}
	}
	return out
}

// DifferenceRule describes the rule Difference applies, for the page.
func DifferenceRule(bound float64, atLeast bool) string {
	if atLeast {
		return fmt.Sprintf("holds if the 95%% CI of the ratio lies entirely at or above %.3g; does not hold if it lies entirely below; inconclusive if it contains %.3g", bound, bound)
	}
	return fmt.Sprintf("holds if the 95%% CI of the ratio lies entirely at or below %.3g; does not hold if it lies entirely above; inconclusive if it contains %.3g", bound, bound)
}

// SamenessRule describes the rule Sameness applies, for the page.
func SamenessRule(lo, hi float64) string {
	return fmt.Sprintf("holds only if the 95%% CI of the ratio lies entirely inside the equivalence margin [%.3g, %.3g]; does not hold if it lies entirely outside; inconclusive otherwise (no difference found is not sameness)", lo, hi)
}
