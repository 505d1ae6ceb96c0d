package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/fleet"
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

lab fleet submit writes the Slurm tasks' lab run lines; they add
--prebuilt (binaries built on the submitting machine), --run-id, --seed
and, to resume, --cells.
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
	prebuilt := fs.String("prebuilt", "", "a directory of binaries built elsewhere (lab fleet submit's bin/): run its benchmark binary instead of compiling one, and take the commit and Go version from its build.json (no Go toolchain or source tree needed)")
	runID := fs.String("run-id", "", "the run directory's name (default: the start time, UTC)")
	cellsFile := fs.String("cells", "", "run only the cells named in this file, one per line (after the other selections)")
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
	if *runID != "" && !validRunID(*runID) {
		return usageError{fmt.Errorf("run: --run-id %q: want letters, digits, '.', '_' or '-', not starting with '.'", *runID)}
	}
	var root, bin string
	var software hw.Software
	if *prebuilt != "" {
		b, err := fleet.ReadBuild(*prebuilt)
		if err != nil {
			return usageError{fmt.Errorf("run: --prebuilt: %w", err)}
		}
		software, bin = b.Software(), filepath.Join(*prebuilt, fleet.BenchBinary)
	} else {
		if root, err = moduleRoot(); err != nil {
			return err
		}
		software = hw.DetectSoftware(ctx, root)
	}

	o := runner.Options{
		MatrixFile: *matrixPath, MatrixText: text, MatrixSHA: m.SHA256,
		Machine: machine, Software: software, Results: *out, Seed: *seed,
		Flags:    rundir.RunOptions{Only: *only, Reps: *reps, Smoke: *smoke, Force: *force},
		Progress: stderr, RunID: *runID, Slurm: fleet.SlurmFromEnv(os.Getenv),
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
	o.Cells, err = runner.Select(m, *hardware, *only, *reps, *smoke)
	if err != nil {
		return usageError{fmt.Errorf("run: %w", err)}
	}
	if *cellsFile != "" {
		if o.Cells, err = keepNamed(o.Cells, *cellsFile); err != nil {
			return usageError{err}
		}
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

	// The runtimes are prepared in a directory of this run's own: a
	// prebuilt directory is shared by every node of a fleet.
	work, err := os.MkdirTemp("", "lab-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		if bin, err = compile(ctx, root, work, stderr); err != nil {
			return err
		}
	}
	o.Binary = bin
	if o.Runtimes, o.RuntimesFile, err = prepareRuntimes(ctx, o.Cells, work, stderr); err != nil {
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

// compile builds the benchmark binary once for the whole run, into dir.
func compile(ctx context.Context, root, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, fleet.BenchBinary)
	fmt.Fprintf(stderr, "lab: compiling the benchmarks (go test -c ./experiments) into %s\n", bin)
	if err := fleet.CompileBench(ctx, root, bin, stderr); err != nil {
		return "", fmt.Errorf("run: %w", err)
	}
	return bin, nil
}

var runIDRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

// validRunID reports whether id is safe as a run directory's name.
func validRunID(id string) bool { return runIDRe.MatchString(id) && len(id) <= 200 }

// keepNamed keeps the cells named in file (one name per line; blank lines
// and lines starting with # are ignored), in the cells' order. A name that
// is not among the cells is an error naming its line: the file was made for
// another matrix or selection.
func keepNamed(cells []matrix.Cell, file string) ([]matrix.Cell, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("run: --cells: %w", err)
	}
	have := map[string]bool{}
	for _, c := range cells {
		have[c.Name()] = true
	}
	want := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		name := strings.TrimSpace(line)
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		if !have[name] {
			return nil, fmt.Errorf("run: --cells: %s:%d: %q is not a cell of this matrix and selection", file, i+1, name)
		}
		want[name] = true
	}
	var out []matrix.Cell
	for _, c := range cells {
		if want[c.Name()] {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("run: --cells: %s names no cell", file)
	}
	return out, nil
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
