package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Ratio is one cell of a comparison: the ratio B/A with its interval
// [Lo, Hi]. OK is false when there is no ratio (an untestable cell): the
// row is labelled and left empty.
type Ratio struct {
	Label         string
	Model         string // colours the point
	Point, Lo, Hi float64
	OK            bool
}

// drawable says whether a ratio's point can go on a log axis.
func (r Ratio) drawable() bool {
	return r.OK && r.Point > 0 && !math.IsInf(r.Point, 0) && !math.IsNaN(r.Point)
}

// Ratios draws one row per cell, top to bottom in the order given: the
// ratio as a dot coloured by model, its interval as a horizontal error bar,
// on a log x axis with a dashed line at 1 (no change). A log axis cannot
// show a value ≤ 0, NaN or ±Inf: a row without a drawable point is left
// empty, and an interval end that is not positive and finite is clipped to
// the axis (its bar runs to the edge). It returns an error only when no row
// has a drawable point.
func Ratios(title, xLabel string, rows []Ratio) ([]byte, error) {
	if len(rows) == 0 {
		return nil, errors.New("plots: no data points")
	}
	lo, hi := 1.0, 1.0 // the line at 1 is always on the chart
	n := 0
	for _, r := range rows {
		if !r.drawable() {
			continue
		}
		n++
		lo, hi = min(lo, r.Point), max(hi, r.Point)
		if finitePositive(r.Lo) {
			lo = min(lo, r.Lo)
		}
		if finitePositive(r.Hi) {
			hi = max(hi, r.Hi)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("plots: %s: no ratio to draw", title)
	}
	p := newPlot(title, xLabel, "")
	// A margin around the data, not whole decades: ratios of machines are
	// mostly within 0.5–2, and the ticks (ratioTicks) label 1-2-5 steps.
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ratioTicks{}
	p.X.Min, p.X.Max = lo/1.25, hi*1.25
	// The legend goes in an empty band below the last row, so that it never
	// hides a point.
	p.Legend.Top, p.Legend.Left = false, false

	// Row i is drawn at y = len-1-i, so that the first row is on top.
	y := func(i int) float64 { return float64(len(rows) - 1 - i) }
	byModel := map[string]*ratioPoints{}
	var models []string
	for i, r := range rows {
		if !r.drawable() {
			continue
		}
		pts := byModel[r.Model]
		if pts == nil {
			pts = &ratioPoints{}
			byModel[r.Model] = pts
			models = append(models, r.Model)
		}
		l, h := r.Lo, r.Hi
		if !finitePositive(l) || l > r.Point {
			l = p.X.Min
		}
		if !finitePositive(h) || h < r.Point {
			h = p.X.Max
		}
		pts.x = append(pts.x, r.Point)
		pts.y = append(pts.y, y(i))
		pts.lo = append(pts.lo, max(l, p.X.Min))
		pts.hi = append(pts.hi, min(h, p.X.Max))
	}

	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(len(rows)) - 0.5}})
	if err != nil {
		return nil, fmt.Errorf("plots: %s: %w", title, err)
	}
	one.LineStyle.Color = color.Gray{0x40}
	one.LineStyle.Width = vg.Points(1)
	one.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(one)
	p.Legend.Add("1 = no change", one)

	for _, m := range models {
		pts := byModel[m]
		col := ModelColor(m)
		bars, err := plotter.NewXErrorBars(pts)
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
		bars.LineStyle.Color = col
		bars.LineStyle.Width = vg.Points(1.2)
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
		sc.GlyphStyle.Color = col
		sc.GlyphStyle.Radius = vg.Points(2.5)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(bars, sc)
		p.Legend.Add(m, sc)
	}

	labels := make([]string, len(rows))
	for i, r := range rows {
		labels[len(rows)-1-i] = r.Label
	}
	p.NominalY(labels...)
	// Rows above y = 0; the legend's band below, as many rows as it has
	// entries (each is about 1.3 rows high at the default font).
	band := 1.3*float64(len(models)+1) + 0.3
	p.Y.Min, p.Y.Max = -0.6-band, float64(len(rows))-0.4
	p.Y.Tick.Label.Font.Size = vg.Points(7)
	// A row per 0.16 in, so that labels never overlap.
	h := max(height, vg.Length(float64(len(rows))+band)*0.16*vg.Inch+1.4*vg.Inch)
	return render(p, width+1.6*vg.Inch, h)
}

func finitePositive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// ratioPoints adapts ratios to plotter.XYer and plotter.XErrorer; the
// errors are relative to X, as gonum wants.
type ratioPoints struct {
	x, y, lo, hi []float64
}

func (r *ratioPoints) Len() int                    { return len(r.x) }
func (r *ratioPoints) XY(i int) (float64, float64) { return r.x[i], r.y[i] }
func (r *ratioPoints) XError(i int) (float64, float64) {
	return max(r.x[i]-r.lo[i], 0), max(r.hi[i]-r.x[i], 0)
}

// ratioTicks labels a log axis of ratios at 1-2-5 steps (0.5, 1, 2, 5, 10…),
// with unlabelled minor ticks between: readable over a narrow range, where
// plot.LogTicks would label nothing.
type ratioTicks struct{}

func (ratioTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1; m <= 9; m++ {
			v := float64(m) * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			out = append(out, t)
		}
	}
	return out
}
