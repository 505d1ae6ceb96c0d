package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/echo"
)

func startName(cold bool) string {
	if cold {
		return "cold"
	}
	return "warm"
}

// Both servers echo, every Run serves exactly its connections, and every
// connection is served by a worker process, on that worker's one thread:
// the warm pool's min(Connections, MaxWorkers) workers, or one process per
// connection when cold.
func TestEcho(t *testing.T) {
	jobs := []struct {
		name string
		job  echo.Job
	}{
		{"3x5x64B", modeltest.EchoJob(t, 3, 5, 64, 0)},
		{"3x5x1KiB/think", modeltest.EchoJob(t, 3, 5, 1024, time.Millisecond)},
	}
	for _, cold := range []bool{false, true} {
		for _, tt := range jobs {
			t.Run(startName(cold)+"/"+tt.name, func(t *testing.T) {
				conns := tt.job.Connections
				for i, r := range modeltest.Run(t, Model{Cold: cold}, tt.job, 2) {
					if slices.Contains(r.PIDs, os.Getpid()) {
						t.Errorf("run %d: PIDs %v include this process (%d); want only workers", i, r.PIDs, os.Getpid())
					}
					if len(r.TIDs) != len(r.PIDs) {
						t.Errorf("run %d: %d TIDs %v for %d PIDs %v; want one thread per worker", i, len(r.TIDs), r.TIDs, len(r.PIDs), r.PIDs)
					}
					if cold && len(r.PIDs) != conns {
						t.Errorf("run %d: %d distinct PIDs %v; want %d, a process per connection", i, len(r.PIDs), r.PIDs, conns)
					}
					if !cold && len(r.PIDs) > min(conns, MaxWorkers) {
						t.Errorf("run %d: %d distinct PIDs %v; want at most the pool's %d", i, len(r.PIDs), r.PIDs, min(conns, MaxWorkers))
					}
				}
				modeltest.NoChildren(t)
			})
		}
	}
}

// The warm pool's workers all wait in accept, and the kernel hands each
// waiting one a connection in turn: four overlapping connections are served
// by the four workers, in every Run.
func TestEchoPoolWorkersAreDistinct(t *testing.T) {
	j := modeltest.EchoJob(t, 4, 5, 64, time.Millisecond)
	for i, r := range modeltest.Run(t, Model{}, j, 2) {
		if len(r.PIDs) != 4 || len(r.TIDs) != 4 {
			t.Errorf("run %d: PIDs %v, TIDs %v; want 4 of each, one per pool worker", i, r.PIDs, r.TIDs)
		}
	}
	modeltest.NoChildren(t)
}

// A cold cell starts a server on the same socket for every execution of a
// sample; a warm one could too. Close leaves the socket fit for the next.
func TestEchoServersShareTheSocketInTurn(t *testing.T) {
	for _, cold := range []bool{false, true} {
		t.Run(startName(cold), func(t *testing.T) {
			j, ln, addr := modeltest.ListeningEchoJob(t, 3, 2, 100, 0)
			for i := range 3 {
				x, err := Model{Cold: cold}.Start(t.Context(), j)
				if err != nil {
					t.Fatalf("Start %d: %v", i, err)
				}
				modeltest.ServeEcho(t, x, addr, j)
				if err := x.Close(); err != nil {
					t.Fatalf("Close %d: %v", i, err)
				}
				modeltest.NoChildren(t)
			}
			modeltest.StillListening(t, ln, addr)
		})
	}
}

// A connection reset by its client fails the Run, promptly and naming the
// reset, and Close leaves no process behind nor closes the caller's socket.
func TestEchoResetFailsTheRun(t *testing.T) {
	for _, cold := range []bool{false, true} {
		t.Run(startName(cold), func(t *testing.T) {
			j, ln, addr := modeltest.ListeningEchoJob(t, 2, 1, 64, 0)
			x, err := Model{Cold: cold}.Start(t.Context(), j)
			if err != nil {
				t.Fatal(err)
			}
			defer closeAndCheck(t, x)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang detector
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := x.Run(ctx)
				done <- err
			}()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			modeltest.EchoOnce(t, c) // so that the connection is being served
			modeltest.Reset(c)
			modeltest.WantFailedAtReset(t, <-done)
			if _, err := x.Run(t.Context()); err == nil {
				t.Error("a Run after a failed one succeeded; want an error")
			}
			if err := x.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			modeltest.StillListening(t, ln, addr)
		})
	}
}

