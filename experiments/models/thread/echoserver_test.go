package thread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/echo"
)

// echoModels are the four echo servers: thread and thread-gil, warm and cold.
var echoModels = []Model{{}, {Cold: true}, fast, {GIL: true, SwitchInterval: time.Millisecond, Cold: true}}

func echoName(m Model) string {
	if m.Cold {
		return m.Name() + "/cold"
	}
	return m.Name() + "/warm"
}

// TestEchoConformance runs small echo jobs through the lab's common checks:
// every echo verified by the load generator, Served = Connections, twice on
// one Exec.
func TestEchoConformance(t *testing.T) {
	jobs := []struct {
		name string
		job  echo.Job
	}{
		{"fast", mustWork(echo.NewJob(3, 5, 64, 0))},
		{"think", mustWork(echo.NewJob(3, 5, 1024, time.Millisecond))},
		// Payloads larger than the server's buffer: an echo goes back
		// in pieces.
		{"large", mustWork(echo.NewJob(2, 3, 3*echoBuffer+17, 0))},
	}
	for _, m := range echoModels {
		for _, tc := range jobs {
			t.Run(echoName(m)+"/"+tc.name, func(t *testing.T) {
				base := runtime.GOMAXPROCS(0)
				rs := modeltest.Run(t, m, tc.job, 2)
				for i, r := range rs {
					if r.Served != tc.job.Connections {
						t.Errorf("run %d: served %d; want %d", i, r.Served, tc.job.Connections)
					}
					if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
						t.Errorf("run %d: PIDs %v; want %v", i, got, want)
					}
				}
				if got := runtime.GOMAXPROCS(0); got != base {
					t.Errorf("GOMAXPROCS %d after Close; want %d", got, base)
				}
			})
		}
	}
	modeltest.NoChildren(t)
}

// TestEchoOneThreadPerConnection checks the model's defining property with
// a client that keeps all its connections open until each has had an echo:
// then every connection is being served at the same time, so by a thread of
// its own. 50 connections must show 50 distinct thread IDs of this process,
// none the main thread's. A warm Exec serves them on its pool (the same
// threads in both runs); a cold one on new threads every run.
func TestEchoOneThreadPerConnection(t *testing.T) {
	const conns = 50
	job := mustWork(echo.NewJob(conns, 1, 64, 0))
	for _, m := range echoModels {
		t.Run(echoName(m), func(t *testing.T) {
			x, addr := startEchoOf(t, m, job)
			pool := echoThreads(x)
			var runs [][]int
			for i := range 2 {
				r, err := runEcho(x, func(ctx context.Context) error { return holdAll(ctx, addr, conns, 64) })
				if err != nil {
					x.Close()
					t.Fatalf("run %d: %v", i, err)
				}
				if err := model.Verify(job, r, 0); err != nil {
					t.Errorf("run %d: %v", i, err)
				}
				if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
					t.Errorf("run %d: PIDs %v; want %v", i, got, want)
				}
				if got := len(r.TIDs); got != conns {
					t.Errorf("run %d: %d distinct TIDs for %d connections held open at once; want one thread per connection", i, got, conns)
				}
				if slices.Contains(r.TIDs, os.Getpid()) {
					t.Errorf("run %d: a connection was served on the main thread", i)
				}
				if pool != nil && !subset(r.TIDs, pool) {
					t.Errorf("run %d: TIDs %v not all among the pool's %v", i, r.TIDs, pool)
				}
				runs = append(runs, r.TIDs)
			}
			switch {
			case !m.Cold && !slices.Equal(runs[0], runs[1]):
				t.Errorf("warm runs on threads %v then %v; want the same pool", runs[0], runs[1])
			case m.Cold && slices.ContainsFunc(runs[1], func(tid int) bool { return slices.Contains(runs[0], tid) }):
				t.Errorf("cold runs on threads %v then %v; want new threads for every connection", runs[0], runs[1])
			}
			if m.Cold {
				// Every connection thread has ended by the end of its
				// connection; only the acceptor is left.
				live := modeltest.Threads(t)
				for _, tid := range runs[0] {
					if slices.Contains(live, tid) && threadAlive(tid) {
						t.Errorf("cold connection thread %d still exists after its connection closed", tid)
					}
				}
			}
			modeltest.CloseGone(t, x, append(pool, slices.Concat(runs...)...)...)
		})
	}
}

// threadAlive reports whether tid is still a thread of this process, waiting
// a little for one whose goroutine just returned.
func threadAlive(tid int) bool {
	return waitGone([]int{tid}) != nil
}

