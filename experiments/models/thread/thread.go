// Package thread is the thread model: N OS threads sharing this process's
// memory, and its variant in which every thread must hold an emulated CPython
// GIL to compute (see GIL).
//
// Every worker is a goroutine locked to an OS thread of its own
// (runtime.LockOSThread) for its whole life, so a worker is a kernel task with
// its own thread ID, as a pthread or a CPython threading.Thread is. Work,
// results and pipeline payloads reach the threads by reference (shared
// slices, queues of pointers); nothing is copied between them.
//
// In the thread model a waiting thread is blocked in the kernel, as a pthread
// is: between tasks on a futex word that Run moves and wakes with one system
// call (a barrier), in nanosleep for the sleep workload, and on a futex ring
// between pipeline neighbours. What stays Go's is that a locked thread runs Go
// code only while it holds one of the runtime's GOMAXPROCS Ps, and a thread
// in a system call keeps its P until the runtime's monitor takes it back (10
// ms later while other Ps are idle). So, for its life, an Exec raises
// GOMAXPROCS by one P per thread, up to PsPerCPU per P the process had
// (lendPs): a thread that wakes finds an idle P at once, and the kernel alone
// decides which threads run. With more threads than that (10 000 sleeping
// threads on 2 CPUs: 1024 Ps), the few that find none wait for one.
//
// thread-gil keeps Go's own waits: its threads wait for tasks, for the GIL
// and on pipeline queues by parking on channels (the thread sleeps in a futex
// and its P goes at once to another thread), it borrows no Ps, and so more
// threads than GOMAXPROCS that are ready to run take turns on the runtime's
// Ps. See Model.Start for why.
//
// A CPU-bound primes.Count cannot be interrupted: when ctx ends during a
// primes Run, Run returns at once but the threads finish their counts, and
// Close waits for them.
//
// Linux only: thread IDs come from gettid, waits use futex, and Close checks
// with tgkill that the threads are gone.
package thread

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osthread"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/hold"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// Model is the thread model. With GIL set, the threads share one emulated
// GIL with the given switch interval.
type Model struct {
	GIL bool
	// SwitchInterval is how long a thread waits for the GIL before asking
	// the holder to drop it; 0 means DefaultSwitchInterval (5 ms, CPython's
	// default). It is ignored without the GIL.
	SwitchInterval time.Duration
	// Cold selects the echo server of a cold cell (start=cold): Start
	// creates only an acceptor thread, which creates a thread per
	// connection, as socketserver.ThreadingTCPServer does. Without it the
	// echo server is a pool of threads created by Start (start=warm). The
	// other workloads ignore it (their Start creates every thread either
	// way; the caller decides what is timed).
	Cold bool
}

// Name returns "thread", or "thread-gil" with the GIL.
func (m Model) Name() string {
	if m.GIL {
		return "thread-gil"
	}
	return "thread"
}

func (m Model) interval() time.Duration {
	if m.SwitchInterval == 0 {
		return DefaultSwitchInterval
	}
	return m.SwitchInterval
}

// Start creates the threads for w and returns when every one of them is
// running: one per range for primes, Concurrency for sleep, and for the
// pipeline a source, one per stage and a sink. It refuses work that needs
// more than MaxThreads threads. For echo it starts a server with a thread
// per connection on blocking sockets: a pool of min(Connections,
// MaxThreads) threads in accept, or with Cold an acceptor thread (see
// echoserver.go); there both variants lend Ps.
//
// Without the GIL, Start first raises GOMAXPROCS by min(threads, PsPerCPU ×
// GOMAXPROCS), which Close gives back (see lendPs), and when it lent 256 Ps
// or more it collects garbage once the threads exist, so that the heap the
// threads and Ps took does not bring a collection into the first Run (see
// collectGarbage). These are process-wide: GOMAXPROCS, the runtime's
// automatic GOMAXPROCS updates (off once GOMAXPROCS has been set), and the
// GC's pacing.
//
// With the GIL, Start changes neither, and the threads wait on channels
// instead of futexes: thousands of threads released at once by one futex
// wake-up all queue for the GIL in the same instant, and the emulated GIL's
// hand-overs collapse under them (measured: 10 000 sleep tasks of 10 ms took
// 1.4–17 s instead of 0.8 s), while channels release them one after another.
//
// The Exec's Run must not be called concurrently with itself. Execs made with
// the GIL implement interface{ GIL() *GIL }, for its statistics.
func (m Model) Start(ctx context.Context, w model.Work) (model.Exec, error) {
	if m.SwitchInterval < 0 {
		return nil, fmt.Errorf("%s: switch interval %v; want ≥ 0 (0 means %v)", m.Name(), m.SwitchInterval, DefaultSwitchInterval)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: start: %w", m.Name(), err)
	}
	var n int
	switch w := w.(type) {
	case echo.Job:
		return m.startEcho(ctx, w)
	case interleave.Job:
		return m.startInterleave(ctx, w)
	case spawnjob.Job:
		return m.startSpawn(ctx, w)
	case hold.Job:
		return m.startHold(ctx, w)
	case convoy.Job:
		return m.startConvoy(ctx, w)
	case primes.Job:
		if len(w.Ranges) == 0 {
			return nil, fmt.Errorf("%s: primes job has no ranges", m.Name())
		}
		n = len(w.Ranges)
	case sleep.Job:
		if w.Concurrency < 1 || w.Tasks < 0 || w.D < 0 {
			return nil, fmt.Errorf("%s: sleep job of %d tasks of %v at concurrency %d; want concurrency ≥ 1 and no negative values", m.Name(), w.Tasks, w.D, w.Concurrency)
		}
		n = w.Concurrency
	case *pipeline.Job:
		if w == nil || w.Stages < 1 {
			return nil, fmt.Errorf("%s: pipeline job without stages", m.Name())
		}
		n = w.Stages + 2
	default:
		return nil, fmt.Errorf("%s: unsupported work %T", m.Name(), w)
	}
	if n > MaxThreads {
		return nil, fmt.Errorf("%s: %T needs %d threads; this model creates at most %d", m.Name(), w, n, MaxThreads)
	}
	b, err := m.startBase(ctx, n)
	if err != nil {
		return nil, err
	}
	switch w := w.(type) {
	case primes.Job:
		return &primesExec{base: b, job: w}, nil
	case sleep.Job:
		return &sleepExec{base: b, job: w, clock: sleep.NewClock()}, nil
	default:
		return newPipe(b, w.(*pipeline.Job)), nil
	}
}

