// Package plots draws the report's charts with gonum.org/v1/plot and returns
// them as SVG documents. Every chart colours a model the same way
// (ModelColor), labels its axes with units and has a legend.
//
// Log scales: a value ≤ 0 cannot be drawn on one, so callers choose a log
// axis only for positive data (SpansDecades checks both), and error bars
// are clipped at the lowest value drawn.
package plots

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The palette: one colour per known model, chosen to stay distinct for
// colour-blind readers (Okabe–Ito); unknown models hash into the rest.
var (
	modelColors = map[string]color.RGBA{
		"process":    {0x00, 0x72, 0xB2, 0xff}, // blue
		"thread":     {0xD5, 0x5E, 0x00, 0xff}, // vermillion
		"thread-gil": {0xCC, 0x79, 0xA7, 0xff}, // reddish purple
		"loop":       {0x00, 0x9E, 0x73, 0xff}, // bluish green
		"goroutine":  {0xE6, 0x9F, 0x00, 0xff}, // orange
	}
	spare = []color.RGBA{{0x56, 0xB4, 0xE9, 0xff}, {0xF0, 0xE4, 0x42, 0xff}, {0x00, 0x00, 0x00, 0xff}, {0x99, 0x99, 0x99, 0xff}}
)

// ModelColor is the colour of model in every chart.
func ModelColor(model string) color.RGBA {
	if c, ok := modelColors[model]; ok {
		return c
	}
	h := fnv.New32a()
	h.Write([]byte(model))
	return spare[h.Sum32()%uint32(len(spare))]
}

// ModelCSS is ModelColor as a CSS colour, for the pages' keys.
func ModelCSS(model string) string {
	c := ModelColor(model)
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// Point is one value with its interval [Lo, Hi]; Lo = Hi = Y when there is
// no interval.
type Point struct {
	X, Y, Lo, Hi float64
}

// Series is one model's points in one runtime.
type Series struct {
	Model  string // colours the series
	Label  string // legend entry; Model when empty
	Points []Point
	Dashed bool
	// Shape tells a runtime's series from another's of the same model
	// (same colour): 0 is the lab's own Go models (filled circles, solid
	// lines); n > 0 is the n-th other runtime of the page, drawn with
	// RuntimeShape(n) and a dashed line, so that a CPython "thread" is
	// never read as Go's.
	Shape int
}

// runtimeShapes are the glyphs of other runtimes' series, in the order a
// run lists its runtimes; they repeat after the last.
var runtimeShapes = []draw.GlyphDrawer{draw.PyramidGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.RingGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{}, draw.PlusGlyph{}}

// runtimeShapeNames name runtimeShapes for the pages' keys.
var runtimeShapeNames = []string{"▲ triangles", "■ squares", "× crosses", "○ rings", "△ open triangles", "□ open squares", "+ pluses"}

// RuntimeShapeName names the glyph of Shape shape, for a page's key.
func RuntimeShapeName(shape int) string {
	if shape <= 0 {
		return "● circles"
	}
	return runtimeShapeNames[(shape-1)%len(runtimeShapeNames)]
}

// RuntimeShape is the glyph of a series with that Shape: a filled circle
// for 0 (Go), another shape for each other runtime.
func RuntimeShape(shape int) draw.GlyphDrawer {
	if shape <= 0 {
		return draw.CircleGlyph{}
	}
	return runtimeShapes[(shape-1)%len(runtimeShapes)]
}

// dashes is the dash pattern of the lines of other runtimes (and of a
// Dashed series).
var dashes = []vg.Length{vg.Points(5), vg.Points(3)}

// Chart sizes.
const (
	width  = 6.4 * vg.Inch
	height = 3.6 * vg.Inch
)

func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// SpansDecades reports whether the values are all positive and their
// largest is at least 20 times their smallest: a log axis reads better.
func SpansDecades(vals ...float64) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return len(vals) > 0 && hi >= 20*lo
}

// logAxis turns an axis logarithmic with bounds on whole decades, so that
// ticks are labelled whatever the range.
func logAxis(a *plot.Axis, lo, hi float64) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = plot.LogTicks{Prec: -1}
	a.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	a.Max = math.Pow(10, math.Ceil(math.Log10(hi)))
	if a.Max <= a.Min {
		a.Max = a.Min * 10
	}
}

// positiveMin is the least positive value (1 when there is none): the lowest
// a log axis can start.
func positiveMin(vals []float64) float64 {
	m := math.Inf(1)
	for _, v := range vals {
		if v > 0 {
			m = min(m, v)
		}
	}
	if math.IsInf(m, 1) {
		return 1
	}
	return m
}

