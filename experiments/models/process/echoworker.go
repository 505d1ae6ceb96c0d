package process

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osmeter"
)

// echoBuffer is the most an echo worker reads from a connection at once; it
// writes all of it back before it reads again.
const echoBuffer = 64 << 10

// serveEcho is a warm echo worker (roleEcho): one of a pre-forked pool, all
// blocking in accept on the same listening socket (fd 5), each serving the
// connection the kernel hands it to its end, then accepting again, for ever.
// It reports every connection it served (kServed: pid, tid) on fd 4, and
// answers the parent's usage requests (kAsk, fd 3) as a pool worker does
// (usageSinceAsk), a connection being its job: the CPU time from the first
// connection it accepted after the previous ask (or its hello) to this ask,
// and its peak RSS since the previous ask (or its hello).
//
// The worker's locked thread does all the serving in blocking system calls
// (accept, read, write), so the tid it reports is the thread that served. A
// goroutine of its own reads fd 3, on another thread: the serving thread is
// blocked in accept most of the time, so it cannot watch for asks, and the
// process must leave, wherever that thread is, once fd 3 ends (the parent
// closed it, or died): that goroutine exits the process.
func serveEcho() error {
	w, files, err := newRoleWorker("requests", "replies")
	if err != nil {
		return err
	}
	reqs, replies := files[0], files[1]
	const lfd = 5
	if err := unix.SetNonblock(lfd, false); err != nil {
		return fmt.Errorf("fd %d (the listening socket) was not passed: %w", lfd, err)
	}
	var mu sync.Mutex // serialises writes to replies, and guards u
	fail := func(err error) error {
		mu.Lock()
		defer mu.Unlock()
		return w.fail(err)
	}
	defer w.close()
	if err := w.hello(); err != nil {
		return err
	}
	pid, tid, u := w.pid, w.tid, w.usage
	go func() {
		r := bufio.NewReader(reqs)
		for {
			f, err := readFrame(r)
			if errors.Is(err, io.EOF) {
				exitWorker(roleEcho, nil) // Close, or the parent died
			}
			if err == nil {
				err = f.want(kAsk, 0)
			}
			if err != nil {
				exitWorker(roleEcho, fail(fmt.Errorf("reading a request: %w", err)))
			}
			mu.Lock()
			err = u.report(replies)
			mu.Unlock()
			if err != nil {
				exitWorker(roleEcho, fail(err))
			}
		}
	}()
	buf := make([]byte, echoBuffer)
	for {
		cfd, err := acceptConn(lfd)
		if err != nil {
			return fail(fmt.Errorf("accept: %w", err))
		}
		mu.Lock()
		u.jobStarts() // a connection is an echo worker's job
		mu.Unlock()
		err = echoConn(cfd, buf)
		unix.Close(cfd)
		if err != nil {
			return fail(fmt.Errorf("connection: %w", err))
		}
		mu.Lock()
		err = writeFrame(replies, kServed, pid, tid)
		mu.Unlock()
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
}

// serveConn is a cold echo worker (roleConn): the parent accepted a
// connection and started this process for it alone (fd 3). It serves the
// connection to its end, closes it, reports (kServed: pid, tid, and its peak
// RSS over its whole life, which is the connection's) on fd 4 and exits. Its
// CPU time is not reported: the parent reads it from the kernel when it
// reaps the process.
func serveConn() error {
	replies, err := inherited(4, "replies")
	if err != nil {
		return err
	}
	fail := (&roleWorker{replies: replies}).fail
	const cfd = 3
	if err := unix.SetNonblock(cfd, false); err != nil {
		return fmt.Errorf("fd %d (the connection) was not passed: %w", cfd, err)
	}
	pid, tid := uint64(os.Getpid()), uint64(unix.Gettid())
	err = echoConn(cfd, make([]byte, echoBuffer))
	unix.Close(cfd)
	if err != nil {
		return fail(fmt.Errorf("connection: %w", err))
	}
	// A fresh process (exec gave it a memory of its own): its peak since
	// it started is the connection's.
	peak, err := osmeter.PeakRSS()
	if err != nil {
		return fail(err)
	}
	if err := writeFrame(replies, kServed, pid, tid, uint64(peak)); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// acceptConn accepts a connection on the blocking listening socket lfd,
// blocking the calling thread in accept until one arrives.
func acceptConn(lfd int) (int, error) {
	for {
		// The raw system call: the peer's address is not wanted.
		fd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
			return int(fd), nil
		case unix.EINTR, unix.ECONNABORTED: // a signal; a connection reset while queued
			continue
		}
		return -1, errno
	}
}

// echoConn echoes the blocking socket fd: it reads whatever has arrived, up
// to len(buf), and writes it all back, until the peer closes its side (read
// returns 0). A reset or any other error is returned.
func echoConn(fd int, buf []byte) error {
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			return nil
		}
		for b := buf[:n]; len(b) > 0; {
			w, err := unix.Write(fd, b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
			b = b[w:]
		}
	}
}
