package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// This file calibrates the emulated GIL on the GIL's best-known failure,
// the convoy (experiments/workloads/convoy): an I/O worker's short blocking
// waits, alone and beside a CPU-bound worker. Under a GIL each wait's end
// must win the lock back from the CPU-bound worker, which lets it go only
// after the switch interval, so every short operation can cost a switch
// interval. The index sets the slowdown of thread-gil (the emulation)
// beside that of CPython's own threads, with Go's threads, processes, loop
// and goroutines for contrast.

// convoyOrder is how far apart two slowdowns may be and still be "of the
// same order": a factor of 3 either way.
const convoyOrder = 3.0

// Convoy is a machine's convoy calibration, from one run.
type Convoy struct {
	Run     *Run
	Rows    []ConvoyRow
	Compare []ConvoyCompare // thread-gil's slowdown against each CPython runtime's threads'
	Summary string          // what the table shows, in a sentence
	Missing []string
	Order   string // convoyOrder in words, "×1/3 to ×3"
}

// ConvoyRow is one model of one runtime, its I/O worker alone and beside
// CPU-bound workers, with the same other parameters.
type ConvoyRow struct {
	Runtime, Model string
	Label          string // "thread-gil", "thread (cpython)"
	Role           string // "the emulated GIL", "CPython's GIL", "contrast"
	Params         string // the parameters both cells share, and the beside cell's cpu_workers
	Alone, Beside  string // median times with CIs
	AloneHref      string
	BesideHref     string
	// Slowdown is time(beside) / time(alone), with its CI.
	Slowdown     stats.Ratio
	SlowdownText string
	// P50Alone and P50Beside are the medians of the per-operation p50
	// latency; P50Ratio beside / alone with its CI ("—" without samples).
	P50Alone, P50Beside, P50Ratio string
	P99Beside                     string
	Chunks                        string // the CPU workers' chunks per execution beside (median)
	alone, beside                 *rundir.Cell
}

// ConvoyCompare sets thread-gil's slowdown against one CPython runtime's
// threads'.
type ConvoyCompare struct {
	Runtime  string
	Quotient stats.Ratio
	Text     string // "1.2× [0.9, 1.6]"
	Verdict  string // "of the same order", "not of the same order", "undecided"
	Class    string // the badge's: holds, fails, unsure
}

// convoyPairs finds run r's convoy pairs: for each usable cell of the
// convoy workload with cpu_workers = 0, the cells of the same experiment,
// runtime, model and other parameters with CPU-bound workers beside it.
func convoyPairs(r *Run) [][2]*rundir.Cell {
	var out [][2]*rundir.Cell
	cells := r.Dir.Summary.Cells
	others := func(c *rundir.Cell) map[string]string {
		p := maps.Clone(c.Params)
		delete(p, "cpu_workers")
		return p
	}
	for i := range cells {
		a := &cells[i]
		if a.Workload != "convoy" || a.Params["cpu_workers"] != "0" || !claims.Usable(a, "sec/op") {
			continue
		}
		for j := range cells {
			b := &cells[j]
			if b.Workload != "convoy" || b.Experiment != a.Experiment || claims.RuntimeOf(b) != claims.RuntimeOf(a) || b.Model != a.Model ||
				b.Params["cpu_workers"] == "0" || b.Params["cpu_workers"] == "" || !claims.Usable(b, "sec/op") || !maps.Equal(others(a), others(b)) {
				continue
			}
			out = append(out, [2]*rundir.Cell{a, b})
		}
	}
	return out
}

// convoyRank orders the table: the emulated GIL, then CPython's threads,
// then Go's other models, then everything else.
func convoyRank(rts *runtimeSet, rt, model string) int {
	goModels := []string{"thread-gil", "thread", "process", "loop", "goroutine"}
	switch {
	case rt == claims.GoRuntime && model == "thread-gil":
		return 0
	case rts.kind[rt] == kindCPython && model == "thread":
		return 1
	case rt == claims.GoRuntime && slices.Contains(goModels, model):
		return 1 + slices.Index(goModels, model)
	}
	return len(goModels) + 1
}

// convoyRole says what a row stands for.
func convoyRole(rts *runtimeSet, rt, model string) string {
	switch {
	case rt == claims.GoRuntime && model == "thread-gil":
		return "the emulated GIL"
	case rts.kind[rt] == kindCPython && model == "thread":
		if id, ok := rts.ids[rt]; ok && id.GILEnabled != nil && !*id.GILEnabled {
			return "CPython's threads, GIL disabled"
		}
		return "CPython's threads (its GIL)"
	case rt == claims.GoRuntime && model == "thread":
		return "threads without a GIL"
	}
	return "contrast"
}

