package loop

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

func TestConformance(t *testing.T) { modeltest.Conformance(t, Model{}) }

// must is for building jobs from constant, valid parameters.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// start starts w on the loop and returns its Exec, which must be a T.
func start[T model.Exec](t *testing.T, w model.Work) T {
	t.Helper()
	x, err := Model{}.Start(context.Background(), w)
	if err != nil {
		t.Fatalf("Start(%T): %v", w, err)
	}
	e, ok := x.(T)
	if !ok {
		x.Close()
		t.Fatalf("Start(%T) returned %T", w, x)
	}
	return e
}

// The defining property of the model: whatever the workload, every task ran
// on the loop's one thread, in this process.
func TestEveryTaskRunsOnTheLoopThread(t *testing.T) {
	tests := []struct {
		name string
		work model.Work
	}{
		{"primes/1", must(primes.NewJob(2000, 1, primes.Replicate))},
		{"primes/2", must(primes.NewJob(2000, 2, primes.Replicate))},
		{"primes/4", must(primes.NewJob(2000, 4, primes.Partition))},
		{"sleep/1000", must(sleep.NewJob(1000, 0, time.Millisecond))},
		{"sleep/10000", must(sleep.NewJob(10000, 0, time.Millisecond))},
		{"sleep/1000-capped", must(sleep.NewJob(1000, 100, 0))},
		{"pipeline", must(pipeline.NewJob(3, 500, 4096))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := start[*exec](t, tt.work)
			defer x.Close()
			for i := range 2 {
				onLoopThread(t, i, modeltest.RunVerified(t, x, tt.work), x.l.TID())
			}
		})
	}
}

// fdTargets maps this process's open fds to what they are (the readlink of
// /proc/self/fd/N, such as "anon_inode:[eventpoll]").
func fdTargets(t *testing.T) map[int]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]string{}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			m[fd] = target // else: the fd ReadDir itself had open
		}
	}
	return m
}

// onLoopThread checks that Run number run's tasks (r) ran on the loop
// thread tid alone, in this process.
func onLoopThread(t *testing.T, run int, r model.Result, tid int) {
	t.Helper()
	if got, want := r.TIDs, []int{tid}; !slices.Equal(got, want) {
		t.Errorf("Run %d: tasks ran on threads %v; want only the loop thread %v", run, got, want)
	}
	modeltest.InThisProcess(t, fmt.Sprintf("Run %d", run), r)
}

func threadExists(tid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid))
	return err == nil
}

