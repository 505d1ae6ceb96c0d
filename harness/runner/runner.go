// Package runner takes the samples of a run: it runs the compiled benchmark
// binary in rounds, streams progress, and keeps the run directory written
// after every round.
//
// Linux only: the benchmark process is pinned with sched_setaffinity when the
// hardware declares an affinity, and is killed with its process group.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
)

// Options say what to run and how to record it.
type Options struct {
	MatrixFile string
	MatrixText []byte
	MatrixSHA  string
	// Cells are the cells to sample, each with its settings final (after
	// --only, --smoke and --reps).
	Cells      []matrix.Cell
	HardwareID string
	Declared   *matrix.Hardware // nil: the run declares no hardware
	Mismatch   []string         // recorded when a mismatch was forced
	Machine    hw.Machine
	Software   hw.Software
	Binary     string // the compiled benchmark binary (go test -c ./experiments)
	// Runtimes are the external runtimes the cells use, as prepared for
	// this run; RuntimesFile holds them for the benchmark processes
	// (runtimes.Env). The cells of an unavailable runtime are skipped, with
	// its reason, and the run goes on.
	Runtimes     []runtimes.Entry
	RuntimesFile string
	// Limits are the machine's limits the cells were checked against
	// (recorded in run.json); nil when not checked.
	Limits   *Limits
	Results  string // the results root; the run goes to <Results>/<HardwareID>/<run id>
	RunID    string // "" = the start time, UTC
	Seed     int64
	Flags    rundir.RunOptions
	Warnings []string // noise warnings found before the run
	// Slurm is the Slurm task running the run, if any (recorded).
	Slurm *rundir.SlurmTask
	// Decide, when set, is the sequential plan's judge: after the planned
	// samples and after each further round, at most Looks times in all, it
	// is given the run as it stands and names the cells that another round
	// could decide (undecided claims' cells); those get one more sample.
	// Alpha is the plan's error rate over all looks; both are recorded in
	// run.json. Smoke runs are not looked at.
	Decide func(d *rundir.Dir) []string
	Looks  int
	Alpha  float64
	// Budget, when positive, ends the looking once the run has taken this
	// long: what is undecided then stays so.
	Budget time.Duration

	// Progress receives the run's progress and the benchmark's stderr: a
	// live status line when it is a terminal, plain lines otherwise.
	Progress io.Writer

	// slack is added to each benchmark process's time budget (the sum of
	// its cells' timeouts) before it is killed; 0 means a minute.
	slack time.Duration
}

// ErrInterrupted is returned when the context ends the run early; the run
// directory is then written with Complete false.
var ErrInterrupted = errors.New("run interrupted")

type cellState struct {
	cell    matrix.Cell
	samples int
	status  string // "" while sampling (rundir.Partial in the files), then rundir.OK / Failed / Timeout / Skipped
	err     string
}

// state is one run in progress. Run's goroutine owns it; while a sample's
// process runs, the two goroutines reading its stdout and stderr (parse)
// update it too.
//
// mu guards cells (their samples, status and err), header, results and
// taken. run is Run's alone: no reader touches it, and Run changes it only
// between samples. o, dir, byName and began are set before the first sample
// and only read after.
// Lock order: a parse's own mu before state.mu, never the reverse.
type state struct {
	o       Options
	dir     string
	cells   []*cellState
	byName  map[string]int
	header  []string // configuration lines from the benchmark binary
	results []string // result lines, in the order taken
	run     rundir.Run
	began   time.Time
	taken   int // samples taken so far (for the estimate)
	rep     reporter
	mu      sync.Mutex
}

