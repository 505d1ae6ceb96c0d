package claims

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// streams returns a drawer of the first n samples of two seeded lognormal
// streams with medians 1 and ratio, and relative spread cv.
func streams(seed uint64, ratio, cv float64) func(n int) (a, b []float64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	var sa, sb []float64
	return func(n int) ([]float64, []float64) {
		for len(sa) < n {
			sa = append(sa, math.Exp(cv*rng.NormFloat64()))
			sb = append(sb, ratio*math.Exp(cv*rng.NormFloat64()))
		}
		return sa[:n:n], sb[:n:n]
	}
}

func simOptions() Options {
	o := DefaultOptions
	o.Resamples = 1000
	return o
}

// A sameness claim whose true ratio lies 5% inside its margin is decided,
// "holds", within the plan's looks.
func TestSequenceDecidesInsideTheMargin(t *testing.T) {
	rule := WithinRule(0.9, 1.1)
	plan := Plan{Looks: 8, Alpha: 0.05}
	decided := 0
	for seed := range uint64(20) {
		v, n, err := plan.Sequence(rule, 8, streams(seed, 1.1/1.05, 0.02), simOptions())
		if err != nil {
			t.Fatal(err)
		}
		if v == Holds {
			decided++
		} else if v == DoesNotHold {
			t.Errorf("seed %d: does not hold after %d samples; the true ratio is inside the margin", seed, n)
		}
	}
	if decided < 19 {
		t.Errorf("decided %d of 20 times; want at least 19", decided)
	}
}

// A claim whose true ratio is exactly its bound stays inconclusive at the
// cap: neither side may be claimed.
func TestSequenceOnTheBoundStaysInconclusive(t *testing.T) {
	rule := AtLeastRule(1.5)
	plan := Plan{Looks: 8, Alpha: 0.05}
	wrong := 0
	const seeds = 60
	for seed := range uint64(seeds) {
		v, n, err := plan.Sequence(rule, 8, streams(seed, 1.5, 0.03), simOptions())
		if err != nil {
			t.Fatal(err)
		}
		if v != Inconclusive {
			wrong++
		} else if n != 8+plan.Looks-1 {
			t.Errorf("seed %d: inconclusive after %d samples; want the cap, %d", seed, n, 8+plan.Looks-1)
		}
	}
	// Within the plan's error rate (5%), with room for the simulation's own
	// chance: at most 6 of 60 (the chance of more, at a true rate of 5%, is
	// under 5%).
	if wrong > 6 {
		t.Errorf("decided %d of %d times with the ratio on the bound; want at most 6", wrong, seeds)
	}
}

// A/A: two samples of one distribution, judged against "B is slower"
// (ratio above 1, claim 11's kind of rule): a decision that it holds is an
// error, and must stay
// within the plan's error rate over many seeds, although the plan looks
// again and again.
func TestSequenceAAErrorRate(t *testing.T) {
	rule := AtLeastRule(1)
	plan := Plan{Looks: 8, Alpha: 0.05}
	const seeds = 200
	falseHolds := 0
	for seed := range uint64(seeds) {
		v, _, err := plan.Sequence(rule, 8, streams(1000+seed, 1, 0.05), simOptions())
		if err != nil {
			t.Fatal(err)
		}
		if v == Holds {
			falseHolds++
		}
	}
	// At most 5% expected; 17 of 200 would be beyond the 95th percentile
	// of a binomial at 5% (which is 15).
	if falseHolds > 15 {
		t.Errorf("A/A: %d of %d sequences decided B slower; want at most 15 (5%% error rate)", falseHolds, seeds)
	}
	t.Logf("A/A false 'holds': %d of %d", falseHolds, seeds)
}

// The same A/A at a fixed 95% level, looking as often, errs more often:
// the reason the plan splits its error over the looks.
func TestSequenceAANaiveLooksErrMore(t *testing.T) {
	rule := AtLeastRule(1)
	const seeds = 200
	count := func(p Plan, conf float64) int {
		n := 0
		for seed := range uint64(seeds) {
			draw := streams(1000+seed, 1, 0.05)
			for k := 8; k < 8+p.Looks; k++ {
				a, b := draw(k)
				r, err := ratioAt(a, b, conf)
				if err != nil {
					t.Fatal(err)
				}
				if v := rule.Judge(r); v == Holds {
					n++
					break
				} else if v == DoesNotHold {
					break
				}
			}
		}
		return n
	}
	plan := Plan{Looks: 8, Alpha: 0.05}
	split, fixed := count(plan, plan.Confidence()), count(plan, 0.95)
	t.Logf("A/A false 'holds' over %d seeds: split %d, fixed 95%% %d", seeds, split, fixed)
	if fixed < split {
		t.Errorf("fixed 95%% looks erred %d times, split looks %d; want the fixed level to err at least as often", fixed, split)
	}
}

func ratioAt(a, b []float64, conf float64) (stats.Ratio, error) {
	o := simOptions()
	return stats.RatioCI(a, b, conf, o.Resamples, o.Seed)
}

// A run made with a plan is judged at the plan's per-look level, and says
// so; Undecided names the cells of the inconclusive claims only.
func TestRunsWithAPlan(t *testing.T) {
	decided := synthRun("r1", 2, article(0.01, map[string]float64{"process": 1, "thread": 1.01})...)
	d := synthRun("r2", 2, article(0.6, map[string]float64{"process": 1, "thread": 1})...)
	d.Run.Sequential = &rundir.Sequential{Looks: 5, Alpha: 0.05, Taken: 2}
	o := simOptions()
	r := Judge("hw", []*rundir.Dir{d}, o)[2]
	if r.Claim.N != 3 || len(r.Comparisons) == 0 || r.Comparisons[0].Ratio == nil {
		t.Fatalf("claim 3 on a planned run: %+v", r)
	}
	if got := r.Comparisons[0].Ratio.Confidence; math.Abs(got-0.99) > 1e-12 {
		t.Errorf("a planned run's ratio at %v confidence; want the per-look 0.99", got)
	}
	if !strings.Contains(r.Plan, "at most 5 looks") || !strings.Contains(r.Plan, "2 looks taken") {
		t.Errorf("plan %q", r.Plan)
	}
	if r := Judge("hw", []*rundir.Dir{decided}, o)[2]; r.Plan != "" || r.Comparisons[0].Ratio.Confidence != 0.95 {
		t.Errorf("a run without a plan: plan %q, confidence %v; want none, 0.95", r.Plan, r.Comparisons[0].Ratio.Confidence)
	}

	names := Undecided(d, o, DefaultPlan)
	if len(names) != 2 || !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "model=thread/") }) {
		t.Errorf("undecided cells of a noisy run %q; want the article's process and thread cells", names)
	}
	for _, n := range Undecided(decided, o, DefaultPlan) {
		if strings.HasPrefix(n, "article/model=thread/") || strings.HasPrefix(n, "article/model=process/") {
			t.Errorf("a decided claim's cell %s is named undecided", n)
		}
	}
}
