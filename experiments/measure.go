package experiments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

// Timer is the part of *testing.B that Measure drives.
type Timer interface {
	StartTimer()
	StopTimer()
}

// Sample is what one call of Measure observed over n executions.
type Sample struct {
	N       int
	Elapsed time.Duration // wall time of the timed region
	// Procs and Threads are the most distinct processes and OS threads that
	// did the work in one execution, as the workers recorded them.
	Procs, Threads int
	// PeakRSS is the peak resident memory, in bytes, of this process during
	// the timed region plus the largest per-execution sum of the children's
	// peaks.
	PeakRSS int64
	// CPU is the user+system CPU time of every process involved during the
	// timed region.
	CPU time.Duration
	// Units is how many workload units the n executions did: tasks for
	// primes (one per worker) and sleep, payload bytes for the pipeline.
	Units float64
}

// Measure runs cell c n times and verifies every execution. The timed region
// is exactly what the cell's start parameter says: with start=warm the
// workers are started before it and stopped after it; with start=cold each
// execution starts and stops its own workers inside it. t's timer is stopped
// on entry and running only during the timed region.
func Measure(ctx context.Context, c matrix.Cell, n int, t Timer) (Sample, error) {
	t.StopTimer()
	m, err := NewModel(c)
	if err != nil {
		return Sample{}, err
	}
	w, err := NewWork(c)
	if err != nil {
		return Sample{}, err
	}
	cold := c.Value("start") == "cold"
	s := Sample{N: n, Units: float64(n) * units(w)}

	var x model.Exec
	if !cold {
		if x, err = m.Start(ctx, w); err != nil {
			return s, fmt.Errorf("%s: start: %w", c.Name(), err)
		}
		defer func() {
			if x != nil {
				x.Close()
			}
		}()
	}
	if err := osmeter.ResetPeakRSS(); err != nil {
		return s, err
	}
	self0, err := osmeter.CPU(unix.RUSAGE_SELF)
	if err != nil {
		return s, err
	}
	kids0, _ := osmeter.CPU(unix.RUSAGE_CHILDREN)

	var childCPU time.Duration
	var childPeak int64
	t.StartTimer()
	t0 := time.Now()
	for i := range n {
		runCtx, cancel := context.WithTimeout(ctx, c.Timeout)
		if cold {
			x, err = m.Start(runCtx, w)
			if err != nil {
				cancel()
				t.StopTimer()
				return s, fmt.Errorf("%s: execution %d: start: %w", c.Name(), i+1, err)
			}
		}
		r0 := time.Now()
		r, err := x.Run(runCtx)
		if err == nil {
			err = model.Verify(w, r, time.Since(r0))
		}
		cancel()
		if cold {
			err = errors.Join(err, x.Close())
			x = nil
		}
		if err != nil {
			t.StopTimer()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("timed out after %v (the cell's timeout): %w", c.Timeout, err)
			}
			return s, fmt.Errorf("%s: execution %d: %w", c.Name(), i+1, err)
		}
		s.Procs = max(s.Procs, len(r.PIDs))
		s.Threads = max(s.Threads, len(r.TIDs))
		childCPU += r.ChildCPU
		childPeak = max(childPeak, r.ChildPeakRSS)
	}
	s.Elapsed = time.Since(t0)
	t.StopTimer()

	self1, _ := osmeter.CPU(unix.RUSAGE_SELF)
	kids1, _ := osmeter.CPU(unix.RUSAGE_CHILDREN)
	peak, err := osmeter.PeakRSS()
	if err != nil {
		return s, err
	}
	s.PeakRSS = peak + childPeak
	s.CPU = self1 - self0
	if cold {
		// Cold workers were started and reaped inside the timed region, so
		// the kernel's count covers all of their CPU, start-up included.
		s.CPU += kids1 - kids0
	} else {
		// Warm workers outlive the region; they reported what they used.
		s.CPU += childCPU
	}
	return s, nil
}

// units is how much work one execution of w does, in the unit its
// throughput is reported in.
func units(w model.Work) float64 {
	switch w := w.(type) {
	case primes.Job:
		return float64(len(w.Ranges))
	case sleep.Job:
		return float64(w.Tasks)
	case *pipeline.Job:
		return float64(w.Bytes())
	}
	return 0
}
