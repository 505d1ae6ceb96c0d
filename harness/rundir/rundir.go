// Package rundir defines a run directory, results/<hardware>/<run-id>/, and
// reads and writes it:
//
//	bench.txt     the raw `go test -bench` output of every round, with
//	              configuration lines at the top; benchstat reads it
//	run.json      how the run was obtained: hardware (declared and detected),
//	              software, the matrix and its hash, seed, times, completeness
//	summary.json  per cell: status, every raw sample and its statistics
//
// Every file is written atomically (a temporary file in the same directory,
// synced, then renamed), so a reader never sees half a file; an interrupted
// run leaves complete files with run.json's Complete false.
package rundir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/stats"
)

// Schema is the version of run.json and summary.json this package writes.
// Readers refuse other versions rather than misread them.
const Schema = 1

// File names inside a run directory.
const (
	BenchFile   = "bench.txt"
	RunFile     = "run.json"
	SummaryFile = "summary.json"
)

// Run is run.json.
type Run struct {
	Schema   int         `json:"schema"`
	ID       string      `json:"id"`
	Hardware RunHardware `json:"hardware"`
	Software hw.Software `json:"software"`
	Matrix   RunMatrix   `json:"matrix"`
	Options  RunOptions  `json:"options"`
	Seed     int64       `json:"seed"`
	Rounds   int         `json:"rounds"` // rounds completed
	Started  time.Time   `json:"started"`
	Ended    time.Time   `json:"ended"`
	Complete bool        `json:"complete"`
	Stopped  string      `json:"stopped,omitempty"` // why an incomplete run stopped
	Warnings []string    `json:"warnings,omitempty"`
	Cells    int         `json:"cells"`
	// Sequential is set when the run sampled the cells of undecided claims
	// further (lab run's sequential plan): its verdicts must then be read
	// at the plan's per-look confidence.
	Sequential *Sequential `json:"sequential,omitempty"`
	// Runtimes are the external runtimes the run's cells used (CPython
	// interpreters, the native C driver): what each one is, or why it was
	// absent and its cells skipped.
	Runtimes []runtimes.Identity `json:"runtimes,omitempty"`
	// Limits are the machine's limits the cells were checked against
	// before the run; an echo cell raises its soft RLIMIT_NOFILE to the
	// hard limit.
	Limits *Limits `json:"limits,omitempty"`
	// Slurm is the Slurm task that ran the run, when one did (read from
	// the task's environment).
	Slurm *SlurmTask `json:"slurm,omitempty"`
	// Fleet is set on the runs lab fleet collect writes: a run merged from
	// the shards of one submission, or one node's whole run of an
	// each-node submission.
	Fleet *Fleet `json:"fleet,omitempty"`
}

// SlurmTask identifies the Slurm job (and job array task) a run ran in.
type SlurmTask struct {
	JobID       string `json:"job_id"`                  // SLURM_JOB_ID
	ArrayJobID  string `json:"array_job_id,omitempty"`  // SLURM_ARRAY_JOB_ID
	ArrayTaskID string `json:"array_task_id,omitempty"` // SLURM_ARRAY_TASK_ID
	Node        string `json:"node,omitempty"`          // SLURMD_NODENAME
}

// Fleet records how lab fleet collect made a run from a submission's parts.
type Fleet struct {
	Submission string `json:"submission"` // the submission's id
	// EachNode is set on one node's run of an each-node submission: the
	// whole selection on that node, kept apart to compare the nodes.
	EachNode bool `json:"each_node,omitempty"`
	// Shards are the parts the run was merged from, in shard order (a
	// resumed run lists its earlier parts first); for an each-node run,
	// its one part.
	Shards []ShardRun `json:"shards"`
}

// ShardRun is one part of a merged run: which node ran which cells, and how
// it ended.
type ShardRun struct {
	Shard      Shard      `json:"shard"`
	Submission string     `json:"submission"`     // the submission that ran it (a resume's own)
	Run        string     `json:"run,omitempty"`  // the part's run id; "" when it left no run
	Node       string     `json:"node,omitempty"` // the host that ran it
	Slurm      *SlurmTask `json:"slurm,omitempty"`
	Started    time.Time  `json:"started"`
	Ended      time.Time  `json:"ended"`
	Complete   bool       `json:"complete"`
	Stopped    string     `json:"stopped,omitempty"` // why it is incomplete, or why it left no run
	Cells      int        `json:"cells"`             // the cells it was given
	Seed       int64      `json:"seed"`
}

