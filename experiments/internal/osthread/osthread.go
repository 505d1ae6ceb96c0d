// Package osthread holds what the models that run work on OS threads of
// their own (thread, loop, process) need from the kernel and would otherwise
// each write again: a sleep that really blocks the calling thread, and a wait
// until threads whose goroutines have returned are gone.
//
// Linux only: nanosleep and tgkill.
package osthread

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Nanosleep blocks the calling OS thread in the kernel for d: the thread is
// parked in nanosleep, as a C program's or CPython's time.sleep's is, where
// time.Sleep would park only the goroutine and hand the thread to the Go
// scheduler. That is what the models' blocking calls must be: a thread
// (a locked goroutine's, a loop's, a worker process's) that cannot do
// anything else until the call returns.
//
// A signal (the Go runtime sends some, e.g. for preemption) interrupts
// nanosleep with EINTR, which the kernel never restarts by itself; the sleep
// resumes for the time that remains, so the whole call lasts at least d.
func Nanosleep(d time.Duration) error {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for {
		var rem unix.Timespec
		err := unix.Nanosleep(&ts, &rem)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return fmt.Errorf("nanosleep: %w", err)
			}
			return nil
		}
		ts = rem
	}
}

// WaitGone waits until none of tids is a thread of this process any more,
// for at most timeout in all. A locked goroutine's return is not the end of
// its thread: the runtime then unwinds to the thread's start and calls exit,
// which the kernel completes a moment later, so a Close that must leave no
// thread behind waits for it.
//
// tgkill with signal 0 checks for the thread without signalling it, and
// fails with ESRCH once the kernel has released the thread, at the same
// moment as it leaves /proc/self/task; unlike reading that directory it is
// one system call per check. Linux hands out IDs cyclically up to pid_max,
// so an ID is not reused within the microseconds this takes.
func WaitGone(timeout time.Duration, tids ...int) error {
	pid := unix.Getpid()
	deadline := time.Now().Add(timeout)
	for _, tid := range tids {
		for pause := 10 * time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
			err := unix.Tgkill(pid, tid, 0)
			if errors.Is(err, unix.ESRCH) {
				break
			}
			if err != nil {
				return fmt.Errorf("checking thread %d: tgkill: %w", tid, err)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("thread %d still exists %v after it was told to end", tid, timeout)
			}
			time.Sleep(pause)
		}
	}
	return nil
}
