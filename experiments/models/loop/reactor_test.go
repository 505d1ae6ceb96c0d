package loop

import (
	"container/heap"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
)

func newLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// onLoop runs fn on the loop thread and waits for it.
func onLoop(t *testing.T, l *Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Submit(func() { fn(); close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
}

// runGroup starts the tasks that spawn adds to a new group and waits for the
// group to end.
func runGroup(t *testing.T, l *Loop, spawn func(g *Group)) error {
	t.Helper()
	done := make(chan error, 1)
	if err := l.Submit(func() { spawn(l.NewGroup(func(err error) { done <- err })) }); err != nil {
		t.Fatal(err)
	}
	return <-done
}

func TestTimerHeapOrder(t *testing.T) {
	// Deadlines from a small range so that many tie; seq is the insertion
	// order, as At assigns it.
	var h timerHeap
	var want []*Timer
	for i := range 500 {
		tm := &Timer{when: time.Duration(rand.IntN(20)), seq: uint64(i)}
		want = append(want, tm)
		heap.Push(&h, tm)
	}
	// Remove some, as Stop does.
	for _, tm := range want[:50] {
		heap.Remove(&h, tm.index)
	}
	want = want[50:]
	slices.SortStableFunc(want, func(a, b *Timer) int { return int(a.when - b.when) })
	var got []*Timer
	for h.Len() > 0 {
		got = append(got, heap.Pop(&h).(*Timer))
	}
	if !slices.Equal(got, want) {
		t.Errorf("timers popped in order %v; want deadline order, ties in insertion order %v", seqs(got), seqs(want))
	}
}

func seqs(ts []*Timer) []uint64 {
	var s []uint64
	for _, tm := range ts {
		s = append(s, tm.seq)
	}
	return s
}

func TestTimersFireInDeadlineOrderTiesFIFO(t *testing.T) {
	l := newLoop(t)
	var got []string
	done := make(chan struct{})
	onLoop(t, l, func() {
		base := l.Now()
		ms := time.Millisecond
		for _, s := range []struct {
			name string
			when time.Duration
		}{
			{"a", base + 3*ms}, {"b", base + ms}, {"c", base + ms}, {"d", base + 2*ms},
			{"e", base}, {"f", base + ms}, {"g", base + 2*ms}, {"stopped", base + ms},
		} {
			tm := l.At(s.when, func() { got = append(got, s.name) })
			if s.name == "stopped" && !tm.Stop() {
				t.Errorf("Stop of a pending timer returned false")
			}
		}
		l.At(base+4*ms, func() { close(done) })
	})
	<-done
	if want := []string{"e", "b", "c", "f", "d", "g", "a"}; !slices.Equal(got, want) {
		t.Errorf("timers fired in order %v; want %v", got, want)
	}
}

func TestSleepersWakeInDeadlineOrder(t *testing.T) {
	l := newLoop(t)
	var got []int
	err := runGroup(t, l, func(g *Group) {
		for _, d := range []int{3, 1, 4, 2, 0} {
			g.Go(func(t *Task) error {
				if err := t.Sleep(time.Duration(d) * time.Millisecond); err != nil {
					return err
				}
				got = append(got, d)
				return nil
			})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("sleepers woke in order %v; want %v", got, want)
	}
}

func TestSemaphoreFIFO(t *testing.T) {
	l := newLoop(t)
	sem := NewSemaphore(1)
	var got []string
	acquire := func(t *Task, name string) error {
		if err := sem.Acquire(t); err != nil {
			return err
		}
		got = append(got, name)
		return nil
	}
	err := runGroup(t, l, func(g *Group) {
		g.Go(func(t *Task) error {
			if err := acquire(t, "A"); err != nil {
				return err
			}
			// Let B, C and D queue up behind A.
			if err := t.Yield(); err != nil {
				return err
			}
			sem.Release()
			// B holds the permit now, though it has not run yet: A
			// must not take it back, and queues behind D.
			if err := acquire(t, "A again"); err != nil {
				return err
			}
			sem.Release()
			return nil
		})
		for _, name := range []string{"B", "C", "D"} {
			g.Go(func(t *Task) error {
				if err := acquire(t, name); err != nil {
					return err
				}
				sem.Release()
				return nil
			})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "B", "C", "D", "A again"}; !slices.Equal(got, want) {
		t.Errorf("permits granted in order %v; want %v", got, want)
	}
	if sem.value != 1 {
		t.Errorf("semaphore has %d permits after every release; want 1", sem.value)
	}
}

// A waiter whose group was cancelled is skipped: the permit goes to the next.
func TestSemaphoreSkipsCancelledWaiter(t *testing.T) {
	l := newLoop(t)
	sem := NewSemaphore(1)
	holderErr, lateErr := make(chan error, 1), make(chan error, 1)
	var cancelled, late *Group
	var waiterErr error
	var got []string
	onLoop(t, l, func() {
		holder := l.NewGroup(func(err error) { holderErr <- err })
		cancelled = l.NewGroup(nil)
		late = l.NewGroup(func(err error) { lateErr <- err })
		holder.Go(func(t *Task) error {
			sem.Acquire(t)
			got = append(got, "holder")
			t.Sleep(5 * time.Millisecond) // the others queue meanwhile
			sem.Release()
			return nil
		})
		cancelled.Go(func(t *Task) error {
			waiterErr = sem.Acquire(t)
			if waiterErr == nil {
				got = append(got, "cancelled")
				sem.Release()
			}
			return waiterErr
		})
		late.Go(func(t *Task) error {
			if err := sem.Acquire(t); err != nil {
				return err
			}
			got = append(got, "late")
			sem.Release()
			return nil
		})
	})
	onLoop(t, l, func() { cancelled.Cancel(errors.New("test")) })
	if err := <-holderErr; err != nil {
		t.Fatal(err)
	}
	if err := <-lateErr; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(waiterErr, ErrCancelled) {
		t.Errorf("cancelled waiter's Acquire: %v; want %v", waiterErr, ErrCancelled)
	}
	if want := []string{"holder", "late"}; !slices.Equal(got, want) {
		t.Errorf("permits granted to %v; want %v", got, want)
	}
}

func TestQueueBlocks(t *testing.T) {
	l := newLoop(t)
	q := NewQueue[int](2)
	var trace []string
	err := runGroup(t, l, func(g *Group) {
		g.Go(func(t *Task) error {
			for v := 1; v <= 5; v++ {
				if err := q.Put(t, v); err != nil {
					return err
				}
				trace = append(trace, fmt.Sprint("put ", v), fmt.Sprint("len ", q.Len()))
			}
			return nil
		})
		g.Go(func(t *Task) error {
			for range 5 {
				v, err := q.Get(t)
				if err != nil {
					return err
				}
				trace = append(trace, fmt.Sprint("get ", v))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The producer runs first: puts 1 and 2 fill the queue, put 3 waits.
	// The consumer takes 1 (which moves 3 in), 2 and 3, and waits on the
	// empty queue. The producer's put 3 returns; 4 goes straight to the
	// waiting consumer, 5 into the queue.
	want := []string{
		"put 1", "len 1", "put 2", "len 2",
		"get 1", "get 2", "get 3",
		"put 3", "len 0", "put 4", "len 0", "put 5", "len 1",
		"get 4", "get 5",
	}
	if !slices.Equal(trace, want) {
		t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(trace, ", "), strings.Join(want, ", "))
	}
}

func TestQueueServesWaitingGettersInOrder(t *testing.T) {
	l := newLoop(t)
	q := NewQueue[string](1)
	got := map[string]string{}
	err := runGroup(t, l, func(g *Group) {
		for _, name := range []string{"first", "second", "third"} {
			g.Go(func(t *Task) error {
				v, err := q.Get(t)
				got[name] = v
				return err
			})
		}
		g.Go(func(t *Task) error {
			for _, v := range []string{"a", "b", "c"} {
				if err := q.Put(t, v); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"first": "a", "second": "b", "third": "c"}; !maps.Equal(got, want) {
		t.Errorf("getters got %v; want %v", got, want)
	}
}

// A task awaits a value computed on another thread and handed back through
// Submit (and the eventfd): the shape of offloading a blocking call.
func TestFutureSetFromAnotherThread(t *testing.T) {
	l := newLoop(t)
	var got int
	var g *Group
	err := runGroup(t, l, func(grp *Group) {
		g = grp
		grp.Go(func(t *Task) error {
			var f Future[int]
			go func() {
				time.Sleep(time.Millisecond) // a blocking call, off the loop
				l.Submit(func() { f.Set(42, nil) })
			}()
			v, err := f.Await(t)
			got = v
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != 42 {
		t.Errorf("awaited %d; want 42", got)
	}
	var u model.Usage
	g.IDs().Fill(&u)
	if want := []int{l.TID()}; !slices.Equal(u.TIDs, want) {
		t.Errorf("task ran on threads %v; want the loop thread %v", u.TIDs, want)
	}
}

// A task that fails ends its group with its error and stops the others.
func TestFailingTaskCancelsGroup(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		body func(t *Task) error
		want string
	}{
		{"error", func(t *Task) error {
			if err := t.Sleep(time.Millisecond); err != nil {
				return err
			}
			return boom
		}, "task 1: boom"},
		{"panic", func(t *Task) error {
			if err := t.Sleep(time.Millisecond); err != nil {
				return err
			}
			panic("boom")
		}, "task 1: panic: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoop(t)
			var sleeperErr error
			err := runGroup(t, l, func(g *Group) {
				g.Go(func(t *Task) error {
					sleeperErr = t.Sleep(time.Hour)
					return sleeperErr
				})
				g.Go(tt.body)
			})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("group ended with %v; want an error starting %q", err, tt.want)
			}
			if !errors.Is(sleeperErr, ErrCancelled) {
				t.Errorf("other task's Sleep returned %v; want %v", sleeperErr, ErrCancelled)
			}
			var timers int
			onLoop(t, l, func() { timers = len(l.timers) })
			if timers != 0 {
				t.Errorf("%d timers left after the group ended; want 0", timers)
			}
		})
	}
}

func TestFifo(t *testing.T) {
	var q fifo[int]
	var want []int
	next := 0
	// Interleave pushes and pops so that the ring wraps and grows.
	for round := range 50 {
		for range round % 7 {
			q.push(next)
			next++
		}
		for range round % 5 {
			if q.len() > 0 {
				want = append(want, q.pop())
			}
		}
	}
	for q.len() > 0 {
		want = append(want, q.pop())
	}
	for i, v := range want {
		if v != i {
			t.Fatalf("popped %v; want 0…%d in order", want, next-1)
		}
	}
	if len(want) != next {
		t.Errorf("popped %d values; want %d", len(want), next)
	}
}
