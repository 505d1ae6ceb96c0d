package thread

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/sleep"
)

// TestSleepSpans checks the wait spans a warm sleep Run reports: one per
// task, each at least the task's sleep long, all inside the Run, and as many
// open at once as the job lets wait together.
func TestSleepSpans(t *testing.T) {
	const d = 20 * time.Millisecond
	for _, m := range []Model{{}, fast} {
		for _, tc := range []struct {
			name           string
			tasks, workers int
		}{
			{"all at once", 50, 0},
			{"pool", 12, 4},
		} {
			t.Run(m.Name()+"/"+tc.name, func(t *testing.T) {
				job := mustWork(sleep.NewJob(tc.tasks, tc.workers, d))
				x, _ := startThreadsOf(t, m, job)
				defer modeltest.CloseGone(t, x)
				c := sleep.NewClock()
				before := c.Now()
				r := modeltest.RunVerified(t, x, job)
				after := c.Now()
				if got := len(r.Waits); got != tc.tasks {
					t.Fatalf("%d spans for %d tasks", got, tc.tasks)
				}
				// Two clocks anchored apart agree to well within 1 ms
				// (see sleep.Clock).
				const slack = int64(time.Millisecond)
				for k, s := range r.Waits {
					if s.End-s.Start < int64(d) {
						t.Errorf("span %d lasted %v, less than the %v sleep", k, time.Duration(s.End-s.Start), d)
					}
					if s.Start < before-slack || s.End > after+slack {
						t.Errorf("span %d [%d, %d] is not inside the Run [%d, %d]", k, s.Start, s.End, before, after)
					}
				}
				peak := sleep.PeakWaiting(r.Waits)
				t.Logf("peak waiting %d of concurrency %d; run %v", peak, job.Concurrency, time.Duration(after-before))
				if peak < 1 || peak > job.Concurrency {
					t.Errorf("peak waiting %d; want 1 to %d (the job's concurrency)", peak, job.Concurrency)
				}
			})
		}
	}
}

// TestPsLentForTheExecsLife checks that a thread Exec raises GOMAXPROCS by
// one P per thread while it is open and restores it when closed, also when
// two Execs overlap; thread-gil borrows none.
func TestPsLentForTheExecsLife(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	a, _ := startThreadsOf(t, Model{}, mustWork(sleep.NewJob(3, 0, time.Millisecond)))
	if got, want := runtime.GOMAXPROCS(0), base+3; got != want {
		t.Errorf("GOMAXPROCS %d with a 3-thread Exec open; want %d", got, want)
	}
	b, _ := startThreadsOf(t, Model{}, mustWork(sleep.NewJob(5, 0, time.Millisecond)))
	if got, want := runtime.GOMAXPROCS(0), base+8; got != want {
		t.Errorf("GOMAXPROCS %d with 3- and 5-thread Execs open; want %d", got, want)
	}
	g, _ := startThreadsOf(t, fast, mustWork(sleep.NewJob(4, 0, time.Millisecond)))
	if got, want := runtime.GOMAXPROCS(0), base+8; got != want {
		t.Errorf("GOMAXPROCS %d after a thread-gil Exec started; want %d (thread-gil borrows no P)", got, want)
	}
	modeltest.CloseGone(t, g)
	modeltest.CloseGone(t, a)
	if got, want := runtime.GOMAXPROCS(0), base+5; got != want {
		t.Errorf("GOMAXPROCS %d with the 5-thread Exec left; want %d", got, want)
	}
	modeltest.CloseGone(t, b)
	if got := runtime.GOMAXPROCS(0); got != base {
		t.Errorf("GOMAXPROCS %d after every Exec closed; want %d", got, base)
	}
	if got, want := psFor(1<<20), PsPerCPU*base; got != want {
		t.Errorf("psFor(2^20) = %d; want %d (PsPerCPU per P)", got, want)
	}
}

// TestGateReleasesEveryThread runs several tasks through a futex gate and
// checks that every thread runs every task exactly once, in order.
func TestGateReleasesEveryThread(t *testing.T) {
	const n, rounds = 16, 50
	ts, err := startThreads(context.Background(), n, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, n)
	for r := range rounds {
		var wg sync.WaitGroup
		wg.Add(n)
		ts.release(func(i int) {
			if counts[i] != r {
				t.Errorf("thread %d: round %d after %d tasks", i, r, counts[i])
			}
			counts[i]++
			wg.Done()
		})
		wg.Wait()
	}
	if err := ts.close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range counts {
		if c != rounds {
			t.Errorf("thread %d ran %d of %d tasks", i, c, rounds)
		}
	}
}

// TestLink passes buffers through a futex ring between two locked threads,
// with the ring smaller than the traffic so that both sides block, and checks
// order; then checks that abandoning wakes a blocked getter.
func TestLink(t *testing.T) {
	var stop atomic.Bool
	l := newLink(3, &stop)
	const n = 2000
	done := make(chan []int)
	go func() {
		runtime.LockOSThread()
		var got []int
		for range n {
			buf, ok := l.get(nil)
			if !ok {
				break
			}
			got = append(got, int(buf[0])|int(buf[1])<<8)
		}
		done <- got
	}()
	go func() {
		runtime.LockOSThread()
		for k := range n {
			if !l.put([]byte{byte(k), byte(k >> 8)}, nil) {
				return
			}
		}
	}()
	got := <-done
	if len(got) != n {
		t.Fatalf("got %d of %d buffers", len(got), n)
	}
	for k, v := range got {
		if v != k {
			t.Fatalf("buffer %d carries %d", k, v)
		}
	}

	blocked := make(chan bool)
	go func() {
		runtime.LockOSThread()
		_, ok := l.get(nil)
		blocked <- ok
	}()
	time.Sleep(10 * time.Millisecond) // let it block (the test passes either way)
	stop.Store(true)
	l.moved()
	if ok := <-blocked; ok {
		t.Errorf("get on an empty, abandoned ring returned a buffer")
	}
	// A put that finds room still succeeds; one that would block gives up.
	for k := range 4 {
		if ok := l.put([]byte{0}, nil); ok != (k < 3) {
			t.Errorf("put %d on an abandoned ring of 3: %v; want %v", k+1, ok, k < 3)
		}
	}
}

var _ model.Exec = (*pipe)(nil)
