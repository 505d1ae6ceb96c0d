package runtimes_test

import (
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/experiments/workloads/blocking"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/hold"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/spawn"
)

// The CPython driver's later workloads (interleave, blocking, spawn, hold,
// convoy), each through runtimes.Model on small cells, every result passed
// through model.Verify by modeltest.Run.

var models = []string{"process", "thread", "loop"}

// mustOf returns a job constructor's job, or fails t.
func mustOf[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// run runs w in the cell (rt, m, start) reps times.
func run(t *testing.T, p *runtimes.Prepared, rt matrix.Runtime, m, start string, w model.Work, reps int) []model.Result {
	t.Helper()
	return modeltest.Run(t, runtimes.Model{Prepared: p, Cell: cell(rt, m, start)}, w, reps)
}

// TestInterleave: every model and start records every repeat's order, each
// with every task's events in sequence (Verify); asyncio's loop gives one
// order over 20 repeats, with waits and with computations between events
// (the article's claim, as CPython's asyncio makes it true: its timers fire
// in deadline order, a computation never yields).
func TestInterleave(t *testing.T) {
	for _, rt := range []matrix.Runtime{cpython, uvloop} {
		t.Run(rt.Name, func(t *testing.T) {
			p := prepared(t, rt)
			for _, between := range []string{interleave.Wait, interleave.Compute} {
				for _, m := range models {
					if !rt.Runs(m) {
						continue
					}
					for _, start := range []string{"warm", "cold"} {
						repeats := 4
						if m == "loop" {
							repeats = 20
						}
						j := mustOf[interleave.Job](t)(interleave.NewJob(2, 5, repeats, between, time.Millisecond, 300))
						t.Run(between+"/"+m+"/"+start, func(t *testing.T) {
							for _, r := range run(t, p, rt, m, start, j, 1) {
								n := interleave.Distinct(r.Orders)
								t.Logf("%d distinct orders: %v", n, interleave.Counts(r.Orders))
								switch m {
								case "loop":
									if len(r.PIDs) != 1 || len(r.TIDs) != 1 {
										t.Errorf("loop: pids %v, tids %v; want one of each", r.PIDs, r.TIDs)
									}
									if rt.EventLoop == "" && n != 1 {
										t.Errorf("asyncio: %d distinct orders over %d repeats %v; want 1", n, repeats, interleave.Counts(r.Orders))
									}
								case "thread":
									if len(r.PIDs) != 1 {
										t.Errorf("thread: pids %v; want one", r.PIDs)
									}
								case "process":
									want := j.Tasks // warm: the same processes every repeat
									if start == "cold" {
										want *= repeats
									}
									if len(r.PIDs) != want {
										t.Errorf("process/%s: %d pids; want %d", start, len(r.PIDs), want)
									}
								}
							}
						})
					}
				}
			}
		})
	}
}

// TestBlocking: a blocking call on the loop serialises the tasks (the run
// cannot take less than tasks × block: the loop's one thread slept that
// long); offloaded, the calls ran on threads other than the loop's.
func TestBlocking(t *testing.T) {
	const tasks, block = 4, 20 * time.Millisecond
	for _, rt := range []matrix.Runtime{cpython, uvloop} {
		t.Run(rt.Name, func(t *testing.T) {
			p := prepared(t, rt)
			for _, start := range []string{"warm", "cold"} {
				t.Run("none/"+start, func(t *testing.T) {
					j := mustOf[blocking.Job](t)(blocking.NewJob(tasks, block, 5*time.Millisecond, blocking.None, 0))
					for _, r := range run(t, p, rt, "loop", start, j, 2) {
						if r.Timed < tasks*block {
							t.Errorf("offload none: %v; want ≥ %d × %v (the loop's thread made every call)", r.Timed, tasks, block)
						}
						if len(r.PIDs) != 1 || len(r.TIDs) != 1 {
							t.Errorf("offload none: pids %v, tids %v; want the loop's thread only", r.PIDs, r.TIDs)
						}
					}
				})
				t.Run("pool/"+start, func(t *testing.T) {
					j := mustOf[blocking.Job](t)(blocking.NewJob(tasks, block, 5*time.Millisecond, blocking.Pool, 2))
					for _, r := range run(t, p, rt, "loop", start, j, 2) {
						// The loop runs on the driver's main thread, whose
						// tid is its pid.
						loopTID := r.PIDs[0]
						others := slices.DeleteFunc(slices.Clone(r.TIDs), func(tid int) bool { return tid == loopTID })
						if len(r.PIDs) != 1 || !slices.Contains(r.TIDs, loopTID) || len(others) == 0 || len(others) > j.PoolSize {
							t.Errorf("offload pool: pids %v, tids %v; want the loop's thread (%d) and 1…%d pool threads", r.PIDs, r.TIDs, loopTID, j.PoolSize)
						}
						if start == "warm" && len(others) != j.PoolSize {
							t.Errorf("offload pool, warm: pool threads %v; want all %d, started before the run", others, j.PoolSize)
						}
					}
				})
			}
		})
	}
}

// TestSpawn: a cold process cell starts W processes with each start method;
// a warm pool's workers are the same in every run; threads and tasks report
// who ran them.
func TestSpawn(t *testing.T) {
	const w = 4
	j := mustOf[spawn.Job](t)(spawn.NewJob(w))
	for _, method := range []string{"fork", "spawn", "forkserver"} {
		t.Run("process/"+method, func(t *testing.T) {
			rt := cpython
			rt.StartMethod = method
			p := prepared(t, rt)
			if !slices.Contains(p.StartMethods, method) {
				t.Skipf("%s has no start method %q (it has %v)", p.Executable, method, p.StartMethods)
			}
			for _, start := range []string{"cold", "warm"} {
				rs := run(t, p, rt, "process", start, j, 2)
				for _, r := range rs {
					if len(r.PIDs) != w {
						t.Errorf("%s: %d distinct pids %v; want %d", start, len(r.PIDs), r.PIDs, w)
					}
				}
				same := slices.Equal(rs[0].PIDs, rs[1].PIDs)
				if start == "warm" && !same {
					t.Errorf("warm: pids %v, then %v; want the pool's, the same", rs[0].PIDs, rs[1].PIDs)
				}
				if start == "cold" && same {
					t.Errorf("cold: pids %v in both runs; want new processes each run", rs[0].PIDs)
				}
			}
		})
	}
	p := prepared(t, cpython)
	for _, m := range []string{"thread", "loop"} {
		for _, start := range []string{"warm", "cold"} {
			t.Run(m+"/"+start, func(t *testing.T) {
				rs := run(t, p, cpython, m, start, j, 2)
				for _, r := range rs {
					checkModel(t, m, w, r)
				}
				if m == "thread" && start == "warm" && !slices.Equal(rs[0].TIDs, rs[1].TIDs) {
					t.Errorf("warm: tids %v, then %v; want the pool's, the same", rs[0].TIDs, rs[1].TIDs)
				}
			})
		}
	}
}

// TestHold: every model, start and mode consumes every worker's result, the
// digests summing to what hold.Produce and hold.Digest give (Verify); with
// one-at-a-time the consumer makes each result from the index its worker
// returned, and the ids are still the workers'.
func TestHold(t *testing.T) {
	p := prepared(t, cpython)
	for _, keep := range []string{hold.Hold, hold.Release, hold.OneAtATime} {
		j := mustOf[hold.Job](t)(hold.NewJob(3, 1<<16+3, keep))
		for _, m := range models {
			for _, start := range []string{"warm", "cold"} {
				t.Run(keep+"/"+m+"/"+start, func(t *testing.T) {
					for _, r := range run(t, p, cpython, m, start, j, 2) {
						checkModel(t, m, j.Workers, r)
						if r.ChildPeakRSS < int64(j.Bytes) {
							t.Errorf("peak RSS %d; want at least a result's %d bytes", r.ChildPeakRSS, j.Bytes)
						}
					}
				})
			}
		}
	}
}

// TestConvoy: the I/O worker timed every operation (none shorter than its
// wait: Verify), and every CPU worker completed a chunk beside it.
func TestConvoy(t *testing.T) {
	j := mustOf[convoy.Job](t)(convoy.NewJob(20, 100*time.Microsecond, 2, 500))
	alone := mustOf[convoy.Job](t)(convoy.NewJob(20, 100*time.Microsecond, 0, 500))
	for _, rt := range []matrix.Runtime{cpython, uvloop} {
		t.Run(rt.Name, func(t *testing.T) {
			p := prepared(t, rt)
			for _, m := range models {
				if !rt.Runs(m) {
					continue
				}
				for _, start := range []string{"warm", "cold"} {
					t.Run(m+"/"+start, func(t *testing.T) {
						for _, r := range run(t, p, rt, m, start, j, 2) {
							if len(r.Latencies) != j.Ops || r.Chunks < j.CPUWorkers {
								t.Errorf("%d latencies, %d chunks; want %d, ≥ %d", len(r.Latencies), r.Chunks, j.Ops, j.CPUWorkers)
							}
							checkModel(t, m, j.CPUWorkers+1, r)
						}
						for _, r := range run(t, p, rt, m, start, alone, 1) {
							if r.Chunks != 0 {
								t.Errorf("no CPU worker: %d chunks", r.Chunks)
							}
						}
					})
				}
			}
		})
	}
}
