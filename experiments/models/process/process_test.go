package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

// The test binary is also the workers' binary.
func TestMain(m *testing.M) {
	WorkerMain()
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) { modeltest.Conformance(t, Model{}) }

// must builds a test's work; the sizes are constants, so an error is a bug
// in the test.
func must[T model.Work](w T, err error) model.Work {
	if err != nil {
		panic(err)
	}
	return w
}

// The defining property: every worker is a process of its own, and none is
// this one.
func TestWorkersAreDistinctProcesses(t *testing.T) {
	tests := []struct {
		name string
		work model.Work
		want int // distinct worker processes
	}{
		{"primes/1", must(primes.NewJob(2000, 1, primes.Replicate)), 1},
		{"primes/2", must(primes.NewJob(2000, 2, primes.Replicate)), 2},
		{"primes/4", must(primes.NewJob(2000, 4, primes.Partition)), 4},
		{"sleep/1", must(sleep.NewJob(4, 1, time.Millisecond)), 1},
		{"sleep/3", must(sleep.NewJob(7, 3, time.Millisecond)), 3},
		{"sleep/5", must(sleep.NewJob(5, 0, time.Millisecond)), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, r := range modeltest.Run(t, Model{}, tt.work, 2) {
				wantWorkers(t, i, r, tt.want)
			}
		})
	}
	modeltest.NoChildren(t)
}

// Each stage is a process of its own; the source and the sink run in this
// process on a thread each.
func TestPipelineStagesAreProcesses(t *testing.T) {
	for _, stages := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(stages), func(t *testing.T) {
			w := must(pipeline.NewJob(stages, 200, 4096))
			for i, r := range modeltest.Run(t, Model{}, w, 2) {
				if got, want := len(r.PIDs), stages+1; got != want {
					t.Errorf("run %d: %d distinct PIDs %v; want %d (the stages and this process)", i, got, r.PIDs, want)
				}
				if !slices.Contains(r.PIDs, os.Getpid()) {
					t.Errorf("run %d: PIDs %v lack this process (%d), which runs the source and the sink", i, r.PIDs, os.Getpid())
				}
				if got, want := len(r.TIDs), stages+2; got != want {
					t.Errorf("run %d: %d distinct TIDs %v; want %d (the stages, the source, the sink)", i, got, r.TIDs, want)
				}
			}
		})
	}
	modeltest.NoChildren(t)
}

// A pipeline's stages report their usage with every Run, warm ones included.
func TestPipelineUsage(t *testing.T) {
	for i, r := range modeltest.Run(t, Model{}, must(pipeline.NewJob(2, 50, 64<<10)), 2) {
		if r.ChildCPU <= 0 {
			t.Errorf("run %d: ChildCPU = %v; want > 0", i, r.ChildCPU)
		}
		if r.ChildPeakRSS <= 0 {
			t.Errorf("run %d: ChildPeakRSS = %d; want > 0", i, r.ChildPeakRSS)
		}
	}
}

