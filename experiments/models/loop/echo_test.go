package loop

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/echo"
)

// startEchoOn starts the loop's echo server for j on ln; it is closed when
// the test ends, if the test has not closed it (a second Close is free).
func startEchoOn(t *testing.T, ln *os.File, j echo.Job) *echoExec {
	t.Helper()
	j.Listener = ln
	x, err := Model{}.Start(context.Background(), j)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x.(*echoExec)
}

// The echo workload through the shared harness, warm (one server, several
// Runs) and cold (Start, one Run, Close: what a cold cell times). Every
// connection is served by the loop's one thread, the same in every Run.
func TestEcho(t *testing.T) {
	small := must(echo.NewJob(3, 5, 64, 0))
	slow := must(echo.NewJob(3, 5, 1024, time.Millisecond))
	tests := []struct {
		name string
		job  echo.Job
		reps int
	}{
		{"small/warm", small, 3},
		{"small/cold", small, 1},
		{"1KiB-think/warm", slow, 3},
		{"1KiB-think/cold", slow, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := modeltest.Run(t, Model{}, tt.job, tt.reps)
			for i, r := range rs {
				if r.Served != tt.job.Connections {
					t.Errorf("Run %d: served %d; want %d", i, r.Served, tt.job.Connections)
				}
				if want := []int{os.Getpid()}; !slices.Equal(r.PIDs, want) {
					t.Errorf("Run %d: PIDs %v; want %v", i, r.PIDs, want)
				}
				if len(r.TIDs) != 1 || r.TIDs[0] == os.Getpid() || !slices.Equal(r.TIDs, rs[0].TIDs) {
					t.Errorf("Run %d: TIDs %v (Run 0: %v); want the one loop thread, not the main thread, in every Run", i, r.TIDs, rs[0].TIDs)
				}
			}
		})
	}
}

// The point of the model: a thousand connections, one thread.
func TestEchoThousandConnectionsOnOneThread(t *testing.T) {
	j := must(echo.NewJob(1000, 2, 64, 0))
	// Both ends of every connection are in this process.
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if need := uint64(2*j.Connections + 100); lim.Cur < need {
		t.Skipf("RLIMIT_NOFILE is %d; the test needs %d fds", lim.Cur, need)
	}
	ln, addr := modeltest.EchoListener(t)
	x := startEchoOn(t, ln, j)
	for i := range 2 {
		r := modeltest.ServeEcho(t, x, addr, j)
		if r.Served != j.Connections {
			t.Errorf("Run %d: served %d; want %d", i, r.Served, j.Connections)
		}
		if want := []int{x.l.TID()}; !slices.Equal(r.TIDs, want) {
			t.Errorf("Run %d: connections served on threads %v; want only the loop thread %v", i, r.TIDs, want)
		}
		if want := []int{os.Getpid()}; !slices.Equal(r.PIDs, want) {
			t.Errorf("Run %d: PIDs %v; want %v", i, r.PIDs, want)
		}
	}
	var open int
	onLoop(t, x.l, func() { open = len(x.s.conns) })
	if open != 0 {
		t.Errorf("%d connections open after the Runs; want 0", open)
	}
}

// A client that resets its connection (SO_LINGER 0, then close) fails the
// Run with the reset, however far the connection got, instead of leaving it
// waiting for connections that will not come.
func TestEchoResetFailsRun(t *testing.T) {
	j := must(echo.NewJob(2, 1, 64, 0))
	tests := []struct {
		name string
		// before is what the client does before it resets.
		before func(c net.Conn) error
	}{
		{"before a request", func(net.Conn) error { return nil }},
		{"with a request unread", func(c net.Conn) error {
			_, err := c.Write(make([]byte, 64))
			return err
		}},
		{"after an echo", func(c net.Conn) error {
			if _, err := c.Write(make([]byte, 64)); err != nil {
				return err
			}
			_, err := io.ReadFull(c, make([]byte, 64))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, addr := modeltest.EchoListener(t)
			x := startEchoOn(t, ln, j)
			// A deadline only so that a hang fails rather than stalls.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := x.Run(ctx)
				errc <- err
			}()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.before(c); err != nil {
				t.Fatal(err)
			}
			if err := c.(*net.TCPConn).SetLinger(0); err != nil {
				t.Fatal(err)
			}
			c.Close() // sends an RST
			err = <-errc
			switch {
			case err == nil:
				t.Fatalf("Run succeeded; want the reset to fail it")
			case errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("Run: %v; want it to fail at the reset", err)
			case !errors.Is(err, unix.ECONNRESET) && !errors.Is(err, unix.EPIPE):
				t.Errorf("Run: %v; want a connection reset (or broken pipe)", err)
			}
			t.Logf("Run: %v", err)
			if _, err := x.Run(context.Background()); err == nil {
				t.Errorf("Run after a failed Run succeeded; want an error")
			}
			if err := x.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// Close ends the loop thread and closes every fd the server opened (its
// epoll, timer and event fds, its dup of the listening socket, every
// connection still open), but not the caller's listening socket.
func TestEchoCloseReleasesFDs(t *testing.T) {
	j := must(echo.NewJob(3, 2, 64, 0))
	tests := []struct {
		name string
		// use runs the server; it returns client connections left open
		// by it, which Close must have closed at the server's end.
		use func(t *testing.T, x *echoExec, addr string) []net.Conn
	}{
		{"unused", func(*testing.T, *echoExec, string) []net.Conn { return nil }},
		{"after runs", func(t *testing.T, x *echoExec, addr string) []net.Conn {
			modeltest.ServeEcho(t, x, addr, j)
			modeltest.ServeEcho(t, x, addr, j)
			return nil
		}},
		{"run cancelled with connections open", func(t *testing.T, x *echoExec, addr string) []net.Conn {
			var cs []net.Conn
			for range j.Connections - 1 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				cs = append(cs, c)
				// Served once: its task is waiting in a read.
				if _, err := c.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := x.Run(ctx)
				errc <- err
			}()
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v; want an error wrapping %v", err, context.Canceled)
			}
			return cs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, addr := modeltest.EchoListener(t)
			// Let the runtime open what it opens on first use (the
			// network poller's fds, for the clients).
			if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
				l.Close()
			}
			fdTargets(t)
			before := fdTargets(t)
			x := startEchoOn(t, ln, j)
			tid := x.l.TID()
			cs := tt.use(t, x, addr)
			if err := x.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			for i, c := range cs {
				c.SetReadDeadline(time.Now().Add(time.Minute)) // a guard, not a threshold
				if n, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Errorf("client %d after Close: read %d, %v; want EOF (the server closed its end)", i, n, err)
				}
				c.Close()
			}
			if threadExists(tid) {
				t.Errorf("loop thread %d still exists after Close", tid)
			}
			if after := fdTargets(t); !maps.Equal(after, before) {
				t.Errorf("open fds after Close: %v; want those before Start: %v", after, before)
			}
			if _, err := unix.FcntlInt(ln.Fd(), unix.F_GETFD, 0); err != nil {
				t.Errorf("the caller's listening socket after Close: %v; want it open", err)
			}
		})
	}
}
