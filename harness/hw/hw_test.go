package hw

import (
	"context"
	"os"
	"regexp"
	"runtime"
	"testing"
)

func TestDetect(t *testing.T) {
	m, err := Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.LogicalCPUs < 1 || m.UsableCPUs < 1 || m.UsableCPUs > m.LogicalCPUs || m.MemoryBytes == 0 || m.Kernel == "" {
		t.Errorf("Detect = %+v; want CPUs, memory and kernel", m)
	}
	if m.UsableCPUs != runtime.NumCPU() {
		t.Errorf("usable CPUs %d; runtime.NumCPU (the affinity mask) says %d", m.UsableCPUs, runtime.NumCPU())
	}
}

func TestID(t *testing.T) {
	tests := []struct {
		m    Machine
		want string
	}{
		{Machine{CPUModel: "Intel(R) Xeon(R) Processor", UsableCPUs: 2, MemoryBytes: 23<<30 + 600<<20}, "intel-xeon-processor-2cpu-24gib"},
		{Machine{CPUModel: "AMD EPYC 7B13 64-Core Processor", UsableCPUs: 8, MemoryBytes: 32 << 30}, "amd-epyc-7b13-64-core-processor-8cpu-32gib"},
		{Machine{CPUModel: "Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", UsableCPUs: 12, MemoryBytes: 32 << 30}, "intel-core-i7-8700k-3-70ghz-12cpu-32gib"},
	}
	for _, tt := range tests {
		if got := tt.m.ID(); got != tt.want {
			t.Errorf("ID(%q) = %q; want %q", tt.m.CPUModel, got, tt.want)
		}
		if !regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`).MatchString(tt.m.ID()) {
			t.Errorf("ID %q is not a plain folder name", tt.m.ID())
		}
	}
}

func TestDetectSoftware(t *testing.T) {
	dir, _ := os.Getwd()
	s := DetectSoftware(context.Background(), dir)
	if !regexp.MustCompile(`^go1\.\d+`).MatchString(s.GoVersion) || s.GOMAXPROCS < 1 {
		t.Errorf("DetectSoftware = %+v", s)
	}
}
