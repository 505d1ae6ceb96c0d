package process

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// startSpawnOf starts the spawn job j and returns its Exec and the pids of
// the workers its Start spawned.
func startSpawnOf(t *testing.T, j spawnjob.Job) (*spawnExec, []int) {
	t.Helper()
	x, err := Model{}.Start(t.Context(), j)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	sx := x.(*spawnExec)
	var pids []int
	for _, p := range sx.g.procs {
		pids = append(pids, p.pid)
	}
	slices.Sort(pids)
	return sx, pids
}

// runSpawn runs x once, verifies the result and collects the workers' usage.
func runSpawn(t *testing.T, x model.Exec, j spawnjob.Job) model.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := x.Run(ctx)
	if err == nil {
		err = model.Verify(j, r, 0)
	}
	if err == nil {
		var peak int64
		_, peak, err = x.(model.UsageCollector).CollectUsage(ctx)
		if err == nil && peak <= 0 {
			t.Errorf("CollectUsage: peak RSS %d; want the workers' sum, > 0", peak)
		}
	}
	if err != nil {
		x.Close()
		t.Fatalf("Run: %v", err)
	}
	if r.Done != j.Workers {
		t.Errorf("Done %d; want %d", r.Done, j.Workers)
	}
	return r
}

// A cold execution (Start, Run, Close) spawns its workers: its tasks ran in
// Workers distinct processes, the ones its Start spawned, none of them this
// one, each on one thread; two executions share none (measured: the kernel
// hands out pids cyclically up to pid_max, so a pid comes back only after
// ~32 000 others). Close reaps them all, ended by the end of their pipes.
func TestSpawnColdSpawnsNewProcesses(t *testing.T) {
	const workers = 8
	j, err := spawnjob.NewJob(workers)
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	for exec := range 2 {
		x, pids := startSpawnOf(t, j)
		r := runSpawn(t, x, j)
		closedByEOF(t, x)
		if !slices.Equal(r.PIDs, pids) || slices.Contains(r.PIDs, os.Getpid()) {
			t.Errorf("execution %d: tasks ran in processes %v; want the %d its Start spawned, %v", exec, r.PIDs, workers, pids)
		}
		if len(r.TIDs) != workers {
			t.Errorf("execution %d: %d distinct TIDs %v; want %d, one per worker", exec, len(r.TIDs), r.TIDs, workers)
		}
		for _, pid := range r.PIDs {
			if slices.Contains(seen, pid) {
				t.Errorf("execution %d: process %d also ran a task of an earlier execution", exec, pid)
			}
		}
		seen = append(seen, r.PIDs...)
	}
}

// A warm Exec is a pool: every Run hands its tasks to the processes Start
// spawned, and spawns none.
func TestSpawnWarmReusesProcesses(t *testing.T) {
	const workers = 8
	j, err := spawnjob.NewJob(workers)
	if err != nil {
		t.Fatal(err)
	}
	x, pids := startSpawnOf(t, j)
	for run := range 3 {
		if r := runSpawn(t, x, j); !slices.Equal(r.PIDs, pids) {
			t.Errorf("run %d: tasks ran in processes %v; want the Exec's %v", run, r.PIDs, pids)
		}
		if kids := modeltest.Children(); len(kids) != workers {
			t.Errorf("run %d: %d child processes %v; want the %d workers", run, len(kids), kids, workers)
		}
	}
	closeAndCheck(t, x)
}

// A worker that dies between Runs fails the next Run, which says so, and
// leaves no process behind.
func TestSpawnRunFailsOnADeadWorker(t *testing.T) {
	j, err := spawnjob.NewJob(3)
	if err != nil {
		t.Fatal(err)
	}
	x, pids := startSpawnOf(t, j)
	runSpawn(t, x, j)
	if err := x.g.procs[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(t.Context()); err == nil {
		t.Errorf("Run after killing worker %d succeeded; want an error", pids[1])
	} else {
		t.Logf("Run: %v", err)
	}
	closeAndCheck(t, x)
}
