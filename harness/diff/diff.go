// Package diff compares two run directories cell by cell: for every cell in
// both runs, the medians of one metric (sec/op by default) with their 95% CIs,
// the ratio B/A with its bootstrap CI (stats.RatioCI), the Mann–Whitney U
// p-value (benchmath.AssumeNothing.Compare), that p-value corrected for the
// number of cells compared, and a verdict:
//
//	faster, slower  significant after correction AND a change of at least the
//	                threshold (both, as asv requires)
//	same            the ratio's whole CI lies inside ±threshold: an
//	                equivalence result, not an absence of evidence
//	~               neither
//	untestable      fewer than MinSamples samples on a side, a failed cell, or
//	                a missing metric
//
// The threshold t is symmetric in ratio: a ratio r is a change of at least t
// when r ≥ 1+t or r ≤ 1/(1+t), and `same` needs the CI inside
// [1/(1+t), 1+t].
//
// Before the numbers, Setting lists how the two runs' declared and detected
// hardware, software and matrix differ (a structural diff with go-cmp and a
// Reporter of our own, because cmp.Diff's text is deliberately unstable).
//
// The package computes; Text, JSON and HTML render a *Result. Callers other
// than `lab diff` (the site's "compare machines" page) call Compare on two
// rundir.Dir values, or Cells on samples of their own, and render or read the
// Result themselves.
package diff

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"

	"golang.org/x/perf/benchmath"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// Verdicts.
const (
	Faster     = "faster"
	Slower     = "slower"
	Same       = "same"
	Unsure     = "~"
	Untestable = "untestable"
)

// MinSamples is the fewest samples a side for which a cell is tested: below 4
// a side the U test cannot reach p < 0.05 however different the samples are.
const MinSamples = 4

// Correction names a multiple-comparison correction.
type Correction string

// Corrections.
const (
	// BH is Benjamini–Hochberg: controls the false discovery rate (the
	// expected share of flagged cells that did not change).
	BH Correction = "bh"
	// Holm is Holm–Bonferroni: controls the family-wise error rate (the
	// chance of flagging any unchanged cell); stricter than BH.
	Holm Correction = "holm"
	// None uses each cell's raw p-value: with many cells, about Alpha of the
	// unchanged ones come out significant.
	None Correction = "none"
)

// ParseCorrection accepts "bh", "holm" or "none".
func ParseCorrection(s string) (Correction, error) {
	switch c := Correction(strings.ToLower(s)); c {
	case BH, Holm, None:
		return c, nil
	}
	return "", fmt.Errorf("diff: unknown correction %q (want bh, holm or none)", s)
}

// Options tune a comparison. The zero value is not usable; start from
// DefaultOptions.
type Options struct {
	// Metric is the unit compared, as summary.json tidies it ("sec/op",
	// "cpu-sec/op", "B/s", "tasks/s", "peak-rss-B", ...).
	Metric string
	// Threshold is the smallest change that counts, as a fraction (0.05 =
	// 5%); see the package comment for its symmetric meaning.
	Threshold float64
	// Alpha is the significance level the corrected p-values are held to.
	Alpha      float64
	Correction Correction
	// Resamples and Seed drive the ratio's bootstrap CI; each cell's seed is
	// Seed mixed with a hash of its name (recorded in Cell.Ratio.Seed), so
	// a cell's interval does not depend on which other cells are compared.
	Resamples int
	Seed      uint64
}

// DefaultOptions: sec/op, 5% threshold, α = 0.05, Benjamini–Hochberg.
var DefaultOptions = Options{
	Metric: "sec/op", Threshold: 0.05, Alpha: 0.05, Correction: BH,
	Resamples: stats.DefaultResamples, Seed: 1,
}

// Input is one cell's samples on both sides, for Cells.
type Input struct {
	Name       string
	Experiment string // for the geometric means; "" groups under ""
	Model      string
	Runtime    string // "" or "go" for the lab's own models
	A, B       []float64
	// Problem, when set, makes the cell untestable with this reason (e.g.
	// "failed in B").
	Problem string
}

