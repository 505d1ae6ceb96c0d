package matrix

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The schema: which workloads and models exist and which parameters each
// takes. Adding a workload or a model is one entry here and one in the
// registry of implementations (experiments/lab.go); a test keeps the two in
// step.

// A param is one parameter a workload or model takes.
type param struct {
	key  string
	def  string // the value when the matrix does not list any; "" = required
	kind kind
	// check validates one value (already of the right kind).
	check func(v string) error
	doc   string
}

type kind int

const (
	intKind kind = iota
	stringKind
	durationKind
)

func (k kind) String() string {
	return [...]string{"an integer", "a string", `a duration string such as "5ms"`}[k]
}

type workloadSpec struct {
	name   string
	params []param
	// models lists the models that implement the workload (nil = all).
	models []string
}

type modelSpec struct {
	name   string
	params []param
	// maxWorkers caps the workers one cell may ask of the model (0 = none):
	// beyond it the machine runs out of memory or the OS of tasks before the
	// benchmark measures anything.
	maxWorkers int
	why        string
}

var start = param{key: "start", def: "warm", kind: stringKind, check: oneOf("warm", "cold"),
	doc: "warm: workers started before the timer (a pool); cold: start-up timed"}

var workloads = []workloadSpec{
	{name: "primes", params: []param{
		{key: "split", def: "replicate", kind: stringKind, check: oneOf("replicate", "partition"),
			doc: "replicate: every worker counts [2, n]; partition: workers share [2, n]"},
		{key: "n", def: "100000", kind: intKind, check: atLeast(2), doc: "count primes in [2, n]"},
		{key: "workers", kind: intKind, check: atLeast(1), doc: "workers (processes, threads, tasks)"},
		start,
	}},
	{name: "sleep", params: []param{
		{key: "tasks", kind: intKind, check: atLeast(1), doc: "tasks that each wait sleep_ms"},
		{key: "sleep_ms", def: "10", kind: intKind, check: atLeast(0), doc: "wait per task, ms"},
		{key: "workers", def: "0", kind: intKind, check: atLeast(0), doc: "tasks waiting at once; 0 = one per task"},
		start,
	}},
	{name: "echo", params: []param{
		{key: "connections", kind: intKind, check: between(1, 100000), doc: "client connections, all open at once"},
		{key: "requests", kind: intKind, check: atLeast(1), doc: "requests per connection, each waiting for its echo"},
		{key: "payload_bytes", def: "64", kind: intKind, check: between(1, 16<<20), doc: "bytes per request"},
		{key: "think_ms", def: "0", kind: intKind, check: atLeast(0), doc: "wait between a connection's requests, ms (0 = fast clients)"},
		start,
	}},
	{name: "pipeline", params: []param{
		{key: "stages", def: "3", kind: intKind, check: atLeast(1), doc: "stages between source and sink"},
		{key: "messages", kind: intKind, check: atLeast(1), doc: "payloads per run"},
		{key: "payload_bytes", kind: intKind, check: between(1, 64<<20), doc: "bytes per payload"},
		start,
	}},
	{name: "interleave", params: []param{
		{key: "tasks", def: "2", kind: intKind, check: between(2, 26), doc: "tasks run side by side, each emitting its events"},
		{key: "events", def: "10", kind: intKind, check: between(1, 1000), doc: "numbered events per task"},
		{key: "repeats", def: "20", kind: intKind, check: between(1, 1000), doc: "times the tasks are run per execution; the orders are compared across them"},
		{key: "between", def: "wait", kind: stringKind, check: oneOf("wait", "compute"),
			doc: "between two events a task waits gap_us (the article's sleep) or counts the primes in [2, compute_n]"},
		{key: "gap_us", def: "1000", kind: intKind, check: atLeast(0), doc: "the wait between two events, µs"},
		{key: "compute_n", def: "2000", kind: intKind, check: atLeast(2), doc: "the computation between two events: primes in [2, compute_n]"},
		start,
	}},
	{name: "blocking", models: []string{"loop"}, params: []param{
		{key: "tasks", kind: intKind, check: between(1, 10000), doc: "loop tasks, each making one blocking call, then one asynchronous wait"},
		{key: "block_ms", def: "20", kind: intKind, check: atLeast(0), doc: "the blocking call, ms"},
		{key: "wait_ms", def: "20", kind: intKind, check: atLeast(0), doc: "the asynchronous wait after it, ms"},
		{key: "offload", def: "none", kind: stringKind, check: oneOf("none", "pool"),
			doc: "none: the blocking call runs on the loop; pool: on a thread pool the task awaits (run_in_executor)"},
		{key: "pool", def: "0", kind: intKind, check: between(0, 10000), doc: "threads in the pool, for offload = pool; 0 = one per task"},
		start,
	}},
	{name: "spawn", params: []param{
		{key: "workers", kind: intKind, check: atLeast(1), doc: "workers started (cold) or handed an empty task from a pool (warm)"},
		start,
	}},
	{name: "hold", params: []param{
		{key: "workers", kind: intKind, check: atLeast(1), doc: "workers, each producing one result"},
		{key: "result_bytes", def: "1048576", kind: intKind, check: between(8, 1<<30), doc: "bytes per result"},
		{key: "results", def: "hold", kind: stringKind, check: oneOf("hold", "release", "one-at-a-time"),
			doc: "hold: every result kept until all workers are done; release: each consumed and dropped as it arrives; one-at-a-time: workers return what a result is made from, and the consumer makes, consumes and drops one result at a time (the article's fix)"},
		start,
	}},
	{name: "convoy", params: []param{
		{key: "ops", def: "500", kind: intKind, check: atLeast(1), doc: "the I/O worker's blocking operations"},
		{key: "io_us", def: "100", kind: intKind, check: atLeast(1), doc: "each operation's blocking wait, µs"},
		{key: "cpu_workers", def: "1", kind: intKind, check: between(0, 64), doc: "CPU-bound workers beside the I/O worker (0 = the I/O worker alone)"},
		{key: "chunk_n", def: "1000", kind: intKind, check: atLeast(2), doc: "a CPU worker's unit of work: primes in [2, chunk_n]"},
		start,
	}},
}

