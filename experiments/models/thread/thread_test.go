package thread

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

// fast is the GIL variant with a short switch interval, so that tests see
// many intervals in little time.
var fast = Model{GIL: true, SwitchInterval: time.Millisecond}

func TestConformance(t *testing.T) {
	for _, m := range []Model{{}, {GIL: true}} {
		t.Run(m.Name(), func(t *testing.T) { modeltest.Conformance(t, m) })
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		m    Model
		want string
	}{
		{Model{}, "thread"},
		{Model{GIL: true}, "thread-gil"},
		{Model{GIL: true, SwitchInterval: time.Second}, "thread-gil"},
	} {
		if got := tc.m.Name(); got != tc.want {
			t.Errorf("%+v.Name() = %q; want %q", tc.m, got, tc.want)
		}
	}
}

// TestOneThreadPerWorker checks the model's defining property: every worker
// is an OS thread of its own in this process, and a warm Exec reuses them.
func TestOneThreadPerWorker(t *testing.T) {
	tests := []struct {
		name     string
		work     model.Work
		wantTIDs int
	}{
		{"primes/1", mustWork(primes.NewJob(2000, 1, primes.Replicate)), 1},
		{"primes/2", mustWork(primes.NewJob(2000, 2, primes.Replicate)), 2},
		{"primes/4", mustWork(primes.NewJob(2000, 4, primes.Partition)), 4},
		// Every thread takes one task and holds it for 50 ms, long enough
		// for all of them to have taken theirs before any is free again.
		{"sleep/1", mustWork(sleep.NewJob(1, 0, 50*time.Millisecond)), 1},
		{"sleep/4", mustWork(sleep.NewJob(4, 0, 50*time.Millisecond)), 4},
		{"sleep/16", mustWork(sleep.NewJob(16, 0, 50*time.Millisecond)), 16},
		// Source, stages, sink.
		{"pipeline/1", mustWork(pipeline.NewJob(1, 50, 64)), 3},
		{"pipeline/3", mustWork(pipeline.NewJob(3, 50, 64)), 5},
	}
	for _, m := range []Model{{}, fast} {
		for _, tc := range tests {
			t.Run(m.Name()+"/"+tc.name, func(t *testing.T) {
				rs := modeltest.Run(t, m, tc.work, 2)
				for i, r := range rs {
					onOwnThreads(t, i, r, tc.wantTIDs)
				}
				if got, want := rs[1].TIDs, rs[0].TIDs; !slices.Equal(got, want) {
					t.Errorf("second run on threads %v; want the first run's %v (a warm exec reuses its threads)", got, want)
				}
			})
		}
	}
}

// TestTenThousandSleepingThreads runs the sleep workload with one thread per
// task at 10 000 tasks, which is beyond the Go runtime's default thread limit.
func TestTenThousandSleepingThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10 000 threads")
	}
	for _, m := range []Model{{}, {GIL: true}} {
		t.Run(m.Name(), func(t *testing.T) {
			if m.GIL && raceEnabled {
				// With thousands of threads queued for the GIL, a
				// hand-over slower than the switch interval makes every
				// waiter time out and ask again, which slows hand-overs
				// further (CPython's GIL does the same). The race
				// detector's slowdown is enough to tip it over: minutes.
				t.Skip("the race detector makes 10 000 threads contending for the GIL collapse")
			}
			job := mustWork(sleep.NewJob(10000, 0, 10*time.Millisecond))
			x, tids := startThreadsOf(t, m, job)
			if got, want := len(tids), 10000; got != want {
				t.Errorf("Start created %d threads; want %d", got, want)
			}
			modeltest.RunVerified(t, x, job)
			modeltest.CloseGone(t, x, tids...)
		})
	}
}