// Cell is one cell's comparison. Every float is in the metric's unit except
// where stated; optional values are null in JSON when they do not exist.
type Cell struct {
	// Name is the cell name, "<experiment>/runtime=<r>/model=<m>/<k>=<v>/...".
	Name       string `json:"name"`
	Experiment string `json:"experiment"`
	Model      string `json:"model"`
	// Runtime runs the model: omitted for the lab's own (go).
	Runtime string `json:"runtime,omitempty"`
	// A and B summarise each side's samples: n, median and its 95% CI.
	A Side `json:"a"`
	B Side `json:"b"`
	// Ratio is median(B)/median(A) with its 95% bootstrap CI; null when the
	// cell is untestable.
	Ratio *stats.Ratio `json:"ratio"`
	// P is the two-sided Mann–Whitney U p-value; PAdj the same after the
	// correction (equal to P under "none"). Null when untestable.
	P    *float64 `json:"p"`
	PAdj *float64 `json:"p_adj"`
	// Verdict is faster, slower, same, ~ or untestable.
	Verdict string `json:"verdict"`
	// Reason explains an untestable cell.
	Reason string `json:"reason,omitempty"`
	// Underpowered is true for a ~ cell whose ratio is beyond the threshold
	// but which could not have been significant even if A and B had not
	// overlapped at all: with this many cells and samples, the smallest
	// possible p-value, corrected, is at least Alpha. It needs more reps,
	// not a shrug.
	Underpowered bool `json:"underpowered,omitempty"`
}

// Side is one side of a cell.
type Side struct {
	N      int      `json:"n"`
	Median *float64 `json:"median"` // null without samples
	CILo   *float64 `json:"ci_lo"`  // null with fewer than 6 samples
	CIHi   *float64 `json:"ci_hi"`
}

// Geomean is the geometric mean of the point ratios B/A of a group of
// testable cells.
type Geomean struct {
	// By is "experiment", "model" or "all"; Key the experiment or model.
	By    string  `json:"by"`
	Key   string  `json:"key"`
	Cells int     `json:"cells"`
	Ratio float64 `json:"ratio"`
}

// Power describes whether a lone change could be detected at all.
type Power struct {
	// Tested is the number of cells tested (the family the correction is
	// over).
	Tested int `json:"tested"`
	// MinP is the smallest p-value the U test can give at the fewest
	// samples any tested cell has (n a side): 2 / C(2n, n).
	MinP float64 `json:"min_p"`
	// MinPAdj is MinP after correction for a lone change among Tested cells
	// (× Tested under bh and holm).
	MinPAdj float64 `json:"min_p_adj"`
	// Enough is MinPAdj < Alpha.
	Enough bool `json:"enough"`
	// NeededReps is the fewest samples a side with which a lone change
	// among Tested cells could be significant.
	NeededReps int `json:"needed_reps"`
}

// Result is a whole diff. Its JSON form is documented field by field here
// and in README ("lab diff --format json").
type Result struct {
	// A and B are the run directories as given.
	A string `json:"a"`
	B string `json:"b"`
	// Metric, Threshold (a fraction), Alpha and Correction are the options
	// the verdicts were reached with.
	Metric     string     `json:"metric"`
	Threshold  float64    `json:"threshold"`
	Alpha      float64    `json:"alpha"`
	Correction Correction `json:"correction"`
	// Setting lists how the runs' hardware, software and matrix differ, in
	// a stable order; empty when they agree.
	Setting []Change `json:"setting"`
	// Cells holds every cell in both runs, in run A's order.
	Cells []Cell `json:"cells"`
	// OnlyA and OnlyB name the cells found in one run only.
	OnlyA []string `json:"only_a"`
	OnlyB []string `json:"only_b"`
	// Geomeans: per experiment, per model, then over all testable cells.
	Geomeans []Geomean `json:"geomeans"`
	Power    Power     `json:"power"`
	// Counts maps each verdict to its number of cells.
	Counts map[string]int `json:"counts"`
	// Warnings are for the reader: low power, too few samples, incomplete
	// runs.
	Warnings []string `json:"warnings"`
}

