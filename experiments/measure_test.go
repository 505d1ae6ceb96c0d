package experiments

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/model/modeltest"
	"concurrency-lab/experiments/models/process"
	"concurrency-lab/experiments/models/thread"
)

type recordingTimer struct{ running bool }

func (t *recordingTimer) StartTimer() { t.running = true }
func (t *recordingTimer) StopTimer()  { t.running = false }

func tinyCells(t *testing.T) []matrix.Cell {
	t.Helper()
	m, err := matrix.Load("testdata/tiny.toml")
	if err != nil {
		t.Fatal(err)
	}
	return m.Cells()
}

// TestRegistryMatchesSchema: every model and workload the matrix accepts has
// an implementation.
func TestRegistryMatchesSchema(t *testing.T) {
	for _, name := range matrix.Models() {
		if _, err := NewModel(context.Background(), matrix.Cell{Model: name}); err != nil {
			t.Errorf("model %q: %v", name, err)
		}
	}
	limits := map[string]int{"process": process.MaxWorkers, "thread": thread.MaxThreads, "thread-gil": thread.MaxThreads}
	for name, want := range limits {
		if got := matrix.MaxWorkers(name); got != want {
			t.Errorf("the matrix allows %d workers for %s; the model allows %d", got, name, want)
		}
	}
	m, err := matrix.Load("../experiments.toml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range m.Cells() {
		if seen[c.Workload] {
			continue
		}
		seen[c.Workload] = true
		if _, err := NewWork(c); err != nil {
			t.Errorf("workload %q: %v", c.Workload, err)
		}
	}
	for _, w := range matrix.Workloads() {
		if !seen[w] {
			t.Errorf("the default matrix never runs workload %q", w)
		}
	}
	for _, c := range m.Cells() {
		w, err := NewWork(c)
		if err != nil {
			t.Fatal(err)
		}
		if w.Workload() != c.Workload {
			t.Errorf("%s: NewWork made a %q job", c.Name(), w.Workload())
		}
	}
}

func TestMeasure(t *testing.T) {
	for _, c := range tinyCells(t) {
		t.Run(c.Name(), func(t *testing.T) {
			var timer recordingTimer
			s, err := Measure(context.Background(), c, 2, &timer)
			if err != nil {
				t.Fatal(err)
			}
			if timer.running {
				t.Error("Measure left the timer running")
			}
			if s.N != 2 || s.Elapsed <= 0 || s.CPU <= 0 || s.PeakRSS <= 0 || s.Procs < 1 || s.Threads < 1 || s.Units <= 0 {
				t.Errorf("sample %+v; want every field set", s)
			}
			if c.Workload == "sleep" && (s.PeakWaiting < 1 || s.PeakWaiting > s.Concurrency) {
				t.Errorf("peak-waiting %d; want 1 to the job's concurrency, %d", s.PeakWaiting, s.Concurrency)
			}
			if (c.Model == "thread-gil") != (s.GILSwitches >= 0) {
				t.Errorf("GIL switches %d for a %s cell; want ≥ 0 with a GIL and -1 without", s.GILSwitches, c.Model)
			}
			if c.Model == "thread-gil" && c.Workload == "primes" && c.Value("split") == "replicate" && s.GILSwitches == 0 {
				t.Error("two threads counting primes behind one GIL never handed it over")
			}
		})
	}
	modeltest.NoChildren(t)
}

