package diff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchmath"

	"concurrency-lab/harness/rundir"
)

// noisy returns n samples around centre with a lognormal spread of cv,
// from its own seeded generator.
func noisy(rng *rand.Rand, n int, centre, cv float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = centre * math.Exp(cv*rng.NormFloat64())
	}
	return out
}

func opts(c Correction) Options {
	o := DefaultOptions
	o.Correction = c
	o.Resamples = 2000 // plenty for the tests' verdicts, and quick
	return o
}

func TestVerdictsOneCell(t *testing.T) {
	tests := []struct {
		name      string
		a, b      func(*rand.Rand) []float64
		want      []string // acceptable verdicts
		wantSmall bool     // want p < 0.05
	}{
		{"2x slower", func(r *rand.Rand) []float64 { return noisy(r, 6, 1, 0.03) },
			func(r *rand.Rand) []float64 { return noisy(r, 6, 2, 0.03) }, []string{Slower}, true},
		{"2x faster", func(r *rand.Rand) []float64 { return noisy(r, 6, 2, 0.03) },
			func(r *rand.Rand) []float64 { return noisy(r, 6, 1, 0.03) }, []string{Faster}, true},
		{"tight identical", func(r *rand.Rand) []float64 { return noisy(r, 6, 1, 0.005) },
			func(r *rand.Rand) []float64 { return noisy(r, 6, 1, 0.005) }, []string{Same}, false},
		{"noisy identical", func(r *rand.Rand) []float64 { return noisy(r, 6, 1, 0.3) },
			func(r *rand.Rand) []float64 { return noisy(r, 6, 1, 0.3) }, []string{Unsure}, false},
		// 2% slower with 0.1% noise: clearly significant, under the 5%
		// threshold, so not flagged (and in fact equivalent).
		{"significant but small", func(r *rand.Rand) []float64 { return noisy(r, 6, 1, 0.001) },
			func(r *rand.Rand) []float64 { return noisy(r, 6, 1.02, 0.001) }, []string{Same, Unsure}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(5) {
				rng := rand.New(rand.NewPCG(seed, 7))
				r := Cells([]Input{{Name: "x/model=m", A: tt.a(rng), B: tt.b(rng)}}, opts(BH))
				c := r.Cells[0]
				if !slices.Contains(tt.want, c.Verdict) {
					t.Errorf("seed %d: verdict %q (ratio %.3f [%.3f %.3f], p %.4f); want one of %q",
						seed, c.Verdict, c.Ratio.Point, c.Ratio.Lo, c.Ratio.Hi, *c.P, tt.want)
				}
				if tt.wantSmall && !(*c.P < 0.05) {
					t.Errorf("seed %d: p = %.4f; want < 0.05", seed, *c.P)
				}
			}
		})
	}
}

// manyCells builds unchanged cells and slowed ones (×2), all with cv noise
// and 6 reps, from one seed.
func manyCells(seed uint64, unchanged, slowed int, cv float64) []Input {
	rng := rand.New(rand.NewPCG(seed, 11))
	var in []Input
	for i := range unchanged + slowed {
		f := 1.0
		if i >= unchanged {
			f = 2
		}
		centre := 0.01 * float64(1+i%7)
		in = append(in, Input{Name: fmt.Sprintf("e/model=m/i=%d", i), Experiment: "e", Model: "m",
			A: noisy(rng, 6, centre, cv), B: noisy(rng, 6, centre*f, cv)})
	}
	return in
}

// TestManyCellsCorrection: 200 unchanged cells and 20 slowed ×2, 10% noise,
// 6 reps, over 10 seeds. Under BH the 20 are flagged and at most a few
// unchanged ones; uncorrected, about α = 5% of the unchanged ones are (the
// exact U test at 6 v 6 can only reach p = 0.041 below 0.05, and the
// threshold removes a few more, so a little under 5%).
func TestManyCellsCorrection(t *testing.T) {
	const unchanged, slowed, seeds = 200, 20, 10
	flagged := func(r *Result) (falsePos, truePos int) {
		for i, c := range r.Cells {
			if c.Verdict == Slower || c.Verdict == Faster {
				if i < unchanged {
					falsePos++
				} else {
					truePos++
				}
			}
		}
		return
	}
	total := map[Correction]int{}
	for seed := range uint64(seeds) {
		in := manyCells(seed, unchanged, slowed, 0.1)
		for _, c := range []Correction{BH, Holm, None} {
			fp, tp := flagged(Cells(in, opts(c)))
			total[c] += fp
			// Holm (family-wise) cannot reach α at 6 reps over 220 cells:
			// the smallest p, 0.0022, times 220 is 0.48.
			if c != Holm && tp != slowed {
				t.Errorf("seed %d, %s: %d of %d slowed cells flagged; want all", seed, c, tp, slowed)
			}
			if c == BH && fp > 3 {
				t.Errorf("seed %d, bh: %d of %d unchanged cells flagged; want at most 3", seed, fp, unchanged)
			}
			if c == Holm && fp > 1 {
				t.Errorf("seed %d, holm: %d of %d unchanged cells flagged; want at most 1", seed, fp, unchanged)
			}
		}
	}
	rate := func(c Correction) float64 { return float64(total[c]) / (unchanged * seeds) }
	if r := rate(None); r < 0.025 || r > 0.06 {
		t.Errorf("none: %.1f%% of unchanged cells flagged; want about 5%% (2.5–6%%)", 100*r)
	}
	if r := rate(BH); r > 0.01 {
		t.Errorf("bh: %.2f%% of unchanged cells flagged; want under 1%%", 100*r)
	}
	t.Logf("unchanged cells flagged over %d seeds: bh %.2f%%, holm %.2f%%, none %.2f%%", seeds, 100*rate(BH), 100*rate(Holm), 100*rate(None))
}

