package loop

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/echo"
)

// echoBufBytes is the most an echo reads at once.
const echoBufBytes = 64 << 10

// echoServer is the echo workload on the loop: one group that lives as long
// as the server, holding an acceptor task and one task per accepted
// connection, as asyncio.start_server does. Everything but the channels is
// owned by the loop thread (Close reads conns once the thread has stopped).
//
// Runs are counted, not delimited: the acceptor accepts for ever, every
// connection counts when it has been served and closed, and a Run ends when
// the count reaches Connections more than where the last Run ended, so that a
// connection of the next execution accepted early counts towards that one.
type echoServer struct {
	l   *Loop
	lfd int // a dup of the caller's listening socket, non-blocking
	g   *Group
	// buf is the one read buffer of every connection: a task echoes what
	// it read before it next awaits, except when the socket's send buffer
	// is full, and then it copies the rest to a buffer of its own (as
	// asyncio's transport keeps unsent data), so a thousand connections do
	// not hold a thousand 64 KiB buffers.
	buf      []byte
	conns    map[int]struct{} // open connection fds
	accepted int
	served   int       // connections served and closed since Start
	base     int       // served count at which the last Run ended
	ids      model.IDs // who served the connections counted since then
	run      *echoRun  // the Run waiting for its count, if any
	err      error     // why the group ended; nil while the server serves

	up   chan struct{} // closed when the acceptor first runs
	down chan struct{} // closed when the group ends (err is set)
}

// echoRun is a Run waiting on the loop: it ends when served reaches target.
type echoRun struct {
	target int
	done   chan<- echoEnd
}

type echoEnd struct {
	ids model.IDs
	err error
}

// echoExec is a started echo server.
type echoExec struct {
	l      *Loop
	s      *echoServer
	j      echo.Job
	failed error // why an earlier Run failed; the exec is then unusable

	closeOnce sync.Once
	closeErr  error
}

// startEcho makes the listening socket's dup non-blocking (O_NONBLOCK is
// shared with the caller's fd: the socket is this cell's alone), starts the
// loop, registers the socket with the loop's epoll and starts the acceptor,
// and returns once the acceptor runs: the server is up.
func startEcho(j echo.Job) (model.Exec, error) {
	if j.Listener == nil {
		return nil, errors.New("loop: echo job without a listening socket")
	}
	if j.Connections < 1 {
		return nil, fmt.Errorf("loop: echo job of %d connections; want ≥ 1", j.Connections)
	}
	lfd, err := unix.FcntlInt(j.Listener.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("loop: dup listening socket: %w", err)
	}
	if err := unix.SetNonblock(lfd, true); err != nil {
		unix.Close(lfd)
		return nil, fmt.Errorf("loop: listening socket O_NONBLOCK: %w", err)
	}
	l, err := New()
	if err != nil {
		unix.Close(lfd)
		return nil, err
	}
	s := &echoServer{
		l: l, lfd: lfd,
		buf:   make([]byte, echoBufBytes),
		conns: map[int]struct{}{},
		up:    make(chan struct{}),
		down:  make(chan struct{}),
	}
	x := &echoExec{l: l, s: s, j: j}
	registered := make(chan error, 1)
	err = l.Submit(func() {
		if err := l.Watch(lfd); err != nil {
			registered <- err
			return
		}
		s.g = l.NewGroup(s.stopped)
		s.g.Go(s.acceptor)
		registered <- nil
	})
	if err == nil {
		err = <-registered
	}
	if err == nil {
		select {
		case <-s.up:
		case <-s.down:
			err = s.err
		}
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("loop: start echo server: %w", err), x.Close())
	}
	return x, nil
}

// acceptor accepts connections for ever, each served by a task of its own.
func (s *echoServer) acceptor(t *Task) error {
	close(s.up)
	for {
		fd, err := t.Accept(s.lfd)
		if err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		s.conns[fd] = struct{}{}
		s.accepted++
		n := s.accepted
		s.g.Go(func(t *Task) error { return s.serve(t, fd, n) })
	}
}

