package report

// This file builds a machine's history page (history/<machine>.html), after
// asv's main view: every cell's median with its CI over the machine's
// complete runs in run order, the steps found in those series (the runs
// where a cell's level changed, lab history's method) with the setting
// differences between the runs on either side, and one small chart per
// experiment of each model's level over time.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/history"
	"concurrency-lab/harness/report/plots"
	"concurrency-lab/harness/rundir"
)

// historyView is what history.html shows of one machine.
type historyView struct {
	Machine *Machine
	File    string // site path of the page, "history/<machine>.html"
	H       *history.History
	Err     string // why the history could not be built
	// Options are lab diff's options of the verdicts (the compare page's).
	Options   diff.Options
	Threshold string
	// LeftOut says which of the machine's runs are not shown and why
	// ("" when none is left out).
	LeftOut     string
	Smoke       bool // smoke runs are shown
	Runs        []*historyRun
	Steps       []*stepGroup
	StepCount   int // cells' steps, over every boundary
	Experiments []*historyExp
	charts      []*Chart
}

// historyRun is one row of the runs table.
type historyRun struct {
	N                int    // 1-based, oldest first
	Anchor           string // the row's id
	Started          string
	ID, Href         string // Href: the run's page, from the site's top
	Commit, FullHash string
	Dirty, Smoke     bool
	Go, Runtimes     string
	// CommitChanged, GoChanged and RuntimesChanged say the value differs
	// from the previous run's.
	CommitChanged, GoChanged, RuntimesChanged bool
}

// stepGroup is a boundary where some cells stepped: the runs on either
// side, their setting differences and the cells.
type stepGroup struct {
	Anchor        string
	Before, After *historyRun
	Setting       []settingRow
	Cells         []stepRow
}

// stepRow is one cell's step at a boundary.
type stepRow struct {
	Experiment, Label, Model, Href string
	Before, After, Ratio           string
	Verdict, Class                 string
	DiffRatio, PAdj                string // lab diff's ratio [95% CI] and corrected p
}

// historyExp is one experiment's chart and table of cells.
type historyExp struct {
	Name, Anchor string
	Fixed        []string
	Chart        *Chart
	ChartProblem string
	Cells        []*historyCell
	Steps        int
	series       []*history.Series
	keys         []seriesKey
}

// historyCell is one row of an experiment's table, with its points.
type historyCell struct {
	Anchor, Name, Label, Model string
	Runs                       int
	Latest                     string
	VsPrev, VsPrevClass        string
	Steps                      []string
	Points                     []historyPoint
}

// historyPoint is one run of a cell, for its details.
type historyPoint struct {
	N          int
	ID, Median string
	Count      int
}

// historySlug is the machine's slug in the site's paths: the folder of its
// runs, unique among machines.
func historySlug(m *Machine) string {
	if len(m.Runs) > 0 {
		if parts := strings.Split(m.Runs[0].Path, "/"); len(parts) == 3 {
			return parts[1]
		}
	}
	return slug(m.ID)
}

// histories builds every machine's history, in parallel; smoke keeps
// smoke runs.
func (s *Site) histories(smoke bool) []*historyView {
	out := make([]*historyView, len(s.Machines))
	var wg sync.WaitGroup
	for i, m := range s.Machines {
		wg.Go(func() { out[i] = s.history(m, smoke) })
	}
	wg.Wait()
	return out
}

// history builds the machine's history of its judged runs (each-node runs
// are left out when it has others; smoke runs unless smoke) with the
// compare page's options, and draws its charts.
func (s *Site) history(m *Machine, smoke bool) *historyView {
	o := history.DefaultOptions
	o.Diff = s.compareOptions()
	o.Smoke = smoke
	v := &historyView{Machine: m, File: "history/" + historySlug(m) + ".html", Options: o.Diff, Threshold: pct(o.Diff.Threshold), Smoke: smoke}
	judged := m.judged()
	h, err := history.Build(m.ID, judged, o)
	if err != nil {
		v.Err = err.Error()
		return v
	}
	v.H = h
	v.LeftOut = leftOut(m, judged, smoke)
	byPath := map[string]*Run{}
	for _, r := range m.Runs {
		byPath[r.Dir.Path] = r
	}
	v.runs(byPath)
	if len(h.Runs) < 2 {
		return v
	}
	// Each cell's parameters, from the newest run that has it.
	cells := map[string]*rundir.Cell{}
	for i := len(h.Runs) - 1; i >= 0; i-- {
		r := byPath[h.Runs[i].Path]
		if r == nil {
			continue
		}
		for j := range r.Dir.Summary.Cells {
			c := &r.Dir.Summary.Cells[j]
			if _, ok := cells[c.Name]; !ok {
				cells[c.Name] = c
			}
		}
	}
	rts := runtimesOf(&rundir.Dir{})
	if r := byPath[h.Runs[len(h.Runs)-1].Path]; r != nil && r.rts != nil {
		rts = r.rts
	}
	v.experiments(cells, rts)
	v.steps()
	v.draw(rts)
	return v
}

