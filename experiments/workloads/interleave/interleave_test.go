package interleave

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLog(t *testing.T) {
	l := NewLog(2)
	for _, e := range [][2]int{{0, 0}, {1, 0}, {1, 1}, {0, 1}} {
		l.Emit(e[0], e[1])
	}
	if o, err := l.Order(); o != "ABBA" || err != nil {
		t.Errorf("Order() = %q, %v; want ABBA, nil", o, err)
	}
	for name, events := range map[string][][2]int{
		"skipped event":  {{0, 0}, {0, 2}},
		"repeated event": {{0, 0}, {0, 0}},
		"unknown task":   {{2, 0}},
	} {
		l := NewLog(2)
		for _, e := range events {
			l.Emit(e[0], e[1])
		}
		if _, err := l.Order(); err == nil {
			t.Errorf("%s: Order() gave no error", name)
		}
	}
}

func TestVerify(t *testing.T) {
	j, err := NewJob(2, 3, 2, Wait, time.Millisecond, 100)
	if err != nil {
		t.Fatal(err)
	}
	if j.Pi != 25 {
		t.Errorf("Pi = %d; want 25 primes in [2, 100]", j.Pi)
	}
	for _, tt := range []struct {
		orders []string
		ok     bool
	}{
		{[]string{"ABABAB", "AAABBB"}, true},
		{[]string{"ABABAB"}, false},           // one repeat missing
		{[]string{"ABABAB", "AABBB"}, false},  // an event missing
		{[]string{"ABABAB", "AAAABB"}, false}, // A emitted 4
	} {
		if err := j.Verify(tt.orders); (err == nil) != tt.ok {
			t.Errorf("Verify(%q) = %v; want ok %v", tt.orders, err, tt.ok)
		}
	}
	if err := j.CheckPause(j.Pause()); err != nil {
		t.Error(err)
	}
	if err := j.CheckPause(24); err == nil {
		t.Error("CheckPause(24) gave no error")
	}
}

func TestMetrics(t *testing.T) {
	orders := []string{"ABAB", "ABAB", "AABB", "BBAA"}
	if d := Distinct(orders); d != 3 {
		t.Errorf("Distinct = %d; want 3", d)
	}
	if r := LongestRun(orders); r != 2 {
		t.Errorf("LongestRun = %d; want 2", r)
	}
	if r := LongestRun([]string{"ABABABAB"}); r != 1 {
		t.Errorf("LongestRun(alternating) = %d; want 1", r)
	}
	if c, want := Counts(orders), []string{"ABAB×2", "AABB×1", "BBAA×1"}; !slices.Equal(c, want) {
		t.Errorf("Counts = %q; want %q", c, want)
	}
}

func TestNewJobRefuses(t *testing.T) {
	for _, tt := range []struct {
		tasks, events, repeats int
		between                string
		want                   string
	}{
		{1, 10, 20, Wait, "tasks"},
		{27, 10, 20, Wait, "tasks"},
		{2, 0, 20, Wait, "events"},
		{2, 10, 0, Wait, "repeats"},
		{2, 10, 20, "nap", "between"},
	} {
		if _, err := NewJob(tt.tasks, tt.events, tt.repeats, tt.between, time.Millisecond, 100); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewJob(%d, %d, %d, %q) = %v; want an error about %s", tt.tasks, tt.events, tt.repeats, tt.between, err, tt.want)
		}
	}
}
