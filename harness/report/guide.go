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
	Ratio   string       // time / process time, with its CI
	Of      *stats.Ratio // that ratio (nil without a process cell)
	Article string       // the article's CPython figure, for process, thread, loop
}

// articleLabel says which CPython model each lab model stands for.
var articleLabel = map[string]string{"process": "", "thread-gil": " (threads)", "loop": " (asyncio)"}

// articleFigure is the article's CPython time of the model that stands for
// m, from claims.ArticleSeconds ("" for models the article did not run).
func articleFigure(m string) string {
	sec, ok := claims.ArticleSeconds[m]
	if !ok {
		return ""
	}
	return strconv.FormatFloat(sec, 'g', -1, 64) + " s" + articleLabel[m]
}

// Advice is one statement of the decision guide with its evidence.
type Advice struct {
	Text     string
	Evidence string // site path of the page that shows the cells
	Label    string
	// Figures are the ratios the statement rests on, each model's against
	// the best.
	Figures []Figure
}

// Figure is one model's ratio to the best of a decision-guide statement.
type Figure struct {
	Model string
	Ratio stats.Ratio
}

// candidateRuns orders a machine's complete runs as the claims do
// (claims.Candidates).
func (s *Site) candidateRuns(m *Machine) []*Run {
	var out []*Run
	for _, d := range claims.Candidates(m.judged()) {
		out = append(out, m.run(d))
	}
	return out
}

// headline builds the article's table from the newest run that has it: the
// cells are claims.ArticleCells and the ratios the options' (those claim 1
// and claim 3 show).
func (s *Site) headline(m *Machine) *Headline {
	for _, r := range s.candidateRuns(m) {
		exp, cells := claims.ArticleCells(r.Dir)
		if exp == "" {
			continue
		}
		h := &Headline{Run: r, Experiment: r.experiment(exp)}
		var base *rundir.Cell
		for _, c := range cells {
			if c.Model == "process" {
				base = c
			}
		}
		slices.SortStableFunc(cells, func(a, b *rundir.Cell) int { return modelRank(a.Model) - modelRank(b.Model) })
		for _, c := range cells {
			p, hasCI := medianOf(c, "sec/op")
			col := HeadCol{Model: c.Model, Cell: c, Median: fmtUnit("sec/op", p.Y), CI: "no CI (< 6 samples)", Article: articleFigure(c.Model)}
			if hasCI {
				col.CI = "[" + fmtUnit("sec/op", p.Lo) + ", " + fmtUnit("sec/op", p.Hi) + "]"
			}
			if base != nil {
				if rt, err := s.Options.Ratio(base.Metrics["sec/op"].Samples, c.Metrics["sec/op"].Samples); err == nil {
					col.Of = &rt
					col.Ratio = fmtTimes(rt)
				}
			}
			h.Cols = append(h.Cols, col)
		}
		return h
	}
	return nil
}

// fmtTimes is a ratio as "2.01× [1.98, 2.04]".
func fmtTimes(r stats.Ratio) string {
	return fmt.Sprintf("%s× [%s, %s]", fmtNum(r.Point), fmtNum(r.Lo), fmtNum(r.Hi))
}

// ranked is a cell compared with the best of its group.
type ranked struct {
	cell  *rundir.Cell
	ratio stats.Ratio // how many times worse than the best (≥ 1 at the point)
}

// rank orders cells by the median of unit (lower is better unless
// higherBetter) and gives each its ratio to the best: for times
// median(c)/median(best), for throughputs median(best)/median(c).
func rank(o claims.Options, cells []*rundir.Cell, unit string, higherBetter bool) []ranked {
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
			r, err = o.Ratio(c.Metrics[unit].Samples, cs[0].Metrics[unit].Samples)
		} else {
			r, err = o.Ratio(cs[0].Metrics[unit].Samples, c.Metrics[unit].Samples)
		}
		if err != nil {
			continue
		}
		out = append(out, ranked{c, r})
	}
	return out
}