// convoy builds the machine's convoy calibration from its newest complete
// run with a convoy pair; when none has one, what is missing from the
// newest with convoy cells; nil when no complete run has any.
func (s *Site) convoy(m *Machine) *Convoy {
	var r *Run
	var pairs [][2]*rundir.Cell
	for _, c := range s.candidateRuns(m) {
		if pairs = convoyPairs(c); len(pairs) > 0 {
			r = c
			break
		}
	}
	if r == nil {
		// Convoy cells that pair nowhere: say so rather than nothing.
		for _, c := range s.candidateRuns(m) {
			if slices.ContainsFunc(c.Dir.Summary.Cells, func(x rundir.Cell) bool { return x.Workload == "convoy" }) {
				return &Convoy{Run: c, Order: fmt.Sprintf("×1/%g to ×%g", convoyOrder, convoyOrder),
					Missing: []string{"convoy cells of one model and runtime with cpu_workers = 0 and with cpu_workers ≥ 1, the other parameters the same (status ok, at least 2 samples)"}}
			}
		}
		return nil
	}
	o := s.Options.ForRun(r.Dir)
	cv := &Convoy{Run: r, Order: fmt.Sprintf("×1/%g to ×%g", convoyOrder, convoyOrder)}
	for _, p := range pairs {
		a, b := p[0], p[1]
		rt := claims.RuntimeOf(a)
		sd, err := o.Ratio(a.Metrics["sec/op"].Samples, b.Metrics["sec/op"].Samples)
		if err != nil {
			cv.Missing = append(cv.Missing, fmt.Sprintf("%s: the slowdown of %s over %s: %v", cellLabel(a), b.Name, a.Name, err))
			continue
		}
		keys := slices.DeleteFunc(paramOrder(a), func(k string) bool { return k == "cpu_workers" || k == "start" })
		row := ConvoyRow{Runtime: rt, Model: a.Model, Label: cellLabel(a), Role: convoyRole(r.rts, rt, a.Model),
			Params: combo(a, keys) + "; beside: cpu_workers=" + b.Params["cpu_workers"],
			Alone:  medianCI(a), Beside: medianCI(b), AloneHref: cellHref(r, a), BesideHref: cellHref(r, b),
			Slowdown: sd, SlowdownText: fmtTimes(sd),
			P50Alone: metricMedian(a, "p50-sec"), P50Beside: metricMedian(b, "p50-sec"), P50Ratio: "—",
			P99Beside: metricMedian(b, "p99-sec"), Chunks: chunksOf(b),
			alone: a, beside: b}
		if claims.Usable(a, "p50-sec") && claims.Usable(b, "p50-sec") {
			if pr, err := o.Ratio(a.Metrics["p50-sec"].Samples, b.Metrics["p50-sec"].Samples); err == nil {
				row.P50Ratio = fmtTimes(pr)
			}
		}
		cv.Rows = append(cv.Rows, row)
	}
	slices.SortStableFunc(cv.Rows, func(x, y ConvoyRow) int {
		if d := convoyRank(r.rts, x.Runtime, x.Model) - convoyRank(r.rts, y.Runtime, y.Model); d != 0 {
			return d
		}
		if d := r.rts.rank(x.Runtime) - r.rts.rank(y.Runtime); d != 0 {
			return d
		}
		return modelRank(x.Model) - modelRank(y.Model)
	})

	// The emulated GIL against CPython's threads, like against like (the
	// same parameters but the runtime).
	var gil []ConvoyRow
	var cps []ConvoyRow
	for _, row := range cv.Rows {
		switch {
		case row.Runtime == claims.GoRuntime && row.Model == "thread-gil":
			gil = append(gil, row)
		case r.rts.kind[row.Runtime] == kindCPython && row.Model == "thread":
			cps = append(cps, row)
		}
	}
	if len(gil) == 0 {
		cv.Missing = append(cv.Missing, "Go's thread-gil convoy cells with cpu_workers = 0 and ≥ 1 (status ok): the emulated GIL's slowdown")
	}
	if len(cps) == 0 {
		cv.Missing = append(cv.Missing, "a CPython runtime's thread convoy cells with cpu_workers = 0 and ≥ 1 (status ok): CPython's own slowdown")
	}
	for _, cp := range cps {
		i := slices.IndexFunc(gil, func(g ConvoyRow) bool { return sameConvoy(g, cp) })
		if i < 0 {
			if len(gil) > 0 {
				cv.Missing = append(cv.Missing, fmt.Sprintf("Go's thread-gil cells with the parameters of %s's (%s)", cp.Runtime, cp.Params))
			}
			continue
		}
		g := gil[i]
		q, err := quotientCI(o, g.alone.Metrics["sec/op"].Samples, g.beside.Metrics["sec/op"].Samples,
			cp.alone.Metrics["sec/op"].Samples, cp.beside.Metrics["sec/op"].Samples)
		if err != nil {
			cv.Missing = append(cv.Missing, fmt.Sprintf("thread-gil's slowdown over %s's: %v", cp.Runtime, err))
			continue
		}
		c := ConvoyCompare{Runtime: cp.Runtime, Quotient: q, Text: fmtTimes(q)}
		switch claims.Sameness(q, 1/convoyOrder, convoyOrder) {
		case claims.Holds:
			c.Verdict, c.Class = "of the same order", "holds"
		case claims.DoesNotHold:
			c.Verdict, c.Class = "not of the same order", "fails"
		default:
			c.Verdict, c.Class = "undecided", "unsure"
		}
		cv.Compare = append(cv.Compare, c)
	}
	cv.Summary = convoySummary(cv)
	return cv
}