// TestBenchOutputParses runs BenchmarkLab on the tiny matrix in a child
// process, as `go test -bench` would, and reads its output with benchfmt (the
// reader benchstat uses): one result per cell, each with every metric.
func TestBenchOutputParses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmarks")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkLab$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), "LAB_MATRIX=testdata/tiny.toml")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("benchmark run: %v\n%s%s", err, out.String(), stderr.String())
	}
	want := map[string]bool{}
	for _, c := range tinyCells(t) {
		want["Lab/"+c.Name()] = true
	}
	r := benchfmt.NewReader(&out, "bench.txt")
	got := 0
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt: %v", rec)
		case *benchfmt.Result:
			name := rec.Name.String()
			base := name[:strings.LastIndexByte(name, '-')] // drop the -GOMAXPROCS suffix
			if !want[base] {
				t.Errorf("unexpected result %q", name)
				continue
			}
			delete(want, base)
			got++
			var units []string
			for _, v := range rec.Values {
				u := v.OrigUnit // set only where benchfmt tidied the unit
				if u == "" {
					u = v.Unit
				}
				units = append(units, u)
			}
			need := []string{"ns/op", "procs", "threads", "peak-rss-B", "cpu-ns/op"}
			if strings.HasPrefix(base, "Lab/pipeline/") {
				need = append(need, "MB/s")
			} else {
				need = append(need, "tasks/s")
			}
			if strings.HasPrefix(base, "Lab/sleep/") {
				need = append(need, "peak-waiting")
			}
			if strings.Contains(base, "/model=thread-gil/") {
				need = append(need, "gil-switches/s")
			}
			for _, u := range need {
				if !slices.Contains(units, u) {
					t.Errorf("%s: no %s in %v", name, u, units)
				}
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range want {
		t.Errorf("no result for %s", name)
	}
	if got == 0 {
		t.Error("no results at all")
	}
}

// TestPeakWaitingFallsShortWhenTasksCannotAllWaitAtOnce: 2000 threads each
// asked to wait 0 ms (a nanosleep of microseconds) cannot all be inside their
// wait at the same moment: releasing them takes a context switch each, far
// longer than the wait. The measured peak is below the tasks asked for, as
// the report then shows (rundir.Cell.Waiting flags it).
func TestPeakWaitingFallsShortWhenTasksCannotAllWaitAtOnce(t *testing.T) {
	c := matrix.Cell{Experiment: "short", Workload: "sleep", Model: "thread",
		Params: []matrix.Param{{Key: "tasks", Value: "2000"}, {Key: "sleep_ms", Value: "0"},
			{Key: "workers", Value: "0"}, {Key: "start", Value: "warm"}},
		Settings: matrix.Settings{Reps: 1, Benchtime: "1x", Timeout: time.Minute}}
	var timer recordingTimer
	s, err := Measure(context.Background(), c, 1, &timer)
	if err != nil {
		t.Fatal(err)
	}
	if s.Concurrency != 2000 || s.PeakWaiting < 1 || s.PeakWaiting >= 2000 {
		t.Errorf("peak-waiting %d of %d asked; want at least 1 and fewer than all", s.PeakWaiting, s.Concurrency)
	}
}

// TestHungWarmStartFailsTheCell: a warm Start that never becomes ready is
// given up after the cell's timeout, with an error that says so.
func TestHungWarmStartFailsTheCell(t *testing.T) {
	c := matrix.Cell{Experiment: "hung", Workload: "sleep", Model: "thread",
		Params:   []matrix.Param{{Key: "tasks", Value: "1"}, {Key: "sleep_ms", Value: "1"}, {Key: "workers", Value: "0"}, {Key: "start", Value: "warm"}},
		Settings: matrix.Settings{Reps: 1, Benchtime: "1x", Timeout: 200 * time.Millisecond}}
	m := hangingModel{}
	var timer recordingTimer
	_, err := measure(context.Background(), c, m, 1, &timer)
	if err == nil || !strings.Contains(err.Error(), "not ready within 200ms") {
		t.Fatalf("Measure with a Start that hangs: %v; want an error naming the cell's timeout", err)
	}
}

// hangingModel's Start waits until its context ends, as a pool whose worker
// never reports ready would.
type hangingModel struct{}

func (hangingModel) Name() string { return "thread" }

func (hangingModel) Start(ctx context.Context, _ model.Work) (model.Exec, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("worker 0 never became ready: %w", ctx.Err())
}