// TestEchoGIL checks thread-gil's bookkeeping: the connections are served,
// the GIL's counts go on from Run to Run, one holder at a time, and the
// threads took the GIL while others were blocked in socket calls.
func TestEchoGIL(t *testing.T) {
	job := mustWork(echo.NewJob(4, 20, 256, 0))
	for _, m := range []Model{fast, {GIL: true, Cold: true}} {
		t.Run(echoName(m), func(t *testing.T) {
			x, addr := startEchoOf(t, m, job)
			g := x.(interface{ GIL() *GIL }).GIL()
			if g == nil {
				t.Fatal("thread-gil's echo Exec has no GIL")
			}
			var prev GILStats
			for i := range 2 {
				r, err := runEcho(x, func(ctx context.Context) error { _, err := echo.Generate(ctx, addr, job); return err })
				if err != nil {
					x.Close()
					t.Fatalf("run %d: %v", i, err)
				}
				if r.Served != job.Connections {
					t.Errorf("run %d: served %d; want %d", i, r.Served, job.Connections)
				}
				s := g.Stats()
				t.Logf("run %d: GIL %+v", i, s)
				if s.Switches < prev.Switches || s.Takes <= prev.Takes {
					t.Errorf("run %d: GIL stats %+v after %+v; want the counts to go on", i, s, prev)
				}
				if s.MaxHolders != 1 {
					t.Errorf("run %d: at most %d threads held the GIL at once; want 1", i, s.MaxHolders)
				}
				if s.MaxBlocked < 1 || s.TakesWhileBlocked < 1 {
					t.Errorf("run %d: GIL stats %+v; want the GIL released around socket calls", i, s)
				}
				prev = s
			}
			modeltest.CloseGone(t, x, echoThreads(x)...)
		})
	}
	if x, _ := startEchoOf(t, Model{}, job); x.(interface{ GIL() *GIL }).GIL() != nil {
		t.Errorf("thread's echo Exec has a GIL")
	} else {
		modeltest.CloseGone(t, x)
	}
}

// TestEchoResetFailsRun has a client reset its connection (SO_LINGER 0) in
// the middle of a run of two connections: Run must fail with the reset, not
// wait for ever for the second connection, and Close must still end every
// thread.
func TestEchoResetFailsRun(t *testing.T) {
	job := mustWork(echo.NewJob(2, 1, 64, 0))
	for _, m := range echoModels {
		t.Run(echoName(m), func(t *testing.T) {
			x, addr := startEchoOf(t, m, job)
			pool := echoThreads(x)
			_, err := runEcho(x, func(ctx context.Context) error {
				c, err := new(net.Dialer).DialContext(ctx, "tcp", addr)
				if err != nil {
					return err
				}
				if err := echoOnce(c, 64); err != nil {
					c.Close()
					return err
				}
				c.(*net.TCPConn).SetLinger(0)
				return c.Close() // RST instead of FIN
			})
			t.Logf("Run: %v", err)
			switch {
			case err == nil:
				t.Errorf("Run with a reset connection succeeded; want an error")
			case errors.Is(err, context.DeadlineExceeded):
				t.Errorf("Run waited until its deadline: %v; want the reset to fail it", err)
			case !errors.Is(err, unix.ECONNRESET) && !errors.Is(err, unix.EPIPE):
				t.Errorf("Run: %v; want a connection reset", err)
			}
			if _, err := x.Run(context.Background()); err == nil {
				t.Errorf("Run after a failed Run succeeded; want an error")
			}
			modeltest.CloseGone(t, x, pool...)
		})
	}
}

// TestEchoRunHonoursContext ends a Run's context while a client holds a
// connection open and sends nothing: Run returns ctx's error and Close ends
// every thread, the one blocked in read included.
func TestEchoRunHonoursContext(t *testing.T) {
	job := mustWork(echo.NewJob(3, 1, 64, 0))
	for _, m := range echoModels {
		t.Run(echoName(m), func(t *testing.T) {
			x, addr := startEchoOf(t, m, job)
			pool := echoThreads(x)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := echoOnce(c, 64); err != nil { // served: a thread is in read
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if _, err := x.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run past its deadline: %v; want an error wrapping %v", err, context.DeadlineExceeded)
			}
			// The server shut the connection down.
			if n, err := c.Read(make([]byte, 1)); err == nil {
				t.Errorf("read from a connection of a stopped server: %d bytes; want EOF or an error", n)
			}
			modeltest.CloseGone(t, x, pool...)
		})
	}
}

