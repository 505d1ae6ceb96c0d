package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/report/plots"
	"concurrency-lab/harness/rundir"
)

// metricNames names the units charts and tables show.
var metricNames = map[string]string{
	"sec/op":     "time per execution",
	"cpu-sec/op": "CPU time per execution",
	"B/s":        "throughput",
	"tasks/s":    "throughput",
	"requests/s": "throughput (requests/s)",
	"p99-sec":    "99th-percentile latency",
	"peak-rss-B": "peak RSS",
}

// paramLabels gives an axis label (with its unit) for a numeric parameter.
var paramLabels = map[string]string{
	"workers":       "workers",
	"tasks":         "tasks waiting at once",
	"payload_bytes": "payload (bytes)",
	"connections":   "connections",
	"requests":      "requests per connection",
	"think_ms":      "think time (ms)",
	"n":             "n (primes up to)",
	"messages":      "messages",
	"sleep_ms":      "sleep per task (ms)",
	"stages":        "stages",
	"cpu_workers":   "CPU-bound workers beside the I/O worker",
	"ops":           "I/O operations",
	"io_us":         "blocking wait per operation (µs)",
	"chunk_n":       "CPU chunk (primes up to)",
}

func paramLabel(k string) string {
	if l, ok := paramLabels[k]; ok {
		return l
	}
	return k
}

