package report

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// This file sets the runtimes side by side on the article's cells, for the
// index: the article's table across runtimes (Reference) and the emulated
// GIL against CPython's (Calibration).

// Reference is a machine's article table across runtimes: the article's
// cells of every runtime of one run, side by side with the article's
// figures, each set against the native floor.
type Reference struct {
	Run     *Run
	Columns []RefColumn
	Rows    []RefRow
	Native  string // the native runtime the "over native" ratios use
}

// RefColumn is one runtime's column.
type RefColumn struct {
	Runtime, Kind string
	Title         string // "cpython (CPython 3.11.2)"
}

// RefRow is one model's row.
type RefRow struct {
	Model   string
	Article string // the article's figure for the model, "—" without one
	Cells   []RefCell
}

// RefCell is one runtime's cell of a model, or an absent one.
type RefCell struct {
	Href   string // the cell's row on its experiment page; "" when absent
	Median string // "1.54 s [1.52 s, 1.56 s]"
	// OverNative is the cell's time over the native cell of the same
	// model, "2.01× [1.98, 2.04]", "" without one.
	OverNative string
	Over       *stats.Ratio
}

// refModels are the rows of the article's table across runtimes: the
// article's three models first, then Go's own.
var refModels = []string{"process", "thread", "loop", "thread-gil", "goroutine"}

// refArticle is the article's figure for a row: CPython's processes,
// threading and asyncio in the rows their models name; for thread-gil,
// the figure it emulates (articleFigure).
func refArticle(model string) string {
	switch model {
	case "thread":
		// CPython's threading: the figure thread-gil stands for.
		return strconv.FormatFloat(claims.ArticleSeconds["thread-gil"], 'g', -1, 64) + " s (threading)"
	case "thread-gil":
		return articleFigure("thread-gil") + ", which thread-gil emulates"
	}
	if f := articleFigure(model); f != "" {
		return f
	}
	return "—"
}

// externalArticle says whether run d has the article's cells in a runtime
// other than Go.
func externalArticle(d *rundir.Dir, rts *runtimeSet) bool {
	for _, rt := range rts.order[1:] {
		if exp, _ := claims.ArticleCellsIn(d, rt); exp != "" {
			return true
		}
	}
	return false
}

// referenceRun is the machine's newest complete run (claims.Candidates'
// order) with the article's cells in a runtime other than Go.
func (s *Site) referenceRun(m *Machine) *Run {
	for _, r := range s.candidateRuns(m) {
		if externalArticle(r.Dir, r.rts) {
			return r
		}
	}
	return nil
}

// reference builds the article's table across runtimes from the machine's
// reference run: columns CPython runtimes, native, Go; a row per model.
func (s *Site) reference(m *Machine) *Reference {
	r := s.referenceRun(m)
	if r == nil {
		return nil
	}
	ref := &Reference{Run: r}
	cells := map[string][]*rundir.Cell{}
	var order []string
	for _, rt := range append(append(r.rts.ofKind(kindCPython), r.rts.ofKind(kindNative)...), claims.GoRuntime) {
		exp, cs := claims.ArticleCellsIn(r.Dir, rt)
		if exp == "" {
			continue
		}
		cells[rt] = cs
		order = append(order, rt)
		ref.Columns = append(ref.Columns, RefColumn{Runtime: rt, Kind: r.rts.kind[rt], Title: columnTitle(r.rts, rt)})
	}
	if nat := r.rts.native(); cells[nat] != nil {
		ref.Native = nat
	}
	find := func(rt, model string) *rundir.Cell {
		for _, c := range cells[rt] {
			if c.Model == model {
				return c
			}
		}
		return nil
	}
	for _, model := range refModels {
		row := RefRow{Model: model, Article: refArticle(model)}
		present := false
		for _, rt := range order {
			c := find(rt, model)
			if c == nil {
				row.Cells = append(row.Cells, RefCell{Median: "—"})
				continue
			}
			present = true
			rc := RefCell{Href: cellHref(r, c), Median: medianCI(c)}
			if ref.Native != "" && rt != ref.Native {
				if o, ok := overNative(s.Options.ForRun(r.Dir), find(ref.Native, model), c); ok {
					rc.Over, rc.OverNative = &o, fmtTimes(o)
				}
			}
			row.Cells = append(row.Cells, rc)
		}
		if present {
			ref.Rows = append(ref.Rows, row)
		}
	}
	return ref
}

// columnTitle names a runtime's column: its name and, for CPython, its
// version; for Go, that it is the lab's emulation.
func columnTitle(rts *runtimeSet, rt string) string {
	id := rts.ids[rt]
	switch rts.kind[rt] {
	case kindGo:
		return "go (the lab's models)"
	case kindCPython:
		what := "CPython"
		if v, _, _ := strings.Cut(id.Version, " "); v != "" {
			what += " " + v
		}
		if id.EventLoop == "uvloop" {
			what += strings.TrimSpace(", uvloop " + id.UVLoop)
		}
		return rt + " (" + what + ")"
	case kindNative:
		return rt + " (C, the floor)"
	}
	return rt
}

