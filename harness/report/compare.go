package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/report/plots"
)

// compareView is what compare.html shows: one comparison per pair of
// machines, then the nodes of each class that an each-node submission ran
// on, each against the first.
type compareView struct {
	Machines  int
	Options   diff.Options
	Verdicts  []string // the order counts are shown in
	Pairs     []*Pair
	Nodes     []*NodeGroup
	Threshold string // the options' threshold, "5%"
}

// Pair is the diff of two machines' chosen runs, B against A (A < B by id),
// or of two nodes' runs of one each-node submission (A and B the same
// machine; NodeA and NodeB the hosts).
type Pair struct {
	A, B         *Machine
	NodeA, NodeB string
	RunA, RunB   *Run
	WhyA, WhyB   string // how the run was chosen, when not a complete full run
	Anchor       string // the pair's id on the page
	Result       *diff.Result
	Err          string // when the diff could not be computed
	Setting      []settingRow
	Counts       []count
	Experiments  []diff.Geomean
	Models       []diff.Geomean
	All          *diff.Geomean
	Rows         []compareRow
	Chart        *Chart
	ChartProblem string
	bars         []plots.Ratio // the chart's, one per cell in common
}

type settingRow struct{ Path, A, B string }

type count struct {
	Verdict, Class string
	N              int
}

// compareRow is one cell of a pair's table.
type compareRow struct {
	Name, Verdict, Class, Reason string
	A, B, Ratio, PAdj            string
	Underpowered                 bool
}

// latestRun picks the run of m to compare with claims.Latest: its newest
// complete full run, else its newest complete smoke run, else its newest
// run; why says which fallback was taken ("" for none). Each-node runs are
// one node's view of the class, compared on their own (Nodes): they are
// taken only when the machine has no other complete run.
func latestRun(m *Machine) (r *Run, why string) {
	d, why := claims.Latest(m.judged())
	r = m.run(d)
	if r != nil && isEachNode(d) {
		node := fmt.Sprintf("node %s's run of each-node submission %s", orDash(r.Node()), d.Run.Fleet.Submission)
		if why == "" {
			why = "no complete merged or single-machine run: this is " + node
		} else {
			why += "; it is " + node
		}
	}
	return r, why
}

// compareOptions are the options of every machine comparison: the site's
// judging options as diff.Options (diff's defaults with the site's seed,
// resamples, threshold, α and correction), so that a rebuild gives the same
// intervals.
func (s *Site) compareOptions() diff.Options { return s.Options.Diff() }

// compare diffs the chosen runs of every pair of machines and draws each
// pair's ratio chart, then diffs the nodes of each each-node submission.
func (s *Site) compare() compareView {
	v := compareView{Machines: len(s.Machines), Options: s.compareOptions(),
		Verdicts: []string{diff.Slower, diff.Faster, diff.Same, diff.Unsure, diff.Untestable}}
	v.Threshold = pct(v.Options.Threshold)
	ms := slices.Clone(s.Machines)
	slices.SortFunc(ms, func(a, b *Machine) int { return cmp.Compare(a.ID, b.ID) })
	used := map[string]bool{}
	for i, a := range ms {
		for _, b := range ms[i+1:] {
			p := &Pair{A: a, B: b, Anchor: unique("pair-"+slug(a.ID)+"-vs-"+slug(b.ID), used)}
			p.RunA, p.WhyA = latestRun(a)
			p.RunB, p.WhyB = latestRun(b)
			p.diff(v.Options, v.Verdicts)
			p.draw()
			v.Pairs = append(v.Pairs, p)
		}
	}
	v.Nodes = s.compareNodes(v.Options, v.Verdicts)
	return v
}

