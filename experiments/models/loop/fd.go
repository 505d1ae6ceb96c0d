package loop

// Watching file descriptors: the reactor's third source of events, after the
// timerfd and the eventfd. As asyncio's add_reader and add_writer, a callback
// can be registered to run when an fd becomes readable or writable; and a
// task can await readiness (WaitReadable, WaitWritable), on which Read, Write
// and Accept build the non-blocking socket calls: try the call, and on EAGAIN
// wait for the fd and try again, all on the loop's one thread.
//
// Edge-triggered. An fd is added to the epoll set once, the first time it is
// watched, for EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, and stays there until
// Unwatch, however many waits it sees: waiting costs no epoll_ctl (a
// level-triggered set would have to add and remove the interest around every
// wait, or report a ready fd on every pass while nobody reads it). The price
// is the edge-triggered discipline: epoll reports an fd when its state changes
// (new data, room in the send buffer, EOF, an error), not while it stays
// ready, so the code that waits must first have drained the fd, that is, seen
// EAGAIN. Read, Write and Accept always try the call first and wait only after
// EAGAIN, so no readiness is missed: an event can only reach a task in the
// loop's epoll_wait, after the EAGAIN it follows. An event with nobody waiting
// is dropped (the next call finds the data); a stale one (its data already
// read) wakes a task whose call then finds EAGAIN and waits again.

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrUnwatched is returned by a task's wait for an fd that was unwatched (or
// closed through CloseFD) while the task waited: the number may already
// belong to another file.
var ErrUnwatched = errors.New("loop: fd unwatched while a task waited on it")

// ErrBusy is returned by a wait for a direction of an fd that another task,
// or a callback, is waiting on already (asyncio refuses two readers of one
// socket the same way).
var ErrBusy = errors.New("loop: fd already has a waiter in that direction")

// watchEvents is what every watched fd is registered for (see above).
const watchEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// Readiness that wakes a reader, and a writer. A hang-up or an error wakes
// both: the call they retry then reports it.
const (
	readEvents  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
	writeEvents = unix.EPOLLOUT | unix.EPOLLHUP | unix.EPOLLERR
)

// fdWatch is the loop's record of one watched fd: who waits to read it and
// who waits to write it.
type fdWatch struct {
	reader, writer fdWaiter
}

// fdWaiter is one direction of a watched fd: a parked task, woken once by
// the next event (a wait is one-shot), or a callback queued on every event
// until it is removed; or nobody.
type fdWaiter struct {
	task *Task
	cb   *fdCallback
}

// fdCallback is a registered reader or writer callback. Removing it clears
// live, so that a run already queued when it was removed does nothing.
type fdCallback struct {
	fn   func()
	live bool
}

func (c *fdCallback) run() {
	if c.live {
		c.fn()
	}
}

func (h *fdWaiter) fire(l *Loop) {
	if t := h.task; t != nil {
		h.task = nil
		t.wake()
	} else if h.cb != nil {
		l.runq.push(runnable{cb: h.cb})
	}
}

// drop ends the waiter's wait because its fd is being unwatched.
func (h *fdWaiter) drop() {
	if t := h.task; t != nil {
		h.task = nil
		t.unwatched = true
		t.wake()
	}
	if h.cb != nil {
		h.cb.live = false
		h.cb = nil
	}
}

// ready hands an epoll event of a watched fd to its waiters. The event may
// be for an fd unwatched since (in the same epoll_wait batch): it is dropped.
func (l *Loop) ready(fd int, events uint32) {
	w := l.fds[fd]
	if w == nil {
		return
	}
	if events&readEvents != 0 {
		w.reader.fire(l)
	}
	if events&writeEvents != 0 {
		w.writer.fire(l)
	}
}

// Watch adds fd to the loop's epoll set, if it is not there already. A wait
// or a callback watches its fd itself; Watch is for registering one ahead of
// time (the echo server's listening socket, before the timer starts). The fd
// must be non-blocking, or Read, Write and Accept block the loop, and must
// be unwatched (Unwatch, CloseFD) before it is closed: the loop knows fds by
// number, and a new file given the same number would otherwise never be
// added to the set. Loop thread only.
func (l *Loop) Watch(fd int) error {
	_, err := l.watch(fd)
	return err
}

func (l *Loop) watch(fd int) (*fdWatch, error) {
	if w := l.fds[fd]; w != nil {
		return w, nil
	}
	if fd < 0 || fd == l.epfd || fd == l.tfd || fd == l.efd {
		return nil, fmt.Errorf("loop: cannot watch fd %d", fd)
	}
	ev := unix.EpollEvent{Events: watchEvents, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return nil, fmt.Errorf("loop: epoll_ctl add fd %d: %w", fd, err)
	}
	w := &fdWatch{}
	l.fds[fd] = w
	return w, nil
}

// Unwatch removes fd from the epoll set and drops its callbacks; a task
// waiting on it wakes with ErrUnwatched. It does nothing to an fd that is not
// watched. Loop thread only.
func (l *Loop) Unwatch(fd int) error {
	w := l.fds[fd]
	if w == nil {
		return nil
	}
	delete(l.fds, fd)
	w.reader.drop()
	w.writer.drop()
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("loop: epoll_ctl del fd %d: %w", fd, err)
	}
	return nil
}