// A pool's workers report their usage only when asked (CollectUsage), not in
// their replies: Run leaves it zero, and a collection covers the Runs since
// the previous one.
func TestCollectUsage(t *testing.T) {
	tests := []struct {
		name string
		work model.Work
	}{
		{"primes", must(primes.NewJob(20000, 2, primes.Replicate))},
		{"sleep", must(sleep.NewJob(4, 2, time.Millisecond))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kids0, err := osmeter.CPU(unix.RUSAGE_CHILDREN)
			if err != nil {
				t.Fatal(err)
			}
			x, err := Model{}.Start(t.Context(), tt.work)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			uc, ok := x.(model.UsageCollector)
			if !ok {
				t.Fatalf("%T is not a model.UsageCollector", x)
			}
			var collected time.Duration
			collect := func(step string, want bool) {
				t.Helper()
				cpu, peak, err := uc.CollectUsage(t.Context())
				if err != nil {
					t.Fatalf("%s: CollectUsage: %v", step, err)
				}
				collected += cpu
				if want && (cpu <= 0 || peak <= 0) {
					t.Errorf("%s: CollectUsage = %v, %d bytes; want both > 0", step, cpu, peak)
				}
				if !want && (cpu != 0 || peak != 0) {
					t.Errorf("%s: CollectUsage = %v, %d bytes; want zeros (nothing ran)", step, cpu, peak)
				}
			}
			run := func(step string) {
				t.Helper()
				start := time.Now()
				r, err := x.Run(t.Context())
				if err == nil {
					err = model.Verify(tt.work, r, time.Since(start))
				}
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				if r.ChildCPU != 0 || r.ChildPeakRSS != 0 {
					t.Errorf("%s: Result has ChildCPU %v, ChildPeakRSS %d; want zeros (CollectUsage reports them)", step, r.ChildCPU, r.ChildPeakRSS)
				}
			}
			collect("before any Run", false)
			run("run 0")
			collect("after run 0", true)
			collect("again after run 0", false)
			// Two Runs without a collection in between: both work, and
			// one collection covers them.
			run("run 1")
			run("run 2")
			collect("after runs 1 and 2", true)
			if err := x.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, _, err := uc.CollectUsage(t.Context()); err == nil {
				t.Error("CollectUsage after Close succeeded; want an error")
			}
			// The kernel counts every reaped child's whole life, start-up
			// and exit included: at least what the workers reported.
			kids1, err := osmeter.CPU(unix.RUSAGE_CHILDREN)
			if err != nil {
				t.Fatal(err)
			}
			if collected > kids1-kids0 {
				t.Errorf("workers reported %v of CPU; the kernel counts %v for them, start to exit", collected, kids1-kids0)
			}
			modeltest.NoChildren(t)
		})
	}
}

// A sleep Run reports every task's wait as the worker saw it on the
// machine-wide monotonic clock: each span lies inside the Run as the parent
// saw it, lasts at least the job's wait, and the spans show how many tasks
// waited at once, never more than the job's concurrency.
func TestSleepWaits(t *testing.T) {
	const d = 20 * time.Millisecond
	tests := []struct {
		name        string
		tasks, conc int
	}{
		{"all at once", 20, 20},
		{"2 workers", 6, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := must(sleep.NewJob(tt.tasks, tt.conc, d))
			x, err := Model{}.Start(t.Context(), w)
			if err != nil {
				t.Fatal(err)
			}
			defer closeAndCheck(t, x)
			clock := newClock()
			for run := range 2 {
				t0 := clock.Now()
				r, err := x.Run(t.Context())
				t1 := clock.Now()
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				if len(r.Waits) != tt.tasks {
					t.Fatalf("run %d: %d spans; want %d, one per task", run, len(r.Waits), tt.tasks)
				}
				for i, s := range r.Waits {
					if s.Start < t0 || s.End > t1 || s.End-s.Start < int64(d) {
						t.Errorf("run %d: task %d waited [%d, %d] (%v) in a Run [%d, %d]; want a wait of at least %v inside the Run",
							run, i, s.Start, s.End, time.Duration(s.End-s.Start), t0, t1, d)
					}
				}
				if peak := sleep.PeakWaiting(r.Waits); peak < 1 || peak > tt.conc {
					t.Errorf("run %d: %d tasks waiting at once; want 1 to %d", run, peak, tt.conc)
				}
			}
		})
	}
	t.Run("primes", func(t *testing.T) {
		for i, r := range modeltest.Run(t, Model{}, must(primes.NewJob(100, 2, primes.Replicate)), 1) {
			if r.Waits != nil {
				t.Errorf("run %d: primes Result has Waits %v; want none", i, r.Waits)
			}
		}
	})
}

// After a good Run, Close only has to end the workers' input: each exits on
// its own, with status 0, and nothing is killed.
func TestCloseEndsWorkersByEOF(t *testing.T) {
	works := map[string]model.Work{
		"primes":   must(primes.NewJob(1000, 2, primes.Replicate)),
		"sleep":    must(sleep.NewJob(4, 2, time.Millisecond)),
		"pipeline": must(pipeline.NewJob(3, 10, 100)),
	}
	for name, w := range works {
		t.Run(name, func(t *testing.T) {
			runThenCloseByEOF(t, w)
		})
	}
}

