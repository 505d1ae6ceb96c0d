package report

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// Headline is a machine's version of the article's table: primes, 2
// workers, every worker over the whole range.
type Headline struct {
	Run        *Run
	Experiment *Experiment
	Cols       []HeadCol
}

// HeadCol is one model's column of the headline table.
type HeadCol struct {
	Model   string
	Cell    *rundir.Cell
	Median  string
	CI      string
	Ratio   string // time / process time, with its CI
	Article string // the article's CPython figure, for process, thread, loop
}

// articleSeconds are the article's CPython times (i7-8700K), by the model
// that stands for each.
var articleSeconds = map[string]string{"process": "23.87 s", "thread-gil": "45.24 s (threads)", "loop": "44.77 s (asyncio)"}

// Advice is one statement of the decision guide with its evidence.
type Advice struct {
	Text     string
	Evidence string // site path of the page that shows the cells
	Label    string
}

// candidateRuns orders a machine's complete runs as the claims do: full runs
// newest first, then smoke runs.
func candidateRuns(m *Machine) []*Run {
	var out []*Run
	for _, r := range m.Runs {
		if r.Dir.Run.Complete && !r.Dir.Run.Options.Smoke {
			out = append(out, r)
		}
	}
	for _, r := range m.Runs {
		if r.Dir.Run.Complete && r.Dir.Run.Options.Smoke {
			out = append(out, r)
		}
	}
	return out
}

// findCells returns the ok cells of the first experiment (preferred ones
// first) whose cells match keep, with that experiment.
func findCells(r *Run, prefer []string, keep func(*rundir.Cell) bool, unit string) (*Experiment, []*rundir.Cell) {
	exps := slices.Clone(r.Experiments)
	sort.SliceStable(exps, func(i, j int) bool {
		ri, rj := slices.Index(prefer, exps[i].Name), slices.Index(prefer, exps[j].Name)
		if ri < 0 {
			ri = len(prefer)
		}
		if rj < 0 {
			rj = len(prefer)
		}
		return ri < rj
	})
	for _, x := range exps {
		var got []*rundir.Cell
		for _, c := range okCells(x.Cells, unit) {
			if keep(c) && len(c.Metrics[unit].Samples) >= 2 {
				got = append(got, c)
			}
		}
		if len(got) > 0 {
			return x, got
		}
	}
	return nil, nil
}

func isArticleCell(c *rundir.Cell) bool {
	return c.Workload == "primes" && c.Params["split"] == "replicate" && c.Params["workers"] == "2"
}

// headline builds the article's table from the newest run that has it.
func headline(m *Machine) *Headline {
	for _, r := range candidateRuns(m) {
		x, cells := findCells(r, []string{"article", "scaling"}, isArticleCell, "sec/op")
		if x == nil {
			continue
		}
		h := &Headline{Run: r, Experiment: x}
		var base *rundir.Cell
		for _, c := range cells {
			if c.Model == "process" {
				base = c
			}
		}
		models, per := byModel(cells)
		for _, mod := range models {
			c := per[mod][0]
			p, hasCI := medianOf(c, "sec/op")
			col := HeadCol{Model: mod, Cell: c, Median: fmtUnit("sec/op", p.Y), CI: "no CI (< 6 samples)", Article: articleSeconds[mod]}
			if hasCI {
				col.CI = "[" + fmtUnit("sec/op", p.Lo) + ", " + fmtUnit("sec/op", p.Hi) + "]"
			}
			if base != nil {
				if rt, err := stats.RatioCI(base.Metrics["sec/op"].Samples, c.Metrics["sec/op"].Samples, stats.Confidence, claims.Resamples, claims.Seed); err == nil {
					col.Ratio = fmt.Sprintf("%s× [%s, %s]", fmtNum(rt.Point), fmtNum(rt.Lo), fmtNum(rt.Hi))
				}
			}
			h.Cols = append(h.Cols, col)
		}
		return h
	}
	return nil
}

// ranked is a cell compared with the best of its group.
type ranked struct {
	cell  *rundir.Cell
	ratio stats.Ratio // how many times worse than the best (≥ 1 at the point)
}

// rank orders cells by the median of unit (lower is better unless
// higherBetter) and gives each its ratio to the best: for times
// median(c)/median(best), for throughputs median(best)/median(c).
func rank(cells []*rundir.Cell, unit string, higherBetter bool) []ranked {
	cs := slices.Clone(cells)
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i].Metrics[unit].Stats.Median, cs[j].Metrics[unit].Stats.Median
		if higherBetter {
			return a > b
		}
		return a < b
	})
	var out []ranked
	for _, c := range cs {
		var r stats.Ratio
		var err error
		if higherBetter {
			r, err = stats.RatioCI(c.Metrics[unit].Samples, cs[0].Metrics[unit].Samples, stats.Confidence, claims.Resamples, claims.Seed)
		} else {
			r, err = stats.RatioCI(cs[0].Metrics[unit].Samples, c.Metrics[unit].Samples, stats.Confidence, claims.Resamples, claims.Seed)
		}
		if err != nil {
			continue
		}
		out = append(out, ranked{c, r})
	}
	return out
}

// Tolerance is how much worse than the best a model may be and still be
// recommended with it: its ratio's CI must reach below 1 + Tolerance.
const Tolerance = 0.05

