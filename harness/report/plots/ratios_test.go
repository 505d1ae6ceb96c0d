package plots

import (
	"math"
	"strings"
	"testing"
)

// TestRatiosOddIntervals draws ratios whose intervals touch 0, go below it,
// are NaN or infinite, and rows without a ratio: gonum's log axes panic on
// values ≤ 0, so each must be clipped or skipped, and the chart drawn.
func TestRatiosOddIntervals(t *testing.T) {
	tests := []struct {
		name string
		rows []Ratio
	}{
		{"CI touching 0", []Ratio{{Label: "a", Model: "loop", Point: 2, Lo: 0, Hi: 3, OK: true}}},
		{"CI below 0", []Ratio{{Label: "a", Model: "loop", Point: 2, Lo: -1, Hi: 3, OK: true}}},
		{"CI NaN and Inf", []Ratio{{Label: "a", Model: "thread", Point: 0.5, Lo: math.NaN(), Hi: math.Inf(1), OK: true}}},
		{"CI missing", []Ratio{{Label: "a", Model: "thread", Point: 1.2, OK: true}}},
		{"some rows without a ratio", []Ratio{
			{Label: "none", Model: "loop"},
			{Label: "zero", Model: "loop", Point: 0, OK: true},
			{Label: "inf", Model: "loop", Point: math.Inf(1), OK: true},
			{Label: "fine", Model: "process", Point: 1.1, Lo: 1.0, Hi: 1.2, OK: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := Ratios("title", "B/A", tt.rows)
			if err != nil {
				t.Fatalf("Ratios: %v", err)
			}
			for _, want := range []string{"<svg", ">" + tt.rows[0].Label + "<", "1 = no change"} {
				if !strings.Contains(string(svg), want) {
					t.Errorf("SVG lacks %q", want)
				}
			}
		})
	}
}

func TestRatiosNothingToDraw(t *testing.T) {
	for _, rows := range [][]Ratio{nil, {{Label: "a"}}, {{Label: "a", Point: -1, OK: true}}} {
		if _, err := Ratios("t", "B/A", rows); err == nil {
			t.Errorf("Ratios(%v): no error; want one", rows)
		}
	}
}
