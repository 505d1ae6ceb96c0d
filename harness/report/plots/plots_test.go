package plots

import (
	"fmt"
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