// cellHref is the site path of a cell's row on its experiment page.
func cellHref(r *Run, c *rundir.Cell) string {
	return r.Path + "/" + expFile(r, c.Experiment) + "#" + anchor(c.Name)
}

// medianCI is a cell's median time with its 95% CI, "1.54 s [1.52 s, 1.56 s]".
func medianCI(c *rundir.Cell) string {
	p, hasCI := medianOf(c, "sec/op")
	if !hasCI {
		return fmtUnit("sec/op", p.Y) + " (no CI: < 6 samples)"
	}
	return fmtUnit("sec/op", p.Y) + " [" + fmtUnit("sec/op", p.Lo) + ", " + fmtUnit("sec/op", p.Hi) + "]"
}

// calibrationGoal is how close the emulated GIL should come to CPython's:
// Go's loop / thread-gil within ±10% of CPython's asyncio / threading.
const calibrationGoal = 0.10

// Calibration sets the emulated GIL (Go's thread-gil) against CPython's
// own on the article's cells: the time of the loop over the threads in
// each, and how far apart the two ratios are.
type Calibration struct {
	Run     *Run
	Go      *CalRatio // Go's loop / thread-gil (nil when missing)
	CPython []CalRow  // one per CPython runtime on asyncio with the cells
	Missing []string
	Goal    string // "±10%"
	Lo, Hi  string // the goal as percentages, "90%", "110%"
}

// CalRatio is a time of loop over threads with the cells it comes from.
type CalRatio struct {
	Ratio                stats.Ratio
	Text                 string // "0.99× [0.97, 1.01]"
	Threads, Loop        string // medians with CIs
	ThreadHref, LoopHref string
}

// CalRow is one CPython runtime's ratio and its distance to Go's.
type CalRow struct {
	Runtime, Title string
	CPython        CalRatio
	// Quotient is Go's ratio over CPython's, with its interval; Text as
	// percentages, "101% [97.2%, 105%]".
	Quotient stats.Ratio
	Text     string
	Verdict  string // "within the goal", "outside the goal", "undecided"
	Class    string // the badge's: holds, fails, unsure
}

// calibrationRun is the machine's newest complete run with both Go's
// thread-gil and loop and some CPython runtime's thread and loop article
// cells; else the reference run, else the article table's, with what is
// missing.
func (s *Site) calibrationRun(m *Machine) *Run {
	for _, r := range s.candidateRuns(m) {
		if _, miss := goCalibration(r); miss != nil {
			continue
		}
		for _, rt := range claims.CPythonRuntimes(r.Dir) {
			if _, _, ok := articlePair(r.Dir, rt, "thread", "loop"); ok {
				return r
			}
		}
	}
	if m.Reference != nil {
		return m.Reference.Run
	}
	if m.Headline != nil {
		return m.Headline.Run
	}
	return nil
}

// articlePair is the article cells of two models in one runtime.
func articlePair(d *rundir.Dir, rt, a, b string) (ca, cb *rundir.Cell, ok bool) {
	_, cells := claims.ArticleCellsIn(d, rt)
	for _, c := range cells {
		switch c.Model {
		case a:
			ca = c
		case b:
			cb = c
		}
	}
	return ca, cb, ca != nil && cb != nil
}

// goCalibration is Go's thread-gil and loop article cells of r, or what is
// missing.
func goCalibration(r *Run) ([2]*rundir.Cell, []string) {
	tg, loop, ok := articlePair(r.Dir, claims.GoRuntime, "thread-gil", "loop")
	if ok {
		return [2]*rundir.Cell{tg, loop}, nil
	}
	var miss []string
	if tg == nil {
		miss = append(miss, "Go's thread-gil article cell (primes, replicate, 2 workers, status ok)")
	}
	if loop == nil {
		miss = append(miss, "Go's loop article cell (primes, replicate, 2 workers, status ok)")
	}
	return [2]*rundir.Cell{}, miss
}

