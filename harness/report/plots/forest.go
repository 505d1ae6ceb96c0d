package plots

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The verdicts' colours: the pages' badges' (style.css --hold, --fail,
// --unsure), so that a verdict reads the same on a chart and in a table.
var verdictColors = map[string]color.RGBA{
	"holds":         {0x1b, 0x7f, 0x3b, 0xff},
	"does not hold": {0xb3, 0x26, 0x1e, 0xff},
	"inconclusive":  {0x8a, 0x6d, 0x00, 0xff},
}

// verdictOrder is the legend's order.
var verdictOrder = []string{"holds", "does not hold", "inconclusive"}

// VerdictColor is the colour of a verdict ("holds", "does not hold",
// "inconclusive", as claims.Verdict spells them); grey for anything else.
func VerdictColor(v string) color.RGBA {
	if c, ok := verdictColors[v]; ok {
		return c
	}
	return color.RGBA{0x80, 0x80, 0x80, 0xff}
}

// BoundKind says how a forest row's ratio was judged.
type BoundKind int

// Bound kinds: the claims' rule kinds (claims.AtLeast, AtMost, Within),
// and none.
const (
	NoBound BoundKind = iota
	AtLeast           // ratio ≥ Bound
	AtMost            // ratio ≤ Bound
	Within            // ratio inside [BoundLo, BoundHi]
)

// ForestRow is one row of a forest plot: a ratio with its interval against
// the bound or margin it was judged by, coloured by its verdict; or, when
// HasRatio is false, a verdict in words (Note) for what has no ratio to
// draw (a claim without data, a comparison of intervals).
type ForestRow struct {
	Label   string // the row's label on the y axis
	Verdict string // colours the row
	// HasRatio says Point, Lo and Hi are a ratio and its interval.
	HasRatio      bool
	Point, Lo, Hi float64
	Bound         BoundKind
	// BoundAt is the bound of AtLeast and AtMost; BoundLo and BoundHi
	// the margin of Within.
	BoundAt, BoundLo, BoundHi float64
	// Note is written in the row, after a square of the verdict's colour,
	// when there is no ratio to draw ("inconclusive: no data").
	Note string
}

// drawable says whether the row's point can go on a log axis.
func (r ForestRow) drawable() bool { return r.HasRatio && finitePositive(r.Point) }

// The forest's x axis never goes beyond [ForestMin, ForestMax]: a ratio
// outside is drawn as an arrow at the edge with its value, so that one
// ratio of 1000 does not squash every other row into a pixel.
const (
	ForestMin = 0.02
	ForestMax = 50.0
)