// leftOut says which of the machine's runs the history does not show.
func leftOut(m *Machine, judged []*rundir.Dir, keepSmoke bool) string {
	var smoke, incomplete, each int
	for _, r := range m.Runs {
		switch {
		case !slices.Contains(judged, r.Dir):
			each++
		case !r.Dir.Run.Complete:
			incomplete++
		case r.Dir.Run.Options.Smoke && !keepSmoke:
			smoke++
		}
	}
	var parts []string
	if smoke > 0 {
		parts = append(parts, plural(smoke, "smoke run")+" (sizes capped: not the full runs' levels)")
	}
	if incomplete > 0 {
		parts = append(parts, plural(incomplete, "incomplete run")+" (their cells may be partial)")
	}
	if each > 0 {
		parts = append(parts, plural(each, "node's run")+" of each-node submissions (compared node against node on the compare page)")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// runs fills in the runs table.
func (v *historyView) runs(byPath map[string]*Run) {
	for i, r := range v.H.Runs {
		row := &historyRun{N: i + 1, Anchor: "run-" + strconv.Itoa(i+1), Started: fmtTime(r.Started.UTC()), ID: r.ID,
			FullHash: r.Commit, Commit: shortCommit(r.Commit), Dirty: r.Dirty, Smoke: r.Smoke, Go: orDash(r.Go), Runtimes: orDash(strings.Join(r.Runtimes, ", "))}
		if run := byPath[r.Path]; run != nil {
			row.Href = run.Path + "/index.html"
		}
		if i > 0 {
			p := v.Runs[i-1]
			row.CommitChanged = row.FullHash != p.FullHash || row.Dirty != p.Dirty
			row.GoChanged = row.Go != p.Go
			row.RuntimesChanged = row.Runtimes != p.Runtimes
		}
		v.Runs = append(v.Runs, row)
	}
}

func shortCommit(c string) string {
	if len(c) > 10 {
		return c[:10]
	}
	return orDash(c)
}

// experiments groups the cells by experiment (in the newest run's order)
// and fills in each experiment's table.
func (v *historyView) experiments(cells map[string]*rundir.Cell, rts *runtimeSet) {
	byName := map[string]*historyExp{}
	used := map[string]bool{}
	for i := range v.H.Cells {
		s := &v.H.Cells[i]
		x := byName[s.Experiment]
		if x == nil {
			x = &historyExp{Name: s.Experiment, Anchor: unique("exp-"+slug(s.Experiment), used)}
			byName[s.Experiment] = x
			v.Experiments = append(v.Experiments, x)
		}
		x.series = append(x.series, s)
	}
	last := len(v.H.Runs) - 1
	for _, x := range v.Experiments {
		slices.SortStableFunc(x.series, func(a, b *history.Series) int {
			ka, kb := historyKey(a), historyKey(b)
			switch {
			case rts.less(ka, kb):
				return -1
			case rts.less(kb, ka):
				return 1
			}
			return 0
		})
		var cs []*rundir.Cell
		for _, s := range x.series {
			if c := cells[s.Cell]; c != nil {
				cs = append(cs, c)
			}
			if k := historyKey(s); !slices.Contains(x.keys, k) {
				x.keys = append(x.keys, k)
			}
		}
		vary, fixed := varying(cs)
		x.Fixed = fixed
		for _, s := range x.series {
			k := historyKey(s)
			row := &historyCell{Anchor: anchor(s.Cell), Name: s.Cell, Label: k.Label(), Model: s.Model, Runs: len(s.Points), Latest: "—", VsPrev: "—"}
			if c := cells[s.Cell]; c != nil && len(vary) > 0 {
				row.Label += " " + combo(c, vary)
			}
			if n := len(s.Points); n > 0 {
				p := s.Points[n-1]
				row.Latest = pointText(v.H.Metric, p)
				if p.Run != last {
					row.Latest += fmt.Sprintf(" (run %d)", p.Run+1)
				}
			}
			if c := s.Latest; c != nil {
				row.VsPrev, row.VsPrevClass = c.Verdict, verdictClass(c.Verdict)
				if c.Ratio != nil {
					row.VsPrev += " " + ratioCI(c.Ratio.Point, c.Ratio.Lo, c.Ratio.Hi)
				}
			}
			for _, st := range s.Steps {
				row.Steps = append(row.Steps, fmt.Sprintf("run %d: ×%s, %s", st.At+1, fmtNum(st.Ratio), st.Diff.Verdict))
			}
			x.Steps += len(s.Steps)
			row.Points = make([]historyPoint, len(s.Points))
			for i, p := range s.Points {
				row.Points[i] = historyPoint{N: p.Run + 1, ID: v.H.Runs[p.Run].ID, Median: pointText(v.H.Metric, p), Count: p.N}
			}
			x.Cells = append(x.Cells, row)
		}
	}
}

// historyKey is a series' key: its runtime ("go" for the lab's own) and
// model.
func historyKey(s *history.Series) seriesKey {
	rt := s.Runtime
	if rt == "" {
		rt = claims.GoRuntime
	}
	return seriesKey{rt, s.Model}
}

// pointText is a point's median with its 95% CI, "1.54 s [1.50 s, 1.60 s]".
func pointText(metric string, p history.Point) string {
	t := fmtUnit(metric, p.Median)
	if p.CILo != nil && p.CIHi != nil {
		t += " [" + fmtUnit(metric, *p.CILo) + ", " + fmtUnit(metric, *p.CIHi) + "]"
	}
	return t
}

func ratioCI(p, lo, hi float64) string {
	return fmtNum(p) + " [" + fmtNum(lo) + ", " + fmtNum(hi) + "]"
}

// steps lists the boundaries with steps, each with its setting differences
// and the cells that stepped there.
func (v *historyView) steps() {
	labels := map[string]*historyCell{}
	exps := map[string]*historyExp{}
	for _, x := range v.Experiments {
		for _, c := range x.Cells {
			labels[c.Name] = c
			exps[c.Name] = x
		}
	}
	at := map[[2]int][]stepRow{} // by boundary (from, at)
	for _, s := range v.H.Cells {
		for _, st := range s.Steps {
			row := stepRow{Experiment: s.Experiment, Label: s.Cell, Model: s.Model, Href: "#" + anchor(s.Cell),
				Before: fmtUnit(v.H.Metric, st.Before), After: fmtUnit(v.H.Metric, st.After), Ratio: "×" + fmtNum(st.Ratio),
				Verdict: st.Diff.Verdict, Class: verdictClass(st.Diff.Verdict), DiffRatio: "—", PAdj: "—"}
			if c := labels[s.Cell]; c != nil {
				row.Label = c.Label
			}
			if r := st.Diff.Ratio; r != nil {
				row.DiffRatio = ratioCI(r.Point, r.Lo, r.Hi)
			}
			if st.Diff.PAdj != nil {
				row.PAdj = fmt.Sprintf("%.3g", *st.Diff.PAdj)
			}
			at[[2]int{st.From, st.At}] = append(at[[2]int{st.From, st.At}], row)
			v.StepCount++
		}
	}
	for _, b := range v.H.Boundaries {
		rows := at[[2]int{b.From, b.At}]
		if len(rows) == 0 || b.From < 0 || b.From >= b.At || b.At >= len(v.Runs) {
			continue
		}
		anchor := "step-" + strconv.Itoa(b.At+1)
		if b.From != b.At-1 {
			anchor += "-from-" + strconv.Itoa(b.From+1)
		}
		g := &stepGroup{Anchor: anchor, Before: v.Runs[b.From], After: v.Runs[b.At], Cells: rows}
		for _, c := range b.Setting {
			g.Setting = append(g.Setting, settingRow{c.Path, jsonText(c.A), jsonText(c.B)})
		}
		v.Steps = append(v.Steps, g)
	}
}

// draw draws each experiment's chart, in parallel: for each model (and
// runtime), the geometric mean over its cells of each cell's median over
// that cell's median across the runs, per run.
func (v *historyView) draw(rts *runtimeSet) {
	settings := v.settingMarks()
	var wg sync.WaitGroup
	base := strings.TrimSuffix(strings.TrimPrefix(v.File, "history/"), ".html")
	for i, x := range v.Experiments {
		file := fmt.Sprintf("img/%s-%d-%s.svg", base, i+1, slug(x.Name))
		wg.Go(func() { x.draw(v.H, rts, file, settings) })
	}
	wg.Wait()
	for _, x := range v.Experiments {
		if x.Chart != nil {
			v.charts = append(v.charts, x.Chart)
		}
	}
}

// settingMarks mark the runs whose Go or runtimes differ from the run
// before's (a commit changes too often to mark), labelled with the new
// versions.
func (v *historyView) settingMarks() []plots.Mark {
	var out []plots.Mark
	runs := v.H.Runs
	for i := 1; i < len(runs); i++ {
		var what []string
		if runs[i].Go != runs[i-1].Go {
			what = append(what, orDash(runs[i].Go))
		}
		for _, rt := range runs[i].Runtimes {
			if !slices.Contains(runs[i-1].Runtimes, rt) {
				what = append(what, rt)
			}
		}
		if len(what) == 0 && !slices.Equal(runs[i].Runtimes, runs[i-1].Runtimes) {
			what = append(what, "runtimes")
		}
		if len(what) > 0 {
			mid := float64(runs[i-1].Started.Unix()+runs[i].Started.Unix()) / 2
			out = append(out, plots.Mark{X: mid, Label: cut(strings.Join(what, ", "), 32), Setting: true})
		}
	}
	return out
}

func (x *historyExp) draw(h *history.History, rts *runtimeSet, file string, settings []plots.Mark) {
	n := len(h.Runs)
	at := func(i int) float64 { return float64(h.Runs[i].Started.Unix()) }
	var series []plots.Series
	for _, k := range x.keys {
		sum := make([]float64, n)
		cnt := make([]int, n)
		for _, s := range x.series {
			if historyKey(s) != k || len(s.Points) == 0 {
				continue
			}
			ref := usual(s.Points)
			if !(ref > 0) {
				continue
			}
			for _, p := range s.Points {
				sum[p.Run] += math.Log(p.Median / ref)
				cnt[p.Run]++
			}
		}
		ps := plots.Series{Model: k.Model, Label: k.Label(), Shape: rts.shape(k.Runtime)}
		for i := range n {
			if cnt[i] > 0 {
				y := math.Exp(sum[i] / float64(cnt[i]))
				ps.Points = append(ps.Points, plots.Point{X: at(i), Y: y, Lo: y, Hi: y})
			}
		}
		if len(ps.Points) > 0 {
			series = append(series, ps)
		}
	}
	marks := slices.Clone(settings)
	var ats []int
	for _, s := range x.series {
		for _, st := range s.Steps {
			if !slices.Contains(ats, st.At) && st.At > 0 && st.At < n {
				ats = append(ats, st.At)
			}
		}
	}
	slices.Sort(ats)
	for _, a := range ats {
		mid := (at(a-1) + at(a)) / 2
		marks = append(marks, plots.Mark{X: mid, Label: "run " + strconv.Itoa(a+1)})
	}
	title := x.Name + ": level by model over the runs"
	svg, err := plots.History(title, "median / the cell's usual median", series, marks)
	if err != nil {
		x.ChartProblem = "chart not drawn: " + err.Error()
		return
	}
	x.Chart = &Chart{File: file, Title: title,
		Alt: "Each model's relative level in experiment " + x.Name + " per run, against the run's start time, one line per model and runtime, with dashed vertical lines where steps were found",
		svg: svg}
}

// usual is a cell's usual level: the median of its medians over the runs.
func usual(ps []history.Point) float64 {
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = p.Median
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Shown is the number of runs the page shows.
func (v *historyView) Shown() int {
	if v.H == nil {
		return 0
	}
	return len(v.H.Runs)
}

// Span is the dates the runs shown cover, "2026-11-25 – 2026-12-03".
func (v *historyView) Span() string {
	if v.H == nil || len(v.H.Runs) == 0 {
		return ""
	}
	f := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	a, b := f(v.H.Runs[0].Started), f(v.H.Runs[len(v.H.Runs)-1].Started)
	if a == b {
		return a
	}
	return a + " – " + b
}

// indexPage is what the index gets beside the site: each machine's
// history, for its link.
type indexPage struct {
	Histories map[*Machine]*historyView
}