// runThenCloseByEOF starts w, runs it once and closes it, and checks that
// Close only had to end the workers' input (closedByEOF).
func runThenCloseByEOF(t *testing.T, w model.Work) {
	t.Helper()
	x, err := Model{}.Start(t.Context(), w)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.RunVerified(t, x, w)
	closedByEOF(t, x)
}

// closedByEOF closes x, after a good Run, and checks that Close only had to
// end the workers' input: each exited on its own, with status 0, nothing was
// killed, and no child is left.
func closedByEOF(t *testing.T, x model.Exec) {
	t.Helper()
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	g := groupOf(x)
	if g.killed.Load() {
		t.Errorf("Close killed workers; want them to exit at the end of their input")
	}
	for _, p := range g.procs {
		if p.status != nil {
			t.Errorf("%s (pid %d) ended with %v; want exit status 0", p.name, p.pid, p.status)
		}
	}
	modeltest.NoChildren(t)
}

// wantUsage checks what a Run (r, named what in errors: "run 1") left to
// collect from x: nothing in r itself, CPU time and a peak RSS when
// CollectUsage asks, and zeros when it asks again at once (nothing ran in
// between).
func wantUsage(t *testing.T, what string, x model.Exec, r model.Result) {
	t.Helper()
	if r.ChildCPU != 0 || r.ChildPeakRSS != 0 {
		t.Errorf("%s: Result has ChildCPU %v, ChildPeakRSS %d; want zeros (CollectUsage reports them)", what, r.ChildCPU, r.ChildPeakRSS)
	}
	uc, ok := x.(model.UsageCollector)
	if !ok {
		t.Fatalf("%T is not a model.UsageCollector", x)
	}
	cpu, peak, err := uc.CollectUsage(t.Context())
	if err != nil {
		t.Fatalf("%s: CollectUsage: %v", what, err)
	}
	if cpu <= 0 || peak <= 0 {
		t.Errorf("%s: CollectUsage = %v, %d bytes; want both > 0", what, cpu, peak)
	}
	if cpu, peak, err := uc.CollectUsage(t.Context()); err != nil || cpu != 0 || peak != 0 {
		t.Errorf("%s: CollectUsage again = %v, %d bytes, %v; want zeros (nothing ran)", what, cpu, peak, err)
	}
}

func groupOf(x model.Exec) *group {
	switch x := x.(type) {
	case *pool:
		return x.g
	case *chain:
		return x.g
	case *echoPool:
		return x.g
	case *interleaveExec:
		return x.g
	case *spawnExec:
		return x.g
	case *holdExec:
		return x.g
	case *convoyExec:
		return x.g
	}
	panic(fmt.Sprintf("unknown exec %T", x))
}

// wantWorkers checks that Run number run's work (r) ran in n worker
// processes, none of them this one, each on one thread (a worker does its
// work on one locked thread).
func wantWorkers(t *testing.T, run int, r model.Result, n int) {
	t.Helper()
	if got := len(r.PIDs); got != n {
		t.Errorf("run %d: %d distinct PIDs %v; want %d", run, got, r.PIDs, n)
	}
	if slices.Contains(r.PIDs, os.Getpid()) {
		t.Errorf("run %d: PIDs %v include this process (%d); want only workers", run, r.PIDs, os.Getpid())
	}
	if got := len(r.TIDs); got != n {
		t.Errorf("run %d: %d distinct TIDs %v; want %d", run, got, r.TIDs, n)
	}
}