// Forest draws a forest plot: one row per entry of rows, top to bottom in
// the order given, on a log x axis of ratios. A row with a ratio has its
// point estimate as a dot and its interval as a horizontal error bar, both
// in the verdict's colour, and its bound as a black vertical tick (AtLeast,
// AtMost) or its margin as a grey band (Within). A point outside the axis
// (clamped to [ForestMin, ForestMax] around the data, the bounds and 1) is
// an arrow at the edge pointing out, labelled with its value; an interval
// end outside is clipped at the edge with a small arrow. A row without a
// drawable ratio shows a square of its verdict's colour and its Note. A
// faint dotted line marks 1. It returns an error only for no rows.
func Forest(title, xLabel string, rows []ForestRow) ([]byte, error) {
	if len(rows) == 0 {
		return nil, errors.New("plots: a forest needs at least one row")
	}
	lo, hi := forestRange(rows)
	p := newPlot(title, xLabel, "")
	p.Legend.Top, p.Legend.Left = false, false
	n := len(rows)
	y := func(i int) float64 { return float64(n - 1 - i) }
	clamp := func(v float64) float64 { return min(max(v, lo), hi) }
	const half = 0.38 // half a row's height, for ticks and bands

	// Bands first, so that everything else is drawn over them.
	for i, r := range rows {
		if !r.HasRatio || r.Bound != Within || !finitePositive(r.BoundLo) || !(r.BoundHi > r.BoundLo) {
			continue
		}
		a, b := clamp(r.BoundLo), clamp(r.BoundHi)
		if a >= b {
			continue
		}
		band, err := plotter.NewPolygon(plotter.XYs{{X: a, Y: y(i) - half}, {X: b, Y: y(i) - half}, {X: b, Y: y(i) + half}, {X: a, Y: y(i) + half}})
		if err != nil {
			return nil, err
		}
		band.Color = bandColor
		band.LineStyle = draw.LineStyle{Color: bandColor} // no outline
		p.Add(band)
	}
	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.5}, {X: 1, Y: float64(n) - 0.5}})
	if err != nil {
		return nil, err
	}
	one.LineStyle.Color = color.Gray{0xa0}
	one.LineStyle.Width = vg.Points(0.6)
	one.LineStyle.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
	p.Add(one)

	var notes, values plotter.XYLabels
	var noteStyles, valueStyles []text.Style
	style := func(col color.Color, align draw.XAlignment) text.Style {
		s := p.Y.Tick.Label
		s.Font.Size = vg.Points(7)
		s.Color = col
		s.XAlign, s.YAlign = align, draw.YCenter
		return s
	}
	for i, r := range rows {
		col := VerdictColor(r.Verdict)
		yi := y(i)
		if !r.drawable() {
			sq, err := plotter.NewScatter(plotter.XYs{{X: lo, Y: yi}})
			if err != nil {
				return nil, err
			}
			sq.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: draw.BoxGlyph{}}
			p.Add(sq)
			note := r.Note
			if note == "" {
				note = r.Verdict + ": no ratio to draw"
			}
			notes.XYs = append(notes.XYs, plotter.XY{X: lo, Y: yi})
			notes.Labels = append(notes.Labels, note)
			noteStyles = append(noteStyles, style(col, draw.XLeft))
			continue
		}
		// The bound, under the bar.
		if r.Bound == AtLeast || r.Bound == AtMost {
			if b := r.BoundAt; finitePositive(b) && b >= lo && b <= hi {
				tick, err := plotter.NewLine(plotter.XYs{{X: b, Y: yi - half}, {X: b, Y: yi + half}})
				if err != nil {
					return nil, err
				}
				tick.LineStyle.Color = color.Black
				tick.LineStyle.Width = vg.Points(1.6)
				p.Add(tick)
			}
		}
		// The interval, clipped at the edges with an arrow.
		l, h := r.Lo, r.Hi
		if !finitePositive(l) || l > r.Point {
			l = r.Point
		}
		if !finitePositive(h) || h < r.Point {
			h = r.Point
		}
		pt := clamp(r.Point)
		bar, err := plotter.NewLine(plotter.XYs{{X: clamp(l), Y: yi}, {X: clamp(h), Y: yi}})
		if err != nil {
			return nil, err
		}
		bar.LineStyle.Color = col
		bar.LineStyle.Width = vg.Points(1.4)
		p.Add(bar)
		var arrows plotter.XYs
		var shapes []draw.GlyphDrawer
		if l < lo && r.Point >= lo {
			arrows, shapes = append(arrows, plotter.XY{X: lo, Y: yi}), append(shapes, arrowGlyph{left: true})
		}
		if h > hi && r.Point <= hi {
			arrows, shapes = append(arrows, plotter.XY{X: hi, Y: yi}), append(shapes, arrowGlyph{})
		}
		for j := range arrows {
			a, err := plotter.NewScatter(plotter.XYs{arrows[j]})
			if err != nil {
				return nil, err
			}
			a.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: shapes[j]}
			p.Add(a)
		}
		dot, err := plotter.NewScatter(plotter.XYs{{X: pt, Y: yi}})
		if err != nil {
			return nil, err
		}
		dot.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		switch {
		case r.Point < lo:
			dot.GlyphStyle.Shape, dot.GlyphStyle.Radius = arrowGlyph{left: true}, vg.Points(4)
			values.XYs = append(values.XYs, plotter.XY{X: lo, Y: yi})
			values.Labels = append(values.Labels, "   "+offScale(r.Point))
			valueStyles = append(valueStyles, style(col, draw.XLeft))
		case r.Point > hi:
			dot.GlyphStyle.Shape, dot.GlyphStyle.Radius = arrowGlyph{}, vg.Points(4)
			values.XYs = append(values.XYs, plotter.XY{X: hi, Y: yi})
			values.Labels = append(values.Labels, offScale(r.Point)+"   ")
			valueStyles = append(valueStyles, style(col, draw.XRight))
		}
		p.Add(dot)
	}
	for _, l := range []struct {
		xy     plotter.XYLabels
		styles []text.Style
		off    vg.Length
	}{{notes, noteStyles, vg.Points(7)}, {values, valueStyles, 0}} {
		if len(l.xy.Labels) == 0 {
			continue
		}
		labels, err := plotter.NewLabels(l.xy)
		if err != nil {
			return nil, err
		}
		labels.TextStyle = l.styles
		labels.Offset = vg.Point{X: l.off}
		p.Add(labels)
	}

	// The legend, in a band below the last row: the verdicts, the bound,
	// the margin and the off-scale arrow.
	for _, v := range verdictOrder {
		p.Legend.Add(v, swatch(VerdictColor(v)))
	}
	tick, _ := plotter.NewLine(plotter.XYs{{X: 1, Y: 0}, {X: 1, Y: 1}})
	tick.LineStyle.Color, tick.LineStyle.Width = color.Black, vg.Points(1.6)
	p.Legend.Add("bound (≥ or ≤)", verticalTick{tick.LineStyle})
	p.Legend.Add("equivalence margin", swatch(bandColor))
	p.Legend.Add("off scale (value written)", arrowThumb{})
	p.Legend.TextStyle.Font.Size = vg.Points(9)

	labels := make([]string, n)
	for i, r := range rows {
		labels[n-1-i] = r.Label
	}
	p.NominalY(labels...)
	p.Y.Tick.Label.Font.Size = vg.Points(7)
	band := float64(len(verdictOrder)+3) + 0.3 // a 9-point legend row is about a row
	p.Y.Min, p.Y.Max = -0.6-band, float64(n)-0.4
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ratioTicks{}
	p.X.Min, p.X.Max = lo, hi
	h := vg.Length(float64(n)+band)*0.17*vg.Inch + 1.2*vg.Inch
	return renderPadded(p, width+2*vg.Inch, max(height, h), vg.Points(12))
}

