package diff

import (
	"math/rand/v2"
	"testing"

	"concurrency-lab/experiments/matrix"
)

// TestDefaultMatrixCanFlagALoneChange: two synthetic runs of the default
// matrix, at the reps it declares, with 3% noise and one cell slowed 2×:
// `lab diff` with its default options flags that cell and no other.
func TestDefaultMatrixCanFlagALoneChange(t *testing.T) {
	m, err := matrix.Load("../../experiments.toml")
	if err != nil {
		t.Fatal(err)
	}
	cells := m.Cells()
	for _, slow := range []int{0, len(cells) / 2, len(cells) - 1} {
		rng := rand.New(rand.NewPCG(uint64(slow), 16))
		var in []Input
		for i, c := range cells {
			b := 1.0
			if i == slow {
				b = 2
			}
			in = append(in, Input{Name: c.Name(), Experiment: c.Experiment, Model: c.Model,
				A: noisy(rng, c.Reps, 1, 0.03), B: noisy(rng, c.Reps, b, 0.03)})
		}
		r := Cells(in, DefaultOptions)
		if !r.Power.Enough {
			t.Errorf("the default matrix's %d cells at %d reps: %+v; want enough power for a lone change", len(cells), cells[0].Reps, r.Power)
		}
		for i, c := range r.Cells {
			switch {
			case i == slow && c.Verdict != Slower:
				t.Errorf("the slowed cell %s: verdict %q; want %q", c.Name, c.Verdict, Slower)
			case i != slow && (c.Verdict == Slower || c.Verdict == Faster):
				t.Errorf("unchanged cell %s flagged %q", c.Name, c.Verdict)
			}
		}
	}
}
