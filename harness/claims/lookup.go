package claims

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"concurrency-lab/harness/rundir"
)

// This file is the one place that chooses runs and finds cells: the claims,
// the decision guide, the article's table and the compare page all use it.

// RunID is a run's id, or its directory's name when run.json has none.
func RunID(d *rundir.Dir) string {
	if d.Run.ID != "" {
		return d.Run.ID
	}
	return filepath.Base(d.Path)
}

// Judged are the runs of one machine that its verdicts, guide, comparisons
// and history choose from, in the order given: every run but the each-node
// ones (lab fleet submit --each-node), which are one node's view of the
// class and are compared on their own, unless the machine has no other
// complete run.
func Judged(runs []*rundir.Dir) []*rundir.Dir {
	eachNode := func(d *rundir.Dir) bool { return d.Run.Fleet != nil && d.Run.Fleet.EachNode }
	full := func(ds []*rundir.Dir) bool {
		return slices.ContainsFunc(ds, func(d *rundir.Dir) bool { return d.Run.Complete && !d.Run.Options.Smoke })
	}
	whole := slices.DeleteFunc(slices.Clone(runs), eachNode)
	nodes := slices.DeleteFunc(slices.Clone(runs), func(d *rundir.Dir) bool { return !eachNode(d) })
	// The others, unless the each-node runs are all there is, or the only
	// complete full-size runs.
	if full(whole) || len(Candidates(whole)) > 0 && !full(nodes) {
		return whole
	}
	return runs
}

// Newest orders runs newest first: later start first, then the larger id.
func Newest(runs []*rundir.Dir) []*rundir.Dir {
	out := slices.Clone(runs)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Run.Started, out[j].Run.Started
		if !a.Equal(b) {
			return a.After(b)
		}
		return RunID(out[i]) > RunID(out[j])
	})
	return out
}

// Candidates orders the complete runs of one machine as every page judges
// them: full runs newest first, then smoke runs newest first. Incomplete
// runs are left out.
func Candidates(runs []*rundir.Dir) []*rundir.Dir {
	var full, smoke []*rundir.Dir
	for _, d := range Newest(runs) {
		switch {
		case !d.Run.Complete:
		case d.Run.Options.Smoke:
			smoke = append(smoke, d)
		default:
			full = append(full, d)
		}
	}
	return append(full, smoke...)
}

// Latest picks one machine's run to compare with another's: its newest
// complete full run, else its newest complete smoke run, else its newest
// run; why says which fallback was taken ("" for none). It returns nil for
// no runs.
func Latest(runs []*rundir.Dir) (d *rundir.Dir, why string) {
	if c := Candidates(runs); len(c) > 0 {
		if c[0].Run.Options.Smoke {
			return c[0], "no complete full-size run: this is the newest complete smoke run (sizes capped, not a measurement)"
		}
		return c[0], ""
	}
	if len(runs) == 0 {
		return nil, "no run"
	}
	return Newest(runs)[0], "no complete run: this is the newest run, incomplete"
}

// Usable reports whether a cell can be judged on unit: status ok and at
// least 2 samples of it (the fewest a ratio's interval needs).
func Usable(c *rundir.Cell, unit string) bool {
	return c.Status == rundir.OK && len(c.Metrics[unit].Samples) >= 2
}

// experimentOrder lists a run's experiments, those in prefer first (in its
// order), the others in the summary's order.
func experimentOrder(d *rundir.Dir, prefer []string) []string {
	var exps []string
	for _, c := range d.Summary.Cells {
		if !slices.Contains(exps, c.Experiment) {
			exps = append(exps, c.Experiment)
		}
	}
	sort.SliceStable(exps, func(i, j int) bool { return rank(prefer, exps[i]) < rank(prefer, exps[j]) })
	return exps
}

func rank(prefer []string, e string) int {
	if i := slices.Index(prefer, e); i >= 0 {
		return i
	}
	return len(prefer)
}

// Find returns the usable cells (on unit) that keep accepts, from the first
// experiment (preferred ones first) that has any, with that experiment.
func Find(d *rundir.Dir, prefer []string, unit string, keep func(*rundir.Cell) bool) (string, []*rundir.Cell) {
	for _, e := range experimentOrder(d, prefer) {
		var got []*rundir.Cell
		for i := range d.Summary.Cells {
			c := &d.Summary.Cells[i]
			if c.Experiment == e && Usable(c, unit) && keep(c) {
				got = append(got, c)
			}
		}
		if len(got) > 0 {
			return e, got
		}
	}
	return "", nil
}

