package claims

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"concurrency-lab/harness/rundir"
)

// The claims about connections (4, 5, and 10's echo part) are judged on the
// echo workload: a loopback TCP server under each model, one load generator
// for all. Slow connections are those with think time (think_ms > 0), fast
// ones have none.

// echoSeries lists the echo cells of one runtime and model that are slow
// (think_ms > 0) or fast, usable on requests/s, by their connections value,
// keyed also by what else they share (requests, payload, think, start), so
// that only like cells are compared.
func echoSeries(d *rundir.Dir, runtime, model string, slow bool) map[string]map[int]*rundir.Cell {
	out := map[string]map[int]*rundir.Cell{}
	for i := range d.Summary.Cells {
		c := &d.Summary.Cells[i]
		if c.Workload != "echo" || c.Model != model || RuntimeOf(c) != runtime || !Usable(c, "requests/s") {
			continue
		}
		think, err := strconv.Atoi(c.Params["think_ms"])
		if err != nil || (think > 0) != slow {
			continue
		}
		n, err := strconv.Atoi(c.Params["connections"])
		if err != nil {
			continue
		}
		key := c.Experiment + "|" + c.Params["requests"] + "|" + c.Params["payload_bytes"] + "|" + c.Params["think_ms"] + "|" + c.Params["start"]
		if out[key] == nil {
			out[key] = map[int]*rundir.Cell{}
		}
		if out[key][n] == nil {
			out[key][n] = c
		}
	}
	return out
}

// runtimesOf lists the runtimes of run d's cells, go first, then in the
// summary's order.
func runtimesOf(d *rundir.Dir) []string {
	out := []string{GoRuntime}
	for i := range d.Summary.Cells {
		rt := RuntimeOf(&d.Summary.Cells[i])
		if !slices.Contains(out, rt) {
			out = append(out, rt)
		}
	}
	return out
}

// echoModels are the models that serve echo, in the report's order.
var echoModels = []string{"process", "thread", "thread-gil", "loop", "goroutine"}

// judgeManyConns is claim 4: at the most slow connections both served, the
// loop's throughput over the thread model's, and the loop's memory per
// connection against every other model that served them; per runtime.
func judgeManyConns(d *rundir.Dir, o Options) ([]Comparison, []string) {
	var out []Comparison
	for _, rt := range runtimesOf(d) {
		loops := echoSeries(d, rt, "loop", true)
		threads := echoSeries(d, rt, "thread", true)
		for _, key := range slices.Sorted(maps.Keys(loops)) {
			ls, ts := loops[key], threads[key]
			if ts == nil {
				continue
			}
			most := -1
			for _, n := range slices.Sorted(maps.Keys(ls)) {
				if ts[n] != nil {
					most = n
				}
			}
			if most < 0 {
				continue
			}
			c, err := ratio(o, fmt.Sprintf("%sthroughput of loop / thread at %d slow connections", runtimeLabel(rt), most), ts[most], ls[most], "requests/s", "thread", "loop")
			if err != nil {
				return nil, []string{err.Error()}
			}
			c.Runtime = rt
			c.judge(o.Margins.ManyConns)
			out = append(out, c)
			loopMem, ok := perUnit("loop", "connection", ls)
			if !ok {
				break
			}
			for _, m := range echoModels {
				if m == "loop" {
					continue
				}
				ms := echoSeries(d, rt, m, true)[key]
				if ms == nil || ms[most] == nil {
					continue // the model did not serve them
				}
				q, ok := perUnit(m, "connection", ms)
				if !ok {
					continue
				}
				mc := Comparison{What: runtimeLabel(rt) + "memory per connection: loop vs " + m, A: q, B: loopMem,
					Rule: "loop least: loop's interval entirely below " + m + "'s", Runtime: rt}
				mc.Verdict = below(loopMem, q)
				out = append(out, mc)
			}
			break // the first like series of this runtime
		}
	}
	if len(out) == 0 {
		return nil, []string{"echo, models loop and thread of one runtime, the same slow connections (think_ms > 0), with requests/s samples (status ok)"}
	}
	return out, nil
}