// Limits are what the machine let one cell use.
type Limits struct {
	NoFile     int `json:"nofile"`      // RLIMIT_NOFILE, hard
	NoFileSoft int `json:"nofile_soft"` // RLIMIT_NOFILE, soft, before the lab raised it
	Ports      int `json:"ports"`       // ephemeral ports (ip_local_port_range)
	Tasks      int `json:"tasks"`       // min(kernel.pid_max, kernel.threads-max)
}

// Sequential records a run's sequential plan and what it did: the claims
// were looked at after the planned samples and after each further round, at
// most Looks times, each look at confidence 1 − Alpha/Looks.
type Sequential struct {
	Looks    int      `json:"looks"`
	Alpha    float64  `json:"alpha"`
	Taken    int      `json:"taken"`              // looks taken
	Extended []string `json:"extended,omitempty"` // cells sampled beyond their planned reps
	Stopped  string   `json:"stopped,omitempty"`  // why looking ended before its last look
}

// RunHardware records the machine: the declaration the run was made for (if
// any) and what was detected.
type RunHardware struct {
	ID       string     `json:"id"`
	Declared *Declared  `json:"declared,omitempty"`
	Detected hw.Machine `json:"detected"`
	// Mismatch lists how the detected machine differs from the
	// declaration; a run with a mismatch exists only when forced.
	Mismatch []string `json:"mismatch,omitempty"`
}

// Declared is a [hardware.<id>] table as the run used it.
type Declared struct {
	CPUs      int     `json:"cpus"`
	MemoryGiB float64 `json:"memory_gib"`
	CPUModel  string  `json:"cpu_model,omitempty"`
	Affinity  []int   `json:"affinity,omitempty"`
}

// RunMatrix is the matrix the run used, whole.
type RunMatrix struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Text   string `json:"text"`
}

// RunOptions are the options `lab run` was given.
type RunOptions struct {
	Only  string `json:"only,omitempty"`
	Reps  int    `json:"reps,omitempty"`
	Smoke bool   `json:"smoke,omitempty"`
	Force bool   `json:"force,omitempty"`
	// Shard is the part of the selected cells this run took (lab run
	// --shard i/N); nil for all of them.
	Shard *Shard `json:"shard,omitempty"`
}

// Shard is one of Count parts of a run's cells, numbered from 1.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// String is "i/N", as lab run --shard takes it.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Summary is summary.json.
type Summary struct {
	Schema int    `json:"schema"`
	Cells  []Cell `json:"cells"`
}

// BenchHeader is the configuration block that opens bench.txt: "key: value"
// lines that benchfmt (and so benchstat) attaches to every result after them.
type BenchHeader struct {
	Hardware  string // the hardware id
	Commit    string // "" when the lab was not built from a git checkout
	Dirty     bool
	GoVersion string
	MatrixSHA string
	Seed      int64
	RunID     string
}

// Lines returns the header's lines, without newlines, in a fixed order.
func (h BenchHeader) Lines() []string {
	lines := []string{"hardware: " + h.Hardware}
	if h.Commit != "" {
		lines = append(lines, "commit: "+h.Commit, fmt.Sprintf("dirty: %t", h.Dirty))
	}
	return append(lines, "go: "+h.GoVersion, "matrix-sha256: "+h.MatrixSHA,
		fmt.Sprintf("seed: %d", h.Seed), "run: "+h.RunID)
}

// Cell statuses.
const (
	OK      = "ok"
	Failed  = "failed"
	Timeout = "timeout"
	Skipped = "skipped" // not run: the run stopped before it
	// Partial is a cell still taking samples (in the files written after
	// every round) or whose run stopped before it had them all: its
	// samples are real but fewer than the run meant to take.
	Partial = "partial"
	// Missing is a cell of a merged run whose part left no run or was
	// not given it: it has no samples (lab fleet submit --resume runs it).
	Missing = "missing"
)

