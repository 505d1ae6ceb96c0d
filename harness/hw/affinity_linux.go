package hw

import "golang.org/x/sys/unix"

// UsableCPUs lists the CPUs in this thread's affinity mask (a container or
// taskset may allow fewer than the machine has).
func UsableCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var cpus []int
	for c := 0; len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
