package plots

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestLogAxisClipsErrorBars draws on a log axis a point whose CI reaches
// below zero (as a difference of noisy medians can): gonum panics on values ≤
// 0, so the bar must be clipped, and the SVG must name both models.
func TestLogAxisClipsErrorBars(t *testing.T) {
	series := []Series{
		{Model: "loop", Points: []Point{{X: 0, Y: 2, Lo: -5, Hi: 3}, {X: 1, Y: 200, Lo: 150, Hi: 260}}},
		{Model: "thread", Points: []Point{{X: 0, Y: 20, Lo: 18, Hi: 22}, {X: 1, Y: 2000, Lo: 1900, Hi: 2100}}},
	}
	svg, err := Dots("t", []string{"a", "b"}, "x", "y (KiB)", series, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", ">loop<", ">thread<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

// TestModelColorStable: the models' colours are fixed (a reader compares
// charts of different runs and machines by colour), distinct, and a model
// the palette does not know gets a spare colour that no known model has.
func TestModelColorStable(t *testing.T) {
	want := map[string]string{"process": "#0072b2", "thread": "#d55e00", "thread-gil": "#cc79a7", "loop": "#009e73", "goroutine": "#e69f00"}
	known := map[string]string{}
	for model, css := range want {
		if got := ModelCSS(model); got != css {
			t.Errorf("ModelCSS(%q) = %s; want %s", model, got, css)
		}
		if other, dup := known[css]; dup {
			t.Errorf("%s and %s share the colour %s", model, other, css)
		}
		known[css] = model
	}
	for _, model := range []string{"uvloop", "cpython-thread", "native-loop", ""} {
		css := ModelCSS(model)
		if m, taken := known[css]; taken {
			t.Errorf("unknown model %q got %s, the colour of %s", model, css, m)
		}
		spareCSS := false
		for _, c := range spare {
			spareCSS = spareCSS || css == fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
		}
		if !spareCSS {
			t.Errorf("unknown model %q got %s, not a spare colour", model, css)
		}
	}
}

func TestSpansDecades(t *testing.T) {
	tests := []struct {
		vals []float64
		want bool
	}{
		{[]float64{10, 10000}, true},
		{[]float64{1, 2, 4}, false},
		{[]float64{0, 100}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := SpansDecades(tt.vals...); got != tt.want {
			t.Errorf("SpansDecades(%v) = %v; want %v", tt.vals, got, tt.want)
		}
	}
}

// TestRuntimeSeries: a series of another runtime than Go (Shape > 0) is
// drawn dashed with its own glyph, Go's keep solid lines and circles, and a
// chart with more series than Go's models puts its legend beside the data.
func TestRuntimeSeries(t *testing.T) {
	pts := []Point{{X: 1, Y: 1, Lo: 0.9, Hi: 1.1}, {X: 10, Y: 2, Lo: 1.9, Hi: 2.1}}
	goOnly := []Series{{Model: "thread", Points: pts}, {Model: "loop", Points: pts}}
	mixed := append(slices.Clone(goOnly), Series{Model: "thread", Label: "thread (cpython)", Points: pts, Shape: 1})
	many := slices.Clone(mixed)
	for i := 2; len(many) <= len(modelColors); i++ {
		many = append(many, Series{Model: "loop", Label: fmt.Sprintf("loop (rt%d)", i), Points: pts, Shape: i})
	}
	for _, tt := range []struct {
		name    string
		series  []Series
		dashed  bool
		wide    bool
		legends []string
	}{
		{"go only", goOnly, false, false, []string{">thread<", ">loop<"}},
		{"with cpython", mixed, true, false, []string{">thread<", ">thread (cpython)<"}},
		{"many runtimes", many, true, true, []string{">loop (rt2)<"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := Lines("t", "x", "y", tt.series, true, false)
			if err != nil {
				t.Fatal(err)
			}
			s := string(svg)
			if got := strings.Contains(s, "stroke-dasharray"); got != tt.dashed {
				t.Errorf("dashed lines: %v; want %v", got, tt.dashed)
			}
			if got := !strings.Contains(s, `<svg width="460.8pt"`); got != tt.wide {
				t.Errorf("legend beside the data (wider chart): %v; want %v", got, tt.wide)
			}
			for _, w := range tt.legends {
				if !strings.Contains(s, w) {
					t.Errorf("legend lacks %q", w)
				}
			}
		})
	}
	for shape := range 3 {
		if shape > 0 && RuntimeShape(shape) == RuntimeShape(0) || RuntimeShapeName(shape) == RuntimeShapeName(shape+1) {
			t.Errorf("shape %d is drawn like another", shape)
		}
	}
}
