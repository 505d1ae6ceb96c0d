package thread

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/pipeline"
)

// pipe is a pipeline of threads: thread 0 is the source, threads 1…Stages
// are the stages and thread Stages+1 is the sink. Neighbours are joined by
// bounded queues of payload buffers, so payloads move by reference and no
// byte is copied between threads. The buffers are made once, in Start, and
// recycled by the sink through a free list, itself a queue to the source.
//
// In the thread model the queues are futex rings (link): a thread that
// finds its queue full or empty blocks in the kernel until its neighbour
// moves, as a pthread pipeline would. In thread-gil they are Go channels,
// like the rest of its waits (see threads).
type pipe struct {
	*base
	job   *pipeline.Job
	links []queue // links[i] joins thread i to thread i+1
	free  queue   // buffers the source may fill, from the sink

	// Abandoning a run (ctx ended, or the sink rejected a payload) makes
	// every thread blocked on a queue give up instead of waiting for ever.
	// The pipe cannot run again afterwards (buffers may be stranded in the
	// queues), so this is done once per pipe.
	abandonOnce sync.Once
	stopped     atomic.Bool   // for links
	stop        chan struct{} // closed, for channels
}

// queue is a bounded FIFO of payload buffers from one thread to another.
type queue interface {
	// put appends buf, waiting while the queue is full; false if the run
	// was abandoned first. g (nil without the GIL) is released while put
	// waits, as a Python queue.put() releases the GIL only when it has to
	// wait.
	put(buf []byte, g *GILThread) bool
	// get removes the oldest buffer, waiting while the queue is empty;
	// false if the run was abandoned first. g is released while it waits.
	get(g *GILThread) ([]byte, bool)
}

func newPipe(b *base, j *pipeline.Job) *pipe {
	p := &pipe{base: b, job: j, links: make([]queue, j.Stages+1), stop: make(chan struct{})}
	// As many buffers as the queues and threads can hold at once: the
	// source waits for a free buffer only when it would wait for a full
	// queue anyway.
	n := pipeline.InFlight(j.Stages)
	newQueue := func(capacity int) queue {
		if b.ts.tasks != nil {
			return chanQueue{ch: make(chan []byte, capacity), stop: p.stop}
		}
		return newLink(capacity, &p.stopped)
	}
	for i := range p.links {
		p.links[i] = newQueue(pipeline.QueueDepth)
	}
	p.free = newQueue(n)
	for range n {
		p.free.put(pipeline.NewBuffer(j.PayloadBytes), nil) // never blocks
	}
	return p
}

// abandon makes every thread blocked on one of p's queues give up.
func (p *pipe) abandon() {
	p.abandonOnce.Do(func() {
		p.stopped.Store(true)
		close(p.stop)
		for _, q := range append(p.links, p.free) {
			if l, ok := q.(*link); ok {
				l.moved()
			}
		}
	})
}

func (p *pipe) Run(ctx context.Context) (model.Result, error) {
	j := p.job
	sink := j.NewSink()
	var sinkErr error
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
				buf, ok := p.free.get(g)
				if !ok {
					return
				}
				pipeline.Fill(buf, k)
				if !p.links[0].put(buf, g) {
					return
				}
				g.Check()
			}
		case i < last:
			in, out := p.links[i-1], p.links[i]
			for range j.Messages {
				buf, ok := in.get(g)
				if !ok {
					return
				}
				pipeline.Stage(buf)
				if !out.put(buf, g) {
					return
				}
				g.Check()
			}
		default:
			for range j.Messages {
				buf, ok := p.links[last-1].get(g)
				if !ok {
					return
				}
				if err := sink.Accept(buf); err != nil {
					sinkErr = fmt.Errorf("sink (tid %d): %w", tids[i], err)
					p.abandon()
					return
				}
				// Never blocks: free holds every buffer there is.
				p.free.put(buf, g)
				g.Check()
			}
		}
	}, p.abandon)
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

// chanQueue is a queue on a Go channel, for thread-gil.
type chanQueue struct {
	ch   chan []byte
	stop <-chan struct{} // closed when the run is abandoned
}

// get takes the next buffer, or reports false if stop is closed first. With
// the GIL, a receive that would block is made with the GIL released.
func (q chanQueue) get(g *GILThread) ([]byte, bool) {
	if g != nil {
		select {
		case buf := <-q.ch:
			return buf, true
		default:
		}
		g.BeginBlocking()
		defer g.EndBlocking()
	}
	select {
	case buf := <-q.ch:
		return buf, true
	case <-q.stop:
		return nil, false
	}
}

// put sends buf, or reports false if stop is closed first; with the GIL, as
// get.
func (q chanQueue) put(buf []byte, g *GILThread) bool {
	if g != nil {
		select {
		case q.ch <- buf:
			return true
		default:
		}
		g.BeginBlocking()
		defer g.EndBlocking()
	}
	select {
	case q.ch <- buf:
		return true
	case <-q.stop:
		return false
	}
}
