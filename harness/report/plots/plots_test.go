package plots

import (
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

func TestModelColorStable(t *testing.T) {
	if ModelColor("loop") == ModelColor("thread") {
		t.Errorf("loop and thread share a colour")
	}
	if ModelCSS("uvloop") != ModelCSS("uvloop") {
		t.Errorf("an unknown model's colour changes between calls")
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
