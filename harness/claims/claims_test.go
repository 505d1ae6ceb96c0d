package claims

import (
	"math/rand/v2"
	"testing"
	"time"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// noisy draws n samples around centre with a relative spread (uniform in
// ±spread), seeded.
func noisy(seed uint64, n int, centre, spread float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for i := range out {
		out[i] = centre * (1 + spread*(2*rng.Float64()-1))
	}
	return out
}

func ratioOf(t *testing.T, a, b []float64) stats.Ratio {
	t.Helper()
	r, err := DefaultOptions.Ratio(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerdictRules judges synthetic samples with the rules the claims page
// uses: a difference claim "B/A ≥ 1.5" and a sameness claim "B/A within
// ±10%".
func TestVerdictRules(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		kind string
		want Verdict
	}{
		{"difference clearly holds (2× with 1% noise)", noisy(1, 10, 1, 0.01), noisy(2, 10, 2, 0.01), "difference", Holds},
		{"difference clearly fails (1.05× with 1% noise)", noisy(3, 10, 1, 0.01), noisy(4, 10, 1.05, 0.01), "difference", DoesNotHold},
		{"difference too noisy to tell (1.5× with 60% noise)", noisy(5, 6, 1, 0.6), noisy(6, 6, 1.5, 0.6), "difference", Inconclusive},
		{"sameness inside its margin (1.02× with 1% noise)", noisy(7, 10, 1, 0.01), noisy(8, 10, 1.02, 0.01), "sameness", Holds},
		{"sameness far outside (2× with 1% noise)", noisy(9, 10, 1, 0.01), noisy(10, 10, 2, 0.01), "sameness", DoesNotHold},
		{"identical but very noisy samples are not the same", noisy(11, 6, 1, 0.8), noisy(11, 6, 1, 0.8), "sameness", Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ratioOf(t, tt.a, tt.b)
			var got Verdict
			if tt.kind == "difference" {
				got = Difference(r, 1.5, true)
			} else {
				got = Sameness(r, 0.9, 1.1)
			}
			if got != tt.want {
				t.Errorf("%s on ratio %.3f [%.3f, %.3f] = %q; want %q", tt.kind, r.Point, r.Lo, r.Hi, got, tt.want)
			}
		})
	}
}

// TestDifferenceAtMost checks the "≤ bound" side (claim 4's time rule).
func TestDifferenceAtMost(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   Verdict
	}{
		{1.00, 1.04, Holds},
		{1.06, 1.20, DoesNotHold},
		{1.00, 1.10, Inconclusive},
	}
	for _, tt := range tests {
		if got := Difference(stats.Ratio{Lo: tt.lo, Hi: tt.hi}, 1.05, false); got != tt.want {
			t.Errorf("Difference([%g, %g], ≤ 1.05) = %q; want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestCombine(t *testing.T) {
	tests := []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Inconclusive},
		{[]Verdict{Holds, Holds}, Holds},
		{[]Verdict{Holds, Inconclusive}, Inconclusive},
		{[]Verdict{Inconclusive, DoesNotHold}, DoesNotHold},
	}
	for _, tt := range tests {
		if got := Combine(tt.in...); got != tt.want {
			t.Errorf("Combine(%v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func cell(exp, workload, model string, params map[string]string, metrics map[string][]float64) rundir.Cell {
	c := rundir.Cell{Name: exp + "/model=" + model, Experiment: exp, Workload: workload, Model: model, Params: params, Status: rundir.OK, Metrics: map[string]rundir.Metric{}}
	for k, v := range params {
		c.Name += "/" + k + "=" + v
	}
	for u, s := range metrics {
		c.Metrics[u] = rundir.Metric{Samples: s, Stats: stats.Summarize(s)}
	}
	return c
}

// TestJudgeRun judges claims on a synthetic run: claim 1 holds (processes 2×
// faster), claim 3 holds, a claim without an experiment is inconclusive with
// its missing experiment named, and claim 6, whose cells are absent, says so.
func TestJudgeRun(t *testing.T) {
	p := map[string]string{"split": "replicate", "workers": "2", "n": "100000", "start": "cold"}
	d := &rundir.Dir{Path: "r", Run: rundir.Run{ID: "run1", Complete: true, Started: time.Unix(0, 0)}}
	d.Run.Hardware.Detected.UsableCPUs = 2
	d.Summary.Cells = []rundir.Cell{
		cell("article", "primes", "process", p, map[string][]float64{"sec/op": noisy(1, 6, 1, 0.01)}),
		cell("article", "primes", "thread", p, map[string][]float64{"sec/op": noisy(2, 6, 1.01, 0.01)}),
		cell("article", "primes", "thread-gil", p, map[string][]float64{"sec/op": noisy(3, 6, 2, 0.01)}),
		cell("article", "primes", "loop", p, map[string][]float64{"sec/op": noisy(4, 6, 2, 0.01)}),
	}
	got := map[int]Result{}
	for _, r := range Judge("hw", []*rundir.Dir{d}, DefaultOptions) {
		got[r.Claim.N] = r
	}
	if len(got) != 12 {
		t.Fatalf("Judge gave %d results; want 12", len(got))
	}
	for n, want := range map[int]Verdict{1: Holds, 2: Holds, 3: Holds, 6: Inconclusive, 7: Inconclusive} {
		if got[n].Verdict != want {
			t.Errorf("claim %d: verdict %q (comparisons %+v, missing %q); want %q", n, got[n].Verdict, got[n].Comparisons, got[n].Missing, want)
		}
	}
	if len(got[6].Missing) == 0 || got[6].Run != "" {
		t.Errorf("claim 6: missing %q, run %q; want the missing pipeline cells named and no run", got[6].Missing, got[6].Run)
	}
	if got[1].Run != "run1" {
		t.Errorf("claim 1 judged on run %q; want run1", got[1].Run)
	}
}