// diff compares the pair's runs and fills in its tables and its chart's
// bars (draw draws them).
func (p *Pair) diff(o diff.Options, verdicts []string) {
	res, err := diff.Compare(p.RunA.Dir, p.RunB.Dir, o)
	if err != nil {
		p.Err = err.Error()
		return
	}
	p.Result = res
	for _, c := range res.Setting {
		p.Setting = append(p.Setting, settingRow{c.Path, jsonText(c.A), jsonText(c.B)})
	}
	for _, v := range verdicts {
		if n := res.Counts[v]; n > 0 {
			p.Counts = append(p.Counts, count{v, verdictClass(v), n})
		}
	}
	for _, g := range res.Geomeans {
		switch g.By {
		case "experiment":
			p.Experiments = append(p.Experiments, g)
		case "model":
			p.Models = append(p.Models, g)
		case "all":
			p.All = &g
		}
	}
	// diff keys another runtime's model as "model (runtime)": Go's models
	// first, then the others in run A's order (then diff's).
	rts := slices.Clone(p.RunA.rts.order)
	for _, g := range p.Models {
		if _, rt := splitLabel(g.Key); !slices.Contains(rts, rt) {
			rts = append(rts, rt)
		}
	}
	slices.SortStableFunc(p.Models, func(a, b diff.Geomean) int {
		ma, ra := splitLabel(a.Key)
		mb, rb := splitLabel(b.Key)
		return cmp.Or(cmp.Compare(slices.Index(rts, ra), slices.Index(rts, rb)), cmp.Compare(modelRank(ma), modelRank(mb)))
	})

	labels := cellLabels(p.RunA)
	for _, c := range res.Cells {
		row := compareRow{Name: c.Name, Verdict: c.Verdict, Class: verdictClass(c.Verdict), Reason: c.Reason,
			A: sideText(res.Metric, c.A), B: sideText(res.Metric, c.B), Ratio: "—", PAdj: "—", Underpowered: c.Underpowered}
		bar := plots.Ratio{Label: labels[c.Name], Model: c.Model}
		if bar.Label == "" {
			bar.Label = c.Name
		}
		if c.Ratio != nil {
			row.Ratio = fmt.Sprintf("%s [%s, %s]", fmtNum(c.Ratio.Point), fmtNum(c.Ratio.Lo), fmtNum(c.Ratio.Hi))
			bar.Point, bar.Lo, bar.Hi, bar.OK = c.Ratio.Point, c.Ratio.Lo, c.Ratio.Hi, true
		}
		if c.PAdj != nil {
			row.PAdj = fmt.Sprintf("%.3g", *c.PAdj)
		}
		p.Rows = append(p.Rows, row)
		p.bars = append(p.bars, bar)
	}
}

// draw draws the ratio chart of a diffed pair of machines.
func (p *Pair) draw() {
	if p.Result == nil {
		return
	}
	if len(p.bars) == 0 {
		p.ChartProblem = "no cells in common: nothing to chart"
		return
	}
	metric := p.Result.Metric
	title := fmt.Sprintf("%s / %s: %s ratio per cell", p.B.ID, p.A.ID, metric)
	svg, err := plots.Ratios(title, fmt.Sprintf("ratio of medians B/A (%s; log scale; > 1: B is slower)", metric), p.bars)
	if err != nil {
		p.ChartProblem = "chart not drawn: " + err.Error()
		return
	}
	p.Chart = &Chart{File: "compare/" + p.Anchor + ".svg", Title: title,
		Alt: "Ratio of B's median to A's per cell, with its 95% bootstrap CI as a horizontal bar, on a log scale with a dashed line at 1", svg: svg}
}

// cellsTable is a table of compared cells, with the correction its
// p-values were adjusted by (the column's heading).
type cellsTable struct {
	Rows       []compareRow
	Correction diff.Correction
}

func cellsOf(rows []compareRow, c diff.Correction) cellsTable { return cellsTable{rows, c} }

// cellLabels names a run's cells for the chart: experiment, model and the
// experiment's varying parameters (the fixed ones are the same on every row).
func cellLabels(r *Run) map[string]string {
	out := map[string]string{}
	for _, x := range r.Experiments {
		for _, c := range x.Cells {
			l := x.Name + " " + cellLabel(c)
			if len(x.Varying) > 0 {
				l += " " + combo(c, x.Varying)
			}
			out[c.Name] = l
		}
	}
	return out
}

func verdictClass(v string) string {
	if v == diff.Unsure {
		return "unsure"
	}
	return v
}

// sideText is a side's median with its 95% CI, "—" without samples.
func sideText(metric string, s diff.Side) string {
	if s.Median == nil {
		return "—"
	}
	t := fmtUnit(metric, *s.Median)
	if s.CILo != nil && s.CIHi != nil {
		t += fmt.Sprintf(" [%s, %s]", fmtUnit(metric, *s.CILo), fmtUnit(metric, *s.CIHi))
	}
	return t + fmt.Sprintf(", n = %d", s.N)
}

// jsonText shows a setting's JSON value compactly: a string unquoted, an
// absent value as "(none)".
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "(none)"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return `""`
		}
		return s
	}
	return string(raw)
}
