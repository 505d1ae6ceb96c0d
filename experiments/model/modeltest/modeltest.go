// Package modeltest holds the checks every model must pass: it runs each
// workload on a small size, verifies the result, and checks that the model
// leaves no process behind. Model-specific properties (distinct PIDs, distinct
// TIDs, one TID) are tested in each model's package, with the helpers the
// models' tests share (checks.go, echo.go).
package modeltest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

// Run starts m on w, runs it reps times, verifies every result and closes it.
// For the echo workload it makes the listening socket and, during every Run,
// drives the server with the load generator in this process (which checks
// every echo).
func Run(t testing.TB, m model.Model, w model.Work, reps int) []model.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var addr string
	if j, ok := w.(echo.Job); ok {
		ln, a, err := echo.Listen()
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		j.Listener, addr = ln, a
		w = j
	}
	x, err := m.Start(ctx, w)
	if err != nil {
		t.Fatalf("%s: Start(%T): %v", m.Name(), w, err)
	}
	var out []model.Result
	clk := sleep.NewClock()
	for i := range reps {
		start, from := time.Now(), clk.Now()
		var r model.Result
		var err, lerr error
		if j, ok := w.(echo.Job); ok {
			r, err, lerr = driveEcho(ctx, x, addr, j)
		} else {
			r, err = x.Run(ctx)
		}
		to := clk.Now()
		if lerr != nil && err == nil {
			x.Close()
			t.Fatalf("%s: Run %d of %T: the load generator: %v", m.Name(), i, w, lerr)
		}
		if err != nil {
			x.Close()
			t.Fatalf("%s: Run %d of %T: %v", m.Name(), i, w, err)
		}
		elapsed := time.Since(start)
		if err := model.Verify(w, r, elapsed); err != nil {
			x.Close()
			t.Fatalf("%s: Run %d of %T: %v", m.Name(), i, w, err)
		}
		if j, ok := w.(convoy.Job); ok {
			CheckConvoyTimed(t, fmt.Sprintf("%s: Run %d", m.Name(), i), j, r, elapsed)
		}
		if len(r.PIDs) == 0 || len(r.TIDs) == 0 {
			t.Errorf("%s: Run %d of %T recorded PIDs %v, TIDs %v; want the workers' IDs", m.Name(), i, w, r.PIDs, r.TIDs)
		}
		if j, ok := w.(sleep.Job); ok {
			checkWaits(t, m.Name(), j, r.Waits, r.Early, from, to)
		}
		if uc, ok := x.(model.UsageCollector); ok {
			if _, _, err := uc.CollectUsage(ctx); err != nil {
				x.Close()
				t.Fatalf("%s: CollectUsage after Run %d of %T: %v", m.Name(), i, w, err)
			}
		}
		out = append(out, r)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("%s: Close: %v", m.Name(), err)
	}
	return out
}

// clockSkew is how far apart two processes' sleep.Clocks may read the same
// instant: each anchors Go's clock to the kernel's with two reads a system
// call apart (about a microsecond here; a millisecond leaves room for a
// descheduled process).
const clockSkew = int64(time.Millisecond)

// checkWaits checks the spans a sleep Run recorded: one per task, each at
// least the task's wait long (less the runtime's early, Result.Early) and
// inside the Run's window [from, to], and a peak of concurrent waits between
// 1 and the job's concurrency.
func checkWaits(t testing.TB, name string, j sleep.Job, waits []sleep.Span, early time.Duration, from, to int64) {
	t.Helper()
	if len(waits) != j.Tasks {
		t.Errorf("%s: %d wait spans for %d sleep tasks", name, len(waits), j.Tasks)
		return
	}
	for i, s := range waits {
		if s.Start < from-clockSkew || s.End > to+clockSkew || s.End-s.Start < int64(j.D-early) {
			t.Errorf("%s: wait %d spans [%d, %d] (%v); want at least %v (less %v early) inside the Run's [%d, %d]",
				name, i, s.Start, s.End, time.Duration(s.End-s.Start), j.D, early, from, to)
			return
		}
	}
	if p := sleep.PeakWaiting(waits); p < 1 || p > j.Concurrency {
		t.Errorf("%s: %d tasks waiting at once; want 1 to the job's concurrency, %d", name, p, j.Concurrency)
	}
}

// Conformance runs every workload on m at small sizes, twice each (a warm
// Exec must be reusable), and checks the results.
func Conformance(t *testing.T, m model.Model) {
	t.Run("primes/replicate", func(t *testing.T) {
		Run(t, m, must(primes.NewJob(3000, 2, primes.Replicate)), 2)
	})
	t.Run("primes/partition", func(t *testing.T) {
		Run(t, m, must(primes.NewJob(3000, 3, primes.Partition)), 2)
	})
	t.Run("sleep/unbounded", func(t *testing.T) {
		Run(t, m, must(sleep.NewJob(20, 0, 2*time.Millisecond)), 2)
	})
	t.Run("sleep/pool", func(t *testing.T) {
		Run(t, m, must(sleep.NewJob(9, 2, time.Millisecond)), 2)
	})
	t.Run("pipeline/small", func(t *testing.T) {
		Run(t, m, must(pipeline.NewJob(3, 300, 100)), 2)
	})
	t.Run("pipeline/large", func(t *testing.T) {
		Run(t, m, must(pipeline.NewJob(2, 20, 1<<20)), 2)
	})
	NoChildren(t)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Children lists the live (or unreaped) child processes of this process.
// Linux only: it reads /proc.
func Children() []int {
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var kids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the process ended while we looked
		}
		// The command name may contain spaces and parentheses; fields
		// resume after the last ')': state, ppid, ...
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			if ppid, _ := strconv.Atoi(f[1]); ppid == self {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				kids = append(kids, pid)
			}
		}
	}
	return kids
}

// NoChildren fails t if this process has any child process left.
func NoChildren(t testing.TB) {
	t.Helper()
	if kids := Children(); len(kids) > 0 {
		t.Errorf("child processes left behind: %v", kids)
	}
}

// UnknownWork is Work of a workload no model implements, for testing that
// Start refuses what it does not know.
type UnknownWork struct{}

// Workload names no real workload.
func (UnknownWork) Workload() string { return "unknown" }
