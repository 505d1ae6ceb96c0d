package plots

import (
	"strings"
	"testing"
	"time"
)

// TestHistoryChart draws two models' relative levels over ten hourly runs
// with a step marked: the SVG names both series and the mark.
func TestHistoryChart(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	var a, b Series
	a = Series{Model: "thread", Label: "thread"}
	b = Series{Model: "loop", Label: "loop (cpython)", Shape: 1}
	for i := range 10 {
		x := float64(t0.Add(time.Duration(i) * time.Hour).Unix())
		y := 0.7
		if i >= 6 {
			y = 1.4
		}
		a.Points = append(a.Points, Point{X: x, Y: y, Lo: y, Hi: y})
		b.Points = append(b.Points, Point{X: x, Y: 1, Lo: 1, Hi: 1})
	}
	mark := Mark{X: float64(t0.Add(5*time.Hour + 30*time.Minute).Unix()), Label: "run 7"}
	goMark := Mark{X: float64(t0.Add(2*time.Hour + 30*time.Minute).Unix()), Label: "go1.26.9", Setting: true}
	svg, err := History("primes: level by model", "level", []Series{a, b}, []Mark{mark, goMark})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", ">thread<", ">loop (cpython)<", ">run 7<", ">go1.26.9<", ">11-25 18:00<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestHistoryNothingToDraw(t *testing.T) {
	if _, err := History("t", "y", []Series{{Model: "loop"}}, nil); err == nil {
		t.Errorf("History with no points: no error; want one")
	}
}

// TestTimeTicks: from an hour to years, the axis gets between two and
// maxTimeTicks labelled ticks, at round UTC times, inside the range.
func TestTimeTicks(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 14, 7, 0, 0, time.UTC)
	for _, span := range []time.Duration{time.Hour, 20 * time.Hour, 10 * day, 200 * day, 3 * 365 * day, 30 * 365 * day} {
		lo, hi := float64(t0.Unix()), float64(t0.Add(span).Unix())
		ticks := timeTicks{}.Ticks(lo, hi)
		if len(ticks) < 2 || len(ticks) > maxTimeTicks {
			t.Errorf("span %v: %d ticks %v; want 2 to %d", span, len(ticks), ticks, maxTimeTicks)
		}
		for _, tk := range ticks {
			tm := time.Unix(int64(tk.Value), 0).UTC()
			if tk.Value < lo || tk.Value > hi || tm.Minute() != 0 && tm.Minute() != 10 && tm.Minute() != 20 && tm.Minute() != 30 && tm.Minute() != 40 && tm.Minute() != 50 || tk.Label == "" {
				t.Errorf("span %v: tick %v (%s) not a labelled round time inside the range", span, tm, tk.Label)
			}
		}
	}
}

// TestLevelTicks: narrow and wide ranges get three to six labelled ticks,
// all distinct, inside the range.
func TestLevelTicks(t *testing.T) {
	for _, r := range [][2]float64{{0.98, 1.12}, {0.995, 1.004}, {0.5, 2.1}, {0.2, 9}, {0, 1}} {
		ticks := levelTicks{}.Ticks(r[0], r[1])
		seen := map[string]bool{}
		for _, tk := range ticks {
			if tk.Label == "" {
				continue
			}
			if seen[tk.Label] || tk.Value < r[0]-1e-12 || tk.Value > r[1]+1e-12 {
				t.Errorf("%v: tick %v %q repeated or outside", r, tk.Value, tk.Label)
			}
			seen[tk.Label] = true
		}
		if len(seen) < 3 || len(seen) > 6 {
			t.Errorf("%v: %d labelled ticks %v; want 3 to 6", r, len(seen), ticks)
		}
	}
}
