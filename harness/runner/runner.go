// Package runner takes the samples of a run: it runs the compiled benchmark
// binary in rounds, streams progress, and keeps the run directory written
// after every round.
//
// Linux only: the benchmark process is pinned with sched_setaffinity when the
// hardware declares an affinity, and is killed with its process group.
package runner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/matrix"
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
	Results    string // the results root; the run goes to <Results>/<HardwareID>/<run id>
	RunID      string // "" = the start time, UTC
	Seed       int64
	Flags      rundir.RunOptions
	Warnings   []string  // noise warnings found before the run
	Progress   io.Writer // progress lines, and the benchmark's stderr

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
	status  string // "" while sampling, then rundir.OK / Failed / Timeout
	err     string
}

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
	mu      sync.Mutex
}

// Run samples every cell and returns the run directory. It returns the
// directory also with an error: whatever was measured is kept.
func Run(ctx context.Context, o Options) (string, error) {
	s := &state{o: o, byName: map[string]int{}, began: time.Now()}
	id := o.RunID
	if id == "" {
		id = s.began.UTC().Format("20060102T150405Z")
		if o.Flags.Smoke {
			id += "-smoke"
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
		Warnings: slices.Clone(o.Warnings),
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
			break
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

// runSample takes one sample of cell i in a benchmark process of its own, the
// pos-th of the round's total. A fresh process per sample means that nothing
// an earlier cell left behind — heap the runtime kept, threads it parked,
// its peak RSS, warmed caches of its own — is part of this cell's figures:
// every sample starts from the same clean process, and the process-to-
// process variation is part of every cell's spread. The cost is one exec of
// the benchmark binary and its start-up per sample, outside the timed region.
func (s *state) runSample(ctx context.Context, round, pos, total, i int) error {
	c := s.cells[i].cell
	budget := s.o.slack // process start and the binary's own overhead
	if budget == 0 {
		budget = time.Minute
	}
	budget += time.Duration(c.Warmup+1) * c.Timeout
	cellsFile := filepath.Join(s.dir, ".sample-cell.json")
	if err := rundir.WriteJSON(cellsFile, []matrix.Cell{c}); err != nil {
		return err
	}
	defer os.Remove(cellsFile)
	cells := []int{i}

	rctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmd := exec.Command(s.o.Binary, "-test.run=^$", "-test.bench=^BenchmarkLab$",
		"-test.benchtime="+c.Benchtime, "-test.timeout=0")
	cmd.Env = append(os.Environ(), "LAB_CELLS="+cellsFile)
	if d := s.o.Declared; d != nil && len(d.Affinity) > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(len(d.Affinity)))
	}
	// Own process group: a terminal's Ctrl-C reaches the lab, which stops
	// the benchmark itself and keeps what it measured. Pdeathsig: the
	// benchmark dies with the lab, whatever kills the lab.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	p := &parse{s: s, round: round, before: pos, total: total}
	var wg sync.WaitGroup
	wg.Go(func() { p.stdout(stdout) })
	wg.Go(func() { p.stderr(stderr) })

	waitErr := make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		// Start and wait on one locked thread: Pdeathsig fires when the
		// forking *thread* exits, and the affinity mask set on it is
		// inherited by the child and every thread it makes.
		runtime.LockOSThread()
		if d := s.o.Declared; d != nil && len(d.Affinity) > 0 {
			var set unix.CPUSet
			for _, c := range d.Affinity {
				set.Set(c)
			}
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				started <- fmt.Errorf("runner: pin to CPUs %v: %w", d.Affinity, err)
				return // the thread keeps the mask, so it exits with the goroutine
			}
		}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("runner: start %s: %w", s.o.Binary, err)
			return
		}
		started <- nil
		// Wait closes the pipes: read them to the end first.
		wg.Wait()
		waitErr <- cmd.Wait()
		// Exit still locked: the runtime discards this thread and its mask.
	}()
	if err := <-started; err != nil {
		stdout.Close()
		stderr.Close()
		return err
	}
	var werr error
	killed := false
	select {
	case werr = <-waitErr:
	case <-rctx.Done():
		killed = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr = <-waitErr
	}
	// Whatever the sample started and did not reap (a worker whose
	// Pdeathsig has not fired yet, a grandchild) is in its process group:
	// end it now rather than let it run into the next sample.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	p.settle(cells, werr, killed, ctx.Err() != nil)
	return nil
}

// parse reads one benchmark process's output.
type parse struct {
	s       *state
	round   int
	before  int // samples of this round taken before this process
	total   int // samples in this round
	mu      sync.Mutex
	running string   // the cell announced last
	started int      // cells announced in this process
	got     []string // cells that produced a result
	failing string   // the cell whose failure message is being read
	msgs    map[string][]string
	tail    []string // the last lines of stderr that were not markers
}

func (p *parse) stdout(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		switch {
		case strings.HasPrefix(line, "BenchmarkLab/"):
			p.failing = ""
			if name, ok := p.cellName(strings.Fields(line)[0]); ok {
				p.s.mu.Lock()
				p.s.results = append(p.s.results, line)
				p.s.cells[p.s.byName[name]].samples++
				p.s.taken++
				p.s.mu.Unlock()
				p.got = append(p.got, name)
			}
		case strings.HasPrefix(line, "--- FAIL: BenchmarkLab/"):
			p.failing, _ = p.cellName(strings.TrimPrefix(line, "--- FAIL: "))
		case p.failing != "" && (strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t")):
			if p.msgs == nil {
				p.msgs = map[string][]string{}
			}
			p.msgs[p.failing] = append(p.msgs[p.failing], strings.TrimSpace(line))
		case isConfigLine(line):
			p.s.mu.Lock()
			if !slices.Contains(p.s.header, line) {
				p.s.header = append(p.s.header, line)
			}
			p.s.mu.Unlock()
		default:
			p.failing = ""
		}
		p.mu.Unlock()
	}
}

