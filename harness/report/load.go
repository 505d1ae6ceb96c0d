// Package report builds the lab's static site from the run directories under
// a results root (results/<hardware>/<run-id>/): an index with a headline
// table and a decision guide per machine, a page per run and per experiment
// with SVG charts, the article's claims judged per machine, and a
// methodology page with the raw files copied next to it.
//
// A cell is a model in a runtime: the lab's Go models, or a reference
// runtime (CPython, native C). Pages and charts group cells by runtime and
// model, never by model alone; the index sets the runtimes side by side on
// the article's cells and calibrates the emulated GIL against CPython's, on
// the article's cells and on the convoy (convoy.go). The claims page and
// each machine's section of the index open with a forest plot of every
// claim's verdict (forest.go).
//
// The site is plain files — html/template pages, an embedded stylesheet,
// gonum/plot SVGs — readable without a server, without JavaScript and
// without the network. Everything read from results is data and is escaped;
// a run directory that cannot be read (corrupt, unknown schema) is listed as
// refused, with the message naming its file, and the other runs are built.
package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/rundir"
)

// Site is everything the pages show.
type Site struct {
	Machines []*Machine
	Runs     []*Run // every readable run, by machine then newest first
	Refused  []Refusal
	// Options are the judging options of every page: the claims, the
	// decision guide, the article's table and the compare page take their
	// seed, resamples, margins, CV threshold and correction from here, and
	// the pages print them.
	Options claims.Options
}

// Refusal is a run directory that could not be read.
type Refusal struct {
	Path string
	Err  string
}

// Machine is one hardware id and its runs.
type Machine struct {
	ID       string
	Runs     []*Run // newest first
	Headline *Headline
	// Reference is the article's table across runtimes and Calibration
	// the emulated GIL against CPython's (nil when no run has the cells).
	Reference   *Reference
	Calibration *Calibration
	// Latest is the run whose runtimes the machine's section lists: the
	// one the compare page takes (claims.Latest).
	Latest *Run
	Guide  []Advice
	Claims []claims.Result
	// Forest is the claims at a glance on this machine, which opens its
	// section of the index (forest.go).
	Forest *Chart
	// Convoy is the GIL's convoy, the emulation beside CPython (nil when
	// no run has the convoy experiment's cells).
	Convoy *Convoy
}

// dirs are the machine's run directories, newest first.
func (m *Machine) dirs() []*rundir.Dir {
	var out []*rundir.Dir
	for _, r := range m.Runs {
		out = append(out, r.Dir)
	}
	return out
}

// judged are the runs the machine's verdicts, guide, comparisons and
// history choose from, newest first (claims.Judged).
func (m *Machine) judged() []*rundir.Dir { return claims.Judged(m.dirs()) }

// run is the machine's Run of d.
func (m *Machine) run(d *rundir.Dir) *Run {
	for _, r := range m.Runs {
		if r.Dir == d {
			return r
		}
	}
	return nil
}

// Run is one readable run directory and where it goes in the site.
type Run struct {
	Dir         *rundir.Dir
	Machine     string
	Path        string // site path of the run's folder, "runs/<hw>/<run>"
	Experiments []*Experiment
	Matrix      bool // the matrix text was copied as experiments.toml
	// Runtimes lists what ran the run's cells: Go, then each runtime of
	// run.json, with why it was absent and how to get it.
	Runtimes []RuntimeView
	rts      *runtimeSet
}

// ID is the run id (the directory name when run.json has none).
func (r *Run) ID() string {
	if r.Dir.Run.ID != "" {
		return r.Dir.Run.ID
	}
	return filepath.Base(r.Dir.Path)
}

// experiment is the run's experiment of that name (nil if none).
func (r *Run) experiment(name string) *Experiment {
	for _, x := range r.Experiments {
		if x.Name == name {
			return x
		}
	}
	return nil
}

// Experiment is one experiment of one run.
type Experiment struct {
	Name        string
	Description string
	Workload    string
	File        string // page file name inside the run's folder
	Cells       []*rundir.Cell
	Varying     []string // parameters (other than model) that take more than one value
	Fixed       []string // "k=v" of the parameters that do not vary
	Charts      []Chart
	Flags       []string
	// Skipped says which cells were not run and why, one line per
	// reason: a runtime absent from the machine is not a failure.
	Skipped []string
	Rows    []cellRow
	// Shapes is the chart key of the runtimes other than Go present.
	Shapes []ShapeKey
	rts    *runtimeSet
}