// advise writes one statement: the models to use (the best and those whose
// ratio's CI reaches within the options' tolerance of it) and how much worse
// the others are.
func advise(o claims.Options, what string, rs []ranked, unit string, higherBetter bool, extra func(*rundir.Cell) string) string {
	var use, others []string
	for _, r := range rs {
		if r.ratio.Lo <= 1+o.Tolerance {
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
		s += fmt.Sprintf("; %s are within %.0f%% of it or not distinguishable from it", strings.Join(use[1:], " and "), 100*o.Tolerance)
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

// figures are the ratios of a ranking.
func figures(rs []ranked) []Figure {
	var out []Figure
	for _, r := range rs {
		out = append(out, Figure{r.cell.Model, r.ratio})
	}
	return out
}

// guide computes the decision guide from a machine's newest run that has
// each kind of cell, with the claims' run choice, cell lookup and options.
// It ranks the Go models only (claims.ArticleCells, sleepAtMost,
// largestPayload): the reference runtimes have their own table.
func (s *Site) guide(m *Machine) []Advice {
	o := s.Options
	var out []Advice
	for _, r := range s.candidateRuns(m) {
		if exp, cells := claims.ArticleCells(r.Dir); exp != "" && len(cells) > 1 {
			rs := rank(o, cells, "sec/op", false)
			if len(rs) > 0 {
				out = append(out, Advice{
					Text:     advise(o, fmt.Sprintf("CPU-bound work (primes up to %s, 2 workers)", cells[0].Params["n"]), rs, "sec/op", false, nil),
					Evidence: r.Path + "/" + expFile(r, exp), Label: exp + " in run " + r.ID(), Figures: figures(rs),
				})
			}
			break
		}
	}
	for _, r := range s.candidateRuns(m) {
		cells := sleepAtMost(r)
		if len(cells) > 1 {
			rs := rank(o, cells, "sec/op", false)
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
					Text:     advise(o, fmt.Sprintf("many slow waits (%s tasks waiting %s ms each)", c0.Params["tasks"], c0.Params["sleep_ms"]), rs, "sec/op", false, mem),
					Evidence: r.Path + "/" + expFile(r, c0.Experiment), Label: c0.Experiment + " in run " + r.ID(), Figures: figures(rs),
				})
			}
			break
		}
	}
	for _, r := range s.candidateRuns(m) {
		cells := largestPayload(r)
		if len(cells) > 1 {
			rs := rank(o, cells, "B/s", true)
			if len(rs) > 0 {
				c0 := cells[0]
				out = append(out, Advice{
					Text:     advise(o, fmt.Sprintf("moving large messages between stages (%s-byte payloads)", c0.Params["payload_bytes"]), rs, "B/s", true, nil),
					Evidence: r.Path + "/" + expFile(r, c0.Experiment), Label: c0.Experiment + " in run " + r.ID(), Figures: figures(rs),
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

// sleepAtMost returns Go's sleep cells (all tasks at once) at the largest
// tasks value at least two models reached, one per model. The guide is
// about the lab's Go models: another runtime's loop is another choice.
func sleepAtMost(r *Run) []*rundir.Cell {
	byTasks := map[int][]*rundir.Cell{}
	for _, x := range r.Experiments {
		for _, c := range x.Cells {
			if c.Workload != "sleep" || claims.RuntimeOf(c) != claims.GoRuntime || c.Params["workers"] != "0" || !claims.Usable(c, "sec/op") {
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

// largestPayload returns Go's pipeline cells at the largest payload at least
// two models have, one per model.
func largestPayload(r *Run) []*rundir.Cell {
	byBytes := map[int][]*rundir.Cell{}
	for _, x := range r.Experiments {
		for _, c := range x.Cells {
			if c.Workload != "pipeline" || claims.RuntimeOf(c) != claims.GoRuntime || !claims.Usable(c, "B/s") {
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
