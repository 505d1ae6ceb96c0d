package thread

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/pipeline"
)

// pipe is a pipeline of threads: thread 0 is the source, threads 1…Stages
// are the stages and thread Stages+1 is the sink. Neighbours are joined by
// channels of payload buffers, so payloads move by reference and no byte is
// copied between threads. The buffers are made once, in Start, and recycled
// by the sink through a free list.
type pipe struct {
	*base
	job   *pipeline.Job
	links []chan []byte // links[i] joins thread i to thread i+1
	free  chan []byte   // buffers the source may fill
}

func newPipe(b *base, j *pipeline.Job) *pipe {
	p := &pipe{base: b, job: j, links: make([]chan []byte, j.Stages+1)}
	for i := range p.links {
		p.links[i] = make(chan []byte, pipeline.QueueDepth)
	}
	// As many buffers as the queues and threads can hold at once: the
	// source waits for a free buffer only when it would wait for a full
	// queue anyway.
	n := pipeline.InFlight(j.Stages)
	p.free = make(chan []byte, n)
	for range n {
		p.free <- make([]byte, j.PayloadBytes)
	}
	return p
}

func (p *pipe) Run(ctx context.Context) (model.Result, error) {
	j := p.job
	sink := j.NewSink()
	var sinkErr error
	// stop is closed when the run is abandoned (ctx ended, or the sink
	// rejected a payload) so that threads blocked on a full or empty queue
	// give up instead of waiting for ever.
	stop := make(chan struct{})
	var stopOnce sync.Once
	abort := func() { stopOnce.Do(func() { close(stop) }) }
	last := j.Stages + 1
	pids, tids := make([]int, last+1), make([]int, last+1)
	err := p.each(ctx, "pipeline", func(i int) {
		pids[i], tids[i] = unix.Getpid(), unix.Gettid()
		g := p.gs[i]
		g.Acquire()
		defer g.Release()
		switch {
		case i == 0:
			for k := range j.Messages {
				buf, ok := recv(p.free, stop, g)
				if !ok {
					return
				}
				pipeline.Fill(buf, k)
				if !send(p.links[0], buf, stop, g) {
					return
				}
				g.Check()
			}
		case i < last:
			in, out := p.links[i-1], p.links[i]
			for range j.Messages {
				buf, ok := recv(in, stop, g)
				if !ok {
					return
				}
				pipeline.Stage(buf)
				if !send(out, buf, stop, g) {
					return
				}
				g.Check()
			}
		default:
			for range j.Messages {
				buf, ok := recv(p.links[last-1], stop, g)
				if !ok {
					return
				}
				if err := sink.Accept(buf); err != nil {
					sinkErr = fmt.Errorf("sink (tid %d): %w", tids[i], err)
					abort()
					return
				}
				// Never blocks: free holds every buffer there is.
				p.free <- buf
				g.Check()
			}
		}
	}, abort)
	if err != nil {
		return model.Result{}, err
	}
	if sinkErr == nil {
		sinkErr = sink.Verify()
	}
	if sinkErr != nil {
		// Buffers may be stranded in the queues: the pipe cannot run again.
		p.failed = sinkErr
		return model.Result{}, fmt.Errorf("%s: pipeline: %w", p.name, sinkErr)
	}
	res := model.Result{Received: sink.Received()}
	fillIDs(&res.Usage, pids, tids)
	return res, nil
}

// recv takes the next buffer from ch, or reports false if stop is closed
// first. With the GIL, a receive that would block is made with the GIL
// released, as a Python queue.get() releases it only when it has to wait.
func recv(ch <-chan []byte, stop <-chan struct{}, g *GILThread) ([]byte, bool) {
	if g != nil {
		select {
		case buf := <-ch:
			return buf, true
		default:
		}
		g.BeginBlocking()
		defer g.EndBlocking()
	}
	select {
	case buf := <-ch:
		return buf, true
	case <-stop:
		return nil, false
	}
}

// send puts buf on ch, or reports false if stop is closed first; with the
// GIL, as recv.
func send(ch chan<- []byte, buf []byte, stop <-chan struct{}, g *GILThread) bool {
	if g != nil {
		select {
		case ch <- buf:
			return true
		default:
		}
		g.BeginBlocking()
		defer g.EndBlocking()
	}
	select {
	case ch <- buf:
		return true
	case <-stop:
		return false
	}
}