// CloseFD unwatches fd and closes it. Loop thread only.
func (l *Loop) CloseFD(fd int) error {
	err := l.Unwatch(fd)
	if cerr := unix.Close(fd); cerr != nil {
		err = errors.Join(err, fmt.Errorf("loop: close fd %d: %w", fd, cerr))
	}
	return err
}

// AddReader registers fn to run on the loop thread whenever fd becomes
// readable (or reaches EOF, or fails), replacing the reader callback it had;
// as asyncio's add_reader, but edge-triggered: fn runs once soon after it is
// added (the fd may be readable already), and then once per event, so it
// should read until EAGAIN. It fails if a task is waiting to read fd.
func (l *Loop) AddReader(fd int, fn func()) error { return l.addCallback(fd, fn, false) }

// AddWriter registers fn to run whenever fd becomes writable, as AddReader
// does for reading.
func (l *Loop) AddWriter(fd int, fn func()) error { return l.addCallback(fd, fn, true) }

// RemoveReader removes fd's reader callback and reports whether it had one.
// fd stays watched (see Unwatch).
func (l *Loop) RemoveReader(fd int) bool { return l.removeCallback(fd, false) }

// RemoveWriter removes fd's writer callback and reports whether it had one.
func (l *Loop) RemoveWriter(fd int) bool { return l.removeCallback(fd, true) }

func (w *fdWatch) side(write bool) *fdWaiter {
	if write {
		return &w.writer
	}
	return &w.reader
}

func (l *Loop) addCallback(fd int, fn func(), write bool) error {
	w, err := l.watch(fd)
	if err != nil {
		return err
	}
	h := w.side(write)
	if h.task != nil {
		return fmt.Errorf("loop: fd %d: %w", fd, ErrBusy)
	}
	if h.cb != nil {
		h.cb.live = false
	}
	h.cb = &fdCallback{fn: fn, live: true}
	l.runq.push(runnable{cb: h.cb})
	return nil
}

func (l *Loop) removeCallback(fd int, write bool) bool {
	w := l.fds[fd]
	if w == nil {
		return false
	}
	h := w.side(write)
	if h.cb == nil {
		return false
	}
	h.cb.live = false
	h.cb = nil
	return true
}

// WaitReadable suspends the task until the loop sees fd become readable, at
// EOF or in error (edge-triggered: call it only after a read found EAGAIN).
// It watches fd if it was not watched.
func (t *Task) WaitReadable(fd int) error { return t.waitFD(fd, false) }

// WaitWritable suspends the task until the loop sees fd become writable or
// fail (edge-triggered: call it only after a write found EAGAIN).
func (t *Task) WaitWritable(fd int) error { return t.waitFD(fd, true) }

func (t *Task) waitFD(fd int, write bool) error {
	t.checkCurrent()
	if t.state == cancelled {
		return ErrCancelled
	}
	w, err := t.l.watch(fd)
	if err != nil {
		return err
	}
	h := w.side(write)
	if h.task != nil || h.cb != nil {
		return fmt.Errorf("loop: fd %d: %w", fd, ErrBusy)
	}
	h.task = t
	err = t.park()
	if h.task == t {
		h.task = nil // cancelled: no event woke the task
	}
	if t.unwatched {
		t.unwatched = false
		if err == nil {
			err = fmt.Errorf("fd %d: %w", fd, ErrUnwatched)
		}
	}
	return err
}

// Read reads from the non-blocking fd into p, waiting while there is
// nothing to read, and returns the byte count: 0 (with a nil error) only at
// EOF, when len(p) > 0. Errors are *os.SyscallError.
func (t *Task) Read(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
		case unix.EAGAIN:
			if err := t.WaitReadable(fd); err != nil {
				return 0, err
			}
		default:
			return 0, os.NewSyscallError("read", err)
		}
	}
}

// Write writes all of p to the non-blocking fd, waiting for room whenever
// the fd's buffer is full. p must not change until Write returns: other
// tasks run while it waits.
func (t *Task) Write(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := writeSome(fd, p)
		if err != nil {
			return err
		}
		if p = p[n:]; len(p) > 0 {
			if err := t.WaitWritable(fd); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeSome writes what the non-blocking fd takes of p now, without waiting:
// 0 if its buffer is full.
func writeSome(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Write(fd, p)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
		case unix.EAGAIN:
			return 0, nil
		default:
			return 0, os.NewSyscallError("write", err)
		}
	}
}

// Accept accepts a connection on the non-blocking listening socket fd,
// waiting while none is pending, and returns it non-blocking and
// close-on-exec. The peer's address is not read (the echo server has no
// use for it).
func (t *Task) Accept(fd int) (int, error) {
	for {
		nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
			return int(nfd), nil
		case unix.EINTR:
		case unix.EAGAIN:
			if err := t.WaitReadable(fd); err != nil {
				return -1, err
			}
		default:
			return -1, os.NewSyscallError("accept4", errno)
		}
	}
}
