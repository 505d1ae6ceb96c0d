package experiments

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/models/process"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/interleave"
)

// TestMain serves as a process-model worker when the process model started
// this binary as one; otherwise it runs the tests and benchmarks.
func TestMain(m *testing.M) {
	process.WorkerMain()
	echo.LoadMain()
	code := m.Run()
	CleanupRuntimes()
	os.Exit(code)
}

// BenchmarkLab runs every cell of the matrix named by $LAB_MATRIX (default:
// the repository's experiments.toml) as a sub-benchmark
//
//	BenchmarkLab/<experiment>/model=<model>/<param>=<value>/...
//
// With -benchtime 1x each sample is one full execution of the workload, as
// the matrix's benchtime = "1x" intends. Every cell reports, besides sec/op:
//
//	procs        distinct OS processes that did the work (recorded by them)
//	threads      distinct OS threads that did the work (gettid, recorded by them)
//	peak-rss-B   peak resident memory of every process involved, bytes
//	cpu-ns/op    user+system CPU time of every process involved, per execution
//	tasks/s      primes (one task per worker) and sleep throughput
//	MB/s         pipeline payload throughput (from b.SetBytes)
//	peak-waiting sleep: the most tasks inside their wait at the same moment
//	             (measured from each task's recorded wait, not assumed)
//	gil-switches/s  thread-gil: GIL hand-overs per second of timed region
//	requests/s, p50-ns, p99-ns  echo: verified requests per second, and the
//	             request latency's percentiles (the worst execution's)
//	orders       interleave: distinct event orders over the repeats
//	longest-run  interleave: most consecutive events of one task
//	p50-ns, p99-ns, chunks/op  convoy: the I/O worker's per-operation
//	             latency percentiles; CPU chunks done beside it
//	ns/worker    spawn: the timed region per worker started or handed a task
//
// threads counts the distinct OS threads that ran at least one task: in a
// sleep cell whose workers cannot all start before the first ones finish,
// early workers take further tasks and the count (and peak-waiting) falls
// below the number of tasks.
//
// `lab run` instead names the cells, in the order of its round, in a JSON file
// ($LAB_CELLS, a list of matrix.Cell); each cell is then announced on stderr
// as "lab: start <name>" before it runs, so that the harness knows which cell
// a crash or a hang belongs to.
func BenchmarkLab(b *testing.B) {
	cells, announce, err := labCells()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cells {
		if announce {
			fmt.Fprintf(os.Stderr, "lab: start %s\n", c.Name())
		}
		b.Run(c.Name(), func(b *testing.B) { benchCell(b, c) })
	}
}

func labCells() (cells []matrix.Cell, fromHarness bool, err error) {
	if path := os.Getenv("LAB_CELLS"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, true, err
		}
		if err := json.Unmarshal(data, &cells); err != nil {
			return nil, true, fmt.Errorf("%s: %w", path, err)
		}
		return cells, true, nil
	}
	path := os.Getenv("LAB_MATRIX")
	if path == "" {
		path = "../experiments.toml"
	}
	m, err := matrix.Load(path)
	if err != nil {
		return nil, false, err
	}
	return m.Cells(), false, nil
}

