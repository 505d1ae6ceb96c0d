// Package modeltest holds the checks every model must pass: it runs each
// workload on a small size, verifies the result, and checks that the model
// leaves no process behind. Model-specific properties (distinct PIDs, distinct
// TIDs, one TID) are tested in each model's package.
package modeltest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

// Run starts m on w, runs it reps times, verifies every result and closes it.
func Run(t testing.TB, m model.Model, w model.Work, reps int) []model.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	x, err := m.Start(ctx, w)
	if err != nil {
		t.Fatalf("%s: Start(%T): %v", m.Name(), w, err)
	}
	var out []model.Result
	for i := range reps {
		start := time.Now()
		r, err := x.Run(ctx)
		if err != nil {
			x.Close()
			t.Fatalf("%s: Run %d of %T: %v", m.Name(), i, w, err)
		}
		if err := model.Verify(w, r, time.Since(start)); err != nil {
			x.Close()
			t.Fatalf("%s: Run %d of %T: %v", m.Name(), i, w, err)
		}
		if len(r.PIDs) == 0 || len(r.TIDs) == 0 {
			t.Errorf("%s: Run %d of %T recorded PIDs %v, TIDs %v; want the workers' IDs", m.Name(), i, w, r.PIDs, r.TIDs)
		}
		out = append(out, r)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("%s: Close: %v", m.Name(), err)
	}
	return out
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