// A Run waiting for connections that never come ends with its context, and
// leaves no process behind.
func TestEchoRunHonoursTheContext(t *testing.T) {
	for _, cold := range []bool{false, true} {
		t.Run(startName(cold), func(t *testing.T) {
			j, ln, addr := modeltest.ListeningEchoJob(t, 2, 1, 64, 0)
			x, err := Model{Cold: cold}.Start(t.Context(), j)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(100*time.Millisecond, cancel)
			_, err = x.Run(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v; want an error wrapping %v", err, context.Canceled)
			}
			if kids := modeltest.Children(); len(kids) > 0 {
				t.Errorf("children left after the cancelled Run, before Close: %v", kids)
			}
			closeAndCheck(t, x)
			modeltest.StillListening(t, ln, addr)
		})
	}
}

// Usage is collected after a Run, outside it: the warm workers report what
// they used, the cold ones are counted as they are reaped. Run's Result
// leaves it at zero.
func TestEchoCollectUsage(t *testing.T) {
	for _, cold := range []bool{false, true} {
		t.Run(startName(cold), func(t *testing.T) {
			j, _, addr := modeltest.ListeningEchoJob(t, 3, 20, 1024, 0)
			x, err := Model{Cold: cold}.Start(t.Context(), j)
			if err != nil {
				t.Fatal(err)
			}
			defer closeAndCheck(t, x)
			for run := range 2 {
				r := modeltest.ServeEcho(t, x, addr, j)
				wantUsage(t, fmt.Sprintf("run %d", run), x, r)
			}
			if err := x.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, _, err := x.(model.UsageCollector).CollectUsage(t.Context()); err == nil {
				t.Error("CollectUsage after Close succeeded; want an error")
			}
		})
	}
}

// After a good Run, Close ends the warm workers by ending their request
// pipes: each exits on its own, with status 0, wherever it was waiting.
func TestEchoCloseEndsWorkersByEOF(t *testing.T) {
	j, _, addr := modeltest.ListeningEchoJob(t, 3, 2, 64, 0)
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.ServeEcho(t, x, addr, j)
	closedByEOF(t, x)
}

func TestEchoNeedsAListener(t *testing.T) {
	for _, cold := range []bool{false, true} {
		t.Run(startName(cold), func(t *testing.T) {
			x, err := Model{Cold: cold}.Start(t.Context(), modeltest.EchoJob(t, 2, 1, 1, 0))
			if err == nil {
				x.Close()
				t.Fatal("Start succeeded without a listening socket; want an error")
			}
			if !strings.Contains(err.Error(), "Listener") {
				t.Errorf("Start: %q; want it to name Job.Listener", err)
			}
			modeltest.NoChildren(t)
		})
	}
}

// The servers accept for as long as they live and count what they serve: a
// load of more connections than a Run's count is served over as many Runs,
// none lost or counted twice, the warm pool's workers serving several each.
func TestEchoCountsCarryOverRuns(t *testing.T) {
	for _, cold := range []bool{false, true} {
		t.Run(startName(cold), func(t *testing.T) {
			j, _, addr := modeltest.ListeningEchoJob(t, 3, 3, 64, 0)
			x, err := Model{Cold: cold}.Start(t.Context(), j)
			if err != nil {
				t.Fatal(err)
			}
			defer closeAndCheck(t, x)
			load := modeltest.EchoJob(t, 12, 3, 64, 0) // four Runs' worth
			// A hang detector, not a speed limit.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			loaded := make(chan error, 1)
			go func() {
				_, err := echo.Generate(ctx, addr, load)
				if err != nil {
					stop()
				}
				loaded <- err
			}()
			var pids []int
			for i := range load.Connections / j.Connections {
				r, err := x.Run(runCtx)
				if err != nil {
					stop()
					t.Fatalf("run %d: %v (load generator: %v)", i, err, <-loaded)
				}
				if r.Served != j.Connections {
					t.Fatalf("run %d served %d; want %d", i, r.Served, j.Connections)
				}
				pids = append(pids, r.PIDs...)
			}
			if err := <-loaded; err != nil {
				t.Fatalf("load generator: %v", err)
			}
			slices.Sort(pids)
			pids = slices.Compact(pids)
			if want := load.Connections; cold && len(pids) != want {
				t.Errorf("%d distinct PIDs; want %d, one per connection", len(pids), want)
			}
			if want := j.Connections; !cold && len(pids) > want {
				t.Errorf("PIDs %v; want at most the pool's %d workers", pids, want)
			}
		})
	}
}
