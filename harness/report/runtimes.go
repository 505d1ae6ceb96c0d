package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/report/plots"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// Runtime kinds, as run.json records them (runtimes.Identity.Kind), and Go's.
const (
	kindGo      = "go"
	kindCPython = "cpython"
	kindNative  = "native"
)

// seriesKey names what a chart's series or a table's row stands for: a
// model in one runtime. Cells are never grouped by model alone: CPython's
// threads are not Go's, and a chart that drew them as one line would
// average two different things.
type seriesKey struct{ Runtime, Model string }

// keyOf is a cell's series.
func keyOf(c *rundir.Cell) seriesKey { return seriesKey{claims.RuntimeOf(c), c.Model} }

// Label is the series' name on every page and chart: the model for Go's
// cells ("thread"), "model (runtime)" for another runtime's ("thread
// (cpython)").
func (k seriesKey) Label() string { return runtimeLabel(k.Runtime, k.Model) }

func runtimeLabel(rt, model string) string {
	if rt == "" || rt == claims.GoRuntime {
		return model
	}
	return model + " (" + rt + ")"
}

// cellLabel is a cell's series label.
func cellLabel(c *rundir.Cell) string { return keyOf(c).Label() }

// splitLabel undoes runtimeLabel: "thread (cpython)" is model thread of
// runtime cpython; a label without a runtime is Go's.
func splitLabel(l string) (model, rt string) {
	if m, rest, ok := strings.Cut(l, " ("); ok && strings.HasSuffix(rest, ")") {
		return m, strings.TrimSuffix(rest, ")")
	}
	return l, claims.GoRuntime
}

// labelColor is the colour of a series label's model: a model has one
// colour whatever its runtime.
func labelColor(l string) string {
	m, _ := splitLabel(l)
	return plots.ModelCSS(m)
}

// runtimeSet is a run's runtimes: the order every page of the run lists
// them in (Go first, then as run.json lists them, then any other its cells
// name) and what kind each is.
type runtimeSet struct {
	order []string
	kind  map[string]string
	ids   map[string]runtimes.Identity
}

// runtimesOf reads a run's runtimes.
func runtimesOf(d *rundir.Dir) *runtimeSet {
	s := &runtimeSet{order: []string{claims.GoRuntime}, kind: map[string]string{claims.GoRuntime: kindGo}, ids: map[string]runtimes.Identity{}}
	add := func(rt string) {
		if !slices.Contains(s.order, rt) {
			s.order = append(s.order, rt)
		}
	}
	for _, id := range d.Run.Runtimes {
		add(id.Runtime)
		s.ids[id.Runtime] = id
		s.kind[id.Runtime] = id.Kind
	}
	for i := range d.Summary.Cells {
		add(claims.RuntimeOf(&d.Summary.Cells[i]))
	}
	for _, rt := range s.order {
		if s.kind[rt] == "" {
			s.kind[rt] = guessKind(rt)
		}
	}
	return s
}

// guessKind is the kind of a runtime run.json does not describe (or whose
// preparation failed before it knew), from its name as the matrix's
// examples spell it.
func guessKind(rt string) string {
	switch {
	case strings.HasPrefix(rt, "cpython"), strings.HasPrefix(rt, "python"):
		return kindCPython
	case strings.HasPrefix(rt, "native"), rt == "c":
		return kindNative
	}
	return ""
}

// rank is rt's place in the run's order.
func (s *runtimeSet) rank(rt string) int {
	if i := slices.Index(s.order, rt); i >= 0 {
		return i
	}
	return len(s.order)
}

// less orders series: by runtime, then by model.
func (s *runtimeSet) less(a, b seriesKey) bool {
	if ra, rb := s.rank(a.Runtime), s.rank(b.Runtime); ra != rb {
		return ra < rb
	}
	return modelRank(a.Model) < modelRank(b.Model)
}

// shape is the plots.Series.Shape of rt's series: 0 for Go, the
// runtime's place in the run's order otherwise, so that a runtime has one
// glyph on every chart of the run.
func (s *runtimeSet) shape(rt string) int { return s.rank(rt) }

// shapeKeys are the chart key of the runtimes other than Go among cells.
func (s *runtimeSet) shapeKeys(cells []*rundir.Cell) []ShapeKey {
	var out []ShapeKey
	for _, rt := range s.order[1:] {
		if slices.ContainsFunc(cells, func(c *rundir.Cell) bool { return claims.RuntimeOf(c) == rt }) {
			out = append(out, ShapeKey{rt, plots.RuntimeShapeName(s.shape(rt))})
		}
	}
	return out
}

// ofKind lists the run's runtimes of one kind, in order.
func (s *runtimeSet) ofKind(kind string) []string {
	var out []string
	for _, rt := range s.order {
		if s.kind[rt] == kind {
			out = append(out, rt)
		}
	}
	return out
}

// native is the run's native runtime (the first, if it declared several):
// the floor every other cell's time is set against.
func (s *runtimeSet) native() string {
	if n := s.ofKind(kindNative); len(n) > 0 {
		return n[0]
	}
	return ""
}

