package modeltest

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"testing"
	"time"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/interleave"
)

// ConvoyJob is a convoy of ops operations of 100 µs beside cpu CPU workers
// whose chunks count the primes in [2, 3000] (~1 ms each).
func ConvoyJob(t testing.TB, ops, cpu int) convoy.Job {
	t.Helper()
	j, err := convoy.NewJob(ops, 100*time.Microsecond, cpu, 3000)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// WantChunks checks a convoy Run's chunks (r, named what in errors: "run
// 1"): at least least, and none when there is no CPU worker (cpu = 0).
func WantChunks(t testing.TB, what string, r model.Result, cpu, least int) {
	t.Helper()
	if r.Chunks < least {
		t.Errorf("%s: %d chunks by %d CPU workers; want at least %d", what, r.Chunks, cpu, least)
	}
	if cpu == 0 && r.Chunks != 0 {
		t.Errorf("%s: %d chunks with no CPU worker; want 0", what, r.Chunks)
	}
}

// CheckConvoyTimed checks a convoy Run's own time (r.Timed, the I/O
// worker's, from before its first wait until after its last): at least its
// Ops waits of IOWait one after another (less the runtime's early), a
// physical bound, and within the Run's elapsed, measured around it by the
// caller. what names the Run in errors.
func CheckConvoyTimed(t testing.TB, what string, j convoy.Job, r model.Result, elapsed time.Duration) {
	t.Helper()
	least := time.Duration(j.Ops)*j.IOWait - time.Duration(j.Ops)*r.Early
	if r.Timed < least || r.Timed > elapsed {
		t.Errorf("%s: the I/O worker's time %v; want at least its %d waits of %v (%v) and at most the Run's %v",
			what, r.Timed, j.Ops, j.IOWait, least, elapsed)
	}
}

// InterleaveCase is an interleave job of a model's tests, but for its
// events and repeats.
type InterleaveCase struct {
	Name     string
	Tasks    int
	Between  string // interleave.Wait or interleave.Compute
	Gap      time.Duration
	ComputeN int
}

// InterleaveCases are both pauses on two to four tasks: waits of 1 ms,
// 0.5 ms and none, and computing pauses.
var InterleaveCases = []InterleaveCase{
	{"wait/2", 2, interleave.Wait, time.Millisecond, 2},
	{"wait/3", 3, interleave.Wait, 500 * time.Microsecond, 2},
	{"wait/gap0", 2, interleave.Wait, 0, 2},
	{"compute/2", 2, interleave.Compute, 0, 3000},
	{"compute/4", 4, interleave.Compute, 0, 2000},
}

// Job is c's job with events events per task and repeats repeats.
func (c InterleaveCase) Job(t testing.TB, events, repeats int) interleave.Job {
	t.Helper()
	j, err := interleave.NewJob(c.Tasks, events, repeats, c.Between, c.Gap, c.ComputeN)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// RunInterleave runs c's job (5 events per task, 4 repeats) on m, twice on
// one Exec, verifies every result (model.Verify, as the lab does: Run does
// not), checks that every Run logged one order per repeat, and returns the
// results. How many distinct orders the
// model produces is the measurement: not asserted.
func RunInterleave(t testing.TB, m model.Model, c InterleaveCase) []model.Result {
	t.Helper()
	j := c.Job(t, 5, 4)
	rs := Run(t, m, j, 2)
	for i, r := range rs {
		if len(r.Orders) != j.Repeats {
			t.Errorf("run %d: %d orders; want %d", i, len(r.Orders), j.Repeats)
		}
	}
	return rs
}

// RunVerified runs x once on w and verifies the result (and a convoy's
// Timed, CheckConvoyTimed); if the Run or model.Verify fails, it closes x
// and ends the test.
func RunVerified(t testing.TB, x model.Exec, w model.Work) model.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	r, err := x.Run(ctx)
	elapsed := time.Since(start)
	if err == nil {
		err = model.Verify(w, r, elapsed)
	}
	if err != nil {
		x.Close()
		t.Fatalf("Run: %v", err)
	}
	if j, ok := w.(convoy.Job); ok {
		CheckConvoyTimed(t, "Run", j, r, elapsed)
	}
	return r
}

// RunPastDeadline runs x with a context whose deadline passes after d,
// before the Run can finish, and checks that the Run fails with an error
// wrapping context.DeadlineExceeded and that the Exec then refuses to run
// again. The caller closes x.
func RunPastDeadline(t testing.TB, x model.Exec, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if _, err := x.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past its deadline: %v; want an error wrapping %v", err, context.DeadlineExceeded)
	}
	if _, err := x.Run(context.Background()); err == nil {
		t.Errorf("Run after a failed Run succeeded; want an error")
	}
}

// StartRefuses checks that m refuses to start each of works.
func StartRefuses(t testing.TB, m model.Model, works ...model.Work) {
	t.Helper()
	for _, w := range works {
		x, err := m.Start(context.Background(), w)
		if err == nil {
			x.Close()
			t.Errorf("%s: Start(%T %+v) succeeded; want an error", m.Name(), w, w)
			continue
		}
		t.Logf("Start(%T %+v): %v", w, w, err)
	}
}

// InThisProcess fails t unless r's work ran in this process alone; what
// says which result r is ("run 1").
func InThisProcess(t testing.TB, what string, r model.Result) {
	t.Helper()
	if got, want := r.PIDs, []int{os.Getpid()}; !slices.Equal(got, want) {
		t.Errorf("%s: PIDs %v; want only this process, %v", what, got, want)
	}
}

// Threads lists this process's threads (Linux: /proc/self/task).
func Threads(t testing.TB) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

// CloseGone closes x and checks that none of tids is still a thread of this
// process.
func CloseGone(t testing.TB, x model.Exec, tids ...int) {
	t.Helper()
	if err := x.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	live := Threads(t)
	for _, tid := range tids {
		if slices.Contains(live, tid) {
			t.Errorf("thread %d is still in /proc/self/task after Close", tid)
		}
	}
}

// RunPeakRise runs x once on w and returns the result, verified, and how
// far this process's resident set rose above its size at the start of the
// Run, at its peak.
//
// Go's collector keeps freed memory for reuse and returns it to the OS only
// slowly, so what an earlier Run (or test) left free would be reused by this
// Run without raising the RSS. So start x first; then a collection returns
// every free page to the OS (runtime.GC and debug.FreeOSMemory), and the
// peak is reset to the RSS that is left: the Run's rise is then memory it
// made resident itself.
func RunPeakRise(t testing.TB, ctx context.Context, x model.Exec, w model.Work) (model.Result, int64) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := osmeter.ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	rss0, err := osmeter.RSS()
	if err != nil {
		t.Fatal(err)
	}
	r, err := x.Run(ctx)
	peak, perr := osmeter.PeakRSS()
	if err == nil {
		err = perr
	}
	if err == nil {
		err = model.Verify(w, r, 0)
	}
	if err != nil {
		t.Fatalf("Run of %+v: %v", w, err)
	}
	return r, peak - rss0
}

// StartPeakRise starts m on w, runs it once with RunPeakRise and closes it,
// returning the Run's peak rise of this process's resident set.
func StartPeakRise(t testing.TB, m model.Model, w model.Work) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x, err := m.Start(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	_, rise := RunPeakRise(t, ctx, x, w)
	return rise
}