// serve echoes connection n (fd) until EOF, closes it and counts it. An
// error (a reset by the client, say) fails the task and with it the group,
// the server and the Run.
func (s *echoServer) serve(t *Task, fd, n int) error {
	err := s.echo(t, fd)
	delete(s.conns, fd)
	if cerr := s.l.CloseFD(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("echo: connection %d: %w", n, err)
	}
	s.served++
	s.ids.Add(s.l.pid, t.tid)
	s.check()
	return nil
}

// echo reads what the connection has sent, up to the buffer, and writes it
// all back, until EOF.
func (s *echoServer) echo(t *Task, fd int) error {
	var rest []byte // the connection's own buffer, for a write that filled the socket
	for {
		n, err := t.Read(fd, s.buf)
		if err != nil || n == 0 {
			return err
		}
		w, err := writeSome(fd, s.buf[:n])
		if err != nil {
			return err
		}
		if w < n {
			// Other tasks read into s.buf while this one waits for room.
			rest = append(rest[:0], s.buf[w:n]...)
			if err := t.Write(fd, rest); err != nil {
				return err
			}
		}
	}
}

// begin starts a Run of n connections: it ends when n more have been served
// than when the last Run ended (maybe at once, if they have been already).
func (s *echoServer) begin(n int, done chan<- echoEnd) {
	if s.err != nil {
		done <- echoEnd{err: s.err}
		return
	}
	s.base += n
	s.run = &echoRun{target: s.base, done: done}
	s.check()
}

// check ends the waiting Run if its count has been reached.
func (s *echoServer) check() {
	if r := s.run; r != nil && s.served >= r.target {
		s.run = nil
		r.done <- echoEnd{ids: s.ids}
		s.ids = model.IDs{}
	}
}

// stopped is the group's end: a task failed, a Run was cancelled or the
// loop closed. The acceptor never returns nil, so err is never nil.
func (s *echoServer) stopped(err error) {
	if err == nil {
		err = errors.New("echo: the server stopped")
	}
	s.err = err
	close(s.down)
	if r := s.run; r != nil {
		s.run = nil
		r.done <- echoEnd{err: err}
	}
}

// Run waits until Connections connections have been served and closed since
// the last Run ended. When ctx ends first, the server stops (the acceptor and
// every connection task are cancelled, closing their sockets) and Run
// returns an error wrapping ctx.Err(); so does a failed connection.
func (x *echoExec) Run(ctx context.Context) (model.Result, error) {
	if x.failed != nil {
		return model.Result{}, fmt.Errorf("loop: run after a failed run: %w", x.failed)
	}
	if err := ctx.Err(); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("loop: run: %w", err)
	}
	done := make(chan echoEnd, 1)
	if err := x.l.Submit(func() { x.s.begin(x.j.Connections, done) }); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("loop: run: %w", err)
	}
	select {
	case e := <-done:
		if e.err != nil {
			x.failed = e.err
			return model.Result{}, fmt.Errorf("loop: run: %w", e.err)
		}
		res := model.Result{Served: x.j.Connections}
		e.ids.Fill(&res.Usage)
		return res, nil
	case <-ctx.Done():
		cause := ctx.Err()
		x.failed = cause
		// If the loop is closed already, it has stopped the server itself.
		_ = x.l.Submit(func() { x.s.g.Cancel(cause) })
		return model.Result{}, fmt.Errorf("loop: run: %w", cause)
	}
}

// Close stops the loop, which cancels the server's tasks (each closes its
// connection on its way out), waits for its thread to end, then closes the
// connections of tasks that never ran and the listening socket's dup (never
// the caller's fd, which stays open, and non-blocking).
func (x *echoExec) Close() error {
	x.closeOnce.Do(func() {
		errs := []error{x.l.Close()}
		select {
		case <-x.l.exited:
		default:
			// The loop could not be stopped; its fds are still in use.
			x.closeErr = errors.Join(errs...)
			return
		}
		for fd := range x.s.conns {
			if err := unix.Close(fd); err != nil {
				errs = append(errs, fmt.Errorf("loop: close connection fd %d: %w", fd, err))
			}
		}
		x.s.conns = nil
		if err := unix.Close(x.s.lfd); err != nil {
			errs = append(errs, fmt.Errorf("loop: close listening socket dup %d: %w", x.s.lfd, err))
		}
		x.closeErr = errors.Join(errs...)
	})
	return x.closeErr
}
