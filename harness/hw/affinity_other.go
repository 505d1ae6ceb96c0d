//go:build !linux

package hw

import "runtime"

// UsableCPUs lists CPUs 0 … NumCPU−1 where affinity masks are not read.
func UsableCPUs() ([]int, error) {
	cpus := make([]int, runtime.NumCPU())
	for i := range cpus {
		cpus[i] = i
	}
	return cpus, nil
}
