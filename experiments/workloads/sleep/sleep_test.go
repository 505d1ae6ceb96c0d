package sleep

import (
	"testing"
	"time"
)

func TestNewJob(t *testing.T) {
	tests := []struct {
		tasks, workers int
		wantConc       int
		wantIdeal      time.Duration
	}{
		{10, 0, 10, 10 * time.Millisecond},
		{10, 3, 3, 40 * time.Millisecond},
		{10, 10, 10, 10 * time.Millisecond},
		{10, 50, 10, 10 * time.Millisecond},
		{1, 1, 1, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		j, err := NewJob(tt.tasks, tt.workers, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if j.Concurrency != tt.wantConc || j.Ideal() != tt.wantIdeal {
			t.Errorf("NewJob(%d, %d): concurrency %d, ideal %v; want %d, %v", tt.tasks, tt.workers, j.Concurrency, j.Ideal(), tt.wantConc, tt.wantIdeal)
		}
	}
}

func TestNewJobErrors(t *testing.T) {
	for _, tt := range []struct {
		tasks, workers int
		d              time.Duration
	}{{0, 1, time.Millisecond}, {1, -1, time.Millisecond}, {1, 1, -time.Millisecond}} {
		if _, err := NewJob(tt.tasks, tt.workers, tt.d); err == nil {
			t.Errorf("NewJob(%d, %d, %v) succeeded; want an error", tt.tasks, tt.workers, tt.d)
		}
	}
}

func TestVerify(t *testing.T) {
	j, _ := NewJob(4, 2, 10*time.Millisecond)
	if err := j.Verify(4, 25*time.Millisecond); err != nil {
		t.Errorf("Verify of a complete job: %v", err)
	}
	if err := j.Verify(3, 25*time.Millisecond); err == nil {
		t.Error("Verify accepted a missing task")
	}
	if err := j.Verify(4, 15*time.Millisecond); err == nil {
		t.Error("Verify accepted a run shorter than the waits it holds")
	}
}