func TestPowerWarningLoneChange(t *testing.T) {
	in := manyCells(3, 99, 1, 0.02)
	r := Cells(in, opts(BH))
	lone := r.Cells[99]
	if lone.Verdict != Unsure || !lone.Underpowered {
		t.Errorf("lone 2x change among 100 cells at 6 reps: verdict %q underpowered %v; want ~ underpowered", lone.Verdict, lone.Underpowered)
	}
	if r.Power.Enough || r.Power.NeededReps != 8 {
		t.Errorf("power = %+v; want not enough, 8 reps needed (2/C(16,8)·100 < 0.05 ≤ 2/C(14,7)·100)", r.Power)
	}
	if !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, "low power") && strings.Contains(w, "8 reps") }) {
		t.Errorf("warnings %q; want a low-power warning naming 8 reps", r.Warnings)
	}
	// Uncorrected, or with enough reps, there is no warning and the change is found.
	if r := Cells(in, opts(None)); !r.Power.Enough || r.Cells[99].Verdict != Slower {
		t.Errorf("none: power %+v, verdict %q; want enough and slower", r.Power, r.Cells[99].Verdict)
	}
	in = manyCells(3, 99, 1, 0.02)
	rng := rand.New(rand.NewPCG(9, 9))
	in[99].A, in[99].B = noisy(rng, 8, 1, 0.02), noisy(rng, 8, 2, 0.02)
	for i := range 99 {
		in[i].A, in[i].B = noisy(rng, 8, 1, 0.02), noisy(rng, 8, 1, 0.02)
	}
	if r := Cells(in, opts(BH)); !r.Power.Enough || r.Cells[99].Verdict != Slower {
		t.Errorf("8 reps: power %+v, verdict %q; want enough and slower", r.Power, r.Cells[99].Verdict)
	}
}

func TestUntestable(t *testing.T) {
	r := Cells([]Input{
		{Name: "few", A: []float64{1, 2, 3}, B: []float64{1, 2, 3, 4, 5, 6}},
		{Name: "failed", A: []float64{1, 2, 3, 4}, B: []float64{1, 2, 3, 4}, Problem: "failed in B"},
		{Name: "four", A: []float64{1, 1.01, 1.02, 1.03}, B: []float64{2, 2.01, 2.02, 2.03}},
	}, opts(BH))
	for i, want := range []string{Untestable, Untestable, Slower} {
		if got := r.Cells[i].Verdict; got != want {
			t.Errorf("cell %s: verdict %q; want %q", r.Cells[i].Name, got, want)
		}
	}
	if r.Cells[0].P != nil || r.Cells[0].Ratio != nil {
		t.Errorf("untestable cell has p %v ratio %v; want none", r.Cells[0].P, r.Cells[0].Ratio)
	}
	if r.Power.Tested != 1 {
		t.Errorf("tested %d; want 1 (untestable cells are not in the family)", r.Power.Tested)
	}
}

func TestThresholdSymmetric(t *testing.T) {
	// 1/1.06 is a change of more than 5% in the faster direction, 1/1.04 is not.
	tight := func(c float64) []float64 {
		return []float64{c, c * 1.0001, c * 1.0002, c * 0.9999, c * 0.9998, c * 1.0003}
	}
	r := Cells([]Input{
		{Name: "a", A: tight(1), B: tight(1 / 1.06)},
		{Name: "b", A: tight(1), B: tight(1 / 1.04)},
		{Name: "c", A: tight(1), B: tight(1.06)},
	}, opts(None))
	for i, want := range []string{Faster, Same, Slower} {
		if got := r.Cells[i].Verdict; got != want {
			t.Errorf("cell %s (ratio %.4f): %q; want %q", r.Cells[i].Name, r.Cells[i].Ratio.Point, got, want)
		}
	}
}

func TestHigherIsBetter(t *testing.T) {
	o := opts(None)
	o.Metric = "B/s"
	r := Cells([]Input{{Name: "x", A: []float64{1, 1.01, 1.02, 0.99, 0.98, 1.0}, B: []float64{2, 2.01, 2.02, 1.99, 1.98, 2.0}}}, o)
	if got := r.Cells[0].Verdict; got != Faster {
		t.Errorf("B/s doubled: %q; want faster", got)
	}
	if got := len(r.FailOn(10)); got != 0 {
		t.Errorf("FailOn(10) on a faster cell: %d cells; want 0", got)
	}
}