// judgeFewConns is claim 5: with the fewest fast connections, the thread
// model's throughput over the loop's, on CPython where it ran, else on Go.
func judgeFewConns(d *rundir.Dir, o Options) ([]Comparison, []string) {
	for _, rt := range append(CPythonRuntimes(d), GoRuntime) {
		loops := echoSeries(d, rt, "loop", false)
		threads := echoSeries(d, rt, "thread", false)
		for _, key := range slices.Sorted(maps.Keys(loops)) {
			ls, ts := loops[key], threads[key]
			for _, n := range slices.Sorted(maps.Keys(ls)) { // the fewest both have
				if ts[n] == nil {
					continue
				}
				c, err := ratio(o, fmt.Sprintf("%sthroughput of thread / loop at %d fast connections", runtimeLabel(rt), n), ls[n], ts[n], "requests/s", "loop", "thread")
				if err != nil {
					return nil, []string{err.Error()}
				}
				c.Runtime = rt
				c.judge(o.Margins.FewConns)
				return []Comparison{c}, nil
			}
		}
	}
	return nil, []string{"echo, models thread and loop, the same fast connections (think_ms = 0), with requests/s samples (status ok)"}
}

// uvloopEcho compares, for claim 10, uvloop's throughput with asyncio's on
// the echo cells both served: the fast ones at the most connections.
func uvloopEcho(d *rundir.Dir, o Options, asyncio, uv string) (Comparison, bool, error) {
	as, us := echoSeries(d, asyncio, "loop", false), echoSeries(d, uv, "loop", false)
	for _, key := range slices.Sorted(maps.Keys(as)) {
		a, u := as[key], us[key]
		ns := slices.Sorted(maps.Keys(a))
		for i := len(ns) - 1; i >= 0; i-- {
			n := ns[i]
			if u[n] == nil {
				continue
			}
			c, err := ratio(o, fmt.Sprintf("speed-up of uvloop: throughput on uvloop / on asyncio, echo at %d fast connections", n), a[n], u[n], "requests/s", asyncio+" (asyncio)", uv+" (uvloop)")
			if err != nil {
				return Comparison{}, false, err
			}
			c.Runtime = asyncio
			c.judge(o.Margins.UVLoop)
			return c, true, nil
		}
	}
	return Comparison{}, false, nil
}

func runtimeLabel(rt string) string {
	if rt == "" || rt == GoRuntime {
		return ""
	}
	return rt + ": "
}

// perUnit is the peak RSS each extra unit (waiting task, connection) costs
// between the fewest and the most units of a model's cells, with an interval
// made of the two medians' CIs (conservative: the widest difference they
// allow).
func perUnit(model, unit string, cells map[int]*rundir.Cell) (Quantity, bool) {
	ts := slices.Sorted(maps.Keys(cells))
	if len(ts) < 2 {
		return Quantity{}, false
	}
	lo, hi := cells[ts[0]], cells[ts[len(ts)-1]]
	ml, mh := lo.Metrics["peak-rss-B"], hi.Metrics["peak-rss-B"]
	if len(ml.Samples) == 0 || len(mh.Samples) == 0 {
		return Quantity{}, false
	}
	dt := float64(ts[len(ts)-1] - ts[0])
	q := Quantity{
		Label:  fmt.Sprintf("%s: (peak RSS at %d − at %d) / %d", model, ts[len(ts)-1], ts[0], int(dt)),
		Cells:  []string{hi.Name, lo.Name},
		Unit:   "B/" + unit,
		Median: (mh.Stats.Median - ml.Stats.Median) / dt,
		N:      min(len(ml.Samples), len(mh.Samples)),
	}
	if ml.Stats.CILo != nil && mh.Stats.CILo != nil {
		q.Lo = (*mh.Stats.CILo - *ml.Stats.CIHi) / dt
		q.Hi = (*mh.Stats.CIHi - *ml.Stats.CILo) / dt
		q.HasCI = true
	}
	return q, true
}

// below is the verdict of "a is the least": a's interval entirely below b's
// holds, entirely above does not, an overlap is inconclusive.
func below(a, b Quantity) Verdict {
	switch {
	case !a.HasCI || !b.HasCI:
		return Inconclusive
	case a.Hi < b.Lo:
		return Holds
	case a.Lo > b.Hi:
		return DoesNotHold
	}
	return Inconclusive
}