// calibration computes the GIL calibration of a machine.
func (s *Site) calibration(m *Machine) *Calibration {
	r := s.calibrationRun(m)
	if r == nil {
		return nil
	}
	cal := &Calibration{Run: r, Goal: "±" + pct(calibrationGoal), Lo: pct(1 - calibrationGoal), Hi: pct(1 + calibrationGoal)}
	goCells, miss := goCalibration(r)
	cal.Missing = append(cal.Missing, miss...)
	if miss == nil {
		if g, err := s.calRatio(r, goCells[0], goCells[1]); err == nil {
			cal.Go = &g
		} else {
			cal.Missing = append(cal.Missing, "Go's loop / thread-gil: "+err.Error())
		}
	}
	cps := claims.CPythonRuntimes(r.Dir)
	if len(cps) == 0 {
		cal.Missing = append(cal.Missing, "CPython's thread and loop article cells: no complete run of this machine has them (a CPython runtime on asyncio that ran the article experiment)")
	}
	for _, rt := range cps {
		th, loop, ok := articlePair(r.Dir, rt, "thread", "loop")
		if !ok {
			cal.Missing = append(cal.Missing, fmt.Sprintf("CPython's thread and loop article cells in runtime %s (primes, replicate, 2 workers, status ok)", rt))
			continue
		}
		cp, err := s.calRatio(r, th, loop)
		if err != nil {
			cal.Missing = append(cal.Missing, fmt.Sprintf("%s's loop / thread: %v", rt, err))
			continue
		}
		row := CalRow{Runtime: rt, Title: columnTitle(r.rts, rt), CPython: cp}
		if cal.Go != nil {
			q, err := quotientCI(s.Options.ForRun(r.Dir), goCells[0].Metrics["sec/op"].Samples, goCells[1].Metrics["sec/op"].Samples,
				th.Metrics["sec/op"].Samples, loop.Metrics["sec/op"].Samples)
			if err != nil {
				cal.Missing = append(cal.Missing, fmt.Sprintf("the quotient of Go's ratio and %s's: %v", rt, err))
			} else {
				row.Quotient = q
				row.Text = fmt.Sprintf("%s [%s, %s]", pct(q.Point), pct(q.Lo), pct(q.Hi))
				row.Verdict, row.Class = goalVerdict(q)
			}
		}
		cal.CPython = append(cal.CPython, row)
	}
	return cal
}

// calRatio is the time of loop over threads of one runtime.
func (s *Site) calRatio(r *Run, threads, loop *rundir.Cell) (CalRatio, error) {
	rt, err := s.Options.ForRun(r.Dir).Ratio(threads.Metrics["sec/op"].Samples, loop.Metrics["sec/op"].Samples)
	if err != nil {
		return CalRatio{}, err
	}
	return CalRatio{Ratio: rt, Text: fmtTimes(rt), Threads: medianCI(threads), Loop: medianCI(loop),
		ThreadHref: cellHref(r, threads), LoopHref: cellHref(r, loop)}, nil
}

// goalVerdict reads a quotient's interval against the goal as a claim of
// sameness is read: within when the whole interval is inside ±10% of 1,
// outside when it is wholly outside, undecided otherwise.
func goalVerdict(q stats.Ratio) (verdict, class string) {
	switch claims.Sameness(q, 1-calibrationGoal, 1+calibrationGoal) {
	case claims.Holds:
		return "within the goal", "holds"
	case claims.DoesNotHold:
		return "outside the goal", "fails"
	}
	return "undecided", "unsure"
}

// quotientCI is the quotient of two ratios of medians,
// (median(b1)/median(a1)) / (median(b2)/median(a2)), with a seeded
// percentile bootstrap interval that resamples all four sample sets at
// once: the two ratios' intervals alone would not say how far apart they
// are. It uses o's level, resamples and seed, so that a rebuild gives the
// same digits.
func quotientCI(o claims.Options, a1, b1, a2, b2 []float64) (stats.Ratio, error) {
	sets := [][]float64{a1, b1, a2, b2}
	for _, s := range sets {
		if len(s) < 2 {
			return stats.Ratio{}, fmt.Errorf("report: a quotient's interval needs at least 2 samples in each set")
		}
	}
	q := func(m [4]float64) (float64, bool) {
		if !(m[0] > 0 && m[2] > 0 && m[3] > 0) {
			return 0, false
		}
		return (m[1] / m[0]) / (m[3] / m[2]), true
	}
	var meds [4]float64
	for i, s := range sets {
		meds[i] = stats.Median(slices.Clone(s))
	}
	point, ok := q(meds)
	if !ok {
		return stats.Ratio{}, fmt.Errorf("report: a median is not positive")
	}
	level := o.Level()
	n := o.Resamples
	if n <= 0 {
		n = stats.DefaultResamples
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x71756f74)) // "quot"
	bufs := make([][]float64, 4)
	for i, s := range sets {
		bufs[i] = make([]float64, len(s))
	}
	qs := make([]float64, 0, n)
	for range n {
		for i, s := range sets {
			for j := range bufs[i] {
				bufs[i][j] = s[rng.IntN(len(s))]
			}
			meds[i] = stats.Median(bufs[i])
		}
		if v, ok := q(meds); ok {
			qs = append(qs, v)
		}
	}
	if len(qs) == 0 {
		return stats.Ratio{}, fmt.Errorf("report: no resample had positive medians")
	}
	slices.Sort(qs)
	tail := (1 - level) / 2
	return stats.Ratio{Point: point, Lo: stats.QuantileSorted(qs, tail), Hi: stats.QuantileSorted(qs, 1-tail), Confidence: level, Resamples: n, Seed: o.Seed}, nil
}