// primesExec runs one Count per range, each on its own thread.
type primesExec struct {
	*base
	job primes.Job
}

func (x *primesExec) Run(ctx context.Context) (model.Result, error) {
	n := len(x.job.Ranges)
	counts := make([]int, n)
	pids, tids := make([]int, n), make([]int, n)
	err := x.each(ctx, "primes", func(i int) {
		pids[i], tids[i] = unix.Getpid(), unix.Gettid()
		r := x.job.Ranges[i]
		if g := x.gs[i]; g != nil {
			g.Acquire()
			counts[i] = primes.Count(r.Lo, r.Hi, g.Check)
			g.Release()
		} else {
			counts[i] = primes.Count(r.Lo, r.Hi, nil)
		}
	}, nil)
	if err != nil {
		return model.Result{}, err
	}
	res := model.Result{Counts: counts}
	fillIDs(&res.Usage, pids, tids)
	return res, nil
}

// sleepExec runs the sleep tasks on Concurrency threads, each taking the next
// task as soon as it is free.
type sleepExec struct {
	*base
	job   sleep.Job
	clock sleep.Clock // made in Start (outside the timed region of a warm cell)
}

func (x *sleepExec) Run(ctx context.Context) (model.Result, error) {
	n := x.job.Concurrency
	slept := make([]int, n)
	errs := make([]error, n)
	pids, tids := make([]int, n), make([]int, n)
	// Task k's wait, as its thread saw it. Every task that is handed out
	// either completes its wait or fails the Run.
	spans := make([]sleep.Span, x.job.Tasks)
	var next atomic.Int64 // tasks handed out
	err := x.each(ctx, "sleep", func(i int) {
		g := x.gs[i]
		// The GIL is held between tasks, as a Python worker holds it while
		// it runs the code that fetches its next task, and released only
		// around the sleep.
		g.Acquire()
		defer g.Release()
		for ctx.Err() == nil {
			k := next.Add(1) - 1
			if k >= int64(x.job.Tasks) {
				return
			}
			g.BeginBlocking()
			start := x.clock.Now()
			// A blocking nanosleep: the thread keeps its P meanwhile,
			// until sysmon takes it (see lendPs). The alternative,
			// time.Sleep on the locked goroutine, hands the P over at
			// once, but every wake-up then goes through the Go scheduler
			// (a timer readies the goroutine, and a thread that holds a
			// P must hand it to the sleeper's thread): measured warm,
			// 10 000 sleepers of 100 ms on 2 CPUs, both with a P per
			// thread and released through channels, time.Sleep 0.54 s,
			// nanosleep 0.25 s (medians of 3; 0.19 s with the futex
			// release).
			err := osthread.Nanosleep(x.job.D)
			spans[k] = sleep.Span{Start: start, End: x.clock.Now()}
			g.EndBlocking()
			if err != nil {
				errs[i] = fmt.Errorf("worker %d (tid %d): %w", i, unix.Gettid(), err)
				return
			}
			slept[i]++
			// Only a thread that waited records its IDs: with more
			// threads than it takes to run the tasks, some get none.
			pids[i], tids[i] = unix.Getpid(), unix.Gettid()
			g.Check()
		}
	}, nil)
	if err != nil {
		return model.Result{}, err
	}
	if err := errors.Join(errs...); err != nil {
		x.failed = err
		return model.Result{}, fmt.Errorf("%s: sleep: %w", x.name, err)
	}
	if err := ctx.Err(); err != nil {
		// The threads stopped taking tasks, but all returned before Run
		// noticed ctx.
		x.failed = err
		return model.Result{}, fmt.Errorf("%s: sleep: %w", x.name, err)
	}
	res := model.Result{Waits: spans}
	for _, s := range slept {
		res.Slept += s
	}
	fillIDs(&res.Usage, pids, tids)
	return res, nil
}

// fillIDs records the distinct IDs of the threads that did the work; an entry
// of 0 is a thread that did none.
func fillIDs(u *model.Usage, pids, tids []int) {
	var ids model.IDs
	for i, tid := range tids {
		if tid != 0 {
			ids.Add(pids[i], tid)
		}
	}
	ids.Fill(u)
}
