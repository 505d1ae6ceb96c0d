package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/runner"
)

var errInterrupted = runner.ErrInterrupted

const runUsage = `usage: lab run [flags]

Samples every cell of the matrix in rounds and writes
results/<hardware>/<run-id>/{bench.txt,run.json,summary.json}.
The last line printed is the run directory.

Examples:
  lab run                                 # the default matrix on this machine
  lab run --smoke                         # every experiment, smallest sizes, 6 reps
  lab run --hardware lab-2c --only 'article/.*model=(process|thread)/' --reps 10
  lab run --hardware lab-2c --shard 2/4          # the second of four parts (a cluster's task)
`

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), runUsage); fs.PrintDefaults() }
	matrixPath := fs.String("matrix", "experiments.toml", "the experiment matrix")
	hardware := fs.String("hardware", "", "a [hardware.<id>] the machine must match (default: an id derived from the detected machine)")
	force := fs.Bool("force", false, "run even if the machine does not match --hardware, recording the mismatch")
	only := fs.String("only", "", "run only cells whose name matches this regular expression")
	reps := fs.Int("reps", 0, "samples per cell, overriding the matrix")
	smoke := fs.Bool("smoke", false, "every experiment with its smallest parameter values, sizes capped, 6 reps")
	seed := fs.Int64("seed", 0, "seed of the round orders (default: from the clock; recorded either way)")
	out := fs.String("out", "results", "the results root")
	budget := fs.Duration("budget", 0, "with --looks: stop looking once the run has taken this long (0 = no limit)")
	shard := fs.String("shard", "", "run part i of N of the selected cells (i/N, 1 ≤ i ≤ N), parts balanced by the time estimate, the same on every machine of a hardware class")
	looks := fs.Int("looks", claims.DefaultPlan.Looks, "sample the cells of undecided claims until decided: at most this many looks (1 = one look, no further samples; 0 = no plan, verdicts at 95%)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("run: unexpected arguments %q", fs.Args())}
	}
	if *looks < 0 {
		return usageError{fmt.Errorf("run: --looks %d: want ≥ 0", *looks)}
	}
	if *reps < 0 {
		return usageError{fmt.Errorf("run: --reps %d: want ≥ 1", *reps)}
	}

	text, err := os.ReadFile(*matrixPath)
	if err != nil {
		return usageError{err}
	}
	m, err := matrix.Parse(*matrixPath, text)
	if err != nil {
		return usageError{err}
	}
	machine, err := hw.Detect(ctx)
	if err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	software := hw.DetectSoftware(ctx, root)

	o := runner.Options{
		MatrixFile: *matrixPath, MatrixText: text, MatrixSHA: m.SHA256,
		Machine: machine, Software: software, Results: *out, Seed: *seed,
		Flags:    rundir.RunOptions{Only: *only, Reps: *reps, Smoke: *smoke, Force: *force},
		Progress: stderr,
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if *looks > 0 {
		plan := claims.Plan{Looks: *looks, Alpha: claims.DefaultPlan.Alpha}
		o.Looks, o.Alpha, o.Budget = plan.Looks, plan.Alpha, *budget
		o.Decide = func(d *rundir.Dir) []string { return claims.Undecided(d, claims.DefaultOptions, plan) }
	}
	o.HardwareID = machine.ID()
	if *hardware != "" {
		d, ok := m.Hardware[*hardware]
		if !ok {
			return usageError{fmt.Errorf("run: --hardware %q is not declared in %s (declared: %s)", *hardware, *matrixPath, declared(m))}
		}
		o.HardwareID, o.Declared = *hardware, &d
		m.SetCPUs(d.CPUs) // "1..cpus" parameters cover the declared machine
		usable, err := hw.UsableCPUs()
		if err != nil {
			return err
		}
		if mm := runner.Mismatch(d, machine, usable); len(mm) > 0 {
			if !*force {
				return usageError{fmt.Errorf("run: this machine is not hardware %q:\n  %s\n(--force runs anyway and records the mismatch)", *hardware, strings.Join(mm, "\n  "))}
			}
			o.Mismatch = mm
			o.Warnings = append(o.Warnings, "forced onto hardware "+*hardware+" despite: "+strings.Join(mm, "; "))
		}
	}
	o.Cells, err = selectCells(m, *hardware, *only, *reps, *smoke)
	if err != nil {
		return usageError{err}
	}
	if *shard != "" {
		s, err := runner.ParseShard(*shard)
		if err != nil {
			return usageError{fmt.Errorf("run: %w", err)}
		}
		// The split is the one every node of the class makes: from the
		// cells and the CPUs they were expanded for, nothing measured.
		o.Cells, o.Flags.Shard = runner.Split(o.Cells, m.CPUs, s), &s
		if len(o.Cells) == 0 {
			return usageError{fmt.Errorf("run: --shard %s: this part has no cells (more parts than cells?)", s)}
		}
	}
	lim := runner.DetectLimits()
	for _, c := range o.Cells {
		if err := lim.Check(c); err != nil {
			return usageError{fmt.Errorf("run: %w (lab check lists every such cell)", err)}
		}
	}
	o.Limits = &lim
	o.Warnings = append(o.Warnings, noise(machine)...)
	for _, w := range o.Warnings {
		fmt.Fprintln(stderr, "lab: warning:", w)
	}

	bin, cleanup, err := compile(ctx, root, stderr)
	if err != nil {
		return err
	}
	defer cleanup()
	o.Binary = bin
	if o.Runtimes, o.RuntimesFile, err = prepareRuntimes(ctx, o.Cells, filepath.Dir(bin), stderr); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "lab: %d cells, seed %d, hardware %s\n", len(o.Cells), o.Seed, o.HardwareID)
	dir, err := runner.Run(ctx, o)
	if dir != "" {
		reportEnd(stderr, dir)
		fmt.Fprintln(stdout, dir)
	}
	return err
}