// Run samples every cell and returns the run directory. It returns the
// directory also with an error: whatever was measured is kept.
func Run(ctx context.Context, o Options) (string, error) {
	s := &state{o: o, byName: map[string]int{}, began: time.Now(), rep: newReporter(o.Progress)}
	defer s.rep.close()
	id := o.RunID
	if id == "" {
		id = s.began.UTC().Format("20060102T150405Z")
		if o.Flags.Smoke {
			id += "-smoke"
		}
		if sh := o.Flags.Shard; sh != nil {
			// Parts of one run start on several machines at the same
			// second, into one shared results directory.
			id += fmt.Sprintf("-shard%dof%d", sh.Index, sh.Count)
		}
	}
	s.dir = filepath.Join(o.Results, o.HardwareID, id)
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return "", fmt.Errorf("runner: %w", err)
	}
	for i, c := range o.Cells {
		if _, dup := s.byName[c.Name()]; dup {
			return "", fmt.Errorf("runner: cell %s is listed twice", c.Name())
		}
		s.byName[c.Name()] = i
		s.cells = append(s.cells, &cellState{cell: c})
	}
	s.run = rundir.Run{
		Schema: rundir.Schema, ID: id,
		Hardware: rundir.RunHardware{ID: o.HardwareID, Detected: o.Machine, Mismatch: o.Mismatch},
		Software: o.Software,
		Matrix:   rundir.RunMatrix{File: o.MatrixFile, SHA256: o.MatrixSHA, Text: string(o.MatrixText)},
		Options:  o.Flags, Seed: o.Seed, Started: s.began.UTC(), Cells: len(o.Cells),
		Warnings: slices.Clone(o.Warnings), Slurm: o.Slurm,
	}
	if l := o.Limits; l != nil {
		s.run.Limits = &rundir.Limits{NoFile: l.NoFile, NoFileSoft: l.Soft, Ports: l.Ports, Tasks: l.Tasks}
	}
	absent := map[string]*runtimes.Unavailable{}
	for _, e := range o.Runtimes {
		s.run.Runtimes = append(s.run.Runtimes, e.Identity())
		if e.Unavailable != nil {
			absent[e.Name] = e.Unavailable
		}
	}
	for _, c := range s.cells {
		if u := absent[c.cell.Runtime.Name]; u != nil {
			c.status, c.err = rundir.Skipped, u.Error()
		}
	}
	if d := o.Declared; d != nil {
		s.run.Hardware.Declared = &rundir.Declared{CPUs: d.CPUs, MemoryGiB: d.MemoryGiB, Affinity: d.Affinity}
		if d.CPUModel != nil {
			s.run.Hardware.Declared.CPUModel = d.CPUModel.String()
		}
	}
	if err := s.write(); err != nil {
		return s.dir, err
	}

	sched := NewScheduler(o.Seed)
	var runErr error
	for round := 1; ; round++ {
		pending := s.pending()
		if len(pending) == 0 {
			more, err := s.look()
			if err != nil {
				runErr = err
				break
			}
			if pending = s.pending(); !more || len(pending) == 0 {
				break
			}
		}
		before := s.taken + s.finished()
		order := sched.Round(pending)
		for k, i := range order {
			if ctx.Err() != nil {
				break
			}
			if err := s.runSample(ctx, round, k, len(order), i); err != nil {
				runErr = err
				break
			}
		}
		s.run.Rounds = round - 1
		if ctx.Err() == nil && runErr == nil {
			s.run.Rounds = round
		}
		if werr := s.write(); werr != nil {
			return s.dir, werr
		}
		if ctx.Err() != nil {
			runErr = ErrInterrupted
		}
		if runErr == nil && s.taken+s.finished() == before {
			runErr = fmt.Errorf("runner: round %d took no sample and ended no cell: the benchmark binary does not run (see its output above)", round)
		}
		if runErr != nil {
			break
		}
	}
	s.run.Ended = time.Now().UTC()
	if runErr == nil {
		s.run.Complete = true
	} else {
		s.run.Stopped = runErr.Error()
		for _, c := range s.cells {
			if c.status == "" && c.samples == 0 {
				c.status = rundir.Skipped
			}
		}
	}
	if err := s.finish(); err != nil {
		return s.dir, err
	}
	return s.dir, runErr
}

// look takes one look of the sequential plan, once every cell has its
// planned samples, and reopens the cells it names for one more sample. It
// reports whether any cell was reopened.
func (s *state) look() (bool, error) {
	o := s.o
	if o.Decide == nil || o.Looks < 1 || o.Flags.Smoke {
		return false, nil
	}
	if s.run.Sequential == nil {
		s.run.Sequential = &rundir.Sequential{Looks: o.Looks, Alpha: o.Alpha}
	}
	sq := s.run.Sequential
	if sq.Taken >= sq.Looks {
		return false, nil
	}
	if o.Budget > 0 && time.Since(s.began) > o.Budget {
		sq.Stopped = fmt.Sprintf("the run's time budget (%v) was spent after %d looks", o.Budget, sq.Taken)
		return false, nil
	}
	// The files written after the last round still say partial for the
	// cells that pending has since settled: write them again first.
	if err := s.write(); err != nil {
		return false, err
	}
	d, err := rundir.Read(s.dir)
	if err != nil {
		return false, fmt.Errorf("runner: reading the run back for a look: %w", err)
	}
	sq.Taken++
	names := o.Decide(d)
	if sq.Taken >= sq.Looks {
		return false, nil // the last look: what it leaves undecided stays so
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	reopened := 0
	for _, name := range names {
		i, ok := s.byName[name]
		if !ok || s.cells[i].status != rundir.OK {
			continue
		}
		c := s.cells[i]
		c.status, c.cell.Reps = "", c.samples+1
		reopened++
		if !slices.Contains(sq.Extended, name) {
			sq.Extended = append(sq.Extended, name)
		}
	}
	if reopened > 0 {
		s.rep.println(fmt.Sprintf("lab: look %d of %d: %d cells of undecided claims get another sample", sq.Taken, sq.Looks, reopened))
	}
	return reopened > 0, nil
}

// finished counts the cells that stopped sampling because they failed.
func (s *state) finished() int {
	n := 0
	for _, c := range s.cells {
		if c.status != "" {
			n++
		}
	}
	return n
}

// pending lists the cells that need another sample, and marks OK the cells
// that have all they need (so a cell's status settles the moment it is known).
func (s *state) pending() []int {
	var out []int
	for i, c := range s.cells {
		if c.status != "" {
			continue
		}
		need := c.samples < c.cell.Reps
		if !need && c.cell.Auto && c.samples < c.cell.MaxReps {
			need = !s.ciSettled(c)
		}
		if need {
			out = append(out, i)
		} else {
			c.status = rundir.OK
		}
	}
	return out
}