func TestFailOn(t *testing.T) {
	tight := func(c float64) []float64 { return []float64{c, c * 1.001, c * 1.002, c * 0.999, c * 0.998, c * 1.003} }
	r := Cells([]Input{{Name: "x", A: tight(1), B: tight(1.3)}, {Name: "y", A: tight(1), B: tight(1.1)}}, opts(BH))
	for _, tt := range []struct {
		pct  float64
		want int
	}{{5, 2}, {20, 1}, {50, 0}} {
		if got := len(r.FailOn(tt.pct)); got != tt.want {
			t.Errorf("FailOn(%v) = %d cells; want %d", tt.pct, got, tt.want)
		}
	}
}

func TestAdjust(t *testing.T) {
	ps := []float64{0.01, 0.04, 0.03, 0.005}
	// Values as R's p.adjust(ps, "BH") and p.adjust(ps, "holm") give them.
	for _, tt := range []struct {
		c    Correction
		want []float64
	}{
		{BH, []float64{0.02, 0.04, 0.04, 0.02}},
		{Holm, []float64{0.03, 0.06, 0.06, 0.02}},
		{None, ps},
	} {
		got := Adjust(ps, tt.c)
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-12 {
				t.Errorf("Adjust(%v, %s) = %v; want %v", ps, tt.c, got, tt.want)
				break
			}
		}
	}
	if got := Adjust([]float64{0.5, 0.9}, BH); got[0] != 0.9 || got[1] != 0.9 {
		t.Errorf("Adjust BH capped: %v; want [0.9 0.9]", got)
	}
}

// TestMinU checks the closed form against benchmath on samples that do not
// overlap.
func TestMinU(t *testing.T) {
	for _, n := range []int{4, 5, 6, 8} {
		a, b := make([]float64, n), make([]float64, n)
		for i := range n {
			a[i], b[i] = float64(i), float64(100+i)
		}
		got := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, &benchmath.DefaultThresholds), benchmath.NewSample(b, &benchmath.DefaultThresholds)).P
		if want := minU(n, n); math.Abs(got-want) > 1e-9 {
			t.Errorf("n=%d: benchmath p = %g; minU = %g", n, got, want)
		}
	}
}

func TestGeomeans(t *testing.T) {
	tight := func(c float64) []float64 { return []float64{c, c, c * 1.0001, c * 0.9999, c, c} }
	r := Cells([]Input{
		{Name: "e1/model=p/a", Experiment: "e1", Model: "p", A: tight(1), B: tight(2)},
		{Name: "e1/model=t/a", Experiment: "e1", Model: "t", A: tight(1), B: tight(0.5)},
		{Name: "e2/model=p/a", Experiment: "e2", Model: "p", A: tight(1), B: tight(8)},
	}, opts(BH))
	want := map[string]float64{"experiment e1": 1, "experiment e2": 8, "model p": 4, "model t": 0.5, "all ": 2}
	if len(r.Geomeans) != len(want) {
		t.Fatalf("geomeans %+v; want %d groups", r.Geomeans, len(want))
	}
	for _, g := range r.Geomeans {
		if w := want[g.By+" "+g.Key]; math.Abs(g.Ratio-w) > 1e-3 {
			t.Errorf("geomean %s %s = %.4f; want %v", g.By, g.Key, g.Ratio, w)
		}
	}
}

func dir(path string, cells ...rundir.Cell) *rundir.Dir {
	return &rundir.Dir{Path: path,
		Run:     rundir.Run{Schema: rundir.Schema, Complete: true, Cells: len(cells)},
		Summary: rundir.Summary{Schema: rundir.Schema, Cells: cells}}
}

func cell(name, status string, secs ...float64) rundir.Cell {
	return rundir.Cell{Name: name, Experiment: strings.Split(name, "/")[0], Model: "m", Status: status,
		Metrics: map[string]rundir.Metric{"sec/op": {Samples: secs}}}
}

func TestCompareDisjoint(t *testing.T) {
	six := []float64{1, 1.01, 0.99, 1.02, 0.98, 1}
	a := dir("runA", cell("e/both", "ok", six...), cell("e/onlyA", "ok", six...), cell("e/failsB", "ok", six...))
	b := dir("runB", cell("e/onlyB", "ok", six...), cell("e/both", "ok", six...), cell("e/failsB", "failed"))
	r, err := Compare(a, b, opts(BH))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.OnlyA, []string{"e/onlyA"}) || !slices.Equal(r.OnlyB, []string{"e/onlyB"}) {
		t.Errorf("only A %q, only B %q; want [e/onlyA], [e/onlyB]", r.OnlyA, r.OnlyB)
	}
	if len(r.Cells) != 2 || r.Cells[0].Name != "e/both" || r.Cells[1].Verdict != Untestable || r.Cells[1].Reason != "failed in B" {
		t.Errorf("cells %+v; want e/both and e/failsB untestable (failed in B)", r.Cells)
	}
	if _, err := Compare(a, b, Options{Metric: "sec/op", Threshold: -1, Alpha: 0.05, Correction: BH}); err == nil {
		t.Error("Compare with threshold -1: no error")
	}
}
