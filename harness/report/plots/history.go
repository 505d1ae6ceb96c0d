package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Mark is a vertical line across a history chart at X (a time, in Unix
// seconds): where a step was found (dashed, labelled at the top), or with
// Setting where the runs' setting changed, e.g. the Go version (dotted,
// grey, labelled at the bottom).
type Mark struct {
	X       float64
	Label   string
	Setting bool
}

// historyHeight is a history chart's height: small, one per experiment.
const historyHeight = 2.8 * vg.Inch

// History draws one line per series over time, a point per run: each
// point's X is the run's start in Unix seconds (UTC), its Y the series'
// value (Lo and Hi are not drawn). The x axis is labelled with dates (and
// hours over a short span), a dotted line marks y = 1, and each mark is a
// dashed vertical line with its label. The legend goes beside the plot,
// where it never hides a run. It returns an error when no series has a
// point.
func History(title, yLabel string, series []Series, marks []Mark) ([]byte, error) {
	xs, ys := extent(series)
	if len(xs) == 0 {
		return nil, errors.New("plots: no data points")
	}
	p := newPlot(title, "run start (UTC)", yLabel)
	xlo, xhi := minMax(xs)
	for _, m := range marks {
		xlo, xhi = min(xlo, m.X), max(xhi, m.X)
	}
	pad := (xhi - xlo) * 0.03
	if pad == 0 {
		pad = 12 * 3600
	}
	p.X.Min, p.X.Max = xlo-pad, xhi+pad
	p.X.Tick.Marker = timeTicks{}
	ylo, yhi := minMax(append(ys, 1))
	ypad := (yhi - ylo) * 0.08
	if ypad == 0 {
		ypad = 0.05 * yhi
	}
	p.Y.Min, p.Y.Max = max(0, ylo-2*ypad), yhi+2*ypad // room for the marks' labels
	p.Y.Tick.Marker = levelTicks{}

	one, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: 1}, {X: p.X.Max, Y: 1}})
	if err != nil {
		return nil, fmt.Errorf("plots: %s: %w", title, err)
	}
	one.LineStyle.Color = color.Gray{0x60}
	one.LineStyle.Width = vg.Points(0.8)
	one.LineStyle.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
	p.Add(one)

	// Step labels hang from the top, setting labels stand on the bottom.
	type labelSet struct {
		xy     plotter.XYLabels
		styles []text.Style
		off    vg.Point
	}
	top := &labelSet{off: vg.Point{X: vg.Points(2), Y: -vg.Points(2)}}
	bottom := &labelSet{off: vg.Point{X: vg.Points(2), Y: vg.Points(2)}}
	for _, m := range marks {
		l, err := plotter.NewLine(plotter.XYs{{X: m.X, Y: p.Y.Min}, {X: m.X, Y: p.Y.Max}})
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
		st := p.X.Tick.Label
		st.Font.Size = vg.Points(8)
		set, y := top, p.Y.Max
		if m.Setting {
			l.LineStyle.Color = color.Gray{0x90}
			l.LineStyle.Width = vg.Points(0.8)
			l.LineStyle.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
			st.Color = color.Gray{0x60}
			st.XAlign, st.YAlign = draw.XLeft, draw.YBottom
			set, y = bottom, p.Y.Min
		} else {
			l.LineStyle.Color = color.Gray{0x30}
			l.LineStyle.Width = vg.Points(1)
			l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			st.Color = color.Gray{0x30}
			st.XAlign, st.YAlign = draw.XLeft, draw.YTop
		}
		p.Add(l)
		if m.Label != "" {
			set.xy.XYs = append(set.xy.XYs, plotter.XY{X: m.X, Y: y})
			set.xy.Labels = append(set.xy.Labels, m.Label)
			set.styles = append(set.styles, st)
		}
	}
	for _, set := range []*labelSet{top, bottom} {
		if len(set.xy.Labels) == 0 {
			continue
		}
		ls, err := plotter.NewLabels(set.xy)
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
		ls.TextStyle = set.styles
		ls.Offset = set.off
		p.Add(ls)
	}

	for _, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(s.Points))
		for i, pt := range s.Points {
			xy[i] = plotter.XY{X: pt.X, Y: pt.Y}
		}
		col := ModelColor(s.Model)
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
		l.LineStyle.Color = col
		l.LineStyle.Width = vg.Points(1.3)
		if s.Dashed || s.Shape > 0 {
			l.LineStyle.Dashes = dashes
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
		sc.GlyphStyle.Color = col
		sc.GlyphStyle.Radius = vg.Points(2)
		sc.GlyphStyle.Shape = RuntimeShape(s.Shape)
		p.Add(l, sc)
		label := s.Label
		if label == "" {
			label = s.Model
		}
		p.Legend.Add(label, l, sc)
	}
	return renderBeside(p, width, historyHeight)
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		lo, hi = min(lo, x), max(hi, x)
	}
	if lo > hi {
		return 0, 1
	}
	return lo, hi
}