var models = []modelSpec{
	{name: "process", maxWorkers: 1024, why: "each worker is a Go process of several MB"},
	{name: "thread", maxWorkers: 20000, why: "each OS thread costs a kernel task and ~30 KB"},
	{name: "thread-gil", maxWorkers: 20000, why: "each OS thread costs a kernel task and ~30 KB", params: []param{
		{key: "switch_interval", def: "5ms", kind: durationKind, check: positiveDuration,
			doc: "how long a thread waits for the GIL before asking the holder to drop it (CPython: 5ms)"},
	}},
	{name: "loop"},
	{name: "goroutine"},
}

// Workloads lists the workload names the matrix accepts.
func Workloads() []string {
	var names []string
	for _, w := range workloads {
		names = append(names, w.name)
	}
	return names
}

// Models lists the model names the matrix accepts.
func Models() []string {
	var names []string
	for _, m := range models {
		names = append(names, m.name)
	}
	return names
}

func findWorkload(name string) (workloadSpec, bool) {
	i := slices.IndexFunc(workloads, func(w workloadSpec) bool { return w.name == name })
	if i < 0 {
		return workloadSpec{}, false
	}
	return workloads[i], true
}

func findModel(name string) (modelSpec, bool) {
	i := slices.IndexFunc(models, func(m modelSpec) bool { return m.name == name })
	if i < 0 {
		return modelSpec{}, false
	}
	return models[i], true
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(values, v) {
			return fmt.Errorf("%q is not one of %s", v, quoteAll(values))
		}
		return nil
	}
}

func atLeast(lo int) func(string) error { return between(lo, -1) }

// between accepts integers in [lo, hi]; hi < 0 means no upper bound.
func between(lo, hi int) func(string) error {
	return func(v string) error {
		n, _ := strconv.Atoi(v)
		switch {
		case n < lo:
			return fmt.Errorf("%d is below the least allowed, %d", n, lo)
		case hi >= 0 && n > hi:
			return fmt.Errorf("%d is above the most allowed, %d", n, hi)
		}
		return nil
	}
}

func positiveDuration(v string) error {
	d, _ := time.ParseDuration(v)
	if d <= 0 {
		return fmt.Errorf("%q is not a positive duration", v)
	}
	return nil
}

func quoteAll(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// MaxWorkers is the most workers the matrix lets a cell ask of a model (0 =
// no limit); the models enforce the same limits at Start.
func MaxWorkers(model string) int {
	m, _ := findModel(model)
	return m.maxWorkers
}
