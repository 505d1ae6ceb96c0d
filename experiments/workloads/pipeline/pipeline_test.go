package pipeline

import (
	"testing"
)

func TestStageAddsOneToEveryByte(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 64, 1000} {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(i * 37)
		}
		Stage(buf)
		for i, b := range buf {
			if want := byte(i*37) + 1; b != want {
				t.Fatalf("n=%d: byte %d = %d; want %d", n, i, b, want)
			}
		}
	}
}

func TestSinkAcceptsAProperRun(t *testing.T) {
	for _, tt := range []struct{ stages, messages, size int }{{1, 1, 1}, {3, 300, 64}, {2, 5, 4096}} {
		j, err := NewJob(tt.stages, tt.messages, tt.size)
		if err != nil {
			t.Fatal(err)
		}
		s := j.NewSink()
		buf := make([]byte, tt.size)
		for k := range tt.messages {
			Fill(buf, k)
			for range tt.stages {
				Stage(buf)
			}
			if err := s.Accept(buf); err != nil {
				t.Fatalf("%+v: %v", tt, err)
			}
		}
		if err := s.Verify(); err != nil {
			t.Errorf("%+v: %v", tt, err)
		}
	}
}

func TestSinkRejects(t *testing.T) {
	j, _ := NewJob(2, 3, 100)
	buf := make([]byte, 100)
	staged := func(k, stages int) []byte {
		Fill(buf, k)
		for range stages {
			Stage(buf)
		}
		return buf
	}
	tests := map[string]func(s *Sink) error{
		"a skipped stage": func(s *Sink) error { return s.Accept(staged(0, 1)) },
		"a reordering":    func(s *Sink) error { return s.Accept(staged(1, 2)) },
		"a short payload": func(s *Sink) error { return s.Accept(staged(0, 2)[:99]) },
		"a corrupted byte": func(s *Sink) error {
			b := staged(0, 2)
			b[50] ^= 1
			return s.Accept(b)
		},
		"a missing message": func(s *Sink) error {
			s.Accept(staged(0, 2))
			return s.Verify()
		},
		"an extra message": func(s *Sink) error {
			for k := range 3 {
				s.Accept(staged(k, 2))
			}
			return s.Accept(staged(3, 2))
		},
	}
	for name, f := range tests {
		if err := f(j.NewSink()); err == nil {
			t.Errorf("sink accepted %s", name)
		}
	}
}

func TestNewJobErrors(t *testing.T) {
	for _, tt := range [][3]int{{0, 1, 1}, {1, 0, 1}, {1, 1, 0}} {
		if _, err := NewJob(tt[0], tt[1], tt[2]); err == nil {
			t.Errorf("NewJob%v succeeded; want an error", tt)
		}
	}
}
