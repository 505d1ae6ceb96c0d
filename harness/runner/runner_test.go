package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
)

// The tests run this test binary as a stand-in for the benchmark binary: with
// LAB_FAKE_BENCH set it reads $LAB_CELLS like BenchmarkLab and prints what
// go test would, behaving per cell by the cell's experiment name.
func TestMain(m *testing.M) {
	if os.Getenv("LAB_FAKE_BENCH") != "" {
		fakeBench()
		return
	}
	os.Exit(m.Run())
}

func fakeBench() {
	var cells []matrix.Cell
	b, err := os.ReadFile(os.Getenv("LAB_CELLS"))
	if err == nil {
		err = json.Unmarshal(b, &cells)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake:", err)
		os.Exit(2)
	}
	fmt.Println("goos: linux\ngoarch: amd64\npkg: concurrency-lab/experiments")
	status := 0
	for _, c := range cells {
		fmt.Fprintf(os.Stderr, "lab: start %s\n", c.Name())
		switch c.Experiment {
		case "fail":
			fmt.Printf("--- FAIL: BenchmarkLab/%s\n    lab_test.go:80: %s: execution 1: boom\n", c.Name(), c.Name())
			status = 1
		case "slow":
			fmt.Printf("--- FAIL: BenchmarkLab/%s\n    lab_test.go:80: execution 1: timed out after 1s (the cell's timeout): context deadline exceeded\n", c.Name())
			status = 1
		case "crash":
			fmt.Fprintln(os.Stderr, "fatal error: all goroutines are asleep")
			os.Exit(2)
		case "hang":
			time.Sleep(time.Hour)
		case "gone":
			// A runtime that vanished after the run prepared it: the
			// benchmark skips the cell with the reason.
			fmt.Printf("--- SKIP: BenchmarkLab/%s\n    lab_test.go:90: runtime py unavailable: no interpreter (Debian: apt-get install python3)\n", c.Name())
		case "noisy":
			// Spread over a factor of three: no CI gets within 2%.
			fmt.Printf("BenchmarkLab/%s-2 \t       1\t%d ns/op\n", c.Name(), 1000000+time.Now().Nanosecond()%2000000)
		case "short":
			// A sleep cell of 10 tasks of which 7 waited at once.
			fmt.Printf("BenchmarkLab/%s-2 \t       1\t%d ns/op\t         7.000 peak-waiting\n", c.Name(), 100000000+time.Now().Nanosecond()%1000)
		case "orders":
			// An interleave cell: its orders line comes before its result.
			fmt.Printf("# orders %s ABAB×3 AABB×1\n", c.Name())
			fmt.Printf("BenchmarkLab/%s-2 \t       1\t%d ns/op\t         2.000 orders\n", c.Name(), 1000000+time.Now().Nanosecond()%1000)
		case "orders-fail":
			// Orders printed, then the cell fails: they go with it.
			fmt.Printf("# orders %s ABAB×4\n--- FAIL: BenchmarkLab/%s\n    lab_test.go:80: execution 1: boom\n", c.Name(), c.Name())
			status = 1
		case "orphan":
			// A child in the sample's process group that nobody reaps or
			// kills: the runner must end it with the sample.
			cmd := exec.Command("sleep", "300")
			if err := cmd.Start(); err != nil {
				fmt.Fprintln(os.Stderr, "fake:", err)
				os.Exit(2)
			}
			f, _ := os.OpenFile(os.Getenv("LAB_ORPHANS"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			fmt.Fprintln(f, cmd.Process.Pid)
			f.Close()
			fmt.Printf("BenchmarkLab/%s-2 \t       1\t%d ns/op\n", c.Name(), 1000000+time.Now().Nanosecond()%1000)
		default:
			// Values that differ per sample: the nanoseconds of the clock;
			// and the process that took the sample.
			fmt.Printf("BenchmarkLab/%s-2 \t       1\t%d ns/op\t         2.000 procs\t%d pid\n", c.Name(), 1000000+time.Now().Nanosecond()%1000, os.Getpid())
		}
	}
	if status == 0 {
		fmt.Println("PASS")
	}
	os.Exit(status)
}

func cell(experiment, model string, reps int) matrix.Cell {
	return matrix.Cell{Experiment: experiment, Workload: "primes", Model: model,
		Params:   []matrix.Param{{Key: "workers", Value: "1"}},
		Settings: matrix.Settings{Reps: reps, Benchtime: "1x", Timeout: time.Second}}
}

func run(t *testing.T, ctx context.Context, cells ...matrix.Cell) (*rundir.Dir, error) {
	t.Helper()
	t.Setenv("LAB_FAKE_BENCH", "1")
	self, _ := os.Executable()
	dir, err := Run(ctx, Options{
		MatrixFile: "m.toml", MatrixText: []byte("# fake"), MatrixSHA: "abc",
		Cells: cells, HardwareID: "box", Machine: hw.Machine{CPUModel: "fake"},
		Software: hw.Software{GoVersion: "go1.26", Commit: "c0ffee"},
		Binary:   self, Results: t.TempDir(), RunID: "r1", Seed: 42,
		Progress: testWriter{t}, slack: time.Second,
	})
	if dir == "" {
		t.Fatalf("Run returned no directory (error %v)", err)
	}
	d, rerr := rundir.Read(dir)
	if rerr != nil {
		t.Fatalf("the run directory does not read back: %v", rerr)
	}
	return d, err
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestRunSamplesEveryCellInRounds(t *testing.T) {
	cells := []matrix.Cell{cell("a", "process", 3), cell("a", "thread", 3), cell("b", "loop", 2), cell("b", "goroutine", 3)}
	d, err := run(t, context.Background(), cells...)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Run.Complete || d.Run.Rounds != 3 || d.Run.Seed != 42 {
		t.Errorf("run: complete %v, rounds %d, seed %d; want complete, 3 rounds, seed 42", d.Run.Complete, d.Run.Rounds, d.Run.Seed)
	}
	for i, c := range d.Summary.Cells {
		n := len(c.Metrics["sec/op"].Samples)
		if c.Status != rundir.OK || n != cells[i].Reps || c.Metrics["sec/op"].Stats.N != n {
			t.Errorf("%s: status %s, %d samples; want ok, %d", c.Name, c.Status, n, cells[i].Reps)
		}
		if got := c.Metrics["procs"].Samples; len(got) != n || got[0] != 2 {
			t.Errorf("%s: procs samples %v", c.Name, got)
		}
	}
	bench, _ := os.ReadFile(filepath.Join(d.Path, rundir.BenchFile))
	for _, want := range []string{"hardware: box\n", "commit: c0ffee\n", "go: go1.26\n", "matrix-sha256: abc\n", "seed: 42\n", "goos: linux\n"} {
		if !strings.Contains(string(bench), want) {
			t.Errorf("bench.txt lacks %q:\n%s", want, bench)
		}
	}
	// Round structure: the result lines come in rounds, each holding every
	// cell that still needed a sample, once.
	var order []string
	for _, line := range strings.Split(string(bench), "\n") {
		if strings.HasPrefix(line, "BenchmarkLab/") {
			order = append(order, trimProcs(strings.TrimPrefix(strings.Fields(line)[0], "BenchmarkLab/")))
		}
	}
	names := func(cs ...matrix.Cell) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name())
		}
		slices.Sort(out)
		return out
	}
	rounds := [][]string{order[0:4], order[4:8], order[8:11]}
	wants := [][]string{names(cells...), names(cells...), names(cells[0], cells[1], cells[3])}
	for r := range rounds {
		got := slices.Sorted(slices.Values(rounds[r]))
		if diff := cmp.Diff(wants[r], got); diff != "" {
			t.Errorf("round %d cells (-want +got):\n%s", r+1, diff)
		}
	}
	if len(order) != 11 {
		t.Errorf("%d samples in bench.txt; want 11", len(order))
	}
}

