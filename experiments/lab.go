// Package experiments is the measured code of the lab: it turns a matrix cell
// into a model and a job, and measures one sample of it. BenchmarkLab (in
// lab_test.go) runs every cell of the matrix under `go test -bench`.
//
// Linux only: the measurements read /proc and getrusage.
package experiments

import (
	"context"
	"fmt"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/models/goroutine"
	"concurrency-lab/experiments/models/loop"
	"concurrency-lab/experiments/models/process"
	"concurrency-lab/experiments/models/thread"
	"concurrency-lab/experiments/runtimes"
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

// Registry: every model and workload the matrix can name. The matrix package
// holds their parameters; TestRegistryMatchesSchema keeps the two in step.

// NewModel returns the implementation of a cell's model. A cell of an
// external runtime gets its driver (experiments/runtimes), prepared once per
// process; an absent runtime is a *runtimes.Unavailable error.
func NewModel(ctx context.Context, c matrix.Cell) (model.Model, error) {
	if c.Runtime.Kind != "" && c.Runtime.Kind != matrix.KindGo {
		p, err := prepare(ctx, c.Runtime)
		if err != nil {
			return nil, err
		}
		return runtimes.Model{Prepared: p, Cell: c}, nil
	}
	switch c.Model {
	case "goroutine":
		return goroutine.Model{}, nil
	case "loop":
		return loop.Model{}, nil
	case "process":
		// A cold echo server forks a worker per connection; a warm one
		// is a pre-forked pool (the other workloads start the same way).
		return process.Model{Cold: c.Value("start") == "cold"}, nil
	case "thread":
		return thread.Model{Cold: c.Value("start") == "cold"}, nil
	case "thread-gil":
		return thread.Model{GIL: true, SwitchInterval: c.Duration("switch_interval"), Cold: c.Value("start") == "cold"}, nil
	}
	return nil, fmt.Errorf("%s: no implementation of model %q", c.Name(), c.Model)
}

// NewWork builds a cell's job, with its expected results precomputed.
func NewWork(c matrix.Cell) (model.Work, error) {
	var w model.Work
	var err error
	switch c.Workload {
	case "primes":
		w, err = primes.NewJob(c.Int("n"), c.Int("workers"), primes.Split(c.Value("split")))
	case "sleep":
		w, err = sleep.NewJob(c.Int("tasks"), c.Int("workers"), ms(c.Int("sleep_ms")))
	case "pipeline":
		w, err = pipeline.NewJob(c.Int("stages"), c.Int("messages"), c.Int("payload_bytes"))
	case "echo":
		w, err = echo.NewJob(c.Int("connections"), c.Int("requests"), c.Int("payload_bytes"), ms(c.Int("think_ms")))
	case "interleave":
		w, err = interleave.NewJob(c.Int("tasks"), c.Int("events"), c.Int("repeats"), c.Value("between"), time.Duration(c.Int("gap_us"))*time.Microsecond, c.Int("compute_n"))
	case "blocking":
		w, err = blocking.NewJob(c.Int("tasks"), ms(c.Int("block_ms")), ms(c.Int("wait_ms")), c.Value("offload"), c.Int("pool"))
	case "spawn":
		w, err = spawn.NewJob(c.Int("workers"))
	case "hold":
		w, err = hold.NewJob(c.Int("workers"), c.Int("result_bytes"), c.Value("results"))
	case "convoy":
		w, err = convoy.NewJob(c.Int("ops"), time.Duration(c.Int("io_us"))*time.Microsecond, c.Int("cpu_workers"), c.Int("chunk_n"))
	default:
		err = fmt.Errorf("no implementation of workload %q", c.Workload)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return w, nil
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
