package claims

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// The claims about how workers behave (7 interleaving, 8 a blocking call on
// the loop, 11 spawning, 12 holding results) are judged on experiments of
// their own. Each compares two cells of one runtime, one model and one
// experiment that differ in a single parameter (offload, start, results) and
// agree on every other one.

// pair is two like cells that differ only in one parameter: a has the first
// value, b the second.
type pair struct{ a, b *rundir.Cell }

// pairs finds, in run d, the cells of workload, model and runtime, usable on
// unit, that differ only in parameter key (va for a, vb for b) and in the
// parameters ignore lists, ordered by the integer value of size (the largest
// first); cells of different experiments are never paired.
func pairs(d *rundir.Dir, workload, model, runtime, unit, key, va, vb, size string, ignore ...string) []pair {
	found := map[string]*pair{}
	var order []string
	for i := range d.Summary.Cells {
		c := &d.Summary.Cells[i]
		if c.Workload != workload || c.Model != model || RuntimeOf(c) != runtime || !Usable(c, unit) {
			continue
		}
		v := c.Params[key]
		if v != va && v != vb {
			continue
		}
		var rest []string
		for _, k := range slices.Sorted(maps.Keys(c.Params)) {
			if k != key && !slices.Contains(ignore, k) {
				rest = append(rest, k+"="+c.Params[k])
			}
		}
		id := c.Experiment + "|" + strings.Join(rest, "/")
		h := found[id]
		if h == nil {
			h = &pair{}
			found[id] = h
			order = append(order, id)
		}
		if v == va && h.a == nil {
			h.a = c
		} else if v == vb && h.b == nil {
			h.b = c
		}
	}
	var out []pair
	for _, id := range order {
		if h := found[id]; h.a != nil && h.b != nil {
			out = append(out, *h)
		}
	}
	slices.SortStableFunc(out, func(x, y pair) int { return intParam(y.a, size) - intParam(x.a, size) })
	return out
}

// intParam is a cell's integer parameter, 0 when absent or not a number.
func intParam(c *rundir.Cell, key string) int {
	n, _ := strconv.Atoi(c.Params[key])
	return n
}

// judgeInterleave is claim 7, per runtime that has the cells: over every
// sample of the interleave experiment with waits between events (the
// article's program), the loop's tasks always produce one order (every
// sample's distinct orders = 1), and the thread model's produce more than
// one (the CI of the median of its distinct orders lies above 1).
func judgeInterleave(d *rundir.Dir, o Options) ([]Comparison, []string) {
	var out []Comparison
	for _, rt := range runtimesOf(d) {
		loop, thread := likeCells(d, "interleave", rt, "orders", "loop", "thread", map[string]string{"between": "wait"})
		if loop == nil {
			continue
		}
		reps := loop.Params["repeats"]
		lq := quantity("loop: distinct orders over "+reps+" repeats", loop, "orders")
		tq := quantity("thread: distinct orders over "+reps+" repeats", thread, "orders")
		most := slices.Max(loop.Metrics["orders"].Samples)
		lc := Comparison{What: runtimeLabel(rt) + "the loop's order is the same every time", A: lq, B: lq, Runtime: rt,
			Rule: "every loop sample has 1 distinct order"}
		lc.Verdict = Holds
		if most > 1 {
			lc.Verdict = DoesNotHold
		}
		tc := Comparison{What: runtimeLabel(rt) + "threads' order varies", A: lq, B: tq, Runtime: rt,
			Rule: "the 95% CI of the median of the thread cell's distinct orders lies above 1; all samples at 1: does not hold"}
		switch {
		case !tq.HasCI:
			tc.Verdict = Inconclusive
		case tq.Lo > 1:
			tc.Verdict = Holds
		case slices.Max(thread.Metrics["orders"].Samples) <= 1:
			tc.Verdict = DoesNotHold
		default:
			tc.Verdict = Inconclusive
		}
		out = append(out, lc, tc)
	}
	if len(out) == 0 {
		return nil, []string{"interleave, models loop and thread of one runtime, between=wait, the same parameters, with orders samples (status ok)"}
	}
	return out, nil
}

// likeCells finds the first cell of model ma and a cell of model mb, in one
// experiment of run d, of workload and runtime, usable on unit, with the
// values params asks for and otherwise the same parameters; nil, nil when
// there are none.
func likeCells(d *rundir.Dir, workload, runtime, unit, ma, mb string, params map[string]string) (a, b *rundir.Cell) {
	w := want{workload, ma, params, unit, runtime}
	v := want{workload, mb, params, unit, runtime}
	for i := range d.Summary.Cells {
		a := &d.Summary.Cells[i]
		if !w.match(a) {
			continue
		}
		for j := range d.Summary.Cells {
			b := &d.Summary.Cells[j]
			if v.match(b) && b.Experiment == a.Experiment && maps.Equal(a.Params, b.Params) {
				return a, b
			}
		}
	}
	return nil, nil
}

