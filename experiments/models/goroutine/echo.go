package goroutine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/echo"
)

// echoBuffer is the most a connection's goroutine reads at once; it writes
// all of it back before it reads again.
const echoBuffer = 64 << 10

// buffers recycles the connections' buffers: a goroutine takes one for the
// life of its connection.
var buffers = sync.Pool{New: func() any { return new([echoBuffer]byte) }}

// server is the echo server: Go's net package, an accept loop in a goroutine
// and one goroutine per connection, all parked in the runtime's netpoller
// (epoll) while they wait. It is the same server warm and cold: Start starts
// the accept loop in both cases, and a cold cell's timed region adds only
// Start (a dup of the socket, its registration with epoll, a goroutine: some
// microseconds) and Close. There is nothing to pre-create: a goroutine per
// connection is how Go serves (net/http does the same), and creating one
// costs about a microsecond.
//
// The accept loop runs for the server's life; Run counts the connections
// served since it began and ends at Connections (a connection served between
// Runs counts for the next one).
type server struct {
	ln      net.Listener // on a duplicate of the caller's socket: closing it leaves the caller's open
	conns   int          // per Run
	pid     int
	reports chan served
	stop    chan struct{} // closed by shutdown: nobody reads reports any more
	wg      sync.WaitGroup

	mu      sync.Mutex
	open    map[net.Conn]struct{} // connections being served
	stopped bool

	failed error // only Run and Close touch it
	closed bool
}

// served is one connection's end: the thread its goroutine was on when the
// client closed, or why it failed.
type served struct {
	tid int
	err error
}

func startEcho(ctx context.Context, j echo.Job) (*server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("goroutine: start: %w", err)
	}
	if j.Listener == nil {
		return nil, errors.New("goroutine: echo: the job has no listening socket (Job.Listener is nil)")
	}
	// FileListener duplicates the descriptor and sets O_NONBLOCK on the
	// socket (shared with the caller's descriptor) for the netpoller.
	ln, err := net.FileListener(j.Listener)
	if err != nil {
		return nil, fmt.Errorf("goroutine: echo: %w", err)
	}
	s := &server{
		ln:      ln,
		conns:   j.Connections,
		pid:     os.Getpid(),
		reports: make(chan served, min(j.Connections, 1<<14)),
		stop:    make(chan struct{}),
		open:    map[net.Conn]struct{}{},
	}
	s.wg.Go(s.accept)
	return s, nil
}

func (s *server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.report(served{err: fmt.Errorf("goroutine: echo: accept: %w", err)})
			}
			return
		}
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.open[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(c) })
	}
}

// serve echoes c until the client closes its side, then closes it.
func (s *server) serve(c net.Conn) {
	buf := buffers.Get().(*[echoBuffer]byte)
	err := echoConn(c, buf[:])
	buffers.Put(buf)
	tid := unix.Gettid()
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
	if cerr := c.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		err = fmt.Errorf("goroutine: echo: connection from %v: %w", c.RemoteAddr(), err)
	}
	s.report(served{tid: tid, err: err})
}

// echoConn reads whatever has arrived, up to len(buf), and writes it all
// back, until EOF.
func echoConn(c net.Conn, buf []byte) error {
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return werr // a *net.OpError: "write tcp a->b: ..."
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err // "read tcp a->b: ..."
		}
	}
}

func (s *server) report(r served) {
	select {
	case s.reports <- r:
	case <-s.stop:
	}
}

// Run waits until Connections connections have been served since it began,
// recording the thread each one's goroutine was on at its end. A connection
// that fails (reset by its client, say) fails the Run, and so does the end
// of ctx; either way the server stops accepting and closes every connection
// it holds, and the Exec is no longer usable.
func (s *server) Run(ctx context.Context) (model.Result, error) {
	switch {
	case s.closed:
		return model.Result{}, errors.New("goroutine: echo: run after Close")
	case s.failed != nil:
		return model.Result{}, fmt.Errorf("goroutine: echo: an earlier run failed: %w", s.failed)
	}
	var ids model.IDs
	n := 0
	for n < s.conns {
		select {
		case r := <-s.reports:
			if r.err != nil {
				return model.Result{}, s.fail(r.err)
			}
			ids.Add(s.pid, r.tid)
			n++
		case <-ctx.Done():
			return model.Result{}, s.fail(fmt.Errorf("goroutine: echo: %d of %d connections served: %w", n, s.conns, ctx.Err()))
		}
	}
	res := model.Result{Served: n}
	ids.Fill(&res.Usage)
	return res, nil
}

func (s *server) fail(err error) error {
	s.shutdown()
	s.failed = err
	return err
}

// shutdown stops accepting, closes every open connection (which ends its
// goroutine's read or write) and waits for every goroutine.
func (s *server) shutdown() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.stop)
		s.ln.Close() // our duplicate: the caller's socket stays open and listening
		for c := range s.open {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Close stops the server and waits for its goroutines. After a good Run no
// connection is open; one that is (a connection beyond the Run's count) is
// closed.
func (s *server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.shutdown()
	return nil
}
