package runner

import (
	"fmt"
	"math"
	"slices"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/hw"
)

// Mismatch lists how a detected machine differs from a declared one; nil
// means it matches. usable lists the CPUs this process may run on.
func Mismatch(d matrix.Hardware, m hw.Machine, usable []int) []string {
	var out []string
	if len(d.Affinity) > 0 {
		for _, c := range d.Affinity {
			if !slices.Contains(usable, c) {
				out = append(out, fmt.Sprintf("affinity: CPU %d is not among this machine's usable CPUs %v", c, usable))
			}
		}
	} else if m.UsableCPUs != d.CPUs {
		out = append(out, fmt.Sprintf("cpus: declared %d, detected %d usable", d.CPUs, m.UsableCPUs))
	}
	gib := float64(m.MemoryBytes) / (1 << 30)
	// Kernels and firmware keep part of the memory; allow ±10%.
	if math.Abs(gib-d.MemoryGiB) > 0.1*d.MemoryGiB {
		out = append(out, fmt.Sprintf("memory: declared %.1f GiB, detected %.1f GiB", d.MemoryGiB, gib))
	}
	if d.CPUModel != nil && !d.CPUModel.MatchString(m.CPUModel) {
		out = append(out, fmt.Sprintf("cpu model: %q does not match the declared pattern %q", m.CPUModel, d.CPUModel.String()))
	}
	return out
}