// No worker outlives a failed Run: a crash, a hang past the deadline, a
// cancellation. Run says why, and Close leaves no child behind.
func TestNoChildOutlivesAFailedRun(t *testing.T) {
	t.Setenv(envFaults, "1")
	deadline := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 300*time.Millisecond)
	}
	cancelSoon := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		return ctx, cancel
	}
	primes2 := must(primes.NewJob(2000, 2, primes.Replicate))
	chain3 := must(pipeline.NewJob(3, 100, 1000))
	tests := []struct {
		name    string
		m       Model
		work    model.Work
		ctx     func() (context.Context, context.CancelFunc) // for the failing Run
		want    error                                        // a context error, or nil for a crash
		culprit string                                       // the crashing worker's name
	}{
		{"pool/crash", Model{fault: fault{kind: kCrash, at: 1, run: 1}}, primes2, nil, nil, "worker 1"},
		{"pool/hang", Model{fault: fault{kind: kHang, at: 0, run: 1}}, primes2, deadline, context.DeadlineExceeded, ""},
		{"pool/cancel", Model{fault: fault{kind: kHang, at: 1, run: 1}}, primes2, cancelSoon, context.Canceled, ""},
		{"pool/cancel-sleeping", Model{}, must(sleep.NewJob(3, 3, time.Hour)), cancelSoon, context.Canceled, ""},
		{"pipeline/crash-first", Model{fault: fault{kind: kCrash, at: 0, run: 1}}, chain3, nil, nil, "stage 0"},
		{"pipeline/crash-middle", Model{fault: fault{kind: kCrash, at: 1, run: 1}}, chain3, nil, nil, "stage 1"},
		{"pipeline/crash-last", Model{fault: fault{kind: kCrash, at: 2, run: 1}}, chain3, nil, nil, "stage 2"},
		{"pipeline/hang", Model{fault: fault{kind: kHang, at: 1, run: 1}}, chain3, deadline, context.DeadlineExceeded, ""},
		{"pipeline/cancel", Model{fault: fault{kind: kHang, at: 2, run: 1}}, chain3, cancelSoon, context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := tt.m.Start(t.Context(), tt.work)
			if err != nil {
				t.Fatal(err)
			}
			defer closeAndCheck(t, x)
			// Run 0 is good (faults strike in run 1) and names the workers;
			// a sleep of an hour fails in run 0.
			var pids []int
			if tt.m.fault.kind != 0 {
				r, err := x.Run(t.Context())
				if err != nil {
					t.Fatalf("run 0: %v", err)
				}
				pids = r.PIDs
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			_, err = x.Run(ctx)
			if err == nil {
				t.Fatal("Run succeeded; want an error")
			}
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("Run: %v; want an error wrapping %v", err, tt.want)
				}
			} else {
				var we *workerError
				if !errors.As(err, &we) {
					t.Fatalf("Run: %v; want a worker error", err)
				}
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != crashStatus {
					t.Errorf("Run: %v; want exit status %d", err, crashStatus)
				}
				if we.name != tt.culprit || !slices.Contains(pids, we.pid) {
					t.Errorf("Run blamed %s (pid %d); want %s, one of the workers %v", we.name, we.pid, tt.culprit, pids)
				}
				if want := fmt.Sprintf("%s (pid %d)", tt.culprit, we.pid); !strings.Contains(err.Error(), want) {
					t.Errorf("Run: %q; want it to name %q", err, want)
				}
			}
			if kids := modeltest.Children(); len(kids) > 0 {
				t.Errorf("children left after the failed Run, before Close: %v", kids)
			}
			if _, err := x.Run(t.Context()); err == nil {
				t.Error("a Run after a failed one succeeded; want an error")
			}
		})
	}
}

// Production runs never inject faults: a worker refuses the test-only jobs
// unless the tests' environment variable allows them.
func TestFaultsNeedTheirEnvironment(t *testing.T) {
	t.Setenv(envFaults, "")
	t.Run("pool", func(t *testing.T) {
		x, err := Model{fault: fault{kind: kCrash}}.Start(t.Context(), must(primes.NewJob(100, 1, primes.Replicate)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = x.Run(t.Context())
		if err := x.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("Run: %v; want the worker to refuse the fault", err)
		}
		modeltest.NoChildren(t)
	})
	for _, tt := range []struct {
		name string
		at   int
		work model.Work
	}{
		{"pool start", 1, must(primes.NewJob(100, 2, primes.Replicate))},
		{"pipeline start", 0, must(pipeline.NewJob(2, 1, 1))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x, err := Model{fault: fault{kind: kHangStart, at: tt.at}}.Start(t.Context(), tt.work)
			if err == nil {
				x.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "refused") {
				t.Errorf("Start: %v; want the worker to refuse the fault", err)
			}
			modeltest.NoChildren(t)
		})
	}
	t.Run("pipeline", func(t *testing.T) {
		x, err := Model{fault: fault{kind: kHang, at: 1}}.Start(t.Context(), must(pipeline.NewJob(2, 1, 1)))
		if err == nil {
			x.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("Start: %v; want the stage to refuse the fault", err)
		}
		modeltest.NoChildren(t)
	})
}