// isConfigLine reports a configuration line go test prints before its
// results (benchfmt keeps them with the results that follow).
func isConfigLine(line string) bool {
	for _, k := range []string{"goos: ", "goarch: ", "pkg: ", "cpu: "} {
		if strings.HasPrefix(line, k) {
			return true
		}
	}
	return false
}

// cellName maps "BenchmarkLab/<name>[-N]" to a known cell name.
// (go test omits the suffix when GOMAXPROCS is 1.)
func (p *parse) cellName(bench string) (string, bool) {
	for _, name := range []string{strings.TrimPrefix(bench, "BenchmarkLab/"), trimProcs(strings.TrimPrefix(bench, "BenchmarkLab/"))} {
		if _, ok := p.s.byName[name]; ok {
			return name, true
		}
	}
	return "", false
}

func (p *parse) stderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "lab: start "); ok {
			p.mu.Lock()
			p.running = name
			p.started++
			p.mu.Unlock()
			p.progress(name)
			continue
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > 20 {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
		fmt.Fprintf(p.s.o.Progress, "  | %s\n", line)
	}
}

func (p *parse) progress(name string) {
	s := p.s
	s.mu.Lock()
	done, left := s.taken, 0
	rounds := 0
	for _, c := range s.cells {
		if c.status == "" {
			reps := c.cell.Reps
			if c.cell.Auto {
				reps = max(reps, min(c.samples+1, c.cell.MaxReps))
			}
			left += max(reps-c.samples, 0)
			rounds = max(rounds, reps)
		}
	}
	s.mu.Unlock()
	elapsed := time.Since(s.began)
	eta := "?"
	if done > 0 {
		eta = "~" + (elapsed / time.Duration(done) * time.Duration(left)).Round(time.Second).String()
	}
	fmt.Fprintf(s.o.Progress, "lab: round %d/%d · cell %d/%d · %s elapsed · %s left · %s\n",
		p.round, max(rounds, p.round), p.before+p.started, p.total, elapsed.Round(time.Second), eta, name)
}

// settle records what became of every cell of a finished process.
func (p *parse) settle(cells []int, werr error, killed, interrupted bool) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range cells {
		c := s.cells[i]
		name := c.cell.Name()
		if slices.Contains(p.got, name) {
			continue
		}
		if msg, ok := p.msgs[name]; ok {
			c.err = strings.Join(msg, "\n")
			c.status = rundir.Failed
			if strings.Contains(c.err, "timed out after") {
				c.status = rundir.Timeout
			}
			continue
		}
		if name != p.running || interrupted {
			continue // not reached in this process; still pending
		}
		// The process died or was killed while this cell ran.
		switch {
		case killed:
			c.status = rundir.Timeout
			c.err = fmt.Sprintf("the benchmark process was killed after its time budget while this cell ran (%v)", werr)
		default:
			c.status = rundir.Failed
			c.err = fmt.Sprintf("the benchmark process ended while this cell ran: %v; its last output:\n%s", werr, strings.Join(p.tail, "\n"))
		}
	}
}

// write saves the run directory as it stands.
func (s *state) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "hardware: %s\n", s.o.HardwareID)
	if s.o.Software.Commit != "" {
		fmt.Fprintf(&b, "commit: %s\n", s.o.Software.Commit)
		fmt.Fprintf(&b, "dirty: %t\n", s.o.Software.Dirty)
	}
	fmt.Fprintf(&b, "go: %s\n", s.o.Software.GoVersion)
	fmt.Fprintf(&b, "matrix-sha256: %s\n", s.o.MatrixSHA)
	fmt.Fprintf(&b, "seed: %d\n", s.o.Seed)
	fmt.Fprintf(&b, "run: %s\n", s.run.ID)
	for _, h := range s.header {
		fmt.Fprintln(&b, h)
	}
	for _, r := range s.results {
		fmt.Fprintln(&b, r)
	}
	if err := rundir.WriteFile(filepath.Join(s.dir, rundir.BenchFile), b.Bytes()); err != nil {
		return err
	}
	sum, err := summarize(b.Bytes(), s.cells)
	if err != nil {
		return err
	}
	if err := rundir.WriteJSON(filepath.Join(s.dir, rundir.SummaryFile), sum); err != nil {
		return err
	}
	return rundir.WriteJSON(filepath.Join(s.dir, rundir.RunFile), s.run)
}

// finish adds the end-of-run warnings and writes the final files.
func (s *state) finish() error {
	sum, err := summarize(s.benchText(), s.cells)
	if err != nil {
		return err
	}
	for _, c := range sum.Cells {
		if m, ok := c.Metrics["sec/op"]; ok && m.Stats.N > 1 && m.Stats.CV > 0.05 {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf("%s: time varies: CV %.1f%% > 5%%", c.Name, 100*m.Stats.CV))
		}
		if asked, lo, _, ok := c.Waiting(); ok && lo < asked {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf("%s: only %d of %d tasks waited at once in a sample (peak-waiting): its time is not that of all at once", c.Name, lo, asked))
		}
		if c.Status == rundir.Failed || c.Status == rundir.Timeout {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf("%s: %s", c.Name, c.Status))
		}
	}
	return s.write()
}

func (s *state) benchText() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []byte(strings.Join(s.results, "\n") + "\n")
}
