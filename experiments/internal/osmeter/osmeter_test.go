package osmeter

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestPeakRSSFollowsAnAllocationAndResets(t *testing.T) {
	if err := ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	before, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1 // touch every page so that it becomes resident
	}
	peak, _ := PeakRSS()
	if peak-before < size*9/10 {
		t.Errorf("peak RSS grew by %d bytes after touching %d; want at least 90%%", peak-before, size)
	}
	b = nil
	if err := ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	after, _ := PeakRSS()
	if after >= peak-size/2 {
		t.Errorf("peak RSS after reset = %d; want well below the %d peak", after, peak)
	}
}

func TestCPUGrows(t *testing.T) {
	c0, err := CPU(unix.RUSAGE_SELF)
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 200_000_000 {
		x += i % 7
	}
	c1, _ := CPU(unix.RUSAGE_SELF)
	if c1 <= c0 || x == 0 {
		t.Errorf("CPU time %v → %v after a busy loop; want it to grow", c0, c1)
	}
}

func TestStatusKB(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Name:\tx\nVmPeak:\t  9 kB\nVmHWM:\t    2144 kB\nVmRSS:\t 1 kB\n", 2144 << 10, true},
		{"Name:\tx\nVmHWM:\t7 kB", 7 << 10, true},
		{"Name:\tx\nVmRSS:\t 1 kB\n", 0, false},
		{"Name:\tx\nVmHWM:\t 1 MB\n", 0, false},
		{"Name:\tVmHWM: 5 kB\nVmHWM:\t3 kB\n", 3 << 10, true}, // only a line's start counts
	}
	for _, tt := range tests {
		got, err := statusKB([]byte(tt.in), "VmHWM")
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("statusKB(%q) = %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestMeter(t *testing.T) {
	m, err := OpenMeter()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.ResetPeak(); err != nil {
		t.Fatal(err)
	}
	before, err := m.Peak()
	if err != nil {
		t.Fatal(err)
	}
	const size = 32 << 20
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	after, _ := m.Peak()
	if after-before < size*9/10 || b[0] != 1 {
		t.Errorf("Meter peak grew by %d bytes after touching %d; want at least 90%%", after-before, size)
	}
}