// IsArticleCell says whether c is one of the article's table: primes, every
// worker over the whole range (split=replicate), 2 workers.
func IsArticleCell(c *rundir.Cell) bool {
	return c.Workload == "primes" && c.Params["split"] == "replicate" && c.Params["workers"] == "2"
}

// ArticlePrefer is the order experiments are searched for the article's
// cells.
var ArticlePrefer = []string{"article", "scaling"}

// ArticleCells returns the article's table on run d for the Go models: the
// usable article cells (sec/op) of the first experiment that has them,
// article before scaling, one per model (the first), with that experiment.
// Claims 1–3, the article's table and the decision guide's CPU-bound advice
// all read them from here.
func ArticleCells(d *rundir.Dir) (string, []*rundir.Cell) { return ArticleCellsIn(d, GoRuntime) }

// GoRuntime is the lab's own runtime's name.
const GoRuntime = "go"

// RuntimeOf is a cell's runtime, "go" for cells that name none.
func RuntimeOf(c *rundir.Cell) string {
	if c.Runtime == "" {
		return GoRuntime
	}
	return c.Runtime
}

// ArticleCellsIn is ArticleCells for the cells of one runtime.
func ArticleCellsIn(d *rundir.Dir, runtime string) (string, []*rundir.Cell) {
	e, cells := Find(d, ArticlePrefer, "sec/op", func(c *rundir.Cell) bool { return RuntimeOf(c) == runtime && IsArticleCell(c) })
	var out []*rundir.Cell
	for _, c := range cells {
		if !slices.ContainsFunc(out, func(o *rundir.Cell) bool { return o.Model == c.Model }) {
			out = append(out, c)
		}
	}
	return e, out
}

// want selects a cell: a workload, a model and parameter values, in a
// runtime ("" = go).
type want struct {
	workload string
	model    string
	params   map[string]string
	unit     string
	runtime  string
}

func (w want) String() string {
	var kv []string
	for k, v := range w.params {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	rt := ""
	if w.runtime != "" && w.runtime != GoRuntime {
		rt = "runtime=" + w.runtime + ", "
	}
	return fmt.Sprintf("%s, %smodel=%s, %s (status ok, ≥ 2 %s samples)", w.workload, rt, w.model, strings.Join(kv, ", "), w.unit)
}

func (w want) match(c *rundir.Cell) bool {
	rt := w.runtime
	if rt == "" {
		rt = GoRuntime
	}
	if c.Workload != w.workload || c.Model != w.model || RuntimeOf(c) != rt || !Usable(c, w.unit) {
		return false
	}
	for k, v := range w.params {
		if c.Params[k] != v {
			return false
		}
	}
	return true
}

// together finds one cell per want, all in the same experiment (so that
// sizes agree), trying experiments in the order of prefer and then in the
// order of the summary. It returns the missing wants when no experiment has
// them all.
func together(d *rundir.Dir, prefer []string, ws ...want) ([]*rundir.Cell, []string) {
	for _, e := range experimentOrder(d, prefer) {
		got := make([]*rundir.Cell, len(ws))
		n := 0
		for i, w := range ws {
			for ci := range d.Summary.Cells {
				c := &d.Summary.Cells[ci]
				if c.Experiment == e && w.match(c) {
					got[i] = c
					n++
					break
				}
			}
		}
		if n == len(ws) {
			return got, nil
		}
	}
	var missing []string
	for _, w := range ws {
		missing = append(missing, w.String())
	}
	return nil, missing
}

// articleModels returns the Go article cells of the given models, in that
// order, or what is missing.
func articleModels(d *rundir.Dir, models ...string) ([]*rundir.Cell, []string) {
	return articleModelsIn(d, GoRuntime, models...)
}

// articleModelsIn is articleModels in one runtime.
func articleModelsIn(d *rundir.Dir, runtime string, models ...string) ([]*rundir.Cell, []string) {
	_, cells := ArticleCellsIn(d, runtime)
	out := make([]*rundir.Cell, len(models))
	var missing []string
	for i, m := range models {
		for _, c := range cells {
			if c.Model == m {
				out[i] = c
			}
		}
		if out[i] == nil {
			missing = append(missing, want{"primes", m, primes2, "sec/op", runtime}.String()+" in the experiment that has the article's cells (article, else scaling)")
		}
	}
	if missing != nil {
		return nil, missing
	}
	return out, nil
}