// TestGILOneHolderAtATime runs the primes workload under the GIL on a job that
// spans many switch intervals: no two threads may ever compute at once, the
// GIL must have changed hands on request, and every count must be right.
func TestGILOneHolderAtATime(t *testing.T) {
	for _, workers := range []int{2, 4} {
		t.Run(strconv.Itoa(workers), func(t *testing.T) {
			// n = 20000: ~2·10⁷ divisions per thread, tens of milliseconds,
			// against a 1 ms interval.
			job := mustWork(primes.NewJob(20000, workers, primes.Replicate))
			x, _ := startThreadsOf(t, fast, job)
			r := modeltest.RunVerified(t, x, job)
			if got := len(r.TIDs); got != workers {
				t.Errorf("%d distinct TIDs; want %d", got, workers)
			}
			s := x.(interface{ GIL() *GIL }).GIL().Stats()
			if s.MaxHolders != 1 {
				t.Errorf("at most %d threads held the GIL at once; want 1", s.MaxHolders)
			}
			if s.DropRequests == 0 || s.ForcedDrops == 0 || s.Switches == 0 {
				t.Errorf("stats %+v; want drop requests, forced drops and switches (the threads must take turns within a count)", s)
			}
			modeltest.CloseGone(t, x)
		})
	}
}

// TestGILReleasedAroundSleep runs sleep tasks under the GIL while another
// thread computes with it: the tasks complete only if the computing thread
// hands the GIL over on request, and other threads take the GIL while a task
// sleeps only if the sleep is made with the GIL released.
func TestGILReleasedAroundSleep(t *testing.T) {
	job := mustWork(sleep.NewJob(8, 4, 30*time.Millisecond))
	x, _ := startThreadsOf(t, fast, job)
	g := x.(interface{ GIL() *GIL }).GIL()

	holding, done := make(chan struct{}), make(chan struct{})
	var stop atomic.Bool
	var rounds int
	go func() {
		runtime.LockOSThread()
		defer close(done)
		c := g.NewThread()
		c.Acquire()
		close(holding)
		for !stop.Load() {
			if primes.Count(2, 2000, c.Check) != primes.Pi(2000) {
				panic("wrong count")
			}
			rounds++
		}
		c.Release()
	}()
	<-holding
	before := g.Stats()
	modeltest.RunVerified(t, x, job)
	stop.Store(true)
	<-done
	s := g.Stats()
	t.Logf("compute thread: %d counts; GIL stats %+v", rounds, s)
	if s.MaxHolders != 1 {
		t.Errorf("at most %d threads held the GIL at once; want 1", s.MaxHolders)
	}
	if s.ForcedDrops == before.ForcedDrops {
		t.Errorf("no forced drop during the run (stats %+v); want the computing thread to hand the GIL over", s)
	}
	if s.TakesWhileBlocked == 0 || s.MaxBlocked == 0 {
		t.Errorf("stats %+v; want the GIL taken while a task slept", s)
	}
	modeltest.CloseGone(t, x)
}

// TestThreadsEndOnClose checks that Close ends the threads that Start created:
// afterwards none of them is a task of this process.
func TestThreadsEndOnClose(t *testing.T) {
	works := []struct {
		name string
		work model.Work
	}{
		{"primes", mustWork(primes.NewJob(2000, 3, primes.Partition))},
		{"sleep", mustWork(sleep.NewJob(6, 3, time.Millisecond))},
		{"pipeline", mustWork(pipeline.NewJob(2, 40, 128))},
	}
	for _, m := range []Model{{}, fast} {
		for _, w := range works {
			t.Run(m.Name()+"/"+w.name, func(t *testing.T) {
				x, tids := startThreadsOf(t, m, w.work)
				r := modeltest.RunVerified(t, x, w.work)
				for _, tid := range r.TIDs {
					if !slices.Contains(tids, tid) {
						t.Errorf("run used thread %d, which is not one of the threads Start created (%v)", tid, tids)
					}
				}
				// The check below can see live threads.
				if live := modeltest.Threads(t); !subset(tids, live) {
					t.Fatalf("threads %v are not all in /proc/self/task %v before Close", tids, live)
				}
				modeltest.CloseGone(t, x, tids...)
			})
		}
	}
}

