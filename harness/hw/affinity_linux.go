package hw

import "golang.org/x/sys/unix"

// usableCPUs counts the CPUs in this thread's affinity mask (a container or
// taskset may allow fewer than the machine has).
func usableCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0
	}
	return set.Count()
}