// offScale writes an off-scale ratio: "1000×", "0.0001×".
func offScale(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64) + "×"
	}
	return strconv.FormatFloat(v, 'g', 2, 64) + "×"
}

// renderPadded renders p with an empty margin of pad on its left: a
// browser's font may set the long row labels a little wider than gonum
// measured them, and they must not be cut.
func renderPadded(p *plot.Plot, w, h, pad vg.Length) ([]byte, error) {
	c := vgsvg.New(w, h)
	dc := draw.New(c)
	if p.BackgroundColor != nil {
		dc.SetColor(p.BackgroundColor) // under the margin too
		dc.Fill(dc.Rectangle.Path())
	}
	p.Draw(draw.Crop(dc, pad, 0, 0, 0))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plots: %s: %w", p.Title.Text, err)
	}
	return buf.Bytes(), nil
}

// forestRange is the forest's x axis: every drawable point, interval end
// and bound, and 1, with a margin, clamped to [ForestMin, ForestMax].
func forestRange(rows []ForestRow) (lo, hi float64) {
	lo, hi = 1, 1
	see := func(v float64) {
		if finitePositive(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	for _, r := range rows {
		if !r.drawable() {
			continue
		}
		see(r.Point)
		see(r.Lo)
		see(r.Hi)
		switch r.Bound {
		case AtLeast, AtMost:
			see(r.BoundAt)
		case Within:
			see(r.BoundLo)
			see(r.BoundHi)
		}
	}
	return max(lo/1.4, ForestMin), min(hi*1.4, ForestMax)
}

var bandColor = color.RGBA{0xd8, 0xd8, 0xde, 0xff}

// arrowGlyph is a triangle pointing right (or left): a value beyond the
// axis's edge.
type arrowGlyph struct{ left bool }

func (a arrowGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	d := r
	if a.left {
		d = -r
	}
	var p vg.Path
	p.Move(vg.Point{X: pt.X + d, Y: pt.Y})
	p.Line(vg.Point{X: pt.X - d, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X - d, Y: pt.Y - r})
	p.Close()
	c.SetColor(sty.Color)
	c.Fill(p)
}

// arrowThumb is the legend's entry for off-scale values.
type arrowThumb struct{}

func (arrowThumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	mid := vg.Point{X: (r.Min.X + r.Max.X) / 2, Y: (r.Min.Y + r.Max.Y) / 2}
	arrowGlyph{}.DrawGlyph(c, draw.GlyphStyle{Color: color.Gray{0x40}, Radius: (r.Max.Y - r.Min.Y) / 2}, mid)
}

// verticalTick is the legend's entry for a bound.
type verticalTick struct{ sty draw.LineStyle }

func (v verticalTick) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	x := (r.Min.X + r.Max.X) / 2
	c.StrokeLine2(v.sty, x, r.Min.Y, x, r.Max.Y)
}