func TestCloseEndsThreadAndClosesFDs(t *testing.T) {
	fdTargets(t) // let the runtime open whatever it opens on first use
	before := fdTargets(t)
	x := start[*exec](t, must(sleep.NewJob(10, 0, time.Millisecond)))
	if _, err := x.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	tid := x.l.TID()
	if tid == os.Getpid() {
		t.Errorf("the loop runs on the main thread (tid %d), which the runtime never ends", tid)
	}
	if !threadExists(tid) {
		t.Fatalf("loop thread %d not in /proc/self/task while running", tid)
	}
	during := fdTargets(t)
	for _, fd := range []int{x.l.epfd, x.l.tfd, x.l.efd} {
		if _, ok := during[fd]; !ok {
			t.Errorf("loop fd %d not open while running", fd)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if threadExists(tid) {
		t.Errorf("loop thread %d still in /proc/self/task after Close", tid)
	}
	if after := fdTargets(t); !maps.Equal(after, before) {
		t.Errorf("open fds after Close: %v; want those before Start: %v", after, before)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close: %v; want nil", err)
	}
	if err := x.l.Submit(func() {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v; want %v", err, ErrClosed)
	}
}

// With nothing ready and a timer an hour away, the loop thread sleeps in
// the kernel, in epoll_wait on its epoll fd with no timeout (the timerfd
// carries the deadline).
func TestIdleLoopParksInEpollWait(t *testing.T) {
	l := newLoop(t)
	onLoop(t, l, func() { l.After(time.Hour, func() {}) })
	task := fmt.Sprintf("/proc/self/task/%d/", l.TID())
	var state, syscall string
	for range 5000 {
		stat, err1 := os.ReadFile(task + "stat")
		sc, err2 := os.ReadFile(task + "syscall")
		if err1 != nil || err2 != nil {
			t.Fatalf("reading the loop thread's state: %v", errors.Join(err1, err2))
		}
		s := string(stat)
		state = strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
		syscall = strings.TrimSpace(string(sc))
		// syscall: number, then the arguments; epoll_wait and
		// epoll_pwait both take (epfd, events, maxevents, timeout, …).
		f := strings.Fields(syscall)
		if state == "S" && len(f) > 4 && f[1] == fmt.Sprintf("%#x", l.epfd) && f[4] == "0xffffffffffffffff" {
			if wchan, err := os.ReadFile(task + "wchan"); err == nil && string(wchan) != "0" && !strings.Contains(string(wchan), "epoll") {
				t.Errorf("loop thread waits in %q; want an epoll wait", wchan)
			}
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("loop thread is in state %q, syscall %q; want S, in epoll_wait(%d, …, timeout -1)", state, syscall, l.epfd)
}

// A task that computes cannot be interrupted: a cancellation submitted
// meanwhile takes effect when the loop gets the thread back, and then stops
// the tasks that were waiting.
func TestCancelWaitsForTheRunningTask(t *testing.T) {
	l := newLoop(t)
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	var trace []string
	var g *Group
	onLoop(t, l, func() {
		g = l.NewGroup(func(err error) { done <- err })
		g.Go(func(*Task) error {
			close(entered)
			<-release // stands for a long computation: the loop thread is held
			trace = append(trace, "A done")
			return nil
		})
		g.Go(func(t *Task) error {
			trace = append(trace, "B started")
			if err := t.Sleep(time.Hour); err != nil {
				return err
			}
			trace = append(trace, "B woke")
			return nil
		})
	})
	<-entered
	stop := errors.New("stop")
	if err := l.Submit(func() { g.Cancel(stop) }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("group ended (%v) while a task held the loop thread", err)
	default:
	}
	close(release)
	if err := <-done; !errors.Is(err, stop) {
		t.Errorf("group ended with %v; want %v", err, stop)
	}
	if want := []string{"A done", "B started"}; !slices.Equal(trace, want) {
		t.Errorf("trace %v; want %v", trace, want)
	}
}

// Cancellation while every task waits (on its timer, or on the semaphore)
// ends the run with the context's error and drops the tasks.
func TestCancelWhileWaiting(t *testing.T) {
	tests := []struct {
		name        string
		concurrency int
	}{
		{"timers", 0},
		{"timers-and-semaphore", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := start[*exec](t, must(sleep.NewJob(50, tt.concurrency, time.Hour)))
			tid := x.l.TID()
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			_, err := x.Run(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v; want an error wrapping %v", err, context.Canceled)
			}
			// The cancellation was submitted before this probe, so the
			// loop has applied it when the probe runs.
			var timers, groups int
			onLoop(t, x.l, func() { timers, groups = len(x.l.timers), len(x.l.groups) })
			if timers != 0 || groups != 0 {
				t.Errorf("after cancellation the loop holds %d timers and %d groups; want 0 and 0", timers, groups)
			}
			if _, err := x.Run(context.Background()); err == nil {
				t.Errorf("Run after a cancelled Run succeeded; want an error")
			}
			if err := x.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if threadExists(tid) {
				t.Errorf("loop thread %d still exists after Close", tid)
			}
		})
	}
}

func TestCloseEndsARunningRun(t *testing.T) {
	x := start[*exec](t, must(sleep.NewJob(5, 0, time.Hour)))
	errc := make(chan error, 1)
	go func() {
		_, err := x.Run(context.Background())
		errc <- err
	}()
	// Wait until the run's tasks are all asleep, then close.
	for {
		var timers int
		onLoop(t, x.l, func() { timers = len(x.l.timers) })
		if timers == 5 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Run during Close: %v; want an error wrapping %v", err, ErrClosed)
	}
}

func TestStartRejects(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		work model.Work
	}{
		{"unknown work", context.Background(), modeltest.UnknownWork{}},
		{"no ranges", context.Background(), primes.Job{}},
		{"no concurrency", context.Background(), sleep.Job{Tasks: 3}},
		{"cancelled", ctx, must(sleep.NewJob(1, 0, 0))},
		{"echo without a listener", context.Background(), must(echo.NewJob(1, 1, 1, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if x, err := (Model{}).Start(tt.ctx, tt.work); err == nil {
				x.Close()
				t.Errorf("Start(%v) succeeded; want an error", tt.work)
			}
		})
	}
}
