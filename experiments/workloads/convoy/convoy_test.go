package convoy

import (
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	j, err := NewJob(3, 100*time.Microsecond, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	us := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Microsecond)
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		lat    []time.Duration
		chunks int
		early  time.Duration
		ok     bool
	}{
		{"every op, one chunk", us(150, 5000, 120), 1, 0, true},
		{"an op missing", us(150, 120), 1, 0, false},
		{"an op shorter than its wait", us(150, 50, 120), 1, 0, false},
		{"shorter, within the runtime's early firing", us(150, 50, 120), 1, 60 * time.Microsecond, true},
		{"no chunk beside the I/O worker", us(150, 5000, 120), 0, 0, false},
	} {
		if err := j.Verify(tt.lat, tt.chunks, tt.early); (err == nil) != tt.ok {
			t.Errorf("%s: Verify = %v; want ok %v", tt.name, err, tt.ok)
		}
	}
	if err := j.CheckChunk(j.Chunk(nil)); err != nil {
		t.Error(err)
	}
	if err := j.CheckChunk(j.Pi + 1); err == nil {
		t.Error("CheckChunk(wrong count) gave no error")
	}
}

func TestNewJobRefuses(t *testing.T) {
	for name, f := range map[string]func() (Job, error){
		"no ops":           func() (Job, error) { return NewJob(0, time.Millisecond, 1, 100) },
		"no wait":          func() (Job, error) { return NewJob(1, 0, 1, 100) },
		"negative workers": func() (Job, error) { return NewJob(1, time.Millisecond, -1, 100) },
		"chunk below 2":    func() (Job, error) { return NewJob(1, time.Millisecond, 1, 1) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: NewJob gave no error", name)
		}
	}
}
