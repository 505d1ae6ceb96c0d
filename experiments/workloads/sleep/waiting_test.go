package sleep

import (
	"testing"
	"time"
)

func TestPeakWaiting(t *testing.T) {
	tests := []struct {
		name  string
		spans []Span
		want  int
	}{
		{"none", nil, 0},
		{"one", []Span{{0, 10}}, 1},
		{"all at once", []Span{{0, 10}, {1, 11}, {2, 12}}, 3},
		{"one after another", []Span{{0, 10}, {10, 20}, {20, 30}}, 1},
		{"two waves", []Span{{0, 10}, {1, 10}, {10, 20}, {11, 21}, {12, 22}}, 3},
		{"nested", []Span{{0, 100}, {10, 20}, {30, 40}, {35, 36}}, 3},
		{"backwards is an instant", []Span{{5, 1}, {0, 10}}, 2},
	}
	for _, tt := range tests {
		if got := PeakWaiting(tt.spans); got != tt.want {
			t.Errorf("%s: PeakWaiting(%v) = %d; want %d", tt.name, tt.spans, got, tt.want)
		}
	}
}

func TestClockIsMonotonicAndMatchesTheKernel(t *testing.T) {
	c := NewClock()
	a := c.Now()
	time.Sleep(2 * time.Millisecond)
	b := c.Now()
	if b-a < int64(2*time.Millisecond) {
		t.Errorf("Clock advanced %v over a 2 ms sleep", time.Duration(b-a))
	}
	// Two clocks made apart agree on the kernel's clock to well within the
	// spans they bracket (100 ms waits): a broken offset would be off by
	// the process's age or more.
	d := NewClock().Now() - c.Now()
	if d < -int64(time.Millisecond) || d > int64(time.Millisecond) {
		t.Errorf("two clocks differ by %v", time.Duration(d))
	}
}