func TestStartRefuses(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		m      Model
		ctx    context.Context
		work   model.Work
		wantIs error
	}{
		{"too many threads", Model{}, context.Background(), sleep.Job{Tasks: MaxThreads + 1, Concurrency: MaxThreads + 1}, nil},
		{"too many stages", Model{}, context.Background(), mustWork(pipeline.NewJob(MaxThreads, 1, 1)), nil},
		{"negative interval", Model{GIL: true, SwitchInterval: -time.Millisecond}, context.Background(), mustWork(sleep.NewJob(1, 1, 0)), nil},
		{"no ranges", Model{}, context.Background(), primes.Job{}, nil},
		{"no concurrency", Model{}, context.Background(), sleep.Job{Tasks: 1}, nil},
		{"nil pipeline", Model{}, context.Background(), (*pipeline.Job)(nil), nil},
		{"unknown work", Model{}, context.Background(), modeltest.UnknownWork{}, nil},
		{"cancelled", Model{}, cancelled, mustWork(sleep.NewJob(1, 1, 0)), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := tc.m.Start(tc.ctx, tc.work)
			if err == nil {
				x.Close()
				t.Fatalf("Start(%T) succeeded; want an error", tc.work)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Start: %v; want an error wrapping %v", err, tc.wantIs)
			}
			t.Logf("Start: %v", err)
		})
	}
}

// TestRunHonoursContext ends a Run's context while its threads are busy: Run
// must return ctx's error, the Exec must refuse to run again, and Close must
// still end every thread.
func TestRunHonoursContext(t *testing.T) {
	works := []struct {
		name string
		work model.Work
	}{
		// None of these can finish within the deadline.
		{"primes", mustWork(primes.NewJob(30000, 2, primes.Replicate))},
		{"sleep", mustWork(sleep.NewJob(100, 2, 100*time.Millisecond))},
		{"pipeline", mustWork(pipeline.NewJob(2, 1<<40, 4096))},
	}
	for _, m := range []Model{{}, fast} {
		for _, w := range works {
			t.Run(m.Name()+"/"+w.name, func(t *testing.T) {
				x, tids := startThreadsOf(t, m, w.work)
				modeltest.RunPastDeadline(t, x, 20*time.Millisecond)
				modeltest.CloseGone(t, x, tids...)
			})
		}
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	job := mustWork(sleep.NewJob(2, 2, time.Millisecond))
	x, tids := startThreadsOf(t, Model{}, job)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := x.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v; want an error wrapping %v", err, context.Canceled)
	}
	// Nothing was handed to the threads, so the Exec is still usable.
	modeltest.RunVerified(t, x, job)
	modeltest.CloseGone(t, x, tids...)
}

func mustWork[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// startThreadsOf starts m on w and returns the Exec with the thread IDs its
// threads reported at start.
func startThreadsOf(t *testing.T, m Model, w model.Work) (model.Exec, []int) {
	t.Helper()
	x, err := m.Start(context.Background(), w)
	if err != nil {
		t.Fatalf("%s: Start(%T): %v", m.Name(), w, err)
	}
	var b *base
	switch x := x.(type) {
	case *primesExec:
		b = x.base
	case *sleepExec:
		b = x.base
	case *pipe:
		b = x.base
	case *spawnExec:
		b = x.base
	case *holdExec:
		b = x.base
	default:
		x.Close()
		t.Fatalf("Start returned %T", x)
	}
	return x, slices.Clone(b.ts.tids)
}

// onOwnThreads checks that Run number run (r) ran in this process on n
// distinct threads, none of them the main thread: the runtime never ends
// the main thread, so a worker must not be on it (see spawn).
func onOwnThreads(t *testing.T, run int, r model.Result, n int) {
	t.Helper()
	modeltest.InThisProcess(t, fmt.Sprintf("run %d", run), r)
	if got := len(r.TIDs); got != n {
		t.Errorf("run %d: %d distinct TIDs %v; want %d", run, got, r.TIDs, n)
	}
	if slices.Contains(r.TIDs, os.Getpid()) {
		t.Errorf("run %d: a worker ran on the main thread (TIDs %v)", run, r.TIDs)
	}
}

func subset(a, b []int) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