// levelTicks labels a linear axis at 1-2-5 steps (0.01, 0.02, 0.05, 0.1…),
// three to six of them, each with as many decimals as the step needs:
// over a narrow range such as 0.98–1.12, gonum's default ticks round two
// labels to the same text.
type levelTicks struct{}

func (levelTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if !(span > 0) || math.IsInf(span, 0) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 3, 64)}}
	}
	e := math.Pow(10, math.Floor(math.Log10(span/6)))
	step := 10 * e
	for _, m := range []float64{1, 2, 5} {
		if span/(m*e) <= 6 {
			step = m * e
			break
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var out []plot.Tick
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
		if h := v + step/2; h <= hi {
			out = append(out, plot.Tick{Value: h}) // a minor tick between
		}
	}
	return out
}

// timeStep is one spacing of a time axis' labelled ticks: a duration (for
// hours, days and weeks) or a number of months, and the labels' format.
type timeStep struct {
	d      time.Duration
	months int
	format string
}

const day = 24 * time.Hour

var timeSteps = []timeStep{
	{10 * time.Minute, 0, "01-02 15:04"}, {30 * time.Minute, 0, "01-02 15:04"},
	{time.Hour, 0, "01-02 15:04"}, {2 * time.Hour, 0, "01-02 15:04"}, {3 * time.Hour, 0, "01-02 15:04"},
	{6 * time.Hour, 0, "01-02 15:04"}, {12 * time.Hour, 0, "01-02 15:04"},
	{day, 0, "2006-01-02"}, {2 * day, 0, "2006-01-02"}, {7 * day, 0, "2006-01-02"}, {14 * day, 0, "2006-01-02"},
	{0, 1, "2006-01"}, {0, 2, "2006-01"}, {0, 3, "2006-01"}, {0, 6, "2006-01"},
	{0, 12, "2006"}, {0, 24, "2006"}, {0, 60, "2006"},
}

// maxTimeTicks is the most labelled ticks a time axis gets.
const maxTimeTicks = 6

// timeTicks labels an axis of Unix seconds with round UTC times: whole
// hours, midnights, Mondays, firsts of the month or of the year, at most
// maxTimeTicks of them.
type timeTicks struct{}

func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	t0 := time.Unix(int64(math.Floor(lo)), 0).UTC()
	t1 := time.Unix(int64(math.Ceil(hi)), 0).UTC()
	span := t1.Sub(t0)
	st := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if s.months > 0 && span <= time.Duration(s.months)*30*day*maxTimeTicks ||
			s.months == 0 && span <= s.d*maxTimeTicks {
			st = s
			break
		}
	}
	var t time.Time
	next := func(t time.Time) time.Time { return t.Add(st.d) }
	if st.months > 0 {
		m := (int(t0.Month()) - 1) / st.months * st.months
		t = time.Date(t0.Year(), time.Month(m+1), 1, 0, 0, 0, 0, time.UTC)
		if st.months >= 12 {
			y := t0.Year() / (st.months / 12) * (st.months / 12)
			t = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		next = func(t time.Time) time.Time { return t.AddDate(0, st.months, 0) }
	} else {
		t = t0.Truncate(st.d) // the zero time is a Monday midnight, UTC
	}
	var out []plot.Tick
	for ; !t.After(t1); t = next(t) {
		v := float64(t.Unix())
		if v < lo || v > hi {
			continue
		}
		out = append(out, plot.Tick{Value: v, Label: t.Format(st.format)})
	}
	return out
}
