package thread

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// onThreads runs f(i) for i in [0, n) on n goroutines locked to OS threads
// and waits for them.
func onThreads(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			runtime.LockOSThread()
			f(i)
		})
	}
	wg.Wait()
}

// TestGILExcludes has threads update a plain variable, each update under the
// GIL: the race detector reports any two that are not ordered by the GIL, and
// the instrumentation must never have seen two holders.
func TestGILExcludes(t *testing.T) {
	const threads, updates = 4, 2000
	g := NewGIL(100 * time.Microsecond)
	shared := 0
	onThreads(threads, func(i int) {
		h := g.NewThread()
		for k := range updates {
			h.Acquire()
			shared++
			if k%2 == 0 {
				// Half the time, hold on until asked to let go.
				for range 100 {
					shared++
					h.Check()
				}
			}
			h.Release()
		}
	})
	if got, want := shared, threads*updates*(1+100)/2+threads*updates/2; got != want {
		t.Errorf("shared = %d after %d threads' updates; want %d", got, threads, want)
	}
	s := g.Stats()
	if s.MaxHolders != 1 {
		t.Errorf("at most %d threads held the GIL at once; want 1", s.MaxHolders)
	}
	if want := int64(threads * updates); s.Takes < want {
		t.Errorf("%d takes; want at least %d", s.Takes, want)
	}
}

// TestGILHandsOverOnRequest has thread A hold the GIL and only poll it, while
// thread B wants it three times. B gets it only if A honours drop requests,
// and after every release on request A must find that B has had its turn:
// without CPython's forced switching, A would often take the GIL straight
// back.
func TestGILHandsOverOnRequest(t *testing.T) {
	g := NewGIL(time.Millisecond)
	a, b := g.NewThread(), g.NewThread()
	const turns = 3
	turnsTaken := 0 // written by B, read by A, both under the GIL
	var errs []string
	a.Acquire()
	onThreads(2, func(i int) {
		if i == 1 {
			for range turns {
				b.Acquire()
				turnsTaken++
				b.Release()
			}
			return
		}
		seen := 0
		for seen < turns {
			before := a.forced
			a.Check()
			if a.forced == before {
				continue
			}
			if turnsTaken == seen {
				errs = append(errs, "A released the GIL on request and took it back before B had it")
			}
			seen = turnsTaken
		}
		a.Release()
	})
	for _, e := range errs {
		t.Error(e)
	}
	s := g.Stats()
	if s.DropRequests == 0 || s.ForcedDrops == 0 || s.Switches < 2 {
		t.Errorf("stats %+v; want drop requests, forced drops and at least 2 switches", s)
	}
	if s.MaxHolders != 1 {
		t.Errorf("at most %d threads held the GIL at once; want 1", s.MaxHolders)
	}
}

func TestGILMisusePanics(t *testing.T) {
	tests := []struct {
		name string
		f    func(h *GILThread)
	}{
		{"release unheld", func(h *GILThread) { h.Release() }},
		{"acquire twice", func(h *GILThread) { h.Acquire(); h.Acquire() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tc.name)
				}
			}()
			tc.f(NewGIL(0).NewThread())
		})
	}
}

func TestGILNilHandleIsNoop(t *testing.T) {
	var h *GILThread
	h.Acquire()
	h.Check()
	h.BeginBlocking()
	h.EndBlocking()
	h.Release()
}

func TestNewGILInterval(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, DefaultSwitchInterval},
		{-time.Second, DefaultSwitchInterval},
		{time.Millisecond, time.Millisecond},
	} {
		if got := NewGIL(tc.in).Interval(); got != tc.want {
			t.Errorf("NewGIL(%v).Interval() = %v; want %v", tc.in, got, tc.want)
		}
	}
}