// Compare diffs run b against run a (the baseline).
func Compare(a, b *rundir.Dir, o Options) (*Result, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	inB := map[string]rundir.Cell{}
	for _, c := range b.Summary.Cells {
		inB[c.Name] = c
	}
	inA := map[string]bool{}
	var inputs []Input
	var onlyA, onlyB []string
	for _, ca := range a.Summary.Cells {
		inA[ca.Name] = true
		cb, ok := inB[ca.Name]
		if !ok {
			onlyA = append(onlyA, ca.Name)
			continue
		}
		in := Input{Name: ca.Name, Experiment: ca.Experiment, Model: ca.Model, Runtime: ca.Runtime,
			A: ca.Metrics[o.Metric].Samples, B: cb.Metrics[o.Metric].Samples}
		switch {
		case ca.Status != rundir.OK && cb.Status != rundir.OK:
			in.Problem = fmt.Sprintf("%s in A, %s in B", ca.Status, cb.Status)
		case ca.Status != rundir.OK:
			in.Problem = ca.Status + " in A"
		case cb.Status != rundir.OK:
			in.Problem = cb.Status + " in B"
		}
		inputs = append(inputs, in)
	}
	for _, cb := range b.Summary.Cells {
		if !inA[cb.Name] {
			onlyB = append(onlyB, cb.Name)
		}
	}
	r := Cells(inputs, o)
	r.A, r.B = a.Path, b.Path
	r.OnlyA, r.OnlyB = onlyA, onlyB
	r.Setting = Setting(a.Run, b.Run)
	for _, x := range []struct {
		side string
		d    *rundir.Dir
	}{{"A", a}, {"B", b}} {
		if !x.d.Run.Complete {
			r.Warnings = append(r.Warnings, fmt.Sprintf("run %s (%s) is incomplete: %s", x.side, x.d.Path, x.d.Run.Stopped))
		}
	}
	return r, nil
}

func (o Options) check() error {
	switch {
	case o.Metric == "":
		return errors.New("diff: no metric")
	case !(o.Threshold >= 0) || math.IsInf(o.Threshold, 0):
		return fmt.Errorf("diff: threshold %v: want a fraction ≥ 0", o.Threshold)
	case !(o.Alpha > 0 && o.Alpha < 1):
		return fmt.Errorf("diff: alpha %v: want 0 < alpha < 1", o.Alpha)
	}
	_, err := ParseCorrection(string(o.Correction))
	return err
}