func extent(series []Series) (xs, ys []float64) {
	for _, s := range series {
		for _, p := range s.Points {
			xs = append(xs, p.X)
			ys = append(ys, p.Y, p.Lo, p.Hi)
		}
	}
	return xs, ys
}

// Dots draws, for each group (a nominal x position), one dot per series with
// its interval as an error bar, series side by side: the experiment's
// "value by model" chart. Points' X are group indices.
func Dots(title string, groups []string, xLabel, yLabel string, series []Series, logY bool) ([]byte, error) {
	p := newPlot(title, xLabel, yLabel)
	_, ys := extent(series)
	if len(ys) == 0 {
		return nil, errors.New("plots: no data points")
	}
	if logY {
		logAxis(&p.Y, positiveMin(ys), slices.Max(ys))
	} else {
		p.Y.Min = min(0, slices.Min(ys))
	}
	n := len(series)
	for i, s := range series {
		off := 0.0
		if n > 1 {
			off = (float64(i) - float64(n-1)/2) * 0.7 / float64(n)
		}
		if err := addPoints(p, s, off, logY, true); err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
	if len(groups) > 4 {
		p.X.Tick.Label.Rotation = math.Pi / 8
		p.X.Tick.Label.XAlign = draw.XRight
	}
	return renderSeries(p, len(series))
}

// Lines draws one line per series over a numeric x, with each point's
// interval as an error bar: the scaling charts.
func Lines(title, xLabel, yLabel string, series []Series, logX, logY bool) ([]byte, error) {
	p := newPlot(title, xLabel, yLabel)
	xs, ys := extent(series)
	if len(ys) == 0 {
		return nil, errors.New("plots: no data points")
	}
	if logX {
		logAxis(&p.X, positiveMin(xs), slices.Max(xs))
	}
	if logY {
		logAxis(&p.Y, positiveMin(ys), slices.Max(ys))
	} else {
		p.Y.Min = min(0, slices.Min(ys))
	}
	for _, s := range series {
		if err := addPoints(p, s, 0, logY, false); err != nil {
			return nil, fmt.Errorf("plots: %s: %w", title, err)
		}
	}
	return renderSeries(p, len(series))
}

// errPoints adapts a series to plotter.XYer and plotter.YErrorer.
type errPoints struct {
	pts   []Point
	off   float64
	floor float64 // lowest value drawn (log axes)
}

func (e errPoints) Len() int { return len(e.pts) }
func (e errPoints) XY(i int) (float64, float64) {
	return e.pts[i].X + e.off, e.pts[i].Y
}
func (e errPoints) YError(i int) (float64, float64) {
	p := e.pts[i]
	lo := max(p.Lo, e.floor)
	return max(p.Y-lo, 0), max(p.Hi-p.Y, 0)
}

func addPoints(p *plot.Plot, s Series, off float64, logY, dotsOnly bool) error {
	e := errPoints{pts: s.Points, off: off, floor: math.Inf(-1)}
	if logY {
		e.floor = p.Y.Min
	}
	col := ModelColor(s.Model)
	sc, err := plotter.NewScatter(e)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = col
	sc.GlyphStyle.Radius = vg.Points(3)
	sc.GlyphStyle.Shape = RuntimeShape(s.Shape)
	if s.Shape > 0 {
		sc.GlyphStyle.Radius = vg.Points(3.5) // outline shapes need more room to read
	}
	bars, err := plotter.NewYErrorBars(e)
	if err != nil {
		return err
	}
	bars.LineStyle.Color = col
	bars.LineStyle.Width = vg.Points(1.2)
	p.Add(bars, sc)
	label := s.Label
	if label == "" {
		label = s.Model
	}
	if dotsOnly {
		p.Legend.Add(label, sc)
		return nil
	}
	l, err := plotter.NewLine(e)
	if err != nil {
		return err
	}
	l.LineStyle.Color = col
	l.LineStyle.Width = vg.Points(1.5)
	if s.Dashed || s.Shape > 0 {
		l.LineStyle.Dashes = dashes
	}
	p.Add(l)
	p.Legend.Add(label, l, sc)
	return nil
}

// Box is one cell's samples for a box plot.
type Box struct {
	Label  string
	Model  string
	Values []float64
	// Shape is the runtime's, as in Series: a box of another runtime than
	// Go's is outlined with dashes.
	Shape int
}

// Boxes draws one box per cell (median, quartiles, whiskers to the furthest
// sample within 1.5 IQR, outliers as dots), coloured by model, so that the
// noise of every cell is visible; a box of another runtime than Go's has a
// dashed outline. The legend names the models present.
func Boxes(title, yLabel string, boxes []Box, logY bool) ([]byte, error) {
	if len(boxes) == 0 {
		return nil, errors.New("plots: no data points")
	}
	p := newPlot(title, "", yLabel)
	var all []float64
	for _, b := range boxes {
		all = append(all, b.Values...)
	}
	if len(all) == 0 {
		return nil, errors.New("plots: no data points")
	}
	if logY {
		logAxis(&p.Y, positiveMin(all), slices.Max(all))
	}
	w := vg.Points(max(6, min(24, 300/float64(len(boxes)))))
	var labels []string
	seen := map[string]bool{}
	for i, b := range boxes {
		bp, err := plotter.NewBoxPlot(w, float64(i), plotter.Values(b.Values))
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %s: %w", title, b.Label, err)
		}
		col := ModelColor(b.Model)
		bp.FillColor = color.RGBA{col.R, col.G, col.B, 0x60}
		bp.BoxStyle.Color = col
		if b.Shape > 0 {
			bp.BoxStyle.Dashes = dashes
		}
		bp.MedianStyle.Color = col
		bp.MedianStyle.Width = vg.Points(2)
		bp.WhiskerStyle.Color = col
		bp.GlyphStyle.Color = col
		p.Add(bp)
		labels = append(labels, b.Label)
		if !seen[b.Model] {
			seen[b.Model] = true
			p.Legend.Add(b.Model, swatch(col))
		}
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.7, float64(len(boxes))-0.3
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YTop
	h := height
	if len(boxes) > 6 {
		h += vg.Inch // room for the slanted labels
	}
	return render(p, width, h)
}

// swatch is a legend entry: a filled square of a model's colour.
type swatch color.RGBA

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(color.RGBA(s), []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// renderSeries renders a chart of n series: with the legend over the data
// for as many as the lab's Go models, beside it for more (other runtimes'
// series), where a legend that long would hide points.
func renderSeries(p *plot.Plot, n int) ([]byte, error) {
	if n <= len(modelColors) {
		return render(p, width, height)
	}
	return renderBeside(p, width, height)
}

// renderBeside renders p on a canvas of w × h plus the legend's width, the
// legend to the right of the plot instead of over its data.
func renderBeside(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	legend := p.Legend
	p.Legend = plot.NewLegend()
	legend.Top, legend.Left, legend.XOffs, legend.YOffs = true, true, 0, 0
	legend.Padding = vg.Points(2)
	pad := vg.Points(10)
	probe := draw.New(vgsvg.New(w, h))
	// Rectangle leaves out the space Draw puts between a thumbnail and its
	// text: one em.
	lw := legend.Rectangle(probe).Size().X + legend.TextStyle.Rectangle("M").Size().X + 2*pad
	c := vgsvg.New(w+lw, h)
	dc := draw.New(c)
	if p.BackgroundColor != nil {
		dc.SetColor(p.BackgroundColor) // under the legend too
		dc.Fill(dc.Rectangle.Path())
	}
	p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	legend.Draw(draw.Crop(dc, w+pad, -pad, 0, -pad-p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plots: %s: %w", p.Title.Text, err)
	}
	return buf.Bytes(), nil
}

func render(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return nil, fmt.Errorf("plots: %s: %w", p.Title.Text, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plots: %s: %w", p.Title.Text, err)
	}
	return buf.Bytes(), nil
}

// Scale picks a display unit for values of unit whose largest magnitude is
// top, and the factor to multiply them by: seconds become s, ms or µs, bytes
// MiB or KiB, B/s MB/s (decimal, as go test prints it).
func Scale(unit string, top float64) (factor float64, display string) {
	top = math.Abs(top)
	switch unit {
	case "sec/op", "p50-sec", "p99-sec":
		switch {
		case top >= 1:
			return 1, "s"
		case top >= 1e-3:
			return 1e3, "ms"
		default:
			return 1e6, "µs"
		}
	case "cpu-sec/op":
		switch {
		case top >= 1:
			return 1, "CPU s"
		case top >= 1e-3:
			return 1e3, "CPU ms"
		default:
			return 1e6, "CPU µs"
		}
	case "peak-rss-B", "B", "B/task", "B/connection":
		suffix := ""
		if unit != "peak-rss-B" && unit != "B" {
			suffix = unit[1:]
		}
		switch {
		case top >= 1<<30:
			return 1.0 / (1 << 30), "GiB" + suffix
		case top >= 1<<20:
			return 1.0 / (1 << 20), "MiB" + suffix
		case top >= 1<<10:
			return 1.0 / (1 << 10), "KiB" + suffix
		default:
			return 1, "B" + suffix
		}
	case "gil-switches/s":
		return 1, "/s"
	case "B/s":
		switch {
		case top >= 1e9:
			return 1e-9, "GB/s"
		default:
			return 1e-6, "MB/s"
		}
	}
	return 1, unit
}
