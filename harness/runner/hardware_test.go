package runner

import (
	"regexp"
	"strings"
	"testing"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/hw"
)

func TestMismatch(t *testing.T) {
	box := hw.Machine{CPUModel: "Intel(R) Xeon(R) Processor", UsableCPUs: 2, MemoryBytes: 23 << 30}
	usable := []int{0, 1}
	tests := []struct {
		name string
		decl matrix.Hardware
		want []string // substrings, one per mismatch
	}{
		{"match", matrix.Hardware{CPUs: 2, MemoryGiB: 24, CPUModel: regexp.MustCompile("Xeon")}, nil},
		{"cpus", matrix.Hardware{CPUs: 8, MemoryGiB: 24}, []string{"cpus: declared 8, detected 2"}},
		{"memory", matrix.Hardware{CPUs: 2, MemoryGiB: 64}, []string{"memory: declared 64.0 GiB, detected 23.0 GiB"}},
		{"model", matrix.Hardware{CPUs: 2, MemoryGiB: 24, CPUModel: regexp.MustCompile("EPYC")}, []string{`does not match the declared pattern "EPYC"`}},
		{"affinity within", matrix.Hardware{CPUs: 1, MemoryGiB: 24, Affinity: []int{1}}, nil},
		{"affinity beyond", matrix.Hardware{CPUs: 2, MemoryGiB: 24, Affinity: []int{1, 5}}, []string{"CPU 5 is not among"}},
		{"several", matrix.Hardware{CPUs: 4, MemoryGiB: 2}, []string{"cpus:", "memory:"}},
	}
	for _, tt := range tests {
		got := Mismatch(tt.decl, box, usable)
		if len(got) != len(tt.want) {
			t.Errorf("%s: Mismatch = %q; want %d problems", tt.name, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: problem %d = %q; want it to contain %q", tt.name, i, got[i], w)
			}
		}
	}
}
