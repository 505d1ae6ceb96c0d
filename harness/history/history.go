// Package history follows one machine's runs over time: every cell's median
// with its CI in run order, the changes between consecutive runs as lab diff
// judges them, and the runs where a cell's level changed (steps), each with
// the setting differences between the runs on either side.
//
// A step is found in two stages. First a penalised piecewise-constant fit of
// the cell's log medians (FitSteps), each weighted by its own CI and by the
// noise between runs estimated from the series (Noise), proposes the runs
// where a new level starts. Then a proposed step is kept only when the new
// level differs from the old by at least the threshold and lab diff, run on
// the two runs on either side of it, calls the cell slower or faster there
// (Mann–Whitney U, corrected over the cells, beyond the threshold). A slow
// drift is not a step, and neither is one noisy run.
package history

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/rundir"
)

// Options say which runs and cells a history holds and how steps are found.
type Options struct {
	// Smoke keeps smoke runs (left out by default: their sizes are capped,
	// so their levels are not the full runs').
	Smoke bool
	// Cell, when set, keeps only the cells whose name it matches.
	Cell *regexp.Regexp
	// Diff are lab diff's options, for the verdicts between consecutive
	// runs and at steps (its Metric and Threshold are the history's).
	Diff diff.Options
	// TauFloor is the least noise between runs assumed, as a fraction of
	// the level (0.005 = 0.5%).
	TauFloor float64
}

// DefaultOptions are lab diff's defaults and a 0.5% floor on the noise
// between runs.
var DefaultOptions = Options{Diff: diff.DefaultOptions, TauFloor: 0.005}

// Method says in words how steps are found, for the page and the CLI.
func (o Options) Method() string {
	return fmt.Sprintf("A step is a run where a cell's level changes. Proposed by a penalised piecewise-constant fit of the log medians "+
		"(each weighted by its own 95%% CI and by the noise between runs: the root mean square of the series' successive differences without the largest, at its 90%% upper bound, at least %.1f%%; "+
		"a new level costs 5 ln(runs), and every level but the newest spans at least two runs), and kept only when the level changes by at least %.0f%% and lab diff calls the cell %s or %s "+
		"between the two runs on either side (Mann–Whitney U, %s-corrected over the cells, α = %g).",
		100*o.TauFloor, 100*o.Diff.Threshold, diff.Slower, diff.Faster, o.Diff.Correction, o.Diff.Alpha)
}

// Run is one run of the history, as its x-axis labels it.
type Run struct {
	ID       string    `json:"id"`
	Path     string    `json:"path"`
	Started  time.Time `json:"started"`
	Commit   string    `json:"commit,omitempty"`
	Dirty    bool      `json:"dirty,omitempty"`
	Go       string    `json:"go"`
	Runtimes []string  `json:"runtimes,omitempty"` // "cpython 3.11.2", "native cc 12.2.0", ...
	Smoke    bool      `json:"smoke,omitempty"`

	dir *rundir.Dir
}

// Point is one cell in one run: its median and 95% CI (nil below six
// samples), in the metric's unit.
type Point struct {
	Run    int      `json:"run"` // index into History.Runs
	N      int      `json:"n"`
	Median float64  `json:"median"`
	CILo   *float64 `json:"ci_lo"`
	CIHi   *float64 `json:"ci_hi"`
}

// A Step is a run where a cell's level changed.
type Step struct {
	At     int     `json:"at"`     // index into History.Runs of the first run at the new level
	Before float64 `json:"before"` // the level before (geometric, in the metric's unit)
	After  float64 `json:"after"`
	Ratio  float64 `json:"ratio"` // After / Before
	// Diff is lab diff's comparison of the cell between runs At−1 and At.
	Diff diff.Cell `json:"diff"`
}

// Series is one cell's history.
type Series struct {
	Cell       string  `json:"cell"`
	Experiment string  `json:"experiment"`
	Model      string  `json:"model"`
	Runtime    string  `json:"runtime"`
	Points     []Point `json:"points"`
	Steps      []Step  `json:"steps"`
	// Latest is lab diff's verdict of the newest run against the one
	// before it (nil with fewer than two runs or when the cell is not in
	// both).
	Latest *diff.Cell `json:"latest"`
	// Tau is the noise between runs used for this cell, as a fraction.
	Tau float64 `json:"tau"`

	pending []pending
}

// Boundary is the pair of consecutive runs a step lies between, with their
// setting differences.
type Boundary struct {
	At      int           `json:"at"` // the later run's index
	Setting []diff.Change `json:"setting"`
}

// History is one machine's runs and cells over time.
type History struct {
	Hardware   string     `json:"hardware"`
	Metric     string     `json:"metric"`
	Method     string     `json:"method"`
	Runs       []Run      `json:"runs"`
	Cells      []Series   `json:"cells"`
	Boundaries []Boundary `json:"boundaries"` // those with a step, and the latest pair
}

