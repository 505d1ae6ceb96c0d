package thread

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux futex operations on a word private to this process
// (<linux/futex.h>: FUTEX_WAIT, FUTEX_WAKE, FUTEX_PRIVATE_FLAG), which
// golang.org/x/sys/unix does not define.
const (
	futexWaitPrivate = 0 | 128
	futexWakePrivate = 1 | 128
)

// futexWait blocks the calling thread in the kernel for as long as *w holds
// val, as a pthread waiting on a condition or a barrier does. It may return
// early (a signal, or *w changed before the thread slept): callers re-check
// *w and wait again. It goes through syscall.Syscall6, so the runtime sees a
// system call: the thread keeps its P until the runtime's monitor (sysmon)
// takes it back, which is why every thread of an Exec has a P of its own
// (see lendPs).
func futexWait(w *atomic.Uint32, val uint32) {
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitPrivate, uintptr(val), 0, 0, 0)
	switch {
	case errno == 0, errors.Is(errno, unix.EAGAIN), errors.Is(errno, unix.EINTR):
	default:
		panic(fmt.Sprintf("thread: futex wait: %v", errno))
	}
}

// futexWakeAll wakes every thread blocked in futexWait on w.
func futexWakeAll(w *atomic.Uint32) {
	futexWake(w, math.MaxInt32)
}

// futexWake wakes at most n threads blocked in futexWait on w.
func futexWake(w *atomic.Uint32, n int) {
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakePrivate, uintptr(n), 0, 0, 0)
	if errno != 0 {
		panic(fmt.Sprintf("thread: futex wake: %v", errno))
	}
}