// ShapeKey says how a runtime's cells are drawn.
type ShapeKey struct{ Runtime, Shape string }

// Chart is one SVG of an experiment.
type Chart struct {
	File  string // inside the run's folder
	Title string
	Alt   string
	// Problem says why the chart was not drawn ("" when it was).
	Problem string
	svg     []byte
}

// Load reads every run directory two levels below root. Unreadable runs
// are refused (returned in Site.Refused), not fatal; a root that cannot be
// listed is an error.
func Load(root string) (*Site, error) {
	hws, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("report: results: %w", err)
	}
	s := &Site{Options: claims.DefaultOptions}
	usedHW := map[string]bool{}
	for _, h := range hws {
		if !h.IsDir() || strings.HasPrefix(h.Name(), ".") {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(root, h.Name()))
		if err != nil {
			s.Refused = append(s.Refused, Refusal{filepath.Join(root, h.Name()), err.Error()})
			continue
		}
		m := &Machine{ID: h.Name()}
		hwSlug := unique(slug(h.Name()), usedHW)
		usedRun := map[string]bool{}
		for _, e := range runs {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			path := filepath.Join(root, h.Name(), e.Name())
			d, err := rundir.Read(path)
			if err != nil {
				s.Refused = append(s.Refused, Refusal{path, err.Error()})
				continue
			}
			r := &Run{Dir: d, Machine: m.ID, Path: "runs/" + hwSlug + "/" + unique(slug(e.Name()), usedRun), rts: runtimesOf(d)}
			r.Experiments = experiments(d, r.rts)
			r.Runtimes = runtimeViews(d, r.rts)
			m.Runs = append(m.Runs, r)
		}
		if len(m.Runs) == 0 {
			continue
		}
		newest := claims.Newest(m.dirs())
		sort.SliceStable(m.Runs, func(i, j int) bool {
			return slices.Index(newest, m.Runs[i].Dir) < slices.Index(newest, m.Runs[j].Dir)
		})
		s.Machines = append(s.Machines, m)
		s.Runs = append(s.Runs, m.Runs...)
	}
	return s, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// slug makes a name from results safe as one path segment of a URL and a
// file name: other bytes become "_", and it never starts with a dot.
func slug(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if s == "" || s[0] == '.' || s[0] == '-' {
		s = "_" + s
	}
	return s
}

// unique returns s, or s with a number, not yet in used, and records it.
func unique(s string, used map[string]bool) string {
	out := s
	for i := 2; used[out]; i++ {
		out = s + "-" + strconv.Itoa(i)
	}
	used[out] = true
	return out
}

// pct is a fraction as a percentage, "5%".
func pct(f float64) string { return strconv.FormatFloat(100*f, 'g', 4, 64) + "%" }

// modelOrder is the order models appear in tables and legends.
var modelOrder = []string{"process", "thread", "thread-gil", "loop", "goroutine"}

func modelRank(m string) int {
	if i := slices.Index(modelOrder, m); i >= 0 {
		return i
	}
	return len(modelOrder)
}

// experiments groups a run's cells by experiment, in the summary's order;
// within one, cells go by runtime (rts's order) and then by model.
func experiments(d *rundir.Dir, rts *runtimeSet) []*Experiment {
	desc := map[string]string{}
	if m, err := matrix.Parse(d.Run.Matrix.File, []byte(d.Run.Matrix.Text)); err == nil {
		for _, x := range m.Experiments {
			desc[x.Name] = x.Description
		}
	}
	var out []*Experiment
	byName := map[string]*Experiment{}
	used := map[string]bool{"index": true}
	for i := range d.Summary.Cells {
		c := &d.Summary.Cells[i]
		x := byName[c.Experiment]
		if x == nil {
			x = &Experiment{Name: c.Experiment, Description: desc[c.Experiment], Workload: c.Workload, rts: rts}
			x.File = unique(slug(c.Experiment), used) + ".html"
			byName[c.Experiment] = x
			out = append(out, x)
		}
		x.Cells = append(x.Cells, c)
	}
	for _, x := range out {
		sort.SliceStable(x.Cells, func(i, j int) bool { return rts.less(keyOf(x.Cells[i]), keyOf(x.Cells[j])) })
		x.Varying, x.Fixed = varying(x.Cells)
		x.Shapes = rts.shapeKeys(x.Cells)
	}
	return out
}

