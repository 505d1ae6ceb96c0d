package plots

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

// svgTexts lists the text elements of an SVG.
func svgTexts(svg []byte) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<text[^>]*>([^<]*)</text>`).FindAllSubmatch(svg, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

func count(texts []string, s string) int {
	n := 0
	for _, t := range texts {
		if t == s {
			n++
		}
	}
	return n
}

// TestForest draws forests of every kind of row: each row's label is on
// the chart once, the axis stays within [ForestMin, ForestMax] however far
// a ratio lies, an off-scale ratio has its value written, and a row
// without a ratio has its note.
func TestForest(t *testing.T) {
	atLeast := ForestRow{Label: "1 · m", Verdict: "holds", HasRatio: true, Point: 2, Lo: 1.8, Hi: 2.2, Bound: AtLeast, BoundAt: 1.5}
	within := ForestRow{Label: "2 · m", Verdict: "inconclusive", HasRatio: true, Point: 1.05, Lo: 0.95, Hi: 1.2, Bound: Within, BoundLo: 0.9, BoundHi: 1.1}
	atMost := ForestRow{Label: "3 · m", Verdict: "does not hold", HasRatio: true, Point: 1.5, Lo: 1.4, Hi: 1.6, Bound: AtMost, BoundAt: 1.05}
	noData := ForestRow{Label: "7 · m", Verdict: "inconclusive", Note: "inconclusive: no data"}
	tests := []struct {
		name      string
		rows      []ForestRow
		wantTexts []string // besides every row's label
		lo, hi    float64  // the axis's range
	}{
		{"one row", []ForestRow{atLeast}, nil, 1 / 1.4, 2.2 * 1.4},
		{"every kind of bound", []ForestRow{atLeast, within, atMost}, nil, 0.9 / 1.4, 2.2 * 1.4},
		{"rows without a ratio", []ForestRow{noData, {Label: "4 · m – memory", Verdict: "holds", Note: "holds: not a ratio, see the table"}},
			[]string{"inconclusive: no data", "holds: not a ratio, see the table"}, 1 / 1.4, 1.4},
		{"a ratio far above the axis", []ForestRow{atLeast, {Label: "far", Verdict: "holds", HasRatio: true, Point: 1000, Lo: 900, Hi: 1100, Bound: AtLeast, BoundAt: 1.5}},
			[]string{"1000×   "}, 1 / 1.4, ForestMax},
		{"a ratio far below the axis", []ForestRow{atLeast, {Label: "near 0", Verdict: "does not hold", HasRatio: true, Point: 0.0001, Lo: 0.00005, Hi: 0.0002, Bound: AtLeast, BoundAt: 1}},
			[]string{"   0.0001×"}, ForestMin, 2.2 * 1.4},
		{"an interval running off the axis", []ForestRow{{Label: "wide", Verdict: "inconclusive", HasRatio: true, Point: 2, Lo: 1e-9, Hi: 1e9, Bound: Within, BoundLo: 0.8, BoundHi: 1.05}},
			nil, ForestMin, ForestMax},
		{"odd intervals and points", []ForestRow{
			{Label: "NaN CI", Verdict: "holds", HasRatio: true, Point: 1.2, Lo: math.NaN(), Hi: math.Inf(1), Bound: AtLeast, BoundAt: 1},
			{Label: "zero point", Verdict: "inconclusive", HasRatio: true, Point: 0, Lo: -1, Hi: 1},
			{Label: "negative CI", Verdict: "holds", HasRatio: true, Point: 0.5, Lo: -2, Hi: 0.6, Bound: AtMost, BoundAt: 1},
		}, []string{"inconclusive: no ratio to draw"}, 0.5 / 1.4, 1.2 * 1.4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg, err := Forest("claims", "ratio", tt.rows)
			if err != nil {
				t.Fatalf("Forest: %v", err)
			}
			texts := svgTexts(svg)
			for _, r := range tt.rows {
				if got := count(texts, r.Label); got != 1 {
					t.Errorf("row %q is labelled %d times; want once (texts: %q)", r.Label, got, texts)
				}
			}
			for _, w := range append(tt.wantTexts, "holds", "does not hold", "inconclusive", "bound (≥ or ≤)", "equivalence margin") {
				if count(texts, w) == 0 {
					t.Errorf("no text %q in the chart (texts: %q)", w, texts)
				}
			}
			lo, hi := forestRange(tt.rows)
			if math.Abs(lo-tt.lo) > 1e-9 || math.Abs(hi-tt.hi) > 1e-9 {
				t.Errorf("axis [%g, %g]; want [%g, %g]", lo, hi, tt.lo, tt.hi)
			}
			if lo < ForestMin || hi > ForestMax {
				t.Errorf("axis [%g, %g] beyond [%g, %g]", lo, hi, ForestMin, ForestMax)
			}
		})
	}
}

// TestForestColours: each verdict's row is drawn in the pages' colour for
// that verdict.
func TestForestColours(t *testing.T) {
	svg, err := Forest("t", "ratio", []ForestRow{
		{Label: "a", Verdict: "holds", HasRatio: true, Point: 2, Lo: 1.9, Hi: 2.1, Bound: AtLeast, BoundAt: 1.5},
		{Label: "b", Verdict: "does not hold", HasRatio: true, Point: 1, Lo: 0.9, Hi: 1.1, Bound: AtLeast, BoundAt: 1.5},
		{Label: "c", Verdict: "inconclusive", Note: "no data"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, css := range []string{"#1b7f3b", "#b3261e", "#8a6d00"} { // style.css --hold, --fail, --unsure
		if !strings.Contains(strings.ToLower(string(svg)), css) {
			t.Errorf("no %s in the chart", css)
		}
	}
}

func TestForestEmpty(t *testing.T) {
	if _, err := Forest("t", "ratio", nil); err == nil {
		t.Error("Forest(no rows): no error; want one")
	}
}
