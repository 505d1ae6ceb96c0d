package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func noisy(rng *rand.Rand, n int, centre, spread float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = centre * (1 + spread*(rng.Float64()*2-1))
	}
	return v
}

func TestRatioCI(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := noisy(rng, 10, 1.0, 0.01)
	b := noisy(rng, 10, 2.0, 0.01)
	r, err := RatioCI(a, b, 0.95, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Point-2) > 0.05 || r.Lo > r.Point || r.Hi < r.Point || r.Lo < 1.9 || r.Hi > 2.1 {
		t.Errorf("2× with 1%% noise: ratio %v [%v, %v]; want about 2 with a tight interval", r.Point, r.Lo, r.Hi)
	}
	again, _ := RatioCI(a, b, 0.95, 0, 7)
	if again != r {
		t.Errorf("the same seed gave %+v and %+v", r, again)
	}
	wide, _ := RatioCI(noisy(rng, 6, 1, 0.5), noisy(rng, 6, 1, 0.5), 0.95, 0, 7)
	if wide.Hi-wide.Lo < 0.3 {
		t.Errorf("50%% noise: interval [%v, %v] is implausibly tight", wide.Lo, wide.Hi)
	}
}

func TestRatioCIErrors(t *testing.T) {
	if _, err := RatioCI([]float64{1}, []float64{1, 2}, 0.95, 0, 1); err == nil {
		t.Error("one sample: no error")
	}
	if _, err := RatioCI([]float64{0, 0, 0}, []float64{1, 2}, 0.95, 0, 1); err == nil {
		t.Error("zero baseline: no error")
	}
}

// TestRatioCIExact checks the bootstrap on a case small enough to work out
// by hand. A resample of a = {1, 3} has median 1, 2 or 3 with probabilities
// 1/4, 1/2, 1/4, and one of b = {2, 6} has median 2, 4 or 6 likewise. Drawn
// independently, B/A is 2/3 (b's 2 over a's 3) with probability 1/16 and 6
// (6 over 1) with probability 1/16, the two extremes: each tail holds more
// than 2.5%, so the 95% interval is exactly [2/3, 6]. Were both sides to
// share their draws, every resampled ratio would be 2 and the interval [2, 2].
func TestRatioCIExact(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		r, err := RatioCI([]float64{1, 3}, []float64{2, 6}, 0.95, 10000, seed)
		if err != nil {
			t.Fatal(err)
		}
		if r.Point != 2 || r.Lo != 2.0/3 || r.Hi != 6 {
			t.Errorf("seed %d: ratio %v [%v, %v]; want 2 [2/3, 6]", seed, r.Point, r.Lo, r.Hi)
		}
	}
}

// TestRatioToConstant: a constant is not resampled. b = {2, 6} resamples to
// a median of 2, 4 or 6 (1/4, 1/2, 1/4); over the constant 2 the 95%
// interval is exactly [1, 3] and the point 2.
func TestRatioToConstant(t *testing.T) {
	r, err := RatioToConstant(2, []float64{2, 6}, 0.95, 10000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Point != 2 || r.Lo != 1 || r.Hi != 3 {
		t.Errorf("{2, 6} / 2: ratio %v [%v, %v]; want 2 [1, 3]", r.Point, r.Lo, r.Hi)
	}
	if _, err := RatioToConstant(2, []float64{1}, 0.95, 0, 1); err == nil {
		t.Error("one sample: no error")
	}
	if _, err := RatioToConstant(0, []float64{1, 2}, 0.95, 0, 1); err == nil {
		t.Error("zero constant: no error")
	}
}
