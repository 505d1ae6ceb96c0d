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
	"cmp"
	"fmt"
	"maps"
	"math"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	// the level (0.005 = 0.5%); TauShort the noise assumed in a series too
	// short (under six runs) to estimate its own.
	TauFloor, TauShort float64
}

// DefaultOptions are lab diff's defaults, a 0.5% floor on the noise between
// runs, and 4% for short series: above the run-to-run spread of the
// article's cells over eleven runs on a 2-vCPU VM (±3%), so that a short
// series steps only on a clear change.
var DefaultOptions = Options{Diff: diff.DefaultOptions, TauFloor: 0.005, TauShort: 0.04}

// Method says in words how steps are found, for the page and the CLI.
func (o Options) Method() string {
	return fmt.Sprintf("A step is a run where a cell's level changes. Proposed by a penalised piecewise-constant fit of the log medians "+
		"(each weighted by its own 95%% CI and by the noise between runs: the root mean square of the series' successive differences without the largest fifth (at least three), "+
		"scaled for the trimming, at least %.1f%%, and %.0f%% in a series of fewer than six runs; "+
		"a new level costs 5 ln(runs); a run off on its own, which a fit allowing one-run levels isolates inside the series, is left out as a stray), and kept only when the level changes by at least %.0f%% and lab diff calls the cell %s or %s "+
		"between the cell's runs on either side (Mann–Whitney U, %s-corrected over the cells, α = %g).",
		100*o.TauFloor, 100*o.TauShort, 100*o.Diff.Threshold, diff.Slower, diff.Faster, o.Diff.Correction, o.Diff.Alpha)
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
	// From and At index History.Runs: At is the first run at the new
	// level, From the cell's run before it (At−1 unless the cell is
	// missing or failed in the runs between).
	From   int     `json:"from"`
	At     int     `json:"at"`
	Before float64 `json:"before"` // the level before (geometric, in the metric's unit)
	After  float64 `json:"after"`
	Ratio  float64 `json:"ratio"` // After / Before
	// Diff is lab diff's comparison of the cell between runs From and At.
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
	// Strays are the runs (indices) where the cell was off on its own, the
	// level the same or changed around it: left out of the step fit.
	Strays []int `json:"strays,omitempty"`

	pending []pending
}

// Boundary is a pair of runs a step lies between (consecutive unless the
// stepping cells are missing in the runs between), with their setting
// differences.
type Boundary struct {
	From    int           `json:"from"` // the earlier run's index
	At      int           `json:"at"`   // the later run's index
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
	// Empty lists, not null, in JSON when there is nothing.
	h := &History{Hardware: hardware, Metric: o.Diff.Metric, Method: o.Method(), Runs: []Run{}, Cells: []Series{}, Boundaries: []Boundary{}}
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
	proposed := map[pair][]int{} // boundary → cells with a proposed step there
	for i := range h.Cells {
		for _, pr := range h.Cells[i].propose(o) {
			proposed[pr] = append(proposed[pr], i)
		}
	}
	n := len(h.Runs)
	latest := pair{n - 2, n - 1}
	if _, ok := proposed[latest]; !ok && n >= 2 {
		proposed[latest] = nil // the latest pair is always compared
	}
	pairs := slices.SortedFunc(maps.Keys(proposed), func(a, b pair) int { return cmp.Or(a.at-b.at, a.from-b.from) })
	// Each pair's diff bootstraps every cell: spread them over the CPUs.
	results := make([]*diff.Result, len(pairs))
	errs := make([]error, len(pairs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for k, pr := range pairs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[k], errs[k] = diff.Compare(h.Runs[pr.from].dir, h.Runs[pr.at].dir, o.Diff)
		})
	}
	wg.Wait()
	for k, pr := range pairs {
		if errs[k] != nil {
			return nil, fmt.Errorf("history: %s vs %s: %w", h.Runs[pr.from].ID, h.Runs[pr.at].ID, errs[k])
		}
		byName := map[string]diff.Cell{}
		for _, c := range results[k].Cells {
			byName[c.Name] = c
		}
		kept := false
		for _, i := range proposed[pr] {
			if h.Cells[i].keep(pr, byName) {
				kept = true
			}
		}
		if pr == latest {
			for i := range h.Cells {
				if c, ok := byName[h.Cells[i].Cell]; ok {
					h.Cells[i].Latest = &c
				}
			}
		}
		if kept || pr == latest {
			h.Boundaries = append(h.Boundaries, Boundary{From: pr.from, At: pr.at, Setting: results[k].Setting})
		}
	}
	return h, nil
}

// pair is two runs, by index: a boundary.
type pair struct{ from, at int }

// pending holds a cell's proposed steps until the boundaries' diffs judge
// them.
type pending struct {
	pair
	before, after float64
}

// propose fits the series and returns the boundaries where the fit starts a
// new level (the cell's run before it, and the first run at it), keeping
// the proposal for keep.
func (s *Series) propose(o Options) []pair {
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
	// Runs off on their own are left out of the fit (and their
	// boundaries): they are noise, not steps.
	sigma, _ := Noise(y, sd, o.TauFloor, o.TauShort)
	pts := slices.Clone(s.Points)
	if strays := Strays(y, sigma, Penalty(n)); len(strays) > 0 {
		for k := len(strays) - 1; k >= 0; k-- {
			i := strays[k]
			pts, y, sd = slices.Delete(pts, i, i+1), slices.Delete(y, i, i+1), slices.Delete(sd, i, i+1)
			s.Strays = append(s.Strays, s.Points[i].Run)
		}
		slices.Sort(s.Strays)
	}
	sigma, tau := Noise(y, sd, o.TauFloor, o.TauShort)
	s.Tau = tau
	f := FitSteps(y, sigma, Penalty(len(y)))
	var out []pair
	for k := 1; k < len(f.Starts); k++ {
		if math.Abs(f.Levels[k]-f.Levels[k-1]) < math.Log1p(o.Diff.Threshold) {
			continue
		}
		pr := pair{pts[f.Starts[k]-1].Run, pts[f.Starts[k]].Run}
		s.pending = append(s.pending, pending{pr, math.Exp(f.Levels[k-1]), math.Exp(f.Levels[k])})
		out = append(out, pr)
	}
	return out
}

// keep turns the proposed step at boundary pr into a Step when lab diff
// calls the cell slower or faster between the runs on either side, in the
// direction of the step.
func (s *Series) keep(pr pair, byName map[string]diff.Cell) bool {
	for _, p := range s.pending {
		if p.pair != pr {
			continue
		}
		c, ok := byName[s.Cell]
		changed := c.Verdict == diff.Slower || c.Verdict == diff.Faster
		// The ratio's side, not the verdict's word: for a throughput
		// metric, slower is a lower value.
		if !ok || !changed || c.Ratio == nil || (c.Ratio.Point > 1) != (p.after > p.before) {
			return false
		}
		s.Steps = append(s.Steps, Step{From: pr.from, At: pr.at, Before: p.before, After: p.after, Ratio: p.after / p.before, Diff: c})
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
