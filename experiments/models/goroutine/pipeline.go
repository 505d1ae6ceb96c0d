package goroutine

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/pipeline"
)

// chain is a running pipeline: stage goroutines joined by channels of
// payloads. Payloads move by reference; no byte is copied between stages.
type chain struct {
	job    *pipeline.Job
	in     chan []byte    // source → first stage
	out    chan []byte    // last stage → sink
	free   chan []byte    // recycled payload buffers
	tids   []atomic.Int64 // per stage: the thread it last transformed a payload on
	stop   chan struct{}  // closed by Close
	failed bool           // an earlier Run failed: payloads may be stranded
	done   sync.WaitGroup // the stages
}

func startPipeline(j *pipeline.Job) *chain {
	c := &chain{
		job:  j,
		in:   make(chan []byte, pipeline.QueueDepth),
		free: make(chan []byte, pipeline.InFlight(j.Stages)),
		tids: make([]atomic.Int64, j.Stages),
		stop: make(chan struct{}),
	}
	for range pipeline.InFlight(j.Stages) {
		c.free <- pipeline.NewBuffer(j.PayloadBytes)
	}
	prev := c.in
	for i := range j.Stages {
		in, out := prev, make(chan []byte, pipeline.QueueDepth)
		c.done.Go(func() { c.stage(i, in, out) })
		next := out
		prev = next
	}
	c.out = prev
	return c
}

func (c *chain) stage(i int, in <-chan []byte, out chan<- []byte) {
	for {
		select {
		case buf := <-in:
			pipeline.Stage(buf)
			c.tids[i].Store(int64(unix.Gettid()))
			select {
			case out <- buf:
			case <-c.stop:
				return
			}
		case <-c.stop:
			return
		}
	}
}

func (c *chain) Run(ctx context.Context) (model.Result, error) {
	if c.failed {
		return model.Result{}, fmt.Errorf("goroutine: pipeline: an earlier run failed; payloads may still be in flight")
	}
	// The source stops when the run ends, also when the sink fails first.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res, err := c.run(ctx)
	c.failed = err != nil
	return res, err
}

func (c *chain) run(ctx context.Context) (model.Result, error) {
	sink := c.job.NewSink()
	var srcTID atomic.Int64
	go func() {
		for k := range c.job.Messages {
			var buf []byte
			select {
			case buf = <-c.free:
			case <-ctx.Done():
				return
			}
			pipeline.Fill(buf, k)
			srcTID.Store(int64(unix.Gettid()))
			select {
			case c.in <- buf:
			case <-ctx.Done():
				return
			}
		}
	}()
	var ids model.IDs
	pid := os.Getpid()
	for range c.job.Messages {
		select {
		case buf := <-c.out:
			if err := sink.Accept(buf); err != nil {
				return model.Result{}, err
			}
			ids.Add(pid, unix.Gettid())
			c.free <- buf
		case <-ctx.Done():
			return model.Result{}, fmt.Errorf("goroutine: pipeline: %w", ctx.Err())
		}
	}
	// Every stage and the source touched the last payload before the sink
	// accepted it, so their recorded threads are final.
	ids.Add(pid, int(srcTID.Load()))
	for i := range c.tids {
		ids.Add(pid, int(c.tids[i].Load()))
	}
	res := model.Result{Received: sink.Received()}
	ids.Fill(&res.Usage)
	return res, sink.Verify()
}

func (c *chain) Close() error {
	close(c.stop)
	c.done.Wait()
	return nil
}
