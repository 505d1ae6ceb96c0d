package experiments

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/models/thread"
	"concurrency-lab/experiments/workloads/blocking"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/hold"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
	"concurrency-lab/experiments/workloads/spawn"
)

// Timer is the part of *testing.B that Measure drives.
type Timer interface {
	StartTimer()
	StopTimer()
}

// Sample is what one call of Measure observed over n executions.
type Sample struct {
	N       int
	Elapsed time.Duration // wall time of the timed regions, summed
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
	// PeakWaiting is, for the sleep workload, the most tasks that were
	// inside their wait at the same moment, in the execution where that
	// was least (from the
	// spans the waiting code recorded); 0 for other workloads. A cell whose
	// peak is below the job's concurrency did not wait "all at once".
	PeakWaiting int
	// Concurrency is how many tasks the sleep job asked to wait at once
	// (its workers, or every task); 0 for other workloads.
	Concurrency int
	// GILSwitches is the number of GIL hand-overs during the timed
	// executions, for the thread-gil model; -1 for models without a GIL.
	GILSwitches int64
	// Echo: the requests whose echo the load generator verified over the n
	// executions, and the worst (largest) of the executions' median and
	// 99th-percentile request latencies, as the generator measured them.
	Requests int
	P50, P99 time.Duration
	// Orders holds, for the interleave workload, every execution's orders
	// (one per repeat), in execution order.
	Orders []string
	// Chunks is, for the convoy workload, the CPU workers' chunks over the
	// n executions. The convoy's P50 and P99 are the I/O worker's
	// per-operation latencies (the worst execution's), as for echo.
	Chunks int
}

// gilExec is an Exec behind an emulated GIL (the thread-gil model).
type gilExec interface{ GIL() *thread.GIL }

// Measure runs cell c n times and verifies every execution. The timed region
// is exactly what the cell's start parameter says: with start=warm the
// workers are started before it and stopped after it; with start=cold each
// execution starts and stops its own workers inside it. Everything else —
// verifying the result, reading the workers' resource usage, counting
// concurrent waits — happens with the timer stopped. t's timer is stopped on
// entry and running only during the timed regions.
//
// A warm Start gets the cell's timeout as its deadline, so that a worker
// that hangs before it is ready fails the cell rather than the whole run.
func Measure(ctx context.Context, c matrix.Cell, n int, t Timer) (Sample, error) {
	t.StopTimer()
	m, err := NewModel(ctx, c)
	if err != nil {
		return Sample{}, err
	}
	return measure(ctx, c, m, n, t)
}

// measure is Measure with the model given.
func measure(ctx context.Context, c matrix.Cell, m model.Model, n int, t Timer) (Sample, error) {
	t.StopTimer()
	w, err := NewWork(c)
	if err != nil {
		return Sample{}, err
	}
	// A self-timed model (an external runtime's driver) creates a cold
	// cell's workers inside its own timed region: from here its driver is
	// always started outside ours.
	_, self := m.(model.SelfTimed)
	cold := c.Value("start") == "cold" && !self
	s := Sample{N: n, Units: float64(n) * units(w), GILSwitches: -1}
	if j, ok := w.(sleep.Job); ok {
		s.Concurrency = j.Concurrency
	}

	// The echo workload's load generator, and a warm server's listening
	// socket, are made before anything is timed and live for the whole
	// sample; a cold server gets a fresh socket for every execution (made
	// outside the timed region), as a fresh start would.
	var load *echo.Load
	if j, ok := w.(echo.Job); ok {
		ln, addr, err := echo.Listen()
		if err != nil {
			return s, err
		}
		defer ln.Close()
		j.Listener = ln
		w = j
		bin, err := os.Executable()
		if err != nil {
			return s, err
		}
		if load, err = echo.StartLoad(bin, addr, j); err != nil {
			return s, fmt.Errorf("%s: %w", c.Name(), err)
		}
		defer load.Close()
	}

	var x model.Exec
	if !cold {
		startCtx, cancel := context.WithTimeout(ctx, c.Timeout)
		x, err = m.Start(startCtx, w)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("not ready within %v (the cell's timeout): %w", c.Timeout, err)
			}
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
	for i := range n {
		e, err := execute(ctx, c, m, w, x, load, t)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("timed out after %v (the cell's timeout): %w", c.Timeout, err)
			}
			return s, fmt.Errorf("%s: execution %d: %w", c.Name(), i+1, err)
		}
		s.Elapsed += e.elapsed
		s.Procs = max(s.Procs, len(e.r.PIDs))
		s.Threads = max(s.Threads, len(e.r.TIDs))
		if p := sleep.PeakWaiting(e.r.Waits); i == 0 || p < s.PeakWaiting {
			s.PeakWaiting = p // the least of the executions: one that fell short shows
		}
		childCPU += e.r.ChildCPU
		childPeak = max(childPeak, e.r.ChildPeakRSS)
		if e.gil >= 0 {
			s.GILSwitches = max(s.GILSwitches, 0) + e.gil
		}
		s.Requests += e.load.Requests
		s.P50, s.P99 = max(s.P50, e.load.P50), max(s.P99, e.load.P99)
		if len(e.r.Latencies) > 0 {
			p50, p99 := echo.Percentile(e.r.Latencies, 0.50), echo.Percentile(e.r.Latencies, 0.99)
			s.P50, s.P99 = max(s.P50, p50), max(s.P99, p99)
		}
		s.Orders = append(s.Orders, e.r.Orders...)
		s.Chunks += e.r.Chunks
	}

	self1, _ := osmeter.CPU(unix.RUSAGE_SELF)
	kids1, _ := osmeter.CPU(unix.RUSAGE_CHILDREN)
	peak, err := osmeter.PeakRSS()
	if err != nil {
		return s, err
	}
	s.PeakRSS = peak + childPeak
	s.CPU = self1 - self0
	switch {
	case self:
		// The driver measured its own and its workers' usage; this
		// process only waited for it.
		s.PeakRSS, s.CPU = childPeak, childCPU
	case cold:
		// Cold workers were started and reaped inside the timed region, so
		// the kernel's count covers all of their CPU, start-up included.
		s.CPU += kids1 - kids0
	default:
		// Warm workers outlive the region; they reported what they used.
		s.CPU += childCPU
	}
	return s, nil
}