// selectCells expands the experiments meant for this run.
func selectCells(m *matrix.Matrix, hardware, only string, reps int, smoke bool) ([]matrix.Cell, error) {
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return nil, fmt.Errorf("run: --only: %w", err)
		}
	}
	var cells []matrix.Cell
	for _, x := range m.Experiments {
		if len(x.Hardware) > 0 && !slices.Contains(x.Hardware, hardware) {
			continue // declared for other machines
		}
		if smoke {
			x = x.Smoke(6)
		}
		for _, c := range x.Cells() {
			if re != nil && !re.MatchString(c.Name()) {
				continue
			}
			if reps > 0 {
				c.Reps, c.Auto = reps, false
			}
			cells = append(cells, c)
		}
	}
	if len(cells) == 0 {
		return nil, errors.New("run: no cell to run (check --only and the experiments' hardware lists)")
	}
	return cells, nil
}

func declared(m *matrix.Matrix) string {
	if len(m.Hardware) == 0 {
		return "none"
	}
	var ids []string
	for id := range m.Hardware {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// noise lists what may disturb the measurements, found before the run.
func noise(m hw.Machine) []string {
	var w []string
	if cpus := max(m.UsableCPUs, 1); m.LoadAvg[0] > 0.1*float64(cpus)+0.2 {
		w = append(w, fmt.Sprintf("load average %.2f before the run on %d CPUs: other work may disturb the measurements", m.LoadAvg[0], cpus))
	}
	if m.Governor != "" && m.Governor != "performance" {
		w = append(w, fmt.Sprintf("CPU frequency governor is %q, not \"performance\": the clock may change under load", m.Governor))
	}
	return w
}

// moduleRoot finds the directory holding the lab's go.mod, from the working
// directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module concurrency-lab") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run: %s is not inside the concurrency-lab module (no go.mod found)", dir)
		}
	}
}

// compile builds the benchmark binary once for the whole run.
func compile(ctx context.Context, root string, stderr io.Writer) (string, func(), error) {
	tmp, err := os.MkdirTemp("", "lab-bench-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	bin := filepath.Join(tmp, "experiments.test")
	fmt.Fprintf(stderr, "lab: compiling the benchmarks (go test -c ./experiments) into %s\n", bin)
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./experiments")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("run: compile the benchmarks: %w", err)
	}
	return bin, cleanup, nil
}

// prepareRuntimes makes ready, once for the run, the external runtimes the
// cells use (runtimes.Prepare: the native driver is compiled, each
// interpreter is asked what it is), in dir, and writes them to a file there
// for the benchmark processes. An absent runtime is reported and its cells
// will be skipped; it does not stop the run.
func prepareRuntimes(ctx context.Context, cells []matrix.Cell, dir string, stderr io.Writer) ([]runtimes.Entry, string, error) {
	var entries []runtimes.Entry
	count := map[string]int{}
	for _, c := range cells {
		rt := c.Runtime
		if rt.Kind == "" || rt.Kind == matrix.KindGo {
			continue
		}
		if count[rt.Name]++; count[rt.Name] > 1 {
			continue
		}
		sub := filepath.Join(dir, "runtime-"+rt.Name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, "", err
		}
		entries = append(entries, runtimes.PrepareEntry(ctx, rt, sub))
	}
	if len(entries) == 0 {
		return nil, "", nil
	}
	for _, e := range entries {
		id := e.Identity()
		switch {
		case e.Unavailable != nil:
			fmt.Fprintf(stderr, "lab: runtime %s is not available, its %d cells are skipped: %s\n", e.Name, count[e.Name], e.Unavailable.Error())
		case id.Kind == matrix.KindNative:
			fmt.Fprintf(stderr, "lab: runtime %s: %s %s\n", e.Name, id.CCVersion, strings.Join(id.Flags, " "))
		default:
			loop := ""
			if id.UVLoop != "" {
				loop = ", uvloop " + id.UVLoop
			}
			fmt.Fprintf(stderr, "lab: runtime %s: %s %s (%s%s)\n", e.Name, id.Executable, strings.Fields(id.Version + " ?")[0], id.Implementation, loop)
		}
	}
	file := filepath.Join(dir, "runtimes.json")
	if err := rundir.WriteJSON(file, entries); err != nil {
		return nil, "", err
	}
	return entries, file, nil
}

// reportEnd prints a line per cell that did not end well.
func reportEnd(stderr io.Writer, dir string) {
	d, err := rundir.Read(dir)
	if err != nil {
		fmt.Fprintln(stderr, "lab:", err)
		return
	}
	for _, w := range d.Run.Warnings {
		fmt.Fprintln(stderr, "lab: warning:", w)
	}
	ok := 0
	for _, c := range d.Summary.Cells {
		if c.Status == rundir.OK {
			ok++
		}
	}
	state := "complete"
	if !d.Run.Complete {
		state = "INCOMPLETE (" + d.Run.Stopped + ")"
	}
	fmt.Fprintf(stderr, "lab: %s: %d of %d cells ok, %d rounds, %s\n", state, ok, len(d.Summary.Cells), d.Run.Rounds, d.Run.Ended.Sub(d.Run.Started).Round(time.Second))
}
