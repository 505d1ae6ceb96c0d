//go:build !linux

package hw

import "runtime"

func usableCPUs() int { return runtime.NumCPU() }
