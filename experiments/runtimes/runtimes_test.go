package runtimes_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

// RequireEnv, when set (CI sets it), turns the skips of absent runtimes into
// failures: CI installs CPython, uvloop and a C compiler, and must never pass
// by skipping their tests.
const RequireEnv = "LAB_REQUIRE_RUNTIMES"

// python is the interpreter the tests use: Debian's, where apt's uvloop
// installs, when it is there.
func python() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// prepared prepares rt or skips t (fails it under RequireEnv) when rt is
// absent.
func prepared(t *testing.T, rt matrix.Runtime) *runtimes.Prepared {
	t.Helper()
	p, err := runtimes.Prepare(context.Background(), rt, t.TempDir())
	if u, ok := runtimes.IsUnavailable(err); ok {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%v (and $%s is set)", u, RequireEnv)
		}
		t.Skip(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	cpython = matrix.Runtime{Name: "cpython", Kind: matrix.KindCPython, Python: python(), StartMethod: "fork"}
	uvloop  = matrix.Runtime{Name: "cpython-uvloop", Kind: matrix.KindCPython, Python: python(), EventLoop: "uvloop", StartMethod: "fork"}
	native  = matrix.Runtime{Name: "native", Kind: matrix.KindNative, CC: "cc"}
)

func cell(rt matrix.Runtime, m, start string) matrix.Cell {
	return matrix.Cell{Experiment: "t", Runtime: rt, Model: m, Params: []matrix.Param{{Key: "start", Value: start}}}
}

// TestWorkers runs every workload under every model and start of each
// runtime on tiny inputs: results verified (modeltest.Run), and each model's
// defining property checked on what the workers recorded.
func TestWorkers(t *testing.T) {
	prime, _ := primes.NewJob(2000, 2, primes.Replicate)
	part, _ := primes.NewJob(3000, 3, primes.Partition)
	naps, _ := sleep.NewJob(12, 0, 20*time.Millisecond)
	pool, _ := sleep.NewJob(12, 4, 20*time.Millisecond)
	small, _ := pipeline.NewJob(3, 300, 64)
	large, _ := pipeline.NewJob(2, 20, 1<<20)
	works := []struct {
		name    string
		w       model.Work
		workers int // processes (process) or threads (thread) that must do the work
	}{
		{"primes-replicate", prime, 2},
		{"primes-partition", part, 3},
		{"sleep-all", naps, 12},
		{"sleep-pool", pool, 4},
		{"pipeline-64B", small, 5},
		{"pipeline-1MiB", large, 4},
	}
	for _, rt := range []matrix.Runtime{cpython, native} {
		t.Run(rt.Name, func(t *testing.T) {
			p := prepared(t, rt)
			for _, m := range []string{"process", "thread", "loop"} {
				for _, start := range []string{"warm", "cold"} {
					for _, w := range works {
						t.Run(m+"/"+start+"/"+w.name, func(t *testing.T) {
							rs := modeltest.Run(t, runtimes.Model{Prepared: p, Cell: cell(rt, m, start)}, w.w, 2)
							for _, r := range rs {
								checkModel(t, m, w.workers, r)
								if r.Timed <= 0 || r.ChildCPU <= 0 || r.ChildPeakRSS <= 0 {
									t.Errorf("elapsed %v, cpu %v, peak RSS %d: want each > 0", r.Timed, r.ChildCPU, r.ChildPeakRSS)
								}
							}
						})
					}
				}
			}
		})
	}
}

// checkModel checks the model's defining property: distinct processes,
// distinct threads of one process, or one thread.
func checkModel(t *testing.T, m string, workers int, r model.Result) {
	t.Helper()
	switch m {
	case "process":
		if len(r.PIDs) != workers {
			t.Errorf("process: %d distinct pids %v; want %d", len(r.PIDs), r.PIDs, workers)
		}
	case "thread":
		if len(r.PIDs) != 1 || len(r.TIDs) != workers {
			t.Errorf("thread: pids %v, %d distinct tids; want one pid and %d tids", r.PIDs, len(r.TIDs), workers)
		}
	case "loop":
		if len(r.PIDs) != 1 || len(r.TIDs) != 1 {
			t.Errorf("loop: pids %v, tids %v; want one of each", r.PIDs, r.TIDs)
		}
	}
}

// TestStartMethods runs CPython's process model under each multiprocessing
// start method.
func TestStartMethods(t *testing.T) {
	w, _ := primes.NewJob(1000, 2, primes.Replicate)
	for _, method := range []string{"fork", "spawn", "forkserver"} {
		t.Run(method, func(t *testing.T) {
			rt := cpython
			rt.StartMethod = method
			p := prepared(t, rt)
			if !slices.Contains(p.StartMethods, method) {
				t.Skipf("%s has no start method %q (it has %v)", p.Executable, method, p.StartMethods)
			}
			for _, r := range modeltest.Run(t, runtimes.Model{Prepared: p, Cell: cell(rt, "process", "cold")}, w, 1) {
				checkModel(t, "process", 2, r)
			}
		})
	}
}

// TestUVLoop runs the loop model on uvloop.
func TestUVLoop(t *testing.T) {
	p := prepared(t, uvloop)
	if p.UVLoop == "" {
		t.Fatalf("identity %+v has no uvloop version", p.Identity)
	}
	naps, _ := sleep.NewJob(50, 0, 20*time.Millisecond)
	small, _ := pipeline.NewJob(3, 300, 64)
	for _, w := range []model.Work{naps, small} {
		for _, r := range modeltest.Run(t, runtimes.Model{Prepared: p, Cell: cell(uvloop, "loop", "warm")}, w, 2) {
			checkModel(t, "loop", 1, r)
		}
	}
}

// TestIdentity: what run.json records of each runtime.
func TestIdentity(t *testing.T) {
	p := prepared(t, cpython)
	if p.Implementation != "cpython" || !strings.HasPrefix(p.Version, "3.") || p.Executable == "" || p.DefaultStartMethod == "" {
		t.Errorf("cpython identity = %+v; want implementation cpython, a 3.x version, the executable and the default start method", p.Identity)
	}
	if p.GILEnabled == nil {
		t.Errorf("cpython identity says nothing of the GIL")
	}
	n := prepared(t, native)
	if n.CCVersion == "" || !slices.Equal(n.Flags, runtimes.CFlags) || len(n.SourceSHA256) != 64 {
		t.Errorf("native identity = %+v; want the compiler's version, the flags and the source's hash", n.Identity)
	}
}

// TestUnavailable: an absent interpreter, an interpreter without uvloop and
// an absent compiler are *Unavailable (their cells are skipped), with a hint.
func TestUnavailable(t *testing.T) {
	dir := t.TempDir()
	// An interpreter whose uvloop fails to import: a uvloop module that
	// raises ImportError, first on its path.
	shim := filepath.Join(dir, "shim")
	os.Mkdir(shim, 0o755)
	os.WriteFile(filepath.Join(shim, "uvloop.py"), []byte("raise ImportError('no uvloop in this test')\n"), 0o644)
	real, err := exec.LookPath(python())
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	wrapper := filepath.Join(dir, "python-without-uvloop")
	os.WriteFile(wrapper, []byte("#!/bin/sh\nPYTHONPATH="+shim+" exec "+real+" \"$@\"\n"), 0o755)

	tests := []struct {
		name string
		rt   matrix.Runtime
		want string
	}{
		{"no interpreter", matrix.Runtime{Name: "py", Kind: matrix.KindCPython, Python: filepath.Join(dir, "no-python3")}, "apt-get install python3"},
		{"no uvloop", matrix.Runtime{Name: "uv", Kind: matrix.KindCPython, Python: wrapper, EventLoop: "uvloop"}, "python3-uvloop"},
		{"no cc", matrix.Runtime{Name: "c", Kind: matrix.KindNative, CC: filepath.Join(dir, "no-cc")}, "apt-get install gcc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := runtimes.PrepareEntry(context.Background(), tt.rt, t.TempDir())
			if e.Unavailable == nil {
				t.Fatalf("PrepareEntry = %+v; want it unavailable", e)
			}
			if id := e.Identity(); !strings.Contains(e.Unavailable.Error(), tt.want) || id.Unavailable == "" || id.Kind != tt.rt.Kind {
				t.Errorf("unavailable = %q, identity %+v; want a reason, the hint %q and the kind %s", e.Unavailable.Error(), e.Identity(), tt.want, tt.rt.Kind)
			}
		})
	}
}