// Cells compares samples given directly (tests, other tools). Inputs with a
// Problem or fewer than MinSamples samples on a side are untestable; the
// correction runs over the others.
func Cells(inputs []Input, o Options) *Result {
	r := &Result{Metric: o.Metric, Threshold: o.Threshold, Alpha: o.Alpha, Correction: o.Correction,
		Setting: []Change{}, OnlyA: []string{}, OnlyB: []string{}, Warnings: []string{},
		Counts: map[string]int{}}
	r.Cells = make([]Cell, len(inputs))
	var tested []int
	for i, in := range inputs {
		c := Cell{Name: in.Name, Experiment: in.Experiment, Model: in.Model, Runtime: in.Runtime,
			A: side(in.A), B: side(in.B)}
		switch {
		case in.Problem != "":
			c.Verdict, c.Reason = Untestable, in.Problem
		case len(in.A) < MinSamples || len(in.B) < MinSamples:
			c.Verdict = Untestable
			c.Reason = fmt.Sprintf("%d and %d samples; the U test needs ≥ %d a side", len(in.A), len(in.B), MinSamples)
		default:
			ratio, err := stats.RatioCI(in.A, in.B, stats.Confidence, o.Resamples, cellSeed(o.Seed, in.Name))
			if err != nil {
				c.Verdict, c.Reason = Untestable, err.Error()
				break
			}
			c.Ratio = &ratio
			cmp := benchmath.AssumeNothing.Compare(
				benchmath.NewSample(slices.Clone(in.A), &benchmath.DefaultThresholds),
				benchmath.NewSample(slices.Clone(in.B), &benchmath.DefaultThresholds))
			p := cmp.P
			c.P = &p
			tested = append(tested, i)
		}
		r.Cells[i] = c
	}

	ps := make([]float64, len(tested))
	for k, i := range tested {
		ps[k] = *r.Cells[i].P
	}
	adj := Adjust(ps, o.Correction)
	minN := math.MaxInt
	for _, i := range tested {
		minN = min(minN, r.Cells[i].A.N, r.Cells[i].B.N)
	}
	if len(tested) > 0 {
		r.Power = PowerFor(minN, len(tested), o)
	}
	lo, hi := 1/(1+o.Threshold), 1+o.Threshold
	for k, i := range tested {
		c := &r.Cells[i]
		c.PAdj = &adj[k]
		big := c.Ratio.Point >= hi || c.Ratio.Point <= lo
		switch {
		case adj[k] < o.Alpha && big && c.Ratio.Point > 1:
			c.Verdict = Slower
		case adj[k] < o.Alpha && big:
			c.Verdict = Faster
		case c.Ratio.Lo >= lo && c.Ratio.Hi <= hi:
			c.Verdict = Same
		default:
			c.Verdict = Unsure
			n := min(c.A.N, c.B.N)
			c.Underpowered = big && adjustLone(minU(n, n), len(tested), o.Correction) >= o.Alpha
		}
		if higherIsBetter(o.Metric) {
			c.Verdict = swap(c.Verdict)
		}
	}
	under := 0
	for _, c := range r.Cells {
		r.Counts[c.Verdict]++
		if c.Underpowered {
			under++
		}
	}
	if n := r.Counts[Untestable]; n > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d cells untestable (failed, or fewer than %d samples a side)", n, MinSamples))
	}
	if len(tested) > 0 && !r.Power.Enough {
		w := fmt.Sprintf("low power: with %d samples a side the smallest possible p is %.4f; corrected (%s) over %d cells a lone change can reach at best p = %.3g ≥ α = %g, so it cannot be flagged; %d reps a side would be needed",
			minN, r.Power.MinP, o.Correction, r.Power.Tested, r.Power.MinPAdj, o.Alpha, r.Power.NeededReps)
		if under > 0 {
			w += fmt.Sprintf(" (%d ~ cells changed by more than the threshold: marked underpowered)", under)
		}
		r.Warnings = append(r.Warnings, w)
	}
	r.Geomeans = geomeans(r.Cells)
	return r
}

// FailOn returns the cells slower by more than pct percent (ratio above
// 1+pct/100, or below 1/(1+pct/100) for a higher-is-better metric) with a
// corrected p-value below Alpha.
func (r *Result) FailOn(pct float64) []Cell {
	lim := 1 + pct/100
	var bad []Cell
	for _, c := range r.Cells {
		if c.PAdj == nil || *c.PAdj >= r.Alpha || c.Ratio == nil {
			continue
		}
		worse := c.Ratio.Point > lim
		if higherIsBetter(r.Metric) {
			worse = c.Ratio.Point < 1/lim
		}
		if worse {
			bad = append(bad, c)
		}
	}
	return bad
}

// higherIsBetter: rates ("B/s", "tasks/s") improve upward; times and costs
// (sec/op, cpu-sec/op, peak-rss-B, ...) downward.
func higherIsBetter(metric string) bool {
	return strings.HasSuffix(metric, "/s")
}

func swap(v string) string {
	switch v {
	case Faster:
		return Slower
	case Slower:
		return Faster
	}
	return v
}

func side(vals []float64) Side {
	s := Side{N: len(vals)}
	if len(vals) == 0 {
		return s
	}
	sum := stats.Summarize(vals)
	s.Median, s.CILo, s.CIHi = &sum.Median, sum.CILo, sum.CIHi
	return s
}

// cellSeed mixes the diff's seed with the cell's name, kept below 2^53 so
// that JSON readers with float64 numbers (JavaScript, jq) read it exactly.
func cellSeed(seed uint64, name string) uint64 {
	return (seed ^ nameHash(name)) & (1<<53 - 1)
}

