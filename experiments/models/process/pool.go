package process

import (
	"context"
	"fmt"
	"os"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/sleep"
)

var _ model.UsageCollector = (*pool)(nil)

// pool is a set of worker processes that run numbered tasks, one at a time
// each: the primes ranges (task i on worker i) or the sleep tasks (handed to
// whichever worker is free).
type pool struct {
	g       *group
	jobs    []*os.File // parent → worker i
	tasks   int
	task    func(i int) (kind, []uint64) // task i's job
	collect func(*model.Result, []int)   // the tasks' values, by task
	waits   bool                         // the jobs are sleeps: each reply carries the wait's span
	fault   fault
	runs    int    // Runs started so far
	owed    []bool // worker i has run a job since its usage was last collected
}

func startPool(ctx context.Context, exe string, flt fault, workers, tasks int, waits bool,
	task func(int) (kind, []uint64), collect func(*model.Result, []int)) (*pool, error) {
	p := &pool{g: newGroup(workers), tasks: tasks, task: task, collect: collect, waits: waits, fault: flt, owed: make([]bool, workers)}
	fail := func(err error) (*pool, error) {
		p.g.abort(err)
		p.g.close()
		return nil, err
	}
	for i := range workers {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("process: start: %w", err))
		}
		jobsR, jobsW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("process: worker %d: %w", i, err))
		}
		var startFault uint64
		if flt.kind == kHangStart && flt.at == i {
			startFault = uint64(flt.kind)
		}
		// The start frame waits in the pipe until the worker reads it.
		if err := writeFrame(jobsW, kPool, startFault); err != nil {
			jobsR.Close()
			jobsW.Close()
			return fail(fmt.Errorf("process: worker %d: start frame: %w", i, err))
		}
		repR, repW, err := os.Pipe()
		if err != nil {
			jobsR.Close()
			jobsW.Close()
			return fail(fmt.Errorf("process: worker %d: %w", i, err))
		}
		p.g.files = append(p.g.files, jobsW)
		p.jobs = append(p.jobs, jobsW)
		if err := p.g.start(fmt.Sprintf("worker %d", i), exe, rolePool, []*os.File{jobsR, repW}, repR); err != nil {
			return fail(fmt.Errorf("process: starting worker %d: %w", i, err))
		}
	}
	if err := p.g.waitReady(ctx); err != nil {
		return fail(err)
	}
	return p, nil
}

// Run hands the tasks out, a new one to each worker as it finishes one, and
// collects the values (and for sleeps the wait spans) in task order. It
// reads no usage: CollectUsage does, after the Run.
func (p *pool) Run(ctx context.Context) (model.Result, error) {
	if err := p.g.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	run := p.runs
	p.runs++
	n := len(p.g.procs)
	held := make([]int, n)  // the task each worker holds, -1 for none
	used := make([]bool, n) // the worker got a job in this Run
	vals := make([]int, p.tasks)
	var waits []sleep.Span
	replyVals := 3 // value, pid, tid
	if p.waits {
		waits = make([]sleep.Span, p.tasks)
		replyVals = 5 // and the wait's start and end
	}
	for w := range held {
		held[w] = -1
	}
	next := 0
	send := func(w int) error {
		k, args := p.task(next)
		if !used[w] {
			used[w] = true
			if (p.fault.kind == kCrash || p.fault.kind == kHang) && p.fault.at == w && p.fault.run == run {
				k, args = p.fault.kind, nil
			}
		}
		held[w] = next
		next++
		p.owed[w] = true
		if err := writeFrame(p.jobs[w], k, args...); err != nil {
			// The worker is gone; its exit status, known once it is
			// reaped, tells why.
			p.g.stop()
			return p.g.abort(p.g.procs[w].fail("died before it could take a job"))
		}
		return nil
	}
	for w := range min(n, p.tasks) {
		if err := send(w); err != nil {
			return model.Result{}, err
		}
	}
	var ids model.IDs
	for done := 0; done < p.tasks; {
		select {
		case ev := <-p.g.events:
			w, pr := ev.w, p.g.procs[ev.w]
			if ev.exited {
				what := "died mid-job"
				if held[w] < 0 {
					what = "died between jobs"
				}
				return model.Result{}, p.g.abort(pr.fail(what))
			}
			if err := ev.f.want(kDone, replyVals); err != nil || held[w] < 0 {
				if err == nil {
					err = fmt.Errorf("a reply with no job in hand")
				}
				return model.Result{}, p.g.abort(&workerError{name: pr.name, pid: pr.pid, what: "broke the protocol", reason: err.Error()})
			}
			v := ev.f.vals
			vals[held[w]] = int(v[0])
			if p.waits {
				waits[held[w]] = sleep.Span{Start: int64(v[3]), End: int64(v[4])}
			}
			held[w] = -1
			done++
			ids.Add(int(v[1]), int(v[2]))
			if next < p.tasks {
				if err := send(w); err != nil {
					return model.Result{}, err
				}
			}
		case <-ctx.Done():
			return model.Result{}, p.g.abort(fmt.Errorf("process: run: %w", ctx.Err()))
		}
	}
	res := model.Result{Waits: waits}
	p.collect(&res, vals)
	ids.Fill(&res.Usage)
	return res, nil
}