// sameConvoy says whether two rows compare cells of the same parameters
// (but their runtime).
func sameConvoy(a, b ConvoyRow) bool {
	pa, pb := maps.Clone(a.alone.Params), maps.Clone(b.alone.Params)
	for _, p := range []map[string]string{pa, pb} {
		delete(p, "switch_interval") // thread-gil's own
		delete(p, "start")
	}
	return maps.Equal(pa, pb) && a.beside.Params["cpu_workers"] == b.beside.Params["cpu_workers"]
}

// convoySummary says in a sentence what the table shows.
func convoySummary(cv *Convoy) string {
	find := func(rt, model string) *ConvoyRow {
		for i := range cv.Rows {
			if cv.Rows[i].Runtime == rt && cv.Rows[i].Model == model {
				return &cv.Rows[i]
			}
		}
		return nil
	}
	var parts []string
	if g := find(claims.GoRuntime, "thread-gil"); g != nil {
		parts = append(parts, "the emulated GIL slows the I/O worker by "+g.SlowdownText)
	}
	for _, c := range cv.Compare {
		if cp := find(c.Runtime, "thread"); cp != nil {
			parts = append(parts, fmt.Sprintf("%s's threads by %s (thread-gil's slowdown over it: %s, %s)", c.Runtime, cp.SlowdownText, c.Text, c.Verdict))
		}
	}
	if t := find(claims.GoRuntime, "thread"); t != nil {
		parts = append(parts, "Go's threads without a GIL by "+t.SlowdownText)
	}
	if len(parts) == 0 {
		return ""
	}
	s := "On this run " + strings.Join(parts, "; ") + "."
	if len(cv.Compare) > 0 {
		same := slices.ContainsFunc(cv.Compare, func(c ConvoyCompare) bool { return c.Class == "holds" })
		switch {
		case same:
			s += " The emulation reproduces CPython's convoy here."
		case slices.ContainsFunc(cv.Compare, func(c ConvoyCompare) bool { return c.Class == "fails" }):
			s += " The emulation does not reproduce CPython's convoy here: the slowdowns are not of the same order."
		default:
			s += " The data do not decide whether the emulation reproduces CPython's convoy here."
		}
	}
	return s
}

// metricMedian is a cell's median of unit with its CI, "—" without samples.
func metricMedian(c *rundir.Cell, unit string) string {
	m, ok := c.Metrics[unit]
	if !ok || m.Stats.N == 0 {
		return "—"
	}
	p, hasCI := medianOf(c, unit)
	if !hasCI || p.Lo == p.Hi {
		return fmtUnit(unit, p.Y)
	}
	return fmtUnit(unit, p.Y) + " [" + fmtUnit(unit, p.Lo) + ", " + fmtUnit(unit, p.Hi) + "]"
}

// chunksOf is a convoy cell's median CPU chunks per execution, "—" without.
func chunksOf(c *rundir.Cell) string {
	m, ok := c.Metrics["chunks/op"]
	if !ok || m.Stats.N == 0 {
		return "—"
	}
	return fmtNum(m.Stats.Median)
}