func benchCell(b *testing.B, c matrix.Cell) {
	if c.Workload == "pipeline" {
		b.SetBytes(int64(c.Int("messages")) * int64(c.Int("payload_bytes")))
	}
	ctx := context.Background()
	for i := range c.Warmup {
		if _, err := Measure(ctx, c, 1, nopTimer{}); err != nil {
			if u, ok := runtimes.IsUnavailable(err); ok {
				b.Skip(u)
			}
			b.Fatalf("warm-up %d: %v", i+1, err)
		}
	}
	s, err := Measure(ctx, c, b.N, b)
	if u, ok := runtimes.IsUnavailable(err); ok {
		b.Skip(u)
	}
	if err != nil {
		b.Fatal(err)
	}
	if c.Runtime.Kind != "" && c.Runtime.Kind != matrix.KindGo {
		// The driver timed the work inside its runtime: its clock, not the
		// one around the round trip to it, is the cell's time.
		b.ReportMetric(float64(s.Elapsed.Nanoseconds())/float64(s.N), "ns/op")
		if c.Workload == "pipeline" {
			b.ReportMetric(float64(c.Int("messages"))*float64(c.Int("payload_bytes"))*float64(s.N)/1e6/s.Elapsed.Seconds(), "MB/s")
		}
	}
	b.ReportMetric(float64(s.Procs), "procs")
	b.ReportMetric(float64(s.Threads), "threads")
	b.ReportMetric(float64(s.PeakRSS), "peak-rss-B")
	b.ReportMetric(float64(s.CPU.Nanoseconds())/float64(s.N), "cpu-ns/op")
	switch c.Workload {
	case "pipeline":
	case "echo":
		b.ReportMetric(float64(s.Requests)/s.Elapsed.Seconds(), "requests/s")
		b.ReportMetric(float64(s.P50.Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(s.P99.Nanoseconds()), "p99-ns")
	case "interleave":
		b.ReportMetric(float64(interleave.Distinct(s.Orders)), "orders")
		b.ReportMetric(float64(interleave.LongestRun(s.Orders)), "longest-run")
		// The orders themselves, as a comment line that benchfmt (and
		// benchstat) skip and the lab keeps with the result that follows.
		fmt.Println(ordersLine(c.Name(), interleave.Counts(s.Orders)))
	case "convoy":
		b.ReportMetric(float64(s.P50.Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(s.P99.Nanoseconds()), "p99-ns")
		b.ReportMetric(float64(s.Chunks)/float64(s.N), "chunks/op")
	case "spawn":
		b.ReportMetric(float64(s.Elapsed.Nanoseconds())/s.Units, "ns/worker")
	default:
		b.ReportMetric(s.Units/s.Elapsed.Seconds(), "tasks/s")
	}
	if c.Workload == "sleep" {
		b.ReportMetric(float64(s.PeakWaiting), "peak-waiting")
	}
	if s.GILSwitches >= 0 {
		b.ReportMetric(float64(s.GILSwitches)/s.Elapsed.Seconds(), "gil-switches/s")
	}
}

// maxOrdersLine bounds the orders line: benchfmt reads bench.txt with a
// bufio.Scanner whose longest line is 64 KiB, so a longer line would make
// the whole file unreadable.
const maxOrdersLine = 60000

// ordersLine is the line that keeps a cell's orders (interleave.Counts) in
// bench.txt, cut to maxOrdersLine bytes: the orders that do not fit are
// counted in a last "+N" field (the distinct count is the orders metric).
func ordersLine(cell string, counts []string) string {
	var b strings.Builder
	b.WriteString(interleave.RawPrefix + " " + cell)
	for i, c := range counts {
		if b.Len()+1+len(c) > maxOrdersLine-16 {
			fmt.Fprintf(&b, " +%d", len(counts)-i)
			break
		}
		b.WriteString(" " + c)
	}
	return b.String()
}

// nopTimer stands in for the benchmark's timer during warm-up executions.
type nopTimer struct{}

func (nopTimer) StartTimer() {}
func (nopTimer) StopTimer()  {}

// TestOrdersLineFitsBenchfmt: however many long orders a cell has, its line
// stays within what benchfmt reads, and what was cut is counted.
func TestOrdersLineFitsBenchfmt(t *testing.T) {
	long := strings.Repeat("AB", 13000) // 26 tasks × 1000 events
	counts := []string{long + "×1", strings.Repeat("BA", 13000) + "×1", strings.Repeat("AABB", 6500) + "×2"}
	line := ordersLine("interleave/x", counts)
	if len(line) > maxOrdersLine {
		t.Errorf("orders line of %d bytes; want ≤ %d", len(line), maxOrdersLine)
	}
	if !strings.HasPrefix(line, interleave.RawPrefix+" interleave/x "+long) || !strings.HasSuffix(line, " +1") {
		t.Errorf("orders line = %.80q…%q; want the first two orders and \" +1\"", line, line[len(line)-10:])
	}
	if short := ordersLine("c", []string{"AB×3", "BA×1"}); short != interleave.RawPrefix+" c AB×3 BA×1" {
		t.Errorf("orders line = %q", short)
	}
}