// CollectUsage asks every worker that has run a job since the last
// collection for its usage, and returns the CPU time they used and the sum of
// their peak RSS over the Runs since then (see servePool: a worker counts its
// CPU from its first job after the previous collection, and resets its peak
// when it answers). With no such worker it returns zeros. It implements
// model.UsageCollector; call it between Runs, never during one. If a worker
// fails to answer, the Exec becomes unusable, as after a failed Run.
func (p *pool) CollectUsage(ctx context.Context) (time.Duration, int64, error) {
	return p.g.collectUsage(ctx, p.jobs, p.owed, nil)
}

// collectUsage asks every worker i with owed[i] set for its usage over its
// pipe pipes[i], and sums what they report: their CPU time and their peak
// RSS. Another frame that arrives meanwhile goes to other, which says
// whether it took it (nil: none is expected). A worker that dies, breaks the
// protocol or outlasts ctx makes the group unusable, as a failed Run does.
func (g *group) collectUsage(ctx context.Context, pipes []*os.File, owed []bool, other func(event) bool) (time.Duration, int64, error) {
	if err := g.usable(ctx, "collecting usage"); err != nil {
		return 0, 0, err
	}
	asked := 0
	for w, o := range owed {
		if !o {
			continue
		}
		if err := writeFrame(pipes[w], kAsk); err != nil {
			g.stop()
			return 0, 0, g.abort(g.procs[w].fail("died before it could report its usage"))
		}
		asked++
	}
	var cpu time.Duration
	var peak int64
	for asked > 0 {
		select {
		case ev := <-g.events:
			w, pr := ev.w, g.procs[ev.w]
			if ev.exited {
				return 0, 0, g.abort(pr.fail("died before it reported its usage"))
			}
			if other != nil && other(ev) {
				continue
			}
			if err := ev.f.want(kUsage, 2); err != nil || !owed[w] {
				if err == nil {
					err = fmt.Errorf("a usage report it was not asked for")
				}
				return 0, 0, g.abort(&workerError{name: pr.name, pid: pr.pid, what: "broke the protocol", reason: err.Error()})
			}
			cpu += nsDuration(ev.f.vals[0])
			peak += int64(ev.f.vals[1])
			owed[w] = false
			asked--
		case <-ctx.Done():
			return 0, 0, g.abort(fmt.Errorf("process: collecting usage: %w", ctx.Err()))
		}
	}
	return cpu, peak, nil
}

// Close closes the workers' job pipes, which ends them, and reaps them.
func (p *pool) Close() error { return p.g.close() }