// TestEverySampleHasItsOwnProcess: no two samples, of one cell or of two,
// come from the same benchmark process.
func TestEverySampleHasItsOwnProcess(t *testing.T) {
	d, err := run(t, context.Background(), cell("a", "process", 3), cell("a", "thread", 3), cell("b", "loop", 2))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[float64]string{}
	n := 0
	for _, c := range d.Summary.Cells {
		for _, pid := range c.Metrics["pid"].Samples {
			n++
			if other, dup := seen[pid]; dup {
				t.Errorf("pid %v took a sample of %s and of %s", pid, other, c.Name)
			}
			seen[pid] = c.Name
		}
	}
	if n != 8 {
		t.Errorf("%d samples carry a pid; want 8", n)
	}
}

// TestShortWaitIsWarned: a sleep cell whose tasks did not all wait at once
// gets a warning in run.json.
func TestShortWaitIsWarned(t *testing.T) {
	c := matrix.Cell{Experiment: "short", Workload: "sleep", Model: "thread",
		Params:   []matrix.Param{{Key: "tasks", Value: "10"}, {Key: "workers", Value: "0"}},
		Settings: matrix.Settings{Reps: 2, Benchtime: "1x", Timeout: time.Second}}
	d, err := run(t, context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(d.Run.Warnings, func(w string) bool { return strings.Contains(w, "only 7 of 10 tasks waited at once") }) {
		t.Errorf("warnings %q; want one saying that only 7 of 10 tasks waited at once", d.Run.Warnings)
	}
}

// TestNoProcessOutlivesItsSample: a child that the benchmark process leaves
// running is ended with the sample.
func TestNoProcessOutlivesItsSample(t *testing.T) {
	orphans := filepath.Join(t.TempDir(), "orphans")
	t.Setenv("LAB_ORPHANS", orphans)
	if _, err := run(t, context.Background(), cell("orphan", "process", 2)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(orphans)
	if err != nil {
		t.Fatal(err)
	}
	pids := strings.Fields(string(data))
	if len(pids) != 2 {
		t.Fatalf("the fake benchmark left %d children; want 2 (one per sample)", len(pids))
	}
	for _, pid := range pids {
		// A killed orphan may stay a zombie when nobody reaps it (a
		// container's PID 1 may not): it has ended all the same.
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue // gone
		}
		f := strings.Fields(string(stat))
		if i := slices.IndexFunc(f, func(s string) bool { return strings.HasSuffix(s, ")") }); i >= 0 && i+1 < len(f) && f[i+1] != "Z" {
			t.Errorf("child %s of a finished sample is still running (state %s)", pid, f[i+1])
		}
	}
}

func TestSchedulerOrders(t *testing.T) {
	pending := []int{0, 1, 2, 3, 4, 5, 6, 7}
	a, b := NewScheduler(7), NewScheduler(7)
	var orders [][]int
	for range 5 {
		oa, ob := a.Round(pending), b.Round(pending)
		if !slices.Equal(oa, ob) {
			t.Fatalf("the same seed gave %v and %v", oa, ob)
		}
		if got := slices.Sorted(slices.Values(oa)); !slices.Equal(got, pending) {
			t.Fatalf("round %v is not a permutation of %v", oa, pending)
		}
		orders = append(orders, oa)
	}
	distinct := map[string]bool{}
	for _, o := range orders {
		distinct[fmt.Sprint(o)] = true
	}
	if len(distinct) < 2 {
		t.Errorf("5 rounds all had the order %v; want orders that differ between rounds", orders[0])
	}
	if c := NewScheduler(8).Round(pending); slices.Equal(c, orders[0]) {
		t.Logf("seeds 7 and 8 gave the same first order %v (possible, unlikely)", c)
	}
	if !slices.Equal(pending, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("Round modified its input: %v", pending)
	}
}

func TestFailingCellIsRecordedAndTheRunGoesOn(t *testing.T) {
	d, err := run(t, context.Background(), cell("ok", "thread", 2), cell("fail", "thread", 2), cell("slow", "loop", 2))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]rundir.Cell{}
	for _, c := range d.Summary.Cells {
		byName[c.Experiment] = c
	}
	if c := byName["ok"]; c.Status != rundir.OK || len(c.Metrics["sec/op"].Samples) != 2 {
		t.Errorf("ok cell: %s (%s) with %d samples; want ok with 2", c.Status, c.Error, len(c.Metrics["sec/op"].Samples))
	}
	if c := byName["fail"]; c.Status != rundir.Failed || !strings.Contains(c.Error, "boom") {
		t.Errorf("failing cell: status %s, error %q; want failed with the message", c.Status, c.Error)
	}
	if c := byName["slow"]; c.Status != rundir.Timeout {
		t.Errorf("timed-out cell: status %s, error %q; want timeout", c.Status, c.Error)
	}
	if !d.Run.Complete {
		t.Error("a run with a failed cell that ran to its end is not complete")
	}
}

