package process

import (
	"context"
	"fmt"
	"os"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/sleep"
)

var _ model.UsageCollector = (*pool)(nil)

// pool is a set of worker processes that run numbered tasks, one at a time
// each: the primes ranges (task i on worker i) or the sleep tasks (handed to
// whichever worker is free). Its workers' cmds carry their jobs, and its
// owed the workers that ran one since their usage was last collected.
type pool struct {
	workers
	tasks   int
	task    func(i int) (kind, []uint64) // task i's job
	collect func(*model.Result, []int)   // the tasks' values, by task
	waits   bool                         // the jobs are sleeps: each reply carries the wait's span
	fault   fault
	runs    int // Runs started so far
}

func startPool(ctx context.Context, exe string, flt fault, n, tasks int, waits bool,
	task func(int) (kind, []uint64), collect func(*model.Result, []int)) (*pool, error) {
	g, cmds, _, err := startRole(ctx, exe, roleStart{
		role: rolePool,
		n:    n,
		name: func(i int) string { return fmt.Sprintf("worker %d", i) },
		first: func(i int, cmd *os.File) error {
			var startFault uint64
			if flt.kind == kHangStart && flt.at == i {
				startFault = uint64(flt.kind)
			}
			return writeFrame(cmd, kPool, startFault)
		},
	})
	if err != nil {
		return nil, err
	}
	return &pool{workers: newWorkers(g, cmds), tasks: tasks, task: task, collect: collect, waits: waits, fault: flt}, nil
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
		return p.send(w, "take a job", k, args...)
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
				return model.Result{}, p.g.abort(pr.broke(err))
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

// Close closes the workers' job pipes, which ends them, and reaps them.
func (p *pool) Close() error { return p.g.close() }
