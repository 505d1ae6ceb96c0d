package osthread

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A nanosleep of d lasts at least d (a physical lower bound), also when
// signals interrupt it: the runtime preempts the goroutine with SIGURG
// meanwhile, if it gets the chance.
func TestNanosleepLastsAtLeastD(t *testing.T) {
	for _, d := range []time.Duration{0, 100 * time.Microsecond, 5 * time.Millisecond} {
		start := time.Now()
		if err := Nanosleep(d); err != nil {
			t.Fatalf("Nanosleep(%v): %v", d, err)
		}
		if got := time.Since(start); got < d {
			t.Errorf("Nanosleep(%v) returned after %v", d, got)
		}
	}
}

// WaitGone returns once a locked goroutine's thread has ended, and at once
// for a thread that no longer exists; it times out on a thread that lives.
func TestWaitGone(t *testing.T) {
	tids := make(chan int)
	end := make(chan struct{})
	thread := func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if unix.Gettid() == unix.Getpid() {
			// The main thread, which the runtime parks instead of
			// ending: hand over to a goroutine that cannot run here.
			locked := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				close(locked)
				tids <- unix.Gettid()
				<-end
			}()
			<-locked
			runtime.UnlockOSThread()
			return
		}
		tids <- unix.Gettid()
		<-end
	}
	go thread()
	tid := <-tids
	if err := WaitGone(5*time.Millisecond, tid); err == nil {
		t.Errorf("WaitGone(thread %d) succeeded while the thread lives", tid)
	}
	close(end)
	if err := WaitGone(10*time.Second, tid); err != nil {
		t.Fatal(err)
	}
	if err := WaitGone(time.Millisecond, tid); err != nil {
		t.Errorf("WaitGone of a thread already gone: %v", err)
	}
}