// TestAbsentRuntimeIsSkipped: the cells of a runtime the run could not
// prepare are skipped with its reason, never run, and the run is complete;
// a cell the benchmark itself skips (its runtime vanished) is skipped too.
func TestAbsentRuntimeIsSkipped(t *testing.T) {
	t.Setenv("LAB_FAKE_BENCH", "1")
	self, _ := os.Executable()
	py := matrix.Runtime{Name: "py", Kind: matrix.KindCPython, Python: "/nowhere/python3"}
	absent := cell("ok", "thread", 2)
	absent.Runtime = py
	gone := cell("gone", "thread", 2)
	gone.Runtime = matrix.Runtime{Name: "py2", Kind: matrix.KindCPython, Python: "python3"}
	dir, err := Run(context.Background(), Options{
		MatrixFile: "m.toml", MatrixText: []byte("# fake"), MatrixSHA: "abc",
		Cells: []matrix.Cell{cell("ok", "thread", 2), absent, gone}, HardwareID: "box",
		Binary: self, Results: t.TempDir(), RunID: "r1", Seed: 42,
		Runtimes: []runtimes.Entry{
			{Name: "py", Unavailable: &runtimes.Unavailable{Runtime: "py", Reason: "no interpreter \"/nowhere/python3\"", Hint: "Debian: apt-get install python3"}},
			{Name: "py2", Prepared: &runtimes.Prepared{Identity: runtimes.Identity{Kind: "cpython", Executable: "/usr/bin/python3"}}},
		},
		Progress: testWriter{t}, slack: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]rundir.Cell{}
	for _, c := range d.Summary.Cells {
		got[c.Runtime+"/"+c.Experiment] = c
	}
	if c := got["go/ok"]; c.Status != rundir.OK {
		t.Errorf("the go cell: %s; want ok", c.Status)
	}
	if c := got["py/ok"]; c.Status != rundir.Skipped || !strings.Contains(c.Error, "apt-get install python3") || len(c.Metrics) != 0 {
		t.Errorf("the absent runtime's cell: %s %q with %d metrics; want skipped with the reason, never run", c.Status, c.Error, len(c.Metrics))
	}
	if c := got["py2/gone"]; c.Status != rundir.Skipped || !strings.Contains(c.Error, "unavailable") {
		t.Errorf("the cell the benchmark skipped: %s %q; want skipped with its message", c.Status, c.Error)
	}
	if !d.Run.Complete {
		t.Errorf("a run whose absent runtime's cells were skipped is not complete: %s", d.Run.Stopped)
	}
	if len(d.Run.Runtimes) != 2 || d.Run.Runtimes[0].Unavailable == "" || d.Run.Runtimes[0].Hint == "" || d.Run.Runtimes[1].Executable != "/usr/bin/python3" {
		t.Errorf("run.json runtimes = %+v; want both, the absent one with its reason and hint", d.Run.Runtimes)
	}
}

func TestCrashAndHang(t *testing.T) {
	for _, kind := range []string{"crash", "hang"} {
		t.Run(kind, func(t *testing.T) {
			d, err := run(t, context.Background(), cell("ok", "thread", 2), cell(kind, "process", 2))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"crash": rundir.Failed, "hang": rundir.Timeout}[kind]
			for _, c := range d.Summary.Cells {
				if c.Experiment == kind && c.Status != want {
					t.Errorf("%s cell: status %s (%s); want %s", kind, c.Status, c.Error, want)
				}
				if c.Experiment == "ok" && len(c.Metrics["sec/op"].Samples) != 2 {
					t.Errorf("ok cell: %d samples; want 2 despite the %s", len(c.Metrics["sec/op"].Samples), kind)
				}
			}
		})
	}
}

