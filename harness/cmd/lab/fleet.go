package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/fleet"
)

const fleetUsage = `usage: lab fleet submit|status|collect [flags]

Runs the matrix on the nodes of a Slurm cluster. The lab does not schedule
machines: it writes one sbatch script per hardware class (a job array, a
whole node per task) and hands it to sbatch; the tasks write their runs on
the file system the nodes share, and collect merges them.

  lab fleet submit  [--hardware ID ...] [--shards N] [--each-node] [--smoke] [--only RE] [--reps N]
                    [--results DIR] [--dry-run] [--resume RUN]
  lab fleet status  [--results DIR] [SUBMISSION | JOBID ...]
  lab fleet collect [--results DIR] [--wait D] [SUBMISSION ...]

A SUBMISSION is an id under <results>/.fleet/ (default: the latest).
`

func fleetCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, fleetUsage)
		return usageError{errors.New("fleet: want submit, status or collect")}
	}
	sl := fleet.Slurm{}
	switch args[0] {
	case "submit":
		return fleetSubmit(ctx, sl, args[1:], stdout, stderr)
	case "status":
		return fleetStatus(ctx, sl, args[1:], stdout, stderr)
	case "collect":
		return fleetCollect(ctx, sl, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, fleetUsage)
		return nil
	}
	fmt.Fprint(stderr, fleetUsage)
	return usageError{fmt.Errorf("fleet: unknown verb %q", args[0])}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func fleetSubmit(ctx context.Context, sl fleet.Slurm, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), fleetUsage); fs.PrintDefaults() }
	matrixPath := fs.String("matrix", "experiments.toml", "the experiment matrix")
	var hardware multi
	fs.Var(&hardware, "hardware", "a hardware class with a slurm table (repeatable; default: every such class)")
	shards := fs.Int("shards", 1, "parts per class, one job array task (one node) each, balanced by the time estimate")
	eachNode := fs.Bool("each-node", false, "run the whole selection once on every node of each class instead of sharding it, to compare the nodes")
	results := fs.String("results", "results", "the results root, on a file system every node shares")
	dryRun := fs.Bool("dry-run", false, "print the sbatch scripts instead of building and submitting them")
	resume := fs.String("resume", "", "a merged run (results/<hw>/<id>) whose missing and partial cells to run again, with its own matrix, options and seed")
	only := fs.String("only", "", "run only cells whose name matches this regular expression")
	reps := fs.Int("reps", 0, "samples per cell, overriding the matrix")
	smoke := fs.Bool("smoke", false, "every experiment with its smallest parameter values, sizes capped, 6 reps")
	force := fs.Bool("force", false, "let the tasks run on nodes that do not match the class's declaration, recording the mismatch")
	seed := fs.Int64("seed", 0, "seed of the round orders, the same in every task (default: from the clock)")
	looks := fs.Int("looks", claims.DefaultPlan.Looks, "each task's sequential plan (lab run --looks); a task judges only the claims whose cells it has")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("fleet submit: unexpected arguments %q", fs.Args())}
	}
	if *eachNode && *resume != "" {
		return usageError{errors.New("fleet submit: --each-node and --resume do not go together")}
	}
	if *reps < 0 || *looks < 0 {
		return usageError{errors.New("fleet submit: --reps and --looks want ≥ 0")}
	}
	r := fleet.Request{MatrixPath: *matrixPath, Hardware: hardware, Results: *results, Resume: *resume, Now: time.Now(), DryRun: *dryRun,
		Options: fleet.Options{Smoke: *smoke, Only: *only, Reps: *reps, Looks: *looks, Force: *force, Seed: *seed,
			Shards: *shards, EachNode: *eachNode}}
	if r.Options.Seed == 0 {
		r.Options.Seed = r.Now.UnixNano()
	}
	if *resume == "" {
		text, err := os.ReadFile(*matrixPath)
		if err != nil {
			return usageError{err}
		}
		r.MatrixText = text
	}
	if !*dryRun && !sl.Available() {
		// Before the build: a machine without Slurm learns it at once.
		return errors.New("fleet submit: sbatch not found on PATH: lab fleet hands its work to Slurm and needs Slurm's client commands here (Debian: apt-get install slurm-client; scripts/slurm-local.sh up makes a one-node cluster of this machine); --dry-run prints the scripts without Slurm")
	}
	if *resume != "" && !isFlagSet(fs, "shards") {
		r.Options.Shards = fleet.ResumeShards(*resume)
	}
	s, err := fleet.Plan(ctx, sl, r)
	if errors.As(err, new(*fleet.CommandError)) {
		return err // Slurm's trouble (sinfo failed), not bad input
	}
	if err != nil {
		return usageError{err}
	}
	if *dryRun {
		for _, c := range s.Classes {
			fmt.Fprintf(stdout, "# --- %s (%d cells, heaviest task ~%v, limit %s) ---\n", filepath.Join(s.Dir(), c.Script), len(c.Cells), c.Estimate.Round(time.Second), fleet.SlurmDuration(c.TimeLimit))
			fmt.Fprint(stdout, s.Script(c))
			switch {
			case len(c.Nodes) > 0:
				fmt.Fprintf(stdout, "# submitted once per node: sbatch --nodelist=NODE, NODE in %s\n", strings.Join(c.Nodes, " "))
			case s.Options.EachNode:
				fmt.Fprintln(stdout, "# submitted once per node: sbatch --nodelist=NODE, for each usable node sinfo lists (sinfo is not here)")
			}
		}
		fmt.Fprintln(stderr, "lab: dry run: nothing was built or submitted")
		return nil
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := s.Create(ctx, root, r.MatrixText, stderr); err != nil {
		return err
	}
	if err := s.Submit(ctx, sl); err != nil {
		return err
	}
	for _, c := range s.Classes {
		what := fmt.Sprintf("%d parts", len(c.Parts))
		if len(c.Nodes) > 0 {
			what = fmt.Sprintf("%d nodes (%s)", len(c.Nodes), strings.Join(c.Nodes, ", "))
		}
		fmt.Fprintf(stderr, "lab: %s: %d cells, %s, heaviest task ~%v, limit %s: job %s\n", c.Hardware, len(c.Cells), what,
			c.Estimate.Round(time.Second), fleet.SlurmDuration(c.TimeLimit), strings.Join(c.Jobs, ", "))
	}
	into := filepath.Join(s.Results, "<hardware>", s.ID)
	if s.Options.EachNode {
		into = filepath.Join(s.Results, "<hardware>", s.ID+"-<node>") + ", one run per node"
	}
	if s.Resume != "" {
		into = s.Resume
	}
	fmt.Fprintf(stderr, "lab: parts are written to %s; watch with: lab fleet status --results %s %s\n", filepath.Join(s.Dir(), fleet.PartsDir), s.Results, s.ID)
	fmt.Fprintf(stderr, "lab: then merge with: lab fleet collect --results %s --wait 1h %s (into %s)\n", s.Results, s.ID, into)
	fmt.Fprintln(stdout, s.ID)
	return nil
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func fleetStatus(ctx context.Context, sl fleet.Slurm, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "results", "the results root the submission was made to")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	var jobs []string
	var s *fleet.Submission
	switch {
	case fs.NArg() == 1 && !isJobID(fs.Arg(0)), fs.NArg() == 0:
		var err error
		if s, err = findSubmission(*results, fs.Arg(0)); err != nil {
			return usageError{err}
		}
		for _, c := range s.Classes {
			jobs = append(jobs, c.Jobs...)
		}
		if len(jobs) == 0 {
			return fmt.Errorf("fleet status: submission %s has no job (was it submitted?)", s.ID)
		}
	default:
		for _, a := range fs.Args() {
			if !isJobID(a) {
				return usageError{fmt.Errorf("fleet status: %q is not a Slurm job id", a)}
			}
		}
		jobs = fs.Args()
	}
	tasks, err := sl.Tasks(ctx, jobs)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tTASK\tSTATE\tNODE\tELAPSED\tEXIT\tREASON")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Job, dash(t.Task), t.State, dash(t.Node), dash(t.Elapsed), dash(t.ExitCode), dash(t.Reason))
	}
	tw.Flush()
	if s != nil {
		fmt.Fprintf(stdout, "parts written so far in %s:\n", filepath.Join(s.Dir(), fleet.PartsDir))
		for _, line := range s.PartStates() {
			fmt.Fprintln(stdout, "  "+line)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func isJobID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// findSubmission reads submission id under results, or the latest one.
func findSubmission(results, id string) (*fleet.Submission, error) {
	if id != "" {
		return fleet.Read(filepath.Join(results, fleet.WorkDir, id))
	}
	all, err := fleet.Submissions(results)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("fleet: no submission under %s (lab fleet submit makes one)", filepath.Join(results, fleet.WorkDir))
	}
	return all[len(all)-1], nil
}

func fleetCollect(ctx context.Context, sl fleet.Slurm, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet collect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "results", "the results root the submission was made to")
	wait := fs.Duration("wait", 0, "wait at most this long for the submission's tasks to end before merging (0: merge only if none is pending or running)")
	partial := fs.Bool("partial", false, "merge even while tasks are pending or running (the run is then incomplete)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	ids := fs.Args()
	if len(ids) == 0 {
		ids = []string{""}
	}
	incomplete := 0
	for _, id := range ids {
		s, err := findSubmission(*results, id)
		if err != nil {
			return usageError{err}
		}
		var tasks []fleet.Task
		if sl.Available() {
			if tasks, err = waitTasks(ctx, sl, s, *wait, *partial, stderr); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(stderr, "lab: sbatch not found: collecting what the parts wrote, without asking Slurm how the tasks ended")
		}
		for _, c := range s.Classes {
			got, err := s.Collect(c, fleet.TasksOf(c, tasks))
			if err != nil {
				return err
			}
			for _, r := range got.Runs {
				fmt.Fprintln(stdout, r)
			}
			if got.Complete {
				fmt.Fprintf(stderr, "lab: %s: complete (%d cells)\n", c.Hardware, got.Total)
				continue
			}
			incomplete++
			fmt.Fprintf(stderr, "lab: %s: INCOMPLETE: %s\n", c.Hardware, strings.Join(got.Missing, "; "))
			if len(got.Cells) > 0 {
				fmt.Fprintf(stderr, "lab: %s: %d cells have no complete result:\n", c.Hardware, len(got.Cells))
				for _, n := range got.Cells {
					fmt.Fprintln(stderr, "  "+n)
				}
				if len(got.Runs) == 1 {
					fmt.Fprintf(stderr, "lab: run them again with: lab fleet submit --resume %s\n", got.Runs[0])
				}
			}
		}
	}
	if incomplete > 0 {
		return fmt.Errorf("fleet collect: %d classes incomplete", incomplete)
	}
	return nil
}

// waitTasks asks Slurm for a submission's tasks until none is pending or
// running, for at most wait, and refuses to go on while some are (unless
// partial).
func waitTasks(ctx context.Context, sl fleet.Slurm, s *fleet.Submission, wait time.Duration, partial bool, stderr io.Writer) ([]fleet.Task, error) {
	var jobs []string
	for _, c := range s.Classes {
		jobs = append(jobs, c.Jobs...)
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	deadline := time.Now().Add(wait)
	for {
		tasks, err := sl.Tasks(ctx, jobs)
		if err != nil {
			return nil, err
		}
		var active []string
		for _, t := range tasks {
			if t.Active() {
				id := t.Job
				if t.Task != "" {
					id += "_" + t.Task
				}
				active = append(active, id+" "+t.State)
			}
		}
		if len(active) == 0 || partial {
			return tasks, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("fleet collect: submission %s still has tasks pending or running: %s (--wait D waits; --partial merges what is there)", s.ID, strings.Join(active, ", "))
		}
		fmt.Fprintf(stderr, "lab: waiting for %s\n", strings.Join(active, ", "))
		select {
		case <-ctx.Done():
			return nil, errInterrupted
		case <-time.After(min(10*time.Second, time.Until(deadline)+time.Millisecond)):
		}
	}
}