// Build makes the history of the complete runs of one machine, oldest
// first. Incomplete runs are left out (their cells may be partial), and
// smoke runs unless o.Smoke.
func Build(hardware string, dirs []*rundir.Dir, o Options) (*History, error) {
	h := &History{Hardware: hardware, Metric: o.Diff.Metric, Method: o.Method()}
	newest := claims.Newest(dirs)
	for i := len(newest) - 1; i >= 0; i-- {
		d := newest[i]
		if !d.Run.Complete || d.Run.Options.Smoke && !o.Smoke {
			continue
		}
		h.Runs = append(h.Runs, runOf(d))
	}
	// Cells in the newest run's order, then any only older runs have.
	index := map[string]int{}
	for ri := len(h.Runs) - 1; ri >= 0; ri-- {
		for _, c := range h.Runs[ri].dir.Summary.Cells {
			if o.Cell != nil && !o.Cell.MatchString(c.Name) {
				continue
			}
			if _, ok := index[c.Name]; !ok {
				index[c.Name] = len(h.Cells)
				h.Cells = append(h.Cells, Series{Cell: c.Name, Experiment: c.Experiment, Model: c.Model, Runtime: c.Runtime, Points: []Point{}, Steps: []Step{}})
			}
		}
	}
	for ri, r := range h.Runs {
		for _, c := range r.dir.Summary.Cells {
			i, ok := index[c.Name]
			m := c.Metrics[o.Diff.Metric]
			if !ok || c.Status != rundir.OK || len(m.Samples) == 0 || !(m.Stats.Median > 0) {
				continue
			}
			h.Cells[i].Points = append(h.Cells[i].Points, Point{Run: ri, N: m.Stats.N, Median: m.Stats.Median, CILo: m.Stats.CILo, CIHi: m.Stats.CIHi})
		}
	}
	proposed := map[int][]int{} // boundary → cells with a proposed step there
	for i := range h.Cells {
		for _, at := range h.Cells[i].propose(o) {
			proposed[at] = append(proposed[at], i)
		}
	}
	n := len(h.Runs)
	if n >= 2 {
		if _, ok := proposed[n-1]; !ok {
			proposed[n-1] = nil // the latest pair is always compared
		}
	}
	ats := make([]int, 0, len(proposed))
	for at := range proposed {
		ats = append(ats, at)
	}
	slices.Sort(ats)
	for _, at := range ats {
		res, err := diff.Compare(h.Runs[at-1].dir, h.Runs[at].dir, o.Diff)
		if err != nil {
			return nil, fmt.Errorf("history: %s vs %s: %w", h.Runs[at-1].ID, h.Runs[at].ID, err)
		}
		byName := map[string]diff.Cell{}
		for _, c := range res.Cells {
			byName[c.Name] = c
		}
		kept := false
		for _, i := range proposed[at] {
			if h.Cells[i].keep(at, byName, o) {
				kept = true
			}
		}
		if at == n-1 {
			for i := range h.Cells {
				if c, ok := byName[h.Cells[i].Cell]; ok {
					h.Cells[i].Latest = &c
				}
			}
		}
		if kept || at == n-1 {
			h.Boundaries = append(h.Boundaries, Boundary{At: at, Setting: res.Setting})
		}
	}
	return h, nil
}

// pending holds a cell's proposed steps until the boundaries' diffs judge
// them.
type pending struct {
	at            int
	before, after float64
}

// propose fits the series and returns the run indices where the fit starts
// a new level, keeping the proposal for keep.
func (s *Series) propose(o Options) []int {
	n := len(s.Points)
	if n < 2 {
		return nil
	}
	y := make([]float64, n)
	sd := make([]float64, n)
	for i, p := range s.Points {
		y[i] = math.Log(p.Median)
		sd[i] = pointSD(p)
	}
	sigma, tau := Noise(y, sd, o.TauFloor)
	s.Tau = tau
	f := FitSteps(y, sigma, Penalty(n))
	var ats []int
	for k := 1; k < len(f.Starts); k++ {
		if math.Abs(f.Levels[k]-f.Levels[k-1]) < math.Log1p(o.Diff.Threshold) {
			continue
		}
		at := s.Points[f.Starts[k]].Run
		s.pending = append(s.pending, pending{at: at, before: math.Exp(f.Levels[k-1]), after: math.Exp(f.Levels[k])})
		ats = append(ats, at)
	}
	return ats
}

// keep turns the proposed step at boundary at into a Step when lab diff
// calls the cell slower or faster between the runs on either side, in the
// direction of the step.
func (s *Series) keep(at int, byName map[string]diff.Cell, o Options) bool {
	for _, p := range s.pending {
		if p.at != at {
			continue
		}
		c, ok := byName[s.Cell]
		changed := c.Verdict == diff.Slower || c.Verdict == diff.Faster
		// The ratio's side, not the verdict's word: for a throughput
		// metric, slower is a lower value.
		if !ok || !changed || c.Ratio == nil || (c.Ratio.Point > 1) != (p.after > p.before) {
			return false
		}
		s.Steps = append(s.Steps, Step{At: at, Before: p.before, After: p.after, Ratio: p.after / p.before, Diff: c})
		slices.SortFunc(s.Steps, func(a, b Step) int { return a.At - b.At })
		return true
	}
	return false
}

// pointSD is a point's standard error on the log scale: from its 95% CI
// when it has one, else a wide 10% (fewer than six samples say little).
func pointSD(p Point) float64 {
	if p.CILo != nil && p.CIHi != nil && *p.CILo > 0 && *p.CIHi > *p.CILo {
		return (math.Log(*p.CIHi) - math.Log(*p.CILo)) / (2 * 1.96)
	}
	return 0.1
}

func runOf(d *rundir.Dir) Run {
	r := Run{ID: claims.RunID(d), Path: d.Path, Started: d.Run.Started, Commit: d.Run.Software.Commit,
		Dirty: d.Run.Software.Dirty, Go: d.Run.Software.GoVersion, Smoke: d.Run.Options.Smoke, dir: d}
	for _, id := range d.Run.Runtimes {
		if id.Unavailable != "" {
			continue
		}
		v := strings.Fields(id.Version + " ")
		switch {
		case id.CCVersion != "":
			r.Runtimes = append(r.Runtimes, id.Runtime+" "+lastField(id.CCVersion))
		case len(v) > 0:
			r.Runtimes = append(r.Runtimes, id.Runtime+" "+v[0])
		}
	}
	return r
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
