package modeltest

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/echo"
)

// EchoListener makes an echo listening socket (echo.Listen) for a test and
// closes it when the test ends.
func EchoListener(t testing.TB) (*os.File, string) {
	t.Helper()
	ln, addr, err := echo.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, addr
}

// EchoJob is echo.NewJob's job, failing t on an error.
func EchoJob(t testing.TB, conns, reqs, size int, think time.Duration) echo.Job {
	t.Helper()
	j, err := echo.NewJob(conns, reqs, size, think)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// ListeningEchoJob is EchoJob with a listening socket of its own (an
// EchoListener, closed when the test ends) as its Listener, and the socket's
// address.
func ListeningEchoJob(t testing.TB, conns, reqs, size int, think time.Duration) (echo.Job, *os.File, string) {
	t.Helper()
	ln, addr := EchoListener(t)
	j := EchoJob(t, conns, reqs, size, think)
	j.Listener = ln
	return j, ln, addr
}

// ServeEcho runs x once against the load generator, in this process, as Run
// drives it, and fails t if either fails or the server served too few.
func ServeEcho(t testing.TB, x model.Exec, addr string, j echo.Job) model.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang detector
	defer cancel()
	r, err, lerr := driveEcho(ctx, x, addr, j)
	if lerr != nil {
		t.Fatalf("load generator: %v (Run: %v)", lerr, err)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := j.Verify(r.Served); err != nil {
		t.Fatal(err)
	}
	return r
}

// driveEcho runs x once while the load generator makes j's requests at
// addr; a failing generator cancels the Run (the server would wait for
// connections that never come). It returns Run's result and error and the
// generator's error.
func driveEcho(ctx context.Context, x model.Exec, addr string, j echo.Job) (model.Result, error, error) {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	load := make(chan error, 1)
	go func() {
		_, err := echo.Generate(ctx, addr, j)
		if err != nil {
			stop()
		}
		load <- err
	}()
	r, err := x.Run(runCtx)
	stop()
	return r, err, <-load
}

// StillListening checks that the caller's listening socket is open and
// accepts connections after a server that used it is gone.
func StillListening(t testing.TB, ln *os.File, addr string) {
	t.Helper()
	if _, err := unix.FcntlInt(ln.Fd(), unix.F_GETFD, 0); err != nil {
		t.Errorf("the caller's listening socket (fd %d) was closed: %v", ln.Fd(), err)
		return
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("the caller's listening socket no longer listens: %v", err)
		return
	}
	c.Close()
}

// EchoOnce makes one 64-byte request on c and reads its echo back, so that
// the server is serving c.
func EchoOnce(t testing.TB, c net.Conn) {
	t.Helper()
	msg := make([]byte, 64)
	echo.Fill(msg, 0, 0)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, msg); err != nil {
		t.Fatal(err)
	}
}

// Reset closes c with a reset (SO_LINGER 0) instead of an orderly close.
func Reset(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// WantFailedAtReset checks the error of a Run whose client reset its
// connection: the Run failed, at the reset (naming it), and did not hang
// until its deadline.
func WantFailedAtReset(t testing.TB, err error) {
	t.Helper()
	t.Logf("Run: %v", err)
	switch {
	case err == nil:
		t.Fatal("Run succeeded; want an error")
	case errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("Run: %v; want it to fail at the reset, not to hang", err)
	case !strings.Contains(err.Error(), "reset"):
		t.Errorf("Run: %q; want it to name the reset", err)
	}
}
