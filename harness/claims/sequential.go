package claims

import (
	"fmt"
	"slices"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// Plan is a fixed sequential plan for deciding a claim by sampling until its
// verdict is known: the claim is looked at after the planned samples and
// then after each further round, at most Looks times in all, and every look
// uses an interval at confidence 1 − Alpha/Looks. Looking again whenever a
// verdict is still open would, at a fixed 95% level, let chance decide more
// often than 5% of the time; splitting Alpha over the looks (Bonferroni)
// keeps the chance that any look decides wrongly at most Alpha, whatever the
// data, at the price of wider intervals at each look.
type Plan struct {
	Looks int     // ≥ 1; 1 is a single look at the usual level
	Alpha float64 // the error rate over all the looks, e.g. 0.05
}

// DefaultPlan looks at most 5 times with 5% in all: every look at 99%.
var DefaultPlan = Plan{Looks: 5, Alpha: 0.05}

// Confidence is the level of each look's interval.
func (p Plan) Confidence() float64 {
	return 1 - p.Alpha/float64(max(p.Looks, 1))
}

// String says the plan in a sentence for the pages.
func (p Plan) String() string {
	return fmt.Sprintf("at most %d looks, each at %.4g%% confidence (%.4g%% error over all looks, split evenly)",
		p.Looks, 100*p.Confidence(), 100*p.Alpha)
}

// Look judges b against a under rule with one look's interval of plan p
// (o's seed and resamples).
func (p Plan) Look(rule Rule, a, b []float64, o Options) (Verdict, stats.Ratio, error) {
	r, err := stats.RatioCI(a, b, p.Confidence(), o.Resamples, o.Seed)
	if err != nil {
		return Inconclusive, r, err
	}
	return rule.Judge(r), r, nil
}

// Sequence runs plan p on samples drawn by draw: it looks at the first
// start samples a side, then after each extra sample a side, until a look
// decides or p.Looks looks were taken. It returns the verdict and the
// samples a side it took. draw(n) returns the first n samples of each side
// (a prefix of the same streams for growing n).
func (p Plan) Sequence(rule Rule, start int, draw func(n int) (a, b []float64), o Options) (Verdict, int, error) {
	n := start
	for look := 1; ; look++ {
		a, b := draw(n)
		v, _, err := p.Look(rule, a, b, o)
		if err != nil || v != Inconclusive || look >= p.Looks {
			return v, n, err
		}
		n++
	}
}

// Undecided judges every claim on run d alone, at plan p's per-look level,
// and returns the cells that the inconclusive ones compare: the cells that
// another round of samples could decide. A claim with missing cells is
// left out (more samples cannot give it data).
func Undecided(d *rundir.Dir, o Options, p Plan) []string {
	o.Confidence = p.Confidence()
	seen := map[string]bool{}
	var out []string
	for _, c := range All {
		if c.judge == nil {
			continue
		}
		comps, missing := c.judge(d, o)
		if len(missing) > 0 {
			continue
		}
		for _, cp := range comps {
			if cp.Verdict != Inconclusive {
				continue
			}
			for _, name := range append(slices.Clone(cp.A.Cells), cp.B.Cells...) {
				if !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
	}
	return out
}
