package process

import (
	"context"
	"fmt"
	"os"

	"concurrency-lab/experiments/model"
)

// pool is a set of worker processes that run numbered tasks, one at a time
// each: the primes ranges (task i on worker i) or the sleep tasks (handed to
// whichever worker is free).
type pool struct {
	g       *group
	jobs    []*os.File // parent → worker i
	tasks   int
	task    func(i int) (kind, []uint64) // task i's job, without flags
	collect func(*model.Result, []int)   // the tasks' values, by task
	fault   fault
	runs    int // Runs started so far
}

func startPool(ctx context.Context, exe string, flt fault, workers, tasks int,
	task func(int) (kind, []uint64), collect func(*model.Result, []int)) (*pool, error) {
	p := &pool{g: newGroup(workers), tasks: tasks, task: task, collect: collect, fault: flt}
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
// collects the values in task order.
func (p *pool) Run(ctx context.Context) (model.Result, error) {
	if err := p.g.usable(ctx); err != nil {
		return model.Result{}, err
	}
	run := p.runs
	p.runs++
	n := len(p.g.procs)
	held := make([]int, n)    // the task each worker holds, -1 for none
	used := make([]bool, n)   // the worker got a job in this Run
	cpu := make([]uint64, n)  // cumulative CPU at its latest reply
	peak := make([]uint64, n) // highest peak RSS it reported in this Run
	vals := make([]int, p.tasks)
	for w := range held {
		held[w] = -1
	}
	next := 0
	send := func(w int) error {
		k, args := p.task(next)
		var flags uint64
		if !used[w] {
			used[w] = true
			flags = flagResetPeak
			if p.fault.kind != 0 && p.fault.at == w && p.fault.run == run {
				k, args = p.fault.kind, nil
			}
		}
		held[w] = next
		next++
		if err := writeFrame(p.jobs[w], k, append([]uint64{flags}, args...)...); err != nil {
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
			if err := ev.f.want(kDone, 5); err != nil || held[w] < 0 {
				if err == nil {
					err = fmt.Errorf("a reply with no job in hand")
				}
				return model.Result{}, p.g.abort(&workerError{name: pr.name, pid: pr.pid, what: "broke the protocol", reason: err.Error()})
			}
			v := ev.f.vals
			vals[held[w]] = int(v[0])
			held[w] = -1
			done++
			ids.Add(int(v[1]), int(v[2]))
			cpu[w] = v[3]
			peak[w] = max(peak[w], v[4])
			if next < p.tasks {
				if err := send(w); err != nil {
					return model.Result{}, err
				}
			}
		case <-ctx.Done():
			return model.Result{}, p.g.abort(fmt.Errorf("process: run: %w", ctx.Err()))
		}
	}
	var res model.Result
	p.collect(&res, vals)
	ids.Fill(&res.Usage)
	for w, pr := range p.g.procs {
		if used[w] {
			res.ChildCPU += nsDuration(cpu[w] - pr.cpu)
			res.ChildPeakRSS += int64(peak[w])
			pr.cpu = cpu[w]
		}
	}
	return res, nil
}

// Close closes the workers' job pipes, which ends them, and reaps them.
func (p *pool) Close() error { return p.g.close() }
