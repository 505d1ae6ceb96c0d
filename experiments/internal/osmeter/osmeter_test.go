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