// Cell is one cell's results.
type Cell struct {
	Name       string `json:"name"` // below BenchmarkLab/, without the -GOMAXPROCS suffix
	Experiment string `json:"experiment"`
	Workload   string `json:"workload"`
	Model      string `json:"model"`
	// Runtime runs the model: "go" (the lab's own models), or an external
	// runtime declared in the matrix (e.g. "cpython", "native"). Runs made
	// before runtimes existed are all "go" (Read fills it in).
	Runtime string            `json:"runtime"`
	Params  map[string]string `json:"params"`
	Status  string            `json:"status"`
	Error   string            `json:"error,omitempty"`
	// Reps is the number of samples the run meant to take (the least, for
	// reps = "auto"); an interrupted run may hold fewer.
	Reps int `json:"reps"`
	// Metrics maps a unit, as benchstat tidies it (sec/op, B/s, procs,
	// peak-rss-B, cpu-sec/op, ...), to its samples in round order and
	// their statistics.
	Metrics map[string]Metric `json:"metrics"`
}

// Waiting reports, for a cell of the sleep workload, how many tasks it asked
// to wait at once (its workers, or every task when workers is 0 or more than
// the tasks) and the lowest and highest peak-waiting its samples measured. ok
// is false for cells without a peak-waiting metric. A cell with lo < asked
// did not, in at least one sample, have all it asked for waiting at once:
// its workers could not all start before the first ones finished.
func (c Cell) Waiting() (asked, lo, hi int, ok bool) {
	m, has := c.Metrics["peak-waiting"]
	if !has || len(m.Samples) == 0 {
		return 0, 0, 0, false
	}
	tasks, err1 := strconv.Atoi(c.Params["tasks"])
	workers, err2 := strconv.Atoi(c.Params["workers"])
	if err1 != nil {
		return 0, 0, 0, false
	}
	asked = tasks
	if err2 == nil && workers > 0 && workers < tasks {
		asked = workers
	}
	lo, hi = int(slices.Min(m.Samples)), int(slices.Max(m.Samples))
	return asked, lo, hi, true
}

// Metric is one metric's samples and their summary.
type Metric struct {
	Samples []float64     `json:"samples"`
	Stats   stats.Summary `json:"stats"`
}

// WriteFile writes data to path atomically: readers see the old file or the
// new one, never a part.
func WriteFile(path string, data []byte) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rundir: write %s: %w", path, err)
	}
	return nil
}

// WriteJSON writes v as indented JSON, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("rundir: %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'))
}

// Dir is a run directory as read back.
type Dir struct {
	Path    string
	Run     Run
	Summary Summary
}

// Read reads and checks a run directory's run.json and summary.json. A
// missing, corrupt or unknown-version file is an error naming it.
func Read(path string) (*Dir, error) {
	d := &Dir{Path: path}
	if err := readJSON(filepath.Join(path, RunFile), &d.Run, &d.Run.Schema); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(path, SummaryFile), &d.Summary, &d.Summary.Schema); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(path, BenchFile)); err != nil {
		return nil, fmt.Errorf("rundir: %w", err)
	}
	for i := range d.Summary.Cells {
		canonical(&d.Summary.Cells[i])
	}
	return d, nil
}

// canonical names a cell of a run made before cells had a runtime as the
// same cell is named now: its runtime is "go", and its name carries
// "runtime=go" after the experiment.
func canonical(c *Cell) {
	if c.Runtime == "" {
		c.Runtime = "go"
	}
	if exp, rest, ok := strings.Cut(c.Name, "/"); ok && !strings.HasPrefix(rest, "runtime=") {
		c.Name = exp + "/runtime=" + c.Runtime + "/" + rest
	}
}

func readJSON(path string, v any, schema *int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("rundir: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + countNewlines(b[:min(int(se.Offset), len(b))])
			return fmt.Errorf("rundir: %s:%d: corrupt JSON: %w", path, line, err)
		}
		return fmt.Errorf("rundir: %s: %w", path, err)
	}
	if *schema != Schema {
		return fmt.Errorf("rundir: %s: schema %d; this lab reads schema %d", path, *schema, Schema)
	}
	return nil
}

func countNewlines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
