package matrix

import (
	"slices"
	"strconv"
)

// smokeCaps bound the sizes of a smoke run: it proves that every experiment
// runs end to end and that the tooling reads its output, not what the numbers
// are, so it shrinks the work to milliseconds.
var smokeCaps = map[string]int{
	"n":             20000,
	"tasks":         100,
	"sleep_ms":      10,
	"messages":      200,
	"payload_bytes": 64 << 10,
	"connections":   100,
	"requests":      20,
	"think_ms":      10,
	"repeats":       5,
	"block_ms":      10,
	"wait_ms":       10,
	"ops":           50,
	"result_bytes":  64 << 10,
}

// Smoke returns the experiment reduced for a smoke run: every parameter list
// cut to its smallest value (the first, for words), sizes capped, and reps
// samples per cell.
func (x Experiment) Smoke(reps int) Experiment {
	y := x
	y.Params = map[string][]string{}
	for key := range x.Params {
		vals := x.Values(key)
		if len(vals) == 0 {
			continue // "2..cpus" on one CPU
		}
		v := vals[0]
		if n, err := strconv.Atoi(v); err == nil {
			least := n
			for _, s := range vals {
				m, _ := strconv.Atoi(s)
				least = min(least, m)
			}
			if c, ok := smokeCaps[key]; ok {
				least = min(least, c)
			}
			v = strconv.Itoa(least)
		}
		y.Params[key] = []string{v}
	}
	w, _ := findWorkload(x.Workload)
	for _, p := range w.params {
		if c, ok := smokeCaps[p.key]; ok && len(y.Params[p.key]) == 0 {
			if d, _ := strconv.Atoi(p.def); d > c {
				y.Params[p.key] = []string{strconv.Itoa(c)}
			}
		}
	}
	y.Models = slices.Clone(x.Models)
	y.Reps, y.Auto = reps, false
	return y
}