// TestDriverErrors: a driver's refusal reaches the caller as an error naming
// the problem, and nothing is left running.
func TestDriverErrors(t *testing.T) {
	p := prepared(t, native)
	bad := *p
	bad.Argv = append(slices.Clone(p.Argv), "bogus=1")
	w, _ := primes.NewJob(100, 1, primes.Replicate)
	_, err := runtimes.Model{Prepared: &bad, Cell: cell(native, "thread", "warm")}.Start(context.Background(), w)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("Start with an unknown key: %v; want an error naming it", err)
	}
}

// TestPeakRSSIsTheDriversOwn: a driver reports its own peak resident set,
// not that of the process that started it (Linux carries getrusage's
// ru_maxrss across execve; VmHWM starts afresh).
func TestPeakRSSIsTheDriversOwn(t *testing.T) {
	const big = 256 << 20
	ballast := make([]byte, big)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1 // resident in this process when the driver starts
	}
	w, _ := primes.NewJob(1000, 1, primes.Replicate)
	for _, rt := range []matrix.Runtime{cpython, native} {
		t.Run(rt.Name, func(t *testing.T) {
			p := prepared(t, rt)
			for _, r := range modeltest.Run(t, runtimes.Model{Prepared: p, Cell: cell(rt, "thread", "warm")}, w, 1) {
				if r.ChildPeakRSS <= 0 || r.ChildPeakRSS >= big/2 {
					t.Errorf("peak RSS %d MiB; want the driver's own, far below the %d MiB of the process that started it", r.ChildPeakRSS>>20, big>>20)
				}
			}
		})
	}
	ballast[len(ballast)-1] = 1
}