// varying splits the parameters of cells into those that take more than
// one value and "k=v" of those that do not, in the order of the cell names.
func varying(cells []*rundir.Cell) (vary, fixed []string) {
	vals := map[string]map[string]bool{}
	var keys []string
	for _, c := range cells {
		for _, k := range paramOrder(c) {
			if vals[k] == nil {
				vals[k] = map[string]bool{}
				keys = append(keys, k)
			}
			vals[k][c.Params[k]] = true
		}
	}
	for _, k := range keys {
		if len(vals[k]) > 1 {
			vary = append(vary, k)
		} else {
			for v := range vals[k] {
				fixed = append(fixed, k+"="+v)
			}
		}
	}
	return vary, fixed
}

// paramOrder lists a cell's parameters in the order its name gives them
// (the matrix's order), then any others sorted.
func paramOrder(c *rundir.Cell) []string {
	var keys []string
	for _, part := range strings.Split(c.Name, "/") {
		if k, _, ok := strings.Cut(part, "="); ok && k != "model" {
			if _, in := c.Params[k]; in && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	var rest []string
	for k := range c.Params {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// combo is the label of a cell's varying parameters, "workers=2, split=x".
func combo(c *rundir.Cell, keys []string) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+c.Params[k])
	}
	return strings.Join(parts, ", ")
}

// flags lists what a reader should know about an experiment's cells; a time
// is noisy when its CV is above highCV. Skipped cells are not flagged: see
// skipped.
func flags(x *Experiment, highCV float64) []string {
	var out []string
	for _, c := range x.Cells {
		if c.Status == rundir.Skipped {
			continue
		}
		if c.Status != rundir.OK {
			msg := fmt.Sprintf("%s: %s", c.Name, c.Status)
			if c.Error != "" {
				msg += ": " + c.Error
			}
			out = append(out, msg)
			continue
		}
		m, ok := c.Metrics["sec/op"]
		if !ok {
			out = append(out, c.Name+": no sec/op samples")
			continue
		}
		if m.Stats.CV > highCV {
			out = append(out, fmt.Sprintf("%s: time varies, CV %.1f%% > %s", c.Name, 100*m.Stats.CV, pct(highCV)))
		}
		for _, o := range m.Stats.Outliers {
			out = append(out, fmt.Sprintf("%s: sample %d (%s) is an outlier, %s (Tukey's fences); kept", c.Name, o.Index+1, fmtUnit("sec/op", o.Value), o.Kind))
		}
		if m.Stats.CILo == nil {
			out = append(out, fmt.Sprintf("%s: %d samples, too few for a 95%% CI of the median", c.Name, m.Stats.N))
		}
	}
	return out
}

// Has says whether some cell of the experiment has samples of unit: the
// experiment page shows a column only for the units its cells report.
func (x *Experiment) Has(unit string) bool { return hasUnit(x.Cells, unit) }

// SkippedCells counts the experiment's skipped cells.
func (x *Experiment) SkippedCells() int { return x.countStatus(rundir.Skipped) }

// countStatus counts the experiment's cells with status s.
func (x *Experiment) countStatus(s string) int {
	n := 0
	for _, c := range x.Cells {
		if c.Status == s {
			n++
		}
	}
	return n
}

// skipped lists an experiment's skipped cells, one line per reason ("skipped:
// <reason> — <cells>"): a runtime absent from the machine skips all its
// cells for one reason, which is said once.
func skipped(x *Experiment) []string {
	var reasons []string
	cells := map[string][]string{}
	for _, c := range x.Cells {
		if c.Status != rundir.Skipped {
			continue
		}
		why := c.Error
		if why == "" {
			why = "not run (the run stopped before it)"
		}
		if cells[why] == nil {
			reasons = append(reasons, why)
		}
		l := cellLabel(c)
		if len(x.Varying) > 0 {
			l += " " + combo(c, x.Varying)
		}
		cells[why] = append(cells[why], l)
	}
	var out []string
	for _, why := range reasons {
		out = append(out, fmt.Sprintf("skipped: %s — %s", why, strings.Join(cells[why], "; ")))
	}
	return out
}