// execution is what one timed execution produced.
type execution struct {
	r       model.Result
	elapsed time.Duration // the timed region: Run, plus Start and Close when cold
	gil     int64         // GIL hand-overs during Run; -1 without a GIL
	load    echo.Stats    // what the echo load generator measured
}

// execute times one execution of w: Run on the warm Exec x, or Start, Run
// and Close when x is nil (cold). The result is verified, and the workers'
// usage collected, with the timer stopped. For the echo workload, the load
// generator (load) is let go at the start of Run, and the execution ends
// when both the server's Run and the generator are done.
func execute(ctx context.Context, c matrix.Cell, m model.Model, w model.Work, x model.Exec, load *echo.Load, t Timer) (e execution, err error) {
	e.gil = -1
	runCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cold := x == nil
	var addr string // "" = the load generator's last
	if j, ok := w.(echo.Job); ok && cold {
		ln, a, err := echo.Listen()
		if err != nil {
			return e, err
		}
		defer ln.Close()
		j.Listener, addr = ln, a
		w = j
	}
	// A warm Exec's GIL count is read before the timer starts; a cold
	// Exec's GIL is new, so its count starts at 0.
	var switches0 int64
	if !cold {
		if g, ok := x.(gilExec); ok && g.GIL() != nil {
			switches0 = g.GIL().Stats().Switches
		}
	}
	t.StartTimer()
	t0 := time.Now()
	if cold {
		if x, err = m.Start(runCtx, w); err != nil {
			t.StopTimer()
			return e, fmt.Errorf("start: %w", err)
		}
	}
	r0 := time.Now()
	var loaded chan error
	if load != nil {
		loaded = make(chan error, 1)
		serveCtx, stop := context.WithCancel(runCtx)
		defer stop()
		runCtx = serveCtx
		go func() {
			var lerr error
			if e.load, lerr = load.Go(addr); lerr != nil {
				stop() // the server would wait for connections that never come
			}
			loaded <- lerr
		}()
	}
	e.r, err = x.Run(runCtx)
	if loaded != nil {
		if lerr := <-loaded; lerr != nil {
			err = errors.Join(fmt.Errorf("load generator: %w", lerr), err)
		}
	}
	runTime := time.Since(r0)
	e.elapsed = time.Since(t0)
	t.StopTimer()
	if e.r.Timed > 0 && load == nil {
		// The work's own clock: an external runtime's driver around the
		// work alone, or a Go convoy's I/O worker around its operations
		// (a Go model's cold start-up is then left out, as a driver's
		// cold convoy leaves it out: the cell's time is the I/O
		// worker's). Not for the echo workload: the load generator is
		// let go by this process, and a warm driver may serve the first
		// connections before it reads its run command, so this clock,
		// around both, is the truth.
		runTime, e.elapsed = e.r.Timed, e.r.Timed
	}
	if g, ok := x.(gilExec); ok && g.GIL() != nil { // the thread model without one answers nil
		e.gil = g.GIL().Stats().Switches - switches0
	}
	if err == nil {
		err = model.Verify(w, e.r, runTime)
	}
	// Collected for cold cells too: their workers' peak RSS comes only from
	// here (their CPU is counted by the kernel as they are reaped).
	if uc, ok := x.(model.UsageCollector); ok && err == nil {
		var cpu time.Duration
		var peak int64
		cpu, peak, err = uc.CollectUsage(runCtx)
		e.r.ChildCPU += cpu
		e.r.ChildPeakRSS = max(e.r.ChildPeakRSS, peak)
	}
	if cold {
		t.StartTimer()
		t1 := time.Now()
		err = errors.Join(err, x.Close())
		e.elapsed += time.Since(t1)
		t.StopTimer()
	}
	return e, err
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
	case echo.Job:
		return float64(w.Total())
	case interleave.Job:
		return float64(w.Repeats)
	case blocking.Job:
		return float64(w.Tasks)
	case spawn.Job:
		return float64(w.Workers)
	case hold.Job:
		return float64(w.Workers)
	case convoy.Job:
		return float64(w.Ops)
	}
	return 0
}