// TestEcho serves the echo workload in every runtime, model and start, with
// the load generator checking every echo (modeltest.Run), and checks each
// model's property: a loop serves on one thread, threads in one process,
// a cold process server forks one process per connection.
func TestEcho(t *testing.T) {
	j, _ := echo.NewJob(4, 3, 64, time.Millisecond)
	for _, rt := range []matrix.Runtime{cpython, uvloop, native} {
		t.Run(rt.Name, func(t *testing.T) {
			p := prepared(t, rt)
			for _, m := range []string{"process", "thread", "loop"} {
				if !rt.Runs(m) {
					continue
				}
				for _, start := range []string{"warm", "cold"} {
					t.Run(m+"/"+start, func(t *testing.T) {
						for _, r := range modeltest.Run(t, runtimes.Model{Prepared: p, Cell: cell(rt, m, start)}, j, 2) {
							switch {
							case r.Served != j.Connections:
								t.Errorf("served %d of %d", r.Served, j.Connections)
							case m == "loop" && (len(r.PIDs) != 1 || len(r.TIDs) != 1):
								t.Errorf("loop: pids %v, tids %v; want one of each", r.PIDs, r.TIDs)
							case m == "thread" && len(r.PIDs) != 1:
								t.Errorf("thread: pids %v; want one", r.PIDs)
							case m == "process" && start == "cold" && len(r.PIDs) != j.Connections:
								t.Errorf("cold process: %d pids; want one per connection (%d)", len(r.PIDs), j.Connections)
							}
						}
					})
				}
			}
		})
	}
}
