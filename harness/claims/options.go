package claims

import (
	"fmt"

	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// Rule is a claim's numeric rule on a ratio's CI: at least a bound, at most
// a bound, or within an equivalence margin.
type Rule struct {
	Kind   RuleKind
	Bound  float64 // AtLeast and AtMost
	Lo, Hi float64 // Within: the margin [Lo, Hi]
}

// RuleKind says which side of a bound a claim is on.
type RuleKind int

// Rule kinds.
const (
	AtLeast RuleKind = iota // a difference: ratio ≥ Bound
	AtMost                  // a difference: ratio ≤ Bound
	Within                  // a sameness: ratio inside [Lo, Hi]
)

// AtLeastRule, AtMostRule and WithinRule make rules.
func AtLeastRule(b float64) Rule     { return Rule{Kind: AtLeast, Bound: b} }
func AtMostRule(b float64) Rule      { return Rule{Kind: AtMost, Bound: b} }
func WithinRule(lo, hi float64) Rule { return Rule{Kind: Within, Lo: lo, Hi: hi} }
func (r Rule) isDifference() bool    { return r.Kind != Within }
func (r Rule) withinPct() (float64, bool) {
	// a symmetric margin around 1, e.g. [0.9, 1.1] is ±10%
	d := r.Hi - 1
	if r.Kind == Within && d > 0 && abs(1-r.Lo-d) < 1e-9 {
		return 100 * d, true
	}
	return 0, false
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Judge applies the rule to a ratio's CI (Difference or Sameness).
func (r Rule) Judge(x stats.Ratio) Verdict {
	switch r.Kind {
	case AtLeast:
		return Difference(x, r.Bound, true)
	case AtMost:
		return Difference(x, r.Bound, false)
	}
	return Sameness(x, r.Lo, r.Hi)
}

// Short is the rule in a few symbols: "≥ 1.5", "≤ 1.05", "within ±10%",
// "inside [0.8, 1.05]".
func (r Rule) Short() string {
	switch r.Kind {
	case AtLeast:
		return fmt.Sprintf("≥ %.3g", r.Bound)
	case AtMost:
		return fmt.Sprintf("≤ %.3g", r.Bound)
	}
	if p, ok := r.withinPct(); ok {
		return fmt.Sprintf("within ±%.3g%%", p)
	}
	return fmt.Sprintf("inside [%.3g, %.3g]", r.Lo, r.Hi)
}

// String is the rule in words, as the pages print it next to a verdict.
func (r Rule) String() string {
	switch r.Kind {
	case AtLeast:
		return DifferenceRule(r.Bound, true)
	case AtMost:
		return DifferenceRule(r.Bound, false)
	}
	return SamenessRule(r.Lo, r.Hi)
}

// Margins are the bounds and equivalence margins of the claims the matrix
// can judge, one field per claim.
type Margins struct {
	CPUBound  Rule // 1: time of thread-gil / process and of loop / process
	GILSame   Rule // 2: time of loop / thread-gil
	NoGIL     Rule // 3: time of thread / process
	ManyConns Rule // 4: throughput of loop / thread, many slow connections
	FewConns  Rule // 5: throughput of thread / loop, few fast connections
	IPC       Rule // 6: throughput of thread / process
	Partition Rule // 9: speed-up / N
	UVLoop    Rule // 10: time of asyncio / uvloop (CPython)
	Stall     Rule // 8: loop-only time / (tasks × block)
	Offload   Rule // 8: offloaded time / (block + wait)
	Spawn     Rule // 11: cold / warm time per worker
	Hold      Rule // 12: extra peak RSS per worker holding / result_bytes
}

// Options are everything the judging of the lab's results depends on: the
// claims page, the decision guide and the compare page all take them from
// one value, and the pages print them. The zero value is not usable; start
// from DefaultOptions.
type Options struct {
	// Seed and Resamples drive every bootstrap interval (claims, guide,
	// compare), so that a page can be rebuilt to the same digits.
	Seed      uint64
	Resamples int
	// Margins are the claims' bounds and equivalence margins.
	Margins Margins
	// HighCV is the coefficient of variation above which a cell's time is
	// flagged as noisy.
	HighCV float64
	// Tolerance is how much worse than the best a model may be and still be
	// recommended with it by the decision guide: its ratio's CI must reach
	// below 1 + Tolerance.
	Tolerance float64
	// Threshold, Alpha and Correction are the compare page's (see
	// diff.Options).
	Threshold  float64
	Alpha      float64
	Correction diff.Correction
	// Confidence is the level of the claims' intervals; 0 means
	// stats.Confidence (95%). A run made with a sequential plan is judged
	// at the plan's per-look level instead (see Plan).
	Confidence float64
}

// Seed is the default seed of every bootstrap.
const Seed uint64 = 20261125

// DefaultOptions are the lab's: seed 20261125, stats.DefaultResamples
// resamples, the claims' margins as the README states them, CV above
// stats.HighCV flagged, a 5% tolerance for the guide, and diff's defaults
// for the compare page.
var DefaultOptions = Options{
	Seed:      Seed,
	Resamples: stats.DefaultResamples,
	Margins: Margins{
		CPUBound:  AtLeastRule(1.5),
		GILSame:   WithinRule(0.9, 1.1),
		NoGIL:     WithinRule(0.9, 1.1),
		ManyConns: AtLeastRule(1),
		FewConns:  AtLeastRule(0.9),
		IPC:       AtLeastRule(1.5),
		Partition: WithinRule(0.8, 1.05),
		UVLoop:    WithinRule(2, 4),
		Stall:     AtLeastRule(0.9),
		Offload:   AtMostRule(1.2),
		Spawn:     AtLeastRule(1),
		Hold:      AtLeastRule(0.9),
	},
	HighCV:     stats.HighCV,
	Tolerance:  0.05,
	Threshold:  diff.DefaultOptions.Threshold,
	Alpha:      diff.DefaultOptions.Alpha,
	Correction: diff.DefaultOptions.Correction,
}

// Confidence is the level of every interval.
const Confidence = stats.Confidence

// Diff is the compare page's diff.Options: diff's defaults with these
// options' threshold, α, correction, seed and resamples.
func (o Options) Diff() diff.Options {
	d := diff.DefaultOptions
	d.Threshold, d.Alpha, d.Correction = o.Threshold, o.Alpha, o.Correction
	d.Seed, d.Resamples = o.Seed, o.Resamples
	return d
}

// Ratio is median(b)/median(a) with its bootstrap CI, drawn with these
// options: every ratio the claims page and the decision guide show comes
// from here.
func (o Options) Ratio(a, b []float64) (stats.Ratio, error) {
	return stats.RatioCI(a, b, o.Level(), o.Resamples, o.Seed)
}

// Level is the confidence of every interval drawn with o: Confidence, or
// the lab's 95% when it is 0.
func (o Options) Level() float64 {
	if o.Confidence > 0 {
		return o.Confidence
	}
	return Confidence
}

// ForRun is o as a run must be judged: at its sequential plan's per-look
// level when it sampled until decided.
func (o Options) ForRun(d *rundir.Dir) Options {
	if sq := d.Run.Sequential; sq != nil && sq.Looks > 0 {
		o.Confidence = Plan{Looks: sq.Looks, Alpha: sq.Alpha}.Confidence()
	}
	return o
}

// ToConstant is median(b)/c with its bootstrap CI (b resampled, c exact).
func (o Options) ToConstant(c float64, b []float64) (stats.Ratio, error) {
	return stats.RatioToConstant(c, b, o.Level(), o.Resamples, o.Seed)
}

// Margin is the claim's bound or margin among o's, when it has one.
func (c *Claim) Margin(o Options) (Rule, bool) {
	if c.margin == nil {
		return Rule{}, false
	}
	return c.margin(o.Margins), true
}
