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
