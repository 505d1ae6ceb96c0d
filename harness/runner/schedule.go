package runner

import "math/rand/v2"

// Scheduler orders the cells of each round. A round runs every cell that
// still needs samples once, in an order shuffled anew per round, so that
// slow drift of the machine (heat, frequency, a neighbour) spreads over all
// cells instead of biasing the ones that happen to run last. The orders are
// reproducible: the same seed gives the same orders.
type Scheduler struct {
	rng *rand.Rand
}

// NewScheduler returns a scheduler whose shuffles derive from seed.
func NewScheduler(seed int64) *Scheduler {
	return &Scheduler{rng: rand.New(rand.NewPCG(uint64(seed), 0x6c61622d726f756e))} // "lab-roun"
}

// Round returns the cells of the next round, pending (cell indices) in a
// shuffled order. pending is not modified.
func (s *Scheduler) Round(pending []int) []int {
	order := append([]int(nil), pending...)
	s.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}