func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// Adjust returns p-values corrected for being len(ps) comparisons, in the
// order given: Benjamini–Hochberg step-up (q_(i) = min over j ≥ i of
// p_(j)·m/j), Holm step-down (max over j ≤ i of (m−j+1)·p_(j)), or the raw
// values. Results are capped at 1.
func Adjust(ps []float64, c Correction) []float64 {
	m := len(ps)
	out := slices.Clone(ps)
	if m == 0 || c == None {
		return out
	}
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(ps[i], ps[j]) })
	switch c {
	case BH:
		run := 1.0
		for k := m - 1; k >= 0; k-- {
			i := order[k]
			run = min(run, ps[i]*float64(m)/float64(k+1))
			out[i] = run
		}
	case Holm:
		run := 0.0
		for k := 0; k < m; k++ {
			i := order[k]
			run = max(run, min(1, ps[i]*float64(m-k)))
			out[i] = run
		}
	}
	return out
}

// minU is the smallest two-sided p-value of the exact Mann–Whitney U test
// with n1 and n2 samples: both orderings with no overlap, 2 / C(n1+n2, n1).
func minU(n1, n2 int) float64 {
	// C(n1+n2, n1) by logs: exact enough, and no overflow at large n.
	lc, _ := math.Lgamma(float64(n1 + n2 + 1))
	l1, _ := math.Lgamma(float64(n1 + 1))
	l2, _ := math.Lgamma(float64(n2 + 1))
	return math.Min(1, 2/math.Exp(lc-l1-l2))
}

// adjustLone is the corrected p-value of a lone change with raw p among m
// tests whose other p-values are all larger: m·p under BH and Holm.
func adjustLone(p float64, m int, c Correction) float64 {
	if c == None {
		return p
	}
	return math.Min(1, p*float64(m))
}

// PowerFor says whether a lone change among m tested cells, with n samples
// a side, can be flagged under o's correction at o's level: the U test's
// smallest p, 2 / C(2n, n), corrected for m cells, must be below Alpha. It
// also gives the fewest reps a side with which it could. (A change can only
// reach that smallest p when the two sets of samples do not overlap, and is
// flagged only beyond o's threshold.)
func PowerFor(n, m int, o Options) Power {
	pw := Power{Tested: m, MinP: minU(n, n)}
	pw.MinPAdj = adjustLone(pw.MinP, m, o.Correction)
	pw.Enough = pw.MinPAdj < o.Alpha
	for k := 2; k <= 1000; k++ {
		if adjustLone(minU(k, k), m, o.Correction) < o.Alpha {
			pw.NeededReps = k
			break
		}
	}
	return pw
}

func geomeans(cells []Cell) []Geomean {
	type acc struct {
		sum float64
		n   int
	}
	groups := map[[2]string]*acc{}
	var keys [][2]string
	add := func(by, key string, r float64) {
		k := [2]string{by, key}
		g := groups[k]
		if g == nil {
			g = &acc{}
			groups[k] = g
			keys = append(keys, k)
		}
		g.sum += math.Log(r)
		g.n++
	}
	for _, c := range cells {
		if c.Ratio == nil || !(c.Ratio.Point > 0) || math.IsInf(c.Ratio.Point, 0) {
			continue
		}
		add("experiment", c.Experiment, c.Ratio.Point)
	}
	for _, c := range cells {
		if c.Ratio != nil && c.Ratio.Point > 0 && !math.IsInf(c.Ratio.Point, 0) {
			// A model of another runtime is another group: CPython's
			// threads are not Go's.
			key := c.Model
			if c.Runtime != "" && c.Runtime != "go" {
				key += " (" + c.Runtime + ")"
			}
			add("model", key, c.Ratio.Point)
		}
	}
	for _, c := range cells {
		if c.Ratio != nil && c.Ratio.Point > 0 && !math.IsInf(c.Ratio.Point, 0) {
			add("all", "", c.Ratio.Point)
		}
	}
	out := make([]Geomean, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		out = append(out, Geomean{By: k[0], Key: k[1], Cells: g.n, Ratio: math.Exp(g.sum / float64(g.n))})
	}
	// Experiments in first-seen order (the matrix's), models likewise.
	return out
}