// fmtNum prints v with three significant digits, without an exponent for
// the magnitudes a report shows.
func fmtNum(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	digits := max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// fmtUnit prints v of unit in its display unit, e.g. "1.54 s", "15.1 MiB".
func fmtUnit(unit string, v float64) string {
	f, u := plots.Scale(unit, v)
	return fmtNum(v*f) + " " + u
}

// medianOf returns a cell's metric median with its CI, and whether there is
// a CI.
func medianOf(c *rundir.Cell, unit string) (plots.Point, bool) {
	m := c.Metrics[unit]
	p := plots.Point{Y: m.Stats.Median, Lo: m.Stats.Median, Hi: m.Stats.Median}
	if m.Stats.CILo != nil && m.Stats.CIHi != nil {
		p.Lo, p.Hi = *m.Stats.CILo, *m.Stats.CIHi
		return p, true
	}
	return p, false
}

// okCells are the cells with samples of unit.
func okCells(cells []*rundir.Cell, unit string) []*rundir.Cell {
	var out []*rundir.Cell
	for _, c := range cells {
		if c.Status == rundir.OK && len(c.Metrics[unit].Samples) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// series is the chart series of key: coloured by its model, shaped by its
// runtime.
func (x *Experiment) series(k seriesKey) plots.Series {
	return plots.Series{Model: k.Model, Label: k.Label(), Shape: x.rts.shape(k.Runtime)}
}

// charts draws an experiment's charts: the value of each metric by model
// and runtime (with the 95% CI of the median as error bars), a scaling line
// per numeric parameter that varies, and the distribution of the time
// samples per cell. A chart that cannot be drawn becomes a flag, not a
// failure.
func (x *Experiment) charts() {
	add := func(kind, title, alt string, svg []byte, err error) {
		if err != nil {
			x.Flags = append(x.Flags, fmt.Sprintf("chart %q not drawn: %v", title, err))
			return
		}
		file := fmt.Sprintf("img/%s-%d-%s.svg", strings.TrimSuffix(x.File, ".html"), len(x.Charts)+1, kind)
		x.Charts = append(x.Charts, Chart{File: file, Title: title, Alt: alt, svg: svg})
	}
	x.dots("sec/op", add)

	// Scaling: numeric parameters that vary, one chart per combination of
	// the other varying parameters.
	for _, p := range x.Varying {
		if !numeric(x.Cells, p) {
			continue
		}
		var others []string
		for _, o := range x.Varying {
			if o != p {
				others = append(others, o)
			}
		}
		groups, order := groupBy(okCells(x.Cells, "sec/op"), others)
		for _, g := range order {
			title := fmt.Sprintf("%s: time by %s", x.Name, p)
			if g != "" {
				title += " (" + g + ")"
			}
			svg, err := x.scalingChart(title, p, groups[g])
			add("scaling", title, fmt.Sprintf("Median time per execution against %s, one line per model and runtime, with 95%% CI error bars", p), svg, err)
		}
	}

	// Distribution of samples.
	var boxes []plots.Box
	var all []float64
	cells := okCells(x.Cells, "sec/op")
	var top float64
	for _, c := range cells {
		top = max(top, c.Metrics["sec/op"].Stats.Max)
	}
	f, u := plots.Scale("sec/op", top)
	for _, c := range cells {
		vals := scaled(c.Metrics["sec/op"].Samples, f)
		label := cellLabel(c)
		if len(x.Varying) > 0 {
			label += " " + combo(c, x.Varying)
		}
		boxes = append(boxes, plots.Box{Label: label, Model: c.Model, Values: vals, Shape: x.rts.shape(claims.RuntimeOf(c))})
		all = append(all, vals...)
	}
	if len(boxes) > 0 {
		title := x.Name + ": time samples per cell"
		svg, err := plots.Boxes(title, "time per execution ("+u+")", boxes, plots.SpansDecades(all...))
		add("samples", title, "Box plot of every time sample of every cell: median, quartiles, whiskers at 1.5 IQR, outliers as dots", svg, err)
	}

	for _, unit := range []string{"B/s", "requests/s", "tasks/s", "p99-sec", "peak-rss-B"} {
		if unit == "tasks/s" && hasUnit(x.Cells, "requests/s") {
			continue // the echo's throughput is its requests
		}
		if unit == "tasks/s" && hasUnit(x.Cells, "B/s") {
			continue // one throughput chart is enough
		}
		if unit == "tasks/s" && x.Workload == "primes" {
			// A primes "task" is one worker's whole count: its rate is
			// the time chart upside down, and says nothing more.
			continue
		}
		if hasUnit(x.Cells, unit) {
			x.dots(unit, add)
		}
	}
}

func hasUnit(cells []*rundir.Cell, unit string) bool {
	return len(okCells(cells, unit)) > 0
}

func scaled(vals []float64, f float64) []float64 {
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = v * f
	}
	return out
}

// dots adds the chart of unit by model, grouped by the varying parameters.
func (x *Experiment) dots(unit string, add func(kind, title, alt string, svg []byte, err error)) {
	cells := okCells(x.Cells, unit)
	if len(cells) == 0 {
		return
	}
	groups, order := groupBy(cells, x.Varying)
	labels := order
	if len(x.Varying) == 0 {
		labels = []string{strings.Join(x.Fixed, ", ")}
	}
	var top float64
	for _, c := range cells {
		p, _ := medianOf(c, unit)
		top = max(top, p.Hi)
	}
	f, u := plots.Scale(unit, top)
	keys, _ := bySeries(x.rts, cells)
	var series []plots.Series
	var ys []float64
	for _, k := range keys {
		s := x.series(k)
		for gi, g := range order {
			for _, c := range groups[g] {
				if keyOf(c) != k {
					continue
				}
				p, _ := medianOf(c, unit)
				p = plots.Point{X: float64(gi), Y: p.Y * f, Lo: p.Lo * f, Hi: p.Hi * f}
				s.Points = append(s.Points, p)
				ys = append(ys, p.Y, p.Lo, p.Hi)
			}
		}
		series = append(series, s)
	}
	name := metricNames[unit]
	if name == "" {
		name = unit
	}
	title := fmt.Sprintf("%s: %s by model", x.Name, name)
	xl := strings.Join(x.Varying, ", ")
	svg, err := plots.Dots(title, labels, xl, fmt.Sprintf("%s (%s)", name, u), series, plots.SpansDecades(ys...))
	kind := strings.NewReplacer("/", "-").Replace(unit)
	add(kind, title, fmt.Sprintf("Median %s of each model in each runtime with its 95%% CI as an error bar", name), svg, err)
}

// groupBy groups cells by their values of keys, keeping first-seen order.
func groupBy(cells []*rundir.Cell, keys []string) (map[string][]*rundir.Cell, []string) {
	g := map[string][]*rundir.Cell{}
	var order []string
	for _, c := range cells {
		k := combo(c, keys)
		if _, ok := g[k]; !ok {
			order = append(order, k)
		}
		g[k] = append(g[k], c)
	}
	return g, order
}

func numeric(cells []*rundir.Cell, p string) bool {
	for _, c := range cells {
		if _, err := strconv.ParseFloat(c.Params[p], 64); err != nil {
			return false
		}
	}
	return true
}

func (x *Experiment) scalingChart(title, p string, cells []*rundir.Cell) ([]byte, error) {
	var top float64
	for _, c := range cells {
		pt, _ := medianOf(c, "sec/op")
		top = max(top, pt.Hi)
	}
	f, u := plots.Scale("sec/op", top)
	keys, per := bySeries(x.rts, cells)
	var series []plots.Series
	var xs, ys []float64
	for _, k := range keys {
		s := x.series(k)
		for _, c := range per[k] {
			xv, _ := strconv.ParseFloat(c.Params[p], 64)
			pt, _ := medianOf(c, "sec/op")
			pt = plots.Point{X: xv, Y: pt.Y * f, Lo: pt.Lo * f, Hi: pt.Hi * f}
			s.Points = append(s.Points, pt)
			xs = append(xs, xv)
			ys = append(ys, pt.Y, pt.Lo, pt.Hi)
		}
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].X < s.Points[j].X })
		series = append(series, s)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(xs)))) < 2 {
		return nil, fmt.Errorf("one value of %s", p)
	}
	return plots.Lines(title, paramLabel(p), "time per execution ("+u+")", series, plots.SpansDecades(xs...), plots.SpansDecades(ys...))
}
