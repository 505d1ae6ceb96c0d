// Package goroutine is the goroutine model: plain goroutines and channels
// under Go's M:N scheduler, GOMAXPROCS threads. Blocking is left to the
// runtime (time.Sleep parks the goroutine on a timer, not a thread).
//
// The echo workload is served the way Go serves: the net package, an accept
// loop and a goroutine per connection, parked in the netpoller while they
// wait. Warm and cold cells run the same server; a cold one also times its
// Start and Close, which are cheap (see server).
//
// Linux only: worker thread IDs come from gettid.
package goroutine

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/hold"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
	"concurrency-lab/experiments/workloads/spawn"
)

// Model is the goroutine model.
type Model struct{}

// Name returns "goroutine".
func (Model) Name() string { return "goroutine" }

// Start starts the goroutines for w: a pool of workers for primes and sleep,
// the stages of the pipeline, the echo server's accept loop.
func (Model) Start(ctx context.Context, w model.Work) (model.Exec, error) {
	switch w := w.(type) {
	case primes.Job:
		return startPool(len(w.Ranges), func(i int) int { r := w.Ranges[i]; return primes.Count(r.Lo, r.Hi, nil) },
			len(w.Ranges), func(res *model.Result, out []int) { res.Counts = out }), nil
	case sleep.Job:
		// Task i writes only waits[i], and Run reads them after every
		// task's result has arrived on the results channel.
		clk, waits := sleep.NewClock(), make([]sleep.Span, w.Tasks)
		return startPool(w.Concurrency, func(i int) int {
			start := clk.Now()
			time.Sleep(w.D)
			waits[i] = sleep.Span{Start: start, End: clk.Now()}
			return 1
		}, w.Tasks, func(res *model.Result, out []int) {
			for _, n := range out {
				res.Slept += n
			}
			res.Waits = slices.Clone(waits)
		}), nil
	case *pipeline.Job:
		return startPipeline(w), nil
	case echo.Job:
		return startEcho(ctx, w)
	case interleave.Job:
		return startInterleave(ctx, w)
	case spawn.Job:
		return startSpawn(ctx, w)
	case hold.Job:
		return startHold(ctx, w)
	case convoy.Job:
		return startConvoy(ctx, w)
	}
	return nil, fmt.Errorf("goroutine: unsupported work %T", w)
}

// pool is a fixed set of goroutines that run tasks numbered 0…n-1.
type pool struct {
	tasks   chan int
	results chan [3]int    // task index, value, tid
	done    sync.WaitGroup // the workers
	feeding sync.WaitGroup // the goroutine handing out a Run's tasks
	n       int
	do      func(int) int
	collect func(*model.Result, []int)
}

func startPool(workers int, do func(int) int, n int, collect func(*model.Result, []int)) *pool {
	p := &pool{tasks: make(chan int), results: make(chan [3]int, n), n: n, do: do, collect: collect}
	p.done.Add(workers)
	for range workers {
		go func() {
			defer p.done.Done()
			for i := range p.tasks {
				v := p.do(i)
				p.results <- [3]int{i, v, unix.Gettid()}
			}
		}()
	}
	return p
}

func (p *pool) Run(ctx context.Context) (model.Result, error) {
	p.feeding.Go(func() {
		for i := range p.n {
			select {
			case p.tasks <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	out := make([]int, p.n)
	var ids model.IDs
	pid := os.Getpid()
	for range p.n {
		select {
		case r := <-p.results:
			out[r[0]] = r[1]
			ids.Add(pid, r[2])
		case <-ctx.Done():
			return model.Result{}, fmt.Errorf("goroutine: %w", ctx.Err())
		}
	}
	var res model.Result
	p.collect(&res, out)
	ids.Fill(&res.Usage)
	return res, nil
}

func (p *pool) Close() error {
	p.feeding.Wait()
	close(p.tasks)
	p.done.Wait()
	return nil
}