// bySeries groups cells by series, in the run's order.
func bySeries(rts *runtimeSet, cells []*rundir.Cell) ([]seriesKey, map[seriesKey][]*rundir.Cell) {
	m := map[seriesKey][]*rundir.Cell{}
	var keys []seriesKey
	for _, c := range cells {
		k := keyOf(c)
		if m[k] == nil {
			keys = append(keys, k)
		}
		m[k] = append(m[k], c)
	}
	slices.SortStableFunc(keys, func(a, b seriesKey) int {
		switch {
		case rts.less(a, b):
			return -1
		case rts.less(b, a):
			return 1
		}
		return 0
	})
	return keys, m
}

// RuntimeView is one runtime of a run as the run page and the index list
// it: what it is, or why it was absent (its cells skipped) and how to get
// it.
type RuntimeView struct {
	Name, Kind string
	What       string // "CPython /usr/bin/python3, Python 3.11.2, …"; "" when absent
	// Unavailable and Hint are run.json's: why the runtime was absent and
	// how to get it.
	Unavailable, Hint string
	Cells, Skipped    int // the run's cells of this runtime, and those skipped
}

// runtimeViews lists Go and every runtime of run.json, in the run's order.
func runtimeViews(d *rundir.Dir, rts *runtimeSet) []RuntimeView {
	count := map[string][2]int{}
	for i := range d.Summary.Cells {
		c := &d.Summary.Cells[i]
		n := count[claims.RuntimeOf(c)]
		n[0]++
		if c.Status == rundir.Skipped {
			n[1]++
		}
		count[claims.RuntimeOf(c)] = n
	}
	var out []RuntimeView
	for _, rt := range rts.order {
		v := RuntimeView{Name: rt, Kind: rts.kind[rt], Cells: count[rt][0], Skipped: count[rt][1]}
		id, described := rts.ids[rt]
		switch {
		case rt == claims.GoRuntime:
			v.What = "the lab's own models (process, thread, thread-gil, loop, goroutine), built with " + orUnknown(d.Run.Software.GoVersion)
		case !described:
			v.What = "not described in run.json"
		case id.Unavailable != "":
			v.Unavailable, v.Hint = id.Unavailable, id.Hint
		default:
			v.What = describe(id)
		}
		if rt == claims.GoRuntime && v.Cells == 0 {
			continue
		}
		out = append(out, v)
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// describe says what an available runtime is: for CPython its executable,
// version, event loop, GIL and start method; for native its compiler and
// flags.
func describe(id runtimes.Identity) string {
	switch id.Kind {
	case kindCPython:
		impl := id.Implementation
		if impl == "" || strings.EqualFold(impl, "cpython") {
			impl = "CPython"
		}
		version, _, _ := strings.Cut(id.Version, " ")
		parts := []string{impl + " " + orUnknown(id.Executable), "Python " + orUnknown(version)}
		loop := id.EventLoop
		if loop == "" {
			loop = "asyncio"
		}
		if loop == "uvloop" {
			loop = strings.TrimSpace("uvloop " + id.UVLoop)
		}
		parts = append(parts, "event loop "+loop)
		switch {
		case id.GILEnabled == nil:
			parts = append(parts, "GIL not reported")
		case *id.GILEnabled:
			parts = append(parts, "GIL enabled")
		default:
			parts = append(parts, "GIL disabled")
		}
		if id.FreeThreadedBuild {
			parts = append(parts, "free-threaded build")
		}
		if id.StartMethod != "" {
			parts = append(parts, "multiprocessing start method "+id.StartMethod)
		}
		return strings.Join(parts, ", ")
	case kindNative:
		return fmt.Sprintf("C, compiled by %s (%s) with %s", orUnknown(id.CCVersion), orUnknown(id.CC), strings.Join(id.Flags, " "))
	}
	return "kind " + orUnknown(id.Kind)
}

// nativeOf is the native counterpart of c: the cell of the run's native
// runtime with the same experiment, model and parameters, usable on
// sec/op (nil when there is none, or c is native).
func nativeOf(x *Experiment, c *rundir.Cell) *rundir.Cell {
	nat := x.rts.native()
	if nat == "" || claims.RuntimeOf(c) == nat {
		return nil
	}
	for _, n := range x.Cells {
		if claims.RuntimeOf(n) == nat && n.Model == c.Model && maps.Equal(n.Params, c.Params) && claims.Usable(n, "sec/op") {
			return n
		}
	}
	return nil
}

// overNative is c's time over its native counterpart's, with the options'
// CI; ok is false without a counterpart or usable samples.
func overNative(o claims.Options, native, c *rundir.Cell) (stats.Ratio, bool) {
	if native == nil || !claims.Usable(c, "sec/op") {
		return stats.Ratio{}, false
	}
	r, err := o.Ratio(native.Metrics["sec/op"].Samples, c.Metrics["sec/op"].Samples)
	return r, err == nil
}