// Start fails cleanly: an error that says why, and no child left.
func TestStartFailsCleanly(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatalf("this test needs true(1): %v", err)
	}
	primes3 := must(primes.NewJob(100, 3, primes.Partition))
	tests := []struct {
		name string
		m    Model
		work model.Work
		env  string // LAB_PROCESS_WORKER in this process
		want string // in the error
	}{
		{"no executable", Model{exe: "/nonexistent/lab-worker"}, primes3, "", "no such file"},
		{"not a worker binary", Model{exe: truePath}, primes3, "", "exited before it was ready"},
		{"pipeline, not a worker binary", Model{exe: truePath}, must(pipeline.NewJob(3, 1, 1)), "", "exited before it was ready"},
		{"over the cap", Model{}, must(sleep.NewJob(MaxWorkers+1, 0, 0)), "", fmt.Sprintf("cap of %d", MaxWorkers)},
		{"inside a worker", Model{}, primes3, rolePool, "WorkerMain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envWorker, tt.env)
			x, err := tt.m.Start(t.Context(), tt.work)
			if err == nil {
				x.Close()
				t.Fatal("Start succeeded; want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start: %q; want it to contain %q", err, tt.want)
			}
			modeltest.NoChildren(t)
		})
	}
}

func TestStartHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	x, err := Model{}.Start(ctx, must(primes.NewJob(100, 2, primes.Replicate)))
	if err == nil {
		x.Close()
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start: %v; want an error wrapping %v", err, context.Canceled)
	}
	modeltest.NoChildren(t)
}

// A worker that hangs before its hello fails Start at the start's deadline,
// with an error that names it, and leaves no child behind.
func TestHungStartFailsAtTheDeadline(t *testing.T) {
	t.Setenv(envFaults, "1")
	tests := []struct {
		name    string
		work    model.Work
		culprit string
	}{
		{"pool", must(primes.NewJob(100, 3, primes.Partition)), "worker 1"},
		{"pipeline", must(pipeline.NewJob(3, 10, 100)), "stage 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			m := Model{fault: fault{kind: kHangStart, at: 1}}
			type started struct {
				x   model.Exec
				err error
			}
			done := make(chan started, 1)
			go func() {
				x, err := m.Start(ctx, tt.work)
				done <- started{x, err}
			}()
			var err error
			select {
			case s := <-done:
				if s.err == nil {
					s.x.Close()
					t.Fatal("Start succeeded; want an error")
				}
				err = s.err
			case <-time.After(30 * time.Second): // a hang detector, not a speed limit
				t.Fatal("Start has not returned 30 s after its 2 s deadline")
			}
			t.Logf("Start: %v", err)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Start: %v; want an error wrapping %v", err, context.DeadlineExceeded)
			}
			if !strings.Contains(err.Error(), "did not become ready") {
				t.Errorf("Start: %q; want it to say that a worker did not become ready", err)
			}
			named := regexp.MustCompile(regexp.QuoteMeta(tt.culprit) + ` \(pid (\d+)\)`).FindStringSubmatch(err.Error())
			if named == nil {
				t.Fatalf("Start: %q; want it to name %s (pid …)", err, tt.culprit)
			}
			pid, _ := strconv.Atoi(named[1])
			if alive := aliveOf([]int{pid}); len(alive) > 0 {
				t.Errorf("%s (pid %d) is still running after Start failed", tt.culprit, pid)
			}
			modeltest.NoChildren(t)
		})
	}
}

// closeAndCheck closes x and checks that no worker process is left.
func closeAndCheck(t *testing.T, x model.Exec) {
	t.Helper()
	if err := x.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	modeltest.NoChildren(t)
}