// judgeBlocking is claim 8, per runtime: the most tasks with both variants
// and a pool of at least one thread per task. The loop-only time over
// tasks × block (the blocking calls cannot overlap on one thread), and the
// offloaded time over block + wait (what one task takes alone).
func judgeBlocking(d *rundir.Dir, o Options) ([]Comparison, []string) {
	var out []Comparison
	for _, rt := range runtimesOf(d) {
		// The pool's size does not matter to the loop-only cells.
		for _, p := range pairs(d, "blocking", "loop", rt, "sec/op", "offload", "none", "pool", "tasks", "pool") {
			k, x, y := intParam(p.a, "tasks"), intParam(p.a, "block_ms"), intParam(p.a, "wait_ms")
			if pool := intParam(p.b, "pool"); pool != 0 && pool < k {
				continue
			}
			stall := float64(k*x) / 1000
			free := float64(x+y) / 1000
			if stall <= 0 || free <= 0 {
				continue
			}
			c1, err := toConstant(o, fmt.Sprintf("%sloop only: time / (tasks × block) = time / (%d × %d ms)", runtimeLabel(rt), k, x), p.a, "sec/op", stall, "tasks × block")
			if err != nil {
				return nil, []string{err.Error()}
			}
			c1.Runtime = rt
			c1.judge(o.Margins.Stall)
			c2, err := toConstant(o, fmt.Sprintf("%soffloaded to a pool: time / (block + wait) = time / (%d + %d ms)", runtimeLabel(rt), x, y), p.b, "sec/op", free, "block + wait")
			if err != nil {
				return nil, []string{err.Error()}
			}
			c2.Runtime = rt
			c2.judge(o.Margins.Offload)
			out = append(out, c1, c2)
			break
		}
	}
	if len(out) == 0 {
		return nil, []string{"blocking, model loop of one runtime: offload=none and offload=pool with a pool of at least one thread per task, otherwise the same parameters, with sec/op samples (status ok)"}
	}
	return out, nil
}

// toConstant compares a cell's unit with an exact constant (in the unit).
func toConstant(o Options, what string, c *rundir.Cell, unit string, k float64, kLabel string) (Comparison, error) {
	r, err := o.ToConstant(k, c.Metrics[unit].Samples)
	if err != nil {
		return Comparison{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	return Comparison{What: what, A: Quantity{Label: kLabel, Unit: unit, Median: k, Lo: k, Hi: k, HasCI: true},
		B: quantity(c.Model, c, unit), Ratio: &r}, nil
}

// spawnModels are the models whose workers are the operating system's
// (processes and threads): the article's claim is about them. Goroutines
// and loop tasks are on the spawn experiment's page for contrast.
var spawnModels = []string{"process", "thread"}

// judgeSpawn is claim 11, per runtime and OS-worker model: at the most
// workers with both, the time of starting and joining them (cold) over
// handing the same empty tasks to a pool (warm). Both cells have the same
// workers, so the ratio is also the per-worker cost's.
func judgeSpawn(d *rundir.Dir, o Options) ([]Comparison, []string) {
	var out []Comparison
	for _, rt := range runtimesOf(d) {
		for _, m := range spawnModels {
			ps := pairs(d, "spawn", m, rt, "sec/op", "start", "warm", "cold", "workers")
			if len(ps) == 0 {
				continue
			}
			p := ps[0]
			c, err := ratio(o, fmt.Sprintf("%s%s, %s workers: time per worker cold / warm", runtimeLabel(rt), m, p.a.Params["workers"]), p.a, p.b, "sec/op", "warm (a pool)", "cold (start and join)")
			if err != nil {
				return nil, []string{err.Error()}
			}
			c.Runtime = rt
			c.judge(o.Margins.Spawn)
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, []string{"spawn, model process or thread of one runtime, start=cold and start=warm with the same workers, with sec/op samples (status ok)"}
	}
	return out, nil
}

// judgeHold is claim 12, per runtime, on threads (the article's case): at
// the most workers with both, the extra peak RSS per worker of holding every
// result until all are done over the article's fix, where the consumer makes
// one result at a time (results=one-at-a-time), as a fraction of
// result_bytes. Its interval comes from the two medians' 95% CIs (lowest hold
// minus highest one-at-a-time, and the reverse), as claim 4's memory per
// connection does. The release mode (each result consumed as it arrives,
// the workers producing at once) is on the hold experiment's page: it saves
// little when every worker builds its result at the same time.
func judgeHold(d *rundir.Dir, o Options) ([]Comparison, []string) {
	var out []Comparison
	for _, rt := range runtimesOf(d) {
		if c, ok := holdRatio(d, o, rt); ok {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, []string{"hold, model thread of one runtime, results=hold and results=one-at-a-time with the same workers, with peak-rss-B samples (status ok)"}
	}
	return out, nil
}

// holdRatio is claim 12's comparison on one runtime's threads.
func holdRatio(d *rundir.Dir, o Options, rt string) (Comparison, bool) {
	ps := pairs(d, "hold", "thread", rt, "peak-rss-B", "results", "one-at-a-time", "hold", "workers")
	if len(ps) == 0 {
		return Comparison{}, false
	}
	p := ps[0]
	w, bytes := intParam(p.a, "workers"), intParam(p.a, "result_bytes")
	if w <= 0 || bytes <= 0 {
		return Comparison{}, false
	}
	one, hld := p.a.Metrics["peak-rss-B"].Stats, p.b.Metrics["peak-rss-B"].Stats
	unit := float64(w) * float64(bytes)
	c := Comparison{
		What:    fmt.Sprintf("%sthread, %d workers of %d B: (peak RSS holding every result − one at a time) / workers / result_bytes", runtimeLabel(rt), w, bytes),
		A:       quantity("one at a time", p.a, "peak-rss-B"),
		B:       quantity("hold", p.b, "peak-rss-B"),
		Runtime: rt,
	}
	if one.CILo == nil || hld.CILo == nil {
		c.Rule, c.Verdict = "needs both medians' CIs", Inconclusive
		return c, true
	}
	r := stats.Ratio{Point: (hld.Median - one.Median) / unit, Lo: (*hld.CILo - *one.CIHi) / unit, Hi: (*hld.CIHi - *one.CILo) / unit, Confidence: o.Level()}
	c.Ratio = &r
	c.judge(o.Margins.Hold)
	return c, true
}