// TestEchoCloseLeavesListener checks that Close neither closes nor re-binds
// the caller's listening socket, that it restores GOMAXPROCS, and that the
// Exec lent Ps while open (warm: one per pool thread).
func TestEchoCloseLeavesListener(t *testing.T) {
	job := mustWork(echo.NewJob(7, 1, 64, 0))
	for _, m := range echoModels {
		t.Run(echoName(m), func(t *testing.T) {
			base := runtime.GOMAXPROCS(0)
			ln, _, err := echo.Listen()
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			j := job
			j.Listener = ln
			x, err := m.Start(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			want := base + 7
			if m.Cold {
				want++ // the acceptor
			}
			if got := runtime.GOMAXPROCS(0); got != want {
				t.Errorf("GOMAXPROCS %d with the server up; want %d", got, want)
			}
			modeltest.CloseGone(t, x, echoThreads(x)...)
			if got := runtime.GOMAXPROCS(0); got != base {
				t.Errorf("GOMAXPROCS %d after Close; want %d", got, base)
			}
			if _, err := unix.FcntlInt(ln.Fd(), unix.F_GETFD, 0); err != nil {
				t.Errorf("the caller's listening socket after Close: %v; want it open", err)
			}
		})
	}
}

func TestEchoStartRefuses(t *testing.T) {
	ln, _, err := echo.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	notListening, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer notListening.Close()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		job  echo.Job
	}{
		{"no listener", context.Background(), echo.Job{Connections: 1, Requests: 1, PayloadBytes: 1}},
		{"no connections", context.Background(), echo.Job{Requests: 1, PayloadBytes: 1, Listener: ln}},
		{"not a socket", context.Background(), echo.Job{Connections: 1, Requests: 1, PayloadBytes: 1, Listener: notListening}},
		{"cancelled", cancelled, echo.Job{Connections: 1, Requests: 1, PayloadBytes: 1, Listener: ln}},
	}
	for _, m := range echoModels {
		for _, tc := range tests {
			t.Run(echoName(m)+"/"+tc.name, func(t *testing.T) {
				x, err := m.Start(tc.ctx, tc.job)
				if err == nil {
					x.Close()
					t.Fatalf("Start succeeded; want an error")
				}
				t.Logf("Start: %v", err)
			})
		}
	}
}

// startEchoOf makes a listening socket (closed at the end of the test),
// starts m's echo server on it and returns the Exec and the address.
func startEchoOf(t *testing.T, m Model, j echo.Job) (model.Exec, string) {
	t.Helper()
	ln, addr, err := echo.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	j.Listener = ln
	x, err := m.Start(context.Background(), j)
	if err != nil {
		t.Fatalf("%s: Start: %v", echoName(m), err)
	}
	return x, addr
}

// echoThreads returns the threads a warm echo Exec's Start created, nil for
// a cold one.
func echoThreads(x model.Exec) []int {
	if e, ok := x.(*echoExec); ok && e.ts != nil {
		return slices.Clone(e.ts.tids)
	}
	return nil
}

// runEcho runs x once while client drives it, as modeltest.Run does: a
// client failure cancels the Run (the client's own context outlives the Run:
// it may still be closing its connections when Run returns). It returns the
// Run's result and the first error of the two; the Run has a minute (a hang
// fails, slowly).
func runEcho(x model.Exec, client func(ctx context.Context) error) (model.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	clientErr := make(chan error, 1)
	go func() {
		err := client(ctx)
		if err != nil {
			stop()
		}
		clientErr <- err
	}()
	r, err := x.Run(runCtx)
	stop()
	if cerr := <-clientErr; cerr != nil && err == nil {
		err = fmt.Errorf("client: %w", cerr)
	}
	return r, err
}

// holdAll opens n connections to addr, has one echo of size bytes on each
// while all are open, and only then closes them.
func holdAll(ctx context.Context, addr string, n, size int) error {
	var d net.Dialer
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
	}
	for i, c := range conns {
		if err := echoOnce(c, size); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
	}
	return nil
}

// echoOnce sends size bytes on c and checks that they come back.
func echoOnce(c net.Conn, size int) error {
	out, in := make([]byte, size), make([]byte, size)
	echo.Fill(out, size, 1)
	if _, err := c.Write(out); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, in); err != nil {
		return err
	}
	if !bytes.Equal(in, out) {
		return errors.New("the echo differs from the request")
	}
	return nil
}

// TestCheckTaskRoom: a few threads fit on any system; a billion do not.
func TestCheckTaskRoom(t *testing.T) {
	if err := checkTaskRoom(1); err != nil {
		t.Errorf("checkTaskRoom(1): %v", err)
	}
	if err := checkTaskRoom(1 << 30); err == nil {
		t.Errorf("checkTaskRoom(2^30) = nil; want an error")
	} else {
		t.Logf("checkTaskRoom(2^30): %v", err)
	}
}
