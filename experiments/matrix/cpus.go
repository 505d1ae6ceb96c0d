package matrix

import (
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// An integer parameter may list "LO..cpus": every integer from LO to the
// number of CPUs the run may use, so that one matrix covers N = 1 … CPUs on
// any machine (claim 9, partitioning over N cores, needs every N):
//
//	workers = [1, 2, 4, "1..cpus"]   # on 2 CPUs: 1, 2, 4; on 8: 1 … 8
//
// The values are expanded when cells are made, with the matrix's CPUs: the
// CPUs this process may run on (sched_getaffinity), or those of the declared
// hardware the run is for (SetCPUs).
const cpusSuffix = "..cpus"

// usableCPUs is how many CPUs this process may run on.
func usableCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil && set.Count() > 0 {
		return set.Count()
	}
	return runtime.NumCPU()
}

// isCPURange reports whether v is "LO..cpus" and its LO.
func isCPURange(v string) (int, bool) {
	lo, ok := strings.CutSuffix(v, cpusSuffix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(lo)
	return n, err == nil
}

// expand returns vals with every "LO..cpus" replaced by LO … cpus (none when
// cpus < LO), without duplicates, in first-seen order.
func expand(vals []string, cpus int) []string {
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range vals {
		if lo, ok := isCPURange(v); ok {
			for n := lo; n <= cpus; n++ {
				add(strconv.Itoa(n))
			}
			continue
		}
		add(v)
	}
	return out
}

// Values returns the values of parameter key as cells take them: "LO..cpus"
// expanded with the experiment's CPUs.
func (x Experiment) Values(key string) []string { return expand(x.Params[key], x.CPUs) }

// SetCPUs sets the CPUs that "LO..cpus" values expand to: those of the
// hardware a run is declared for.
func (m *Matrix) SetCPUs(n int) {
	m.CPUs = n
	for i := range m.Experiments {
		m.Experiments[i].CPUs = n
	}
}