// advise writes one statement: the models to use (the best and those whose
// ratio's CI reaches within Tolerance of it) and how much worse the others
// are.
func advise(what string, rs []ranked, unit string, higherBetter bool, extra func(*rundir.Cell) string) string {
	var use, others []string
	for _, r := range rs {
		if r.ratio.Lo <= 1+Tolerance {
			use = append(use, r.cell.Model)
			continue
		}
		word := "as long"
		if higherBetter {
			word = "less throughput"
			others = append(others, fmt.Sprintf("%s has %s× %s [95%% CI %s, %s]", r.cell.Model, fmtNum(r.ratio.Point), word, fmtNum(r.ratio.Lo), fmtNum(r.ratio.Hi)))
			continue
		}
		others = append(others, fmt.Sprintf("%s takes %s× %s [95%% CI %s, %s]", r.cell.Model, fmtNum(r.ratio.Point), word, fmtNum(r.ratio.Lo), fmtNum(r.ratio.Hi)))
	}
	best := rs[0].cell
	s := fmt.Sprintf("On this machine, for %s use %s: the best, %s, %s %s",
		what, orList(use), best.Model, map[bool]string{false: "takes", true: "moves"}[higherBetter], fmtUnit(unit, best.Metrics[unit].Stats.Median))
	if extra != nil {
		s += extra(best)
	}
	if len(use) > 1 {
		s += fmt.Sprintf("; %s are within %.0f%% of it or not distinguishable from it", strings.Join(use[1:], " and "), 100*Tolerance)
	}
	if len(others) > 0 {
		s += "; " + strings.Join(others, "; ")
	}
	return s + "."
}

func orList(xs []string) string {
	switch len(xs) {
	case 0:
		return "nothing"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// guide computes the decision guide from a machine's newest run that has
// each kind of cell.
func guide(m *Machine) []Advice {
	var out []Advice
	for _, r := range candidateRuns(m) {
		if x, cells := findCells(r, []string{"article", "scaling"}, isArticleCell, "sec/op"); x != nil && len(cells) > 1 {
			rs := rank(cells, "sec/op", false)
			if len(rs) > 0 {
				out = append(out, Advice{
					Text:     advise(fmt.Sprintf("CPU-bound work (primes up to %s, 2 workers)", cells[0].Params["n"]), rs, "sec/op", false, nil),
					Evidence: r.Path + "/" + x.File, Label: x.Name + " in run " + r.ID(),
				})
			}
			break
		}
	}
	for _, r := range candidateRuns(m) {
		cells := sleepAtMost(r)
		if len(cells) > 1 {
			rs := rank(cells, "sec/op", false)
			if len(rs) > 0 {
				mem := func(c *rundir.Cell) string {
					if _, ok := c.Metrics["peak-rss-B"]; !ok {
						return ""
					}
					var parts []string
					for _, r := range rs {
						if m, ok := r.cell.Metrics["peak-rss-B"]; ok {
							parts = append(parts, r.cell.Model+" "+fmtUnit("peak-rss-B", m.Stats.Median))
						}
					}
					return " (peak RSS: " + strings.Join(parts, ", ") + ")"
				}
				c0 := cells[0]
				out = append(out, Advice{
					Text:     advise(fmt.Sprintf("many slow waits (%s tasks waiting %s ms each)", c0.Params["tasks"], c0.Params["sleep_ms"]), rs, "sec/op", false, mem),
					Evidence: r.Path + "/" + expFile(r, c0.Experiment), Label: c0.Experiment + " in run " + r.ID(),
				})
			}
			break
		}
	}
	for _, r := range candidateRuns(m) {
		cells := largestPayload(r)
		if len(cells) > 1 {
			rs := rank(cells, "B/s", true)
			if len(rs) > 0 {
				c0 := cells[0]
				out = append(out, Advice{
					Text:     advise(fmt.Sprintf("moving large messages between stages (%s-byte payloads)", c0.Params["payload_bytes"]), rs, "B/s", true, nil),
					Evidence: r.Path + "/" + expFile(r, c0.Experiment), Label: c0.Experiment + " in run " + r.ID(),
				})
			}
			break
		}
	}
	return out
}

func expFile(r *Run, name string) string {
	for _, x := range r.Experiments {
		if x.Name == name {
			return x.File
		}
	}
	return "index.html"
}

// sleepAtMost returns the sleep cells (all tasks at once) at the largest
// tasks value at least two models reached, one per model.
func sleepAtMost(r *Run) []*rundir.Cell {
	byTasks := map[int][]*rundir.Cell{}
	for _, x := range r.Experiments {
		for _, c := range okCells(x.Cells, "sec/op") {
			if c.Workload != "sleep" || c.Params["workers"] != "0" || len(c.Metrics["sec/op"].Samples) < 2 {
				continue
			}
			t, err := strconv.Atoi(c.Params["tasks"])
			if err != nil || slices.ContainsFunc(byTasks[t], func(o *rundir.Cell) bool { return o.Model == c.Model }) {
				continue
			}
			byTasks[t] = append(byTasks[t], c)
		}
	}
	best := -1
	for t, cs := range byTasks {
		if len(cs) > 1 && t > best {
			best = t
		}
	}
	return byTasks[best]
}

// largestPayload returns the pipeline cells at the largest payload at least
// two models have, one per model.
func largestPayload(r *Run) []*rundir.Cell {
	byBytes := map[int][]*rundir.Cell{}
	for _, x := range r.Experiments {
		for _, c := range okCells(x.Cells, "B/s") {
			if c.Workload != "pipeline" || len(c.Metrics["B/s"].Samples) < 2 {
				continue
			}
			b, err := strconv.Atoi(c.Params["payload_bytes"])
			if err != nil || slices.ContainsFunc(byBytes[b], func(o *rundir.Cell) bool { return o.Model == c.Model }) {
				continue
			}
			byBytes[b] = append(byBytes[b], c)
		}
	}
	best := -1
	for b, cs := range byBytes {
		if len(cs) > 1 && b > best {
			best = b
		}
	}
	return byBytes[best]
}