func TestInterruptedRunIsKeptIncomplete(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	d, err := run(t, ctx, cell("ok", "thread", 2), cell("hang", "loop", 2))
	if err != ErrInterrupted {
		t.Errorf("Run error = %v; want ErrInterrupted", err)
	}
	if d.Run.Complete || d.Run.Stopped == "" {
		t.Errorf("interrupted run: complete %v, stopped %q; want incomplete with a reason", d.Run.Complete, d.Run.Stopped)
	}
	for _, c := range d.Summary.Cells {
		if c.Experiment == "hang" && c.Status == rundir.OK && len(c.Metrics) > 0 {
			t.Errorf("the interrupted cell has results: %+v", c)
		}
	}
}

func TestAutoReps(t *testing.T) {
	auto := func(experiment string) matrix.Cell {
		c := cell(experiment, "thread", 6)
		c.Auto, c.MaxReps, c.TargetCI = true, 9, 0.02
		return c
	}
	d, err := run(t, context.Background(), auto("steady"), auto("noisy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Summary.Cells {
		n := len(c.Metrics["sec/op"].Samples)
		switch c.Experiment {
		case "steady":
			// Values within 0.1% of each other: the CI is within 2% at the
			// first chance, 6 samples.
			if n != 6 {
				t.Errorf("steady cell: %d samples; want 6 (its CI settles at once)", n)
			}
		case "noisy":
			if n != 9 {
				t.Errorf("noisy cell: %d samples; want max_reps = 9", n)
			}
		}
	}
}

// TestSequentialLooks: the plan looks once the planned samples are in,
// reopens the cells it is told are undecided for one more sample per look,
// stops after its last look, and records what it did.
func TestSequentialLooks(t *testing.T) {
	t.Setenv("LAB_FAKE_BENCH", "1")
	self, _ := os.Executable()
	undecided := cell("a", "thread", 2).Name()
	var looked []int
	dir, err := Run(context.Background(), Options{
		MatrixFile: "m.toml", MatrixText: []byte("# fake"), MatrixSHA: "abc",
		Cells: []matrix.Cell{cell("a", "thread", 2), cell("b", "loop", 2)}, HardwareID: "box",
		Machine: hw.Machine{CPUModel: "fake"}, Software: hw.Software{GoVersion: "go1.26"},
		Binary: self, Results: t.TempDir(), RunID: "r1", Seed: 1, Progress: testWriter{t}, slack: time.Second,
		Looks: 3, Alpha: 0.05,
		Decide: func(d *rundir.Dir) []string {
			n := 0
			for _, c := range d.Summary.Cells {
				if c.Status != rundir.OK {
					t.Errorf("look %d: %s is %s; want every cell ok when looked at", len(looked)+1, c.Name, c.Status)
				}
				n += len(c.Metrics["sec/op"].Samples)
			}
			looked = append(looked, n)
			return []string{undecided, "not/a/cell"}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Look 1 at 4 samples, look 2 after one more for cell a, look 3 (the
	// last) after another: a ends with 4 samples, b with its 2.
	if want := []int{4, 5, 6}; !slices.Equal(looked, want) {
		t.Errorf("looked at %v samples; want %v", looked, want)
	}
	for _, c := range d.Summary.Cells {
		want := map[string]int{"a": 4, "b": 2}[c.Experiment]
		if n := len(c.Metrics["sec/op"].Samples); n != want || c.Status != rundir.OK {
			t.Errorf("%s: %d samples, %s; want %d, ok", c.Name, n, c.Status, want)
		}
	}
	sq := d.Run.Sequential
	if sq == nil || sq.Looks != 3 || sq.Taken != 3 || !slices.Equal(sq.Extended, []string{undecided}) || !d.Run.Complete {
		t.Errorf("run.json sequential %+v, complete %v; want 3 looks taken, %s extended, complete", sq, d.Run.Complete, undecided)
	}
}

// TestSequentialBudget: a spent time budget ends the looking, and says so.
func TestSequentialBudget(t *testing.T) {
	t.Setenv("LAB_FAKE_BENCH", "1")
	self, _ := os.Executable()
	calls := 0
	dir, err := Run(context.Background(), Options{
		MatrixFile: "m.toml", MatrixText: []byte("# fake"), MatrixSHA: "abc",
		Cells: []matrix.Cell{cell("a", "thread", 2)}, HardwareID: "box",
		Machine: hw.Machine{CPUModel: "fake"}, Software: hw.Software{GoVersion: "go1.26"},
		Binary: self, Results: t.TempDir(), RunID: "r1", Seed: 1, Progress: testWriter{t}, slack: time.Second,
		Looks: 5, Alpha: 0.05, Budget: time.Nanosecond,
		Decide: func(*rundir.Dir) []string { calls++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sq := d.Run.Sequential; calls != 0 || sq == nil || sq.Taken != 0 || !strings.Contains(sq.Stopped, "time budget") {
		t.Errorf("decide called %d times, sequential %+v; want no look and a stop for the budget", calls, sq)
	}
}

// TestOrdersKeptWithTheirResult: an interleave cell's orders line is kept in
// bench.txt right after the result it belongs to, once per sample, and a
// failed cell's is dropped.
func TestOrdersKeptWithTheirResult(t *testing.T) {
	d, err := run(t, context.Background(), cell("orders", "loop", 2), cell("orders-fail", "loop", 1))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(d.Path, "bench.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	var results, orders int
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "BenchmarkLab/orders/"):
			results++
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "# orders orders/") || !strings.HasSuffix(lines[i+1], "ABAB×3 AABB×1") {
				t.Errorf("result line %d is not followed by its orders:\n%s", i+1, raw)
			}
		case strings.HasPrefix(l, "# orders"):
			orders++
			if strings.Contains(l, "orders-fail") {
				t.Errorf("a failed cell's orders were kept: %q", l)
			}
		}
	}
	if results != 2 || orders != 2 {
		t.Errorf("bench.txt has %d results and %d orders lines; want 2 and 2:\n%s", results, orders, raw)
	}
}

// TestShardIsRecorded: a run that took one part of the cells says which in
// run.json, and its directory's name does too (parts run on several nodes
// at once into one results directory).
func TestShardIsRecorded(t *testing.T) {
	t.Setenv("LAB_FAKE_BENCH", "1")
	self, _ := os.Executable()
	dir, err := Run(context.Background(), Options{
		MatrixFile: "m.toml", MatrixText: []byte("# fake"), MatrixSHA: "abc",
		Cells: []matrix.Cell{cell("x", "loop", 1)}, HardwareID: "box", Machine: hw.Machine{CPUModel: "fake"},
		Software: hw.Software{GoVersion: "go1.26", Commit: "c0ffee"},
		Binary:   self, Results: t.TempDir(), Seed: 42,
		Flags:    rundir.RunOptions{Shard: &rundir.Shard{Index: 2, Count: 3}},
		Progress: testWriter{t}, slack: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(dir, "-shard2of3") {
		t.Errorf("run directory %s; want a name ending in -shard2of3", dir)
	}
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sh := d.Run.Options.Shard; sh == nil || *sh != (rundir.Shard{Index: 2, Count: 3}) {
		t.Errorf("run.json shard = %+v; want 2/3", sh)
	}
}
