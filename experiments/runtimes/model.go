package runtimes

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/model"
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

// Model runs one cell's model in an external runtime's driver. It is a
// model.SelfTimed: Start starts the driver (and, for a warm cell, its
// workers) outside any timed region; every Run is timed by the driver.
type Model struct {
	// Prepared is the runtime (Prepare).
	Prepared *Prepared
	// Cell is the cell: its model, its start, and the runtime's options.
	Cell matrix.Cell
}

// Name is the cell's model.
func (m Model) Name() string { return m.Cell.Model }

// SelfTimed marks the model as timed by its driver.
func (Model) SelfTimed() {}

var _ model.SelfTimed = Model{}

// Args are the protocol's arguments for running w under the cell.
func (m Model) Args(w model.Work) ([]string, error) {
	start := m.Cell.Value("start")
	if start == "" {
		start = "warm"
	}
	args := []string{"workload=" + w.Workload(), "model=" + m.Cell.Model, "start=" + start}
	switch w := w.(type) {
	case primes.Job:
		rs := make([]string, len(w.Ranges))
		for i, r := range w.Ranges {
			rs[i] = fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
		args = append(args, "ranges="+strings.Join(rs, ","))
	case sleep.Job:
		args = append(args, "tasks="+strconv.Itoa(w.Tasks), "concurrency="+strconv.Itoa(w.Concurrency),
			"sleep_ns="+strconv.FormatInt(int64(w.D), 10))
	case *pipeline.Job:
		args = append(args, "stages="+strconv.Itoa(w.Stages), "messages="+strconv.Itoa(w.Messages),
			"payload_bytes="+strconv.Itoa(w.PayloadBytes))
	case echo.Job:
		args = append(args, "connections="+strconv.Itoa(w.Connections), "requests="+strconv.Itoa(w.Requests),
			"payload_bytes="+strconv.Itoa(w.PayloadBytes), "think_ns="+strconv.FormatInt(int64(w.Think), 10))
	case interleave.Job:
		args = append(args, "tasks="+strconv.Itoa(w.Tasks), "events="+strconv.Itoa(w.Events),
			"repeats="+strconv.Itoa(w.Repeats), "between="+w.Between,
			"gap_ns="+strconv.FormatInt(int64(w.Gap), 10), "compute_n="+strconv.Itoa(w.ComputeN))
	case blocking.Job:
		args = append(args, "tasks="+strconv.Itoa(w.Tasks), "block_ns="+strconv.FormatInt(int64(w.Block), 10),
			"wait_ns="+strconv.FormatInt(int64(w.Wait), 10), "offload="+w.Offload, "pool="+strconv.Itoa(w.PoolSize))
	case spawn.Job:
		args = append(args, "workers="+strconv.Itoa(w.Workers))
	case hold.Job:
		args = append(args, "workers="+strconv.Itoa(w.Workers), "result_bytes="+strconv.Itoa(w.Bytes), "results="+w.Keep)
	case convoy.Job:
		args = append(args, "ops="+strconv.Itoa(w.Ops), "io_ns="+strconv.FormatInt(int64(w.IOWait), 10),
			"cpu_workers="+strconv.Itoa(w.CPUWorkers), "chunk_n="+strconv.Itoa(w.ChunkN))
	default:
		return nil, fmt.Errorf("runtimes: no %s workload in the drivers", w.Workload())
	}
	rt := m.Cell.Runtime
	if rt.Kind == matrix.KindCPython {
		switch m.Cell.Model {
		case "process":
			args = append(args, "start_method="+rt.StartMethod)
		case "loop":
			loop := rt.EventLoop
			if loop == "" {
				loop = "asyncio"
			}
			args = append(args, "event_loop="+loop)
		}
	}
	return args, nil
}

// Start starts the driver for w and waits until it is ready (for a warm
// cell: every worker up and waiting).
func (m Model) Start(ctx context.Context, w model.Work) (model.Exec, error) {
	if m.Prepared == nil {
		return nil, fmt.Errorf("runtimes: %s is not prepared", m.Cell.Runtime.Name)
	}
	args, err := m.Args(w)
	if err != nil {
		return nil, err
	}
	var extra []*os.File
	if j, ok := w.(echo.Job); ok {
		if j.Listener == nil {
			return nil, fmt.Errorf("runtimes: echo job without a listening socket")
		}
		extra = []*os.File{j.Listener} // the driver's fd 3
	}
	d, err := startDriver(ctx, append(append([]string{}, m.Prepared.Argv...), args...), extra)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Cell.Runtime.Name, err)
	}
	x := &driverExec{d: d, grace: closeGrace(w)}
	if m.Cell.Runtime.EventLoop == "uvloop" && m.Cell.Model == "loop" {
		x.early = UVLoopEarly()
	}
	return x, nil
}

// UVLoopEarly is how much sooner than asked a uvloop timer may fire: libuv
// sets its timers from the loop's cached time, a count of milliseconds
// (truncated) read from CLOCK_MONOTONIC_COARSE, which lags CLOCK_MONOTONIC
// by up to its resolution (the kernel's tick). Measured here: a 20 ms sleep
// of a warm uvloop loop ended after 19.31 ms while the machine was busy.
func UVLoopEarly() time.Duration {
	var ts unix.Timespec
	coarse := 4 * time.Millisecond // HZ = 250, when the kernel does not say
	if err := unix.ClockGetres(unix.CLOCK_MONOTONIC_COARSE, &ts); err == nil && ts.Nano() > 0 {
		coarse = time.Duration(ts.Nano())
	}
	return coarse + time.Millisecond
}

// closeGrace is how long a driver may take to stop after quit: its workers
// may be inside a wait.
func closeGrace(w model.Work) time.Duration {
	g := 30 * time.Second
	switch j := w.(type) {
	case sleep.Job:
		g += 2 * j.D
	case blocking.Job:
		g += 2 * (j.Block + j.Wait)
	}
	return g
}

type driverExec struct {
	d     *driver
	grace time.Duration
	early time.Duration // Result.Early
}

func (x *driverExec) Run(ctx context.Context) (model.Result, error) {
	r, err := x.d.run(ctx)
	r.Early = x.early
	return r, err
}

func (x *driverExec) Close() error { return x.d.close(x.grace) }
