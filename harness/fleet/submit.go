package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/runner"
)

// A Request is what lab fleet submit was asked to do.
type Request struct {
	MatrixPath string
	MatrixText []byte
	// Hardware are the classes to run; none means every class the matrix
	// gives a slurm table.
	Hardware []string
	Results  string // the results root, on the file system the nodes share
	Options  Options
	// Resume is a merged run whose missing cells are to be run; its
	// matrix, options and seed are then the run's, not the request's.
	Resume string
	Now    time.Time
	// DryRun plans for printing only: an each-node class whose nodes sinfo
	// cannot list gets none (its script does not name them).
	DryRun bool
}

// Plan makes the submission a request asks for, without writing or
// submitting anything: each class's cells, parts, estimate, time limit and
// (for each-node) nodes, which sl lists. The submission's folder is
// <results>/.fleet/<id>.
func Plan(ctx context.Context, sl Slurm, r Request) (*Submission, error) {
	results, err := filepath.Abs(r.Results)
	if err != nil {
		return nil, err
	}
	s := &Submission{Schema: Schema, Created: r.Now.UTC(), Results: results, Options: r.Options}
	text, path := r.MatrixText, r.MatrixPath
	var base *rundir.Dir
	if r.Resume != "" {
		if base, err = resumable(r.Resume); err != nil {
			return nil, err
		}
		s.Resume, _ = filepath.Abs(base.Path)
		s.Results = filepath.Dir(filepath.Dir(s.Resume))
		text, path = []byte(base.Run.Matrix.Text), base.Path+"/run.json (its matrix)"
		o := base.Run.Options
		s.Options.Smoke, s.Options.Only, s.Options.Reps, s.Options.Force = o.Smoke, o.Only, o.Reps, o.Force
		s.Options.Seed, s.Options.EachNode = base.Run.Seed, false
		if sq := base.Run.Sequential; sq != nil {
			s.Options.Looks = sq.Looks
		}
		r.Hardware = []string{base.Run.Hardware.ID}
	}
	if strings.ContainsAny(s.Results, " \t\n'\"") {
		return nil, fmt.Errorf("fleet: the results root %q has a space or quote, which sbatch's #SBATCH --output line cannot carry", s.Results)
	}
	if s.Options.Shards < 1 {
		return nil, fmt.Errorf("fleet: --shards %d: want at least 1", s.Options.Shards)
	}
	m, err := matrix.Parse(path, text)
	if err != nil {
		return nil, err
	}
	s.MatrixSHA = m.SHA256
	if base != nil && base.Run.Matrix.SHA256 != m.SHA256 {
		return nil, fmt.Errorf("fleet: %s: its matrix text does not hash to its recorded sha256", base.Path)
	}
	s.ID = r.Now.UTC().Format("20060102T150405Z")
	switch {
	case base != nil:
		s.ID += "-resume"
	case s.Options.Smoke:
		s.ID += "-smoke"
	}
	s.dir = filepath.Join(s.Results, WorkDir, s.ID)
	for i := 2; exists(s.dir); i++ {
		s.dir = filepath.Join(s.Results, WorkDir, fmt.Sprintf("%s-%d", s.ID, i))
	}
	s.ID = filepath.Base(s.dir)

	ids := slices.Compact(slices.Sorted(slices.Values(r.Hardware)))
	if len(ids) == 0 {
		for id, h := range m.Hardware {
			if h.Slurm != nil {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("fleet: %s declares no hardware class with a slurm table ([hardware.<id>.slurm] with a partition): nothing to submit", path)
		}
		slices.Sort(ids)
	}
	for _, id := range ids {
		c, err := s.planClass(ctx, sl, path, text, id, base, r.DryRun)
		if err != nil {
			return nil, err
		}
		s.Classes = append(s.Classes, c)
	}
	return s, nil
}

// planClass plans class id: its cells and parts, and how long a task may
// take.
func (s *Submission) planClass(ctx context.Context, sl Slurm, path string, text []byte, id string, base *rundir.Dir, dryRun bool) (Class, error) {
	m, err := matrix.Parse(path, text) // SetCPUs changes it: one per class
	if err != nil {
		return Class{}, err
	}
	h, ok := m.Hardware[id]
	if !ok {
		return Class{}, fmt.Errorf("fleet: --hardware %q is not declared in %s", id, path)
	}
	if h.Slurm == nil {
		return Class{}, fmt.Errorf("fleet: %s: hardware.%s has no slurm table: add [hardware.%s.slurm] with the partition (and constraint) of its nodes", path, id, id)
	}
	c := Class{Hardware: id, Partition: h.Slurm.Partition, Constraint: h.Slurm.Constraint, Account: h.Slurm.Account,
		Script: id + ".sbatch"}
	cells, err := SelectFor(m, id, s.Options)
	if err != nil {
		return c, fmt.Errorf("fleet: class %s: %w", id, err)
	}
	if base != nil {
		want := map[string]bool{}
		for _, cell := range base.Summary.Cells {
			if Unsettled(cell) {
				want[cell.Name] = true
			}
		}
		var keep []matrix.Cell
		for _, cell := range cells {
			if want[cell.Name()] {
				keep = append(keep, cell)
				delete(want, cell.Name())
			}
		}
		if len(want) > 0 {
			return c, fmt.Errorf("fleet: %s: %d of its missing cells are not in its own matrix's selection (e.g. %s)", base.Path, len(want), anyKey(want))
		}
		cells = keep
	}
	for _, cell := range cells {
		c.Cells = append(c.Cells, cell.Name())
	}
	k := runner.Calibrate(h.CPUs)
	if s.Options.EachNode {
		if c.Nodes, err = sl.Nodes(ctx, c.Partition, c.Constraint); err != nil && !(dryRun && errors.Is(err, ErrNoSlurm)) {
			return c, fmt.Errorf("fleet: class %s: %w", id, err)
		}
		c.Estimate = runner.Duration(cells, k)
	} else {
		n := s.Options.Shards
		if n > len(cells) {
			return c, fmt.Errorf("fleet: class %s: --shards %d but only %d cells: at most %d parts", id, n, len(cells), len(cells))
		}
		for _, part := range runner.Parts(cells, m.CPUs, n) {
			var names []string
			for _, cell := range part {
				names = append(names, cell.Name())
			}
			c.Parts = append(c.Parts, names)
			c.Estimate = max(c.Estimate, runner.Duration(part, k))
		}
	}
	if c.TimeLimit, err = TimeLimit(c.Estimate, h.Slurm.TimeLimit); err != nil {
		if s.Options.EachNode {
			return c, fmt.Errorf("fleet: class %s: %w; each node runs every cell: select fewer (--only, --smoke) or raise time_limit", id, err)
		}
		return c, fmt.Errorf("fleet: class %s: %w; use more --shards", id, err)
	}
	return c, nil
}

// resumable reads a merged run that a resume can complete.
func resumable(path string) (*rundir.Dir, error) {
	d, err := rundir.Read(path)
	if err != nil {
		return nil, fmt.Errorf("fleet: --resume: %w", err)
	}
	switch {
	case d.Run.Fleet == nil:
		return nil, fmt.Errorf("fleet: --resume %s: not a run merged by lab fleet collect", path)
	case d.Run.Fleet.EachNode:
		return nil, fmt.Errorf("fleet: --resume %s: an each-node run; submit --each-node again instead", path)
	case d.Run.Complete:
		return nil, fmt.Errorf("fleet: --resume %s: the run is complete: nothing to resume", path)
	}
	for _, c := range d.Summary.Cells {
		if Unsettled(c) {
			return d, nil
		}
	}
	return nil, fmt.Errorf("fleet: --resume %s: every cell has its result (the run is incomplete because a part stopped afterwards: %s): nothing to run again", path, d.Run.Stopped)
}

// Create writes the submission's folder: the binaries built from the
// module at root, the matrix, the scripts, a resume's cell lists and
// submission.json. Nothing is submitted yet.
func (s *Submission) Create(ctx context.Context, root string, matrixText []byte, log io.Writer) (err error) {
	defer func() {
		if err != nil {
			os.RemoveAll(s.dir) // nothing was submitted: leave no half-made submission
		}
	}()
	if err := os.MkdirAll(filepath.Join(s.dir, LogsDir), 0o755); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	fmt.Fprintf(log, "lab: building lab and the benchmarks into %s\n", filepath.Join(s.dir, BinDir))
	b, err := WriteBuild(ctx, root, filepath.Join(s.dir, BinDir), log)
	if err != nil {
		return fmt.Errorf("fleet: build: %w", err)
	}
	s.Build = b
	if s.Resume != "" {
		d, err := rundir.Read(s.Resume)
		if err != nil {
			return err
		}
		if d.Run.Software.Commit != b.Commit || d.Run.Software.Dirty != b.Dirty {
			return fmt.Errorf("fleet: --resume %s was run at commit %s (dirty %t); this checkout is %s (dirty %t): check out the run's commit to resume it", s.Resume, d.Run.Software.Commit, d.Run.Software.Dirty, b.Commit, b.Dirty)
		}
		matrixText = []byte(d.Run.Matrix.Text)
	}
	if err := rundir.WriteFile(filepath.Join(s.dir, MatrixFile), matrixText); err != nil {
		return err
	}
	for _, c := range s.Classes {
		if s.Resume != "" {
			if err := rundir.WriteFile(filepath.Join(s.dir, CellsFile(c.Hardware)), []byte(strings.Join(c.Cells, "\n")+"\n")); err != nil {
				return err
			}
		}
		if err := rundir.WriteFile(filepath.Join(s.dir, c.Script), []byte(s.Script(c))); err != nil {
			return err
		}
	}
	return s.Write()
}

// Submit hands each class's script to sbatch and records the job ids in
// submission.json as they come. When sbatch refuses a class, the classes
// submitted before it stay submitted (and recorded); the error names them.
func (s *Submission) Submit(ctx context.Context, sl Slurm) error {
	var done []string
	for i := range s.Classes {
		c := &s.Classes[i]
		script := filepath.Join(s.dir, c.Script)
		if len(c.Nodes) > 0 {
			for _, node := range c.Nodes {
				id, err := sl.Sbatch(ctx, script, "--nodelist="+node)
				if err != nil {
					return s.failed(done, fmt.Errorf("class %s, node %s: %w", c.Hardware, node, err))
				}
				c.Jobs = append(c.Jobs, id)
				done = append(done, c.Hardware+"@"+node+": job "+id)
			}
		} else {
			id, err := sl.Sbatch(ctx, script)
			if err != nil {
				return s.failed(done, fmt.Errorf("class %s: %w", c.Hardware, err))
			}
			c.Jobs = append(c.Jobs, id)
			done = append(done, c.Hardware+": job "+id)
		}
		if err := s.Write(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Submission) failed(done []string, err error) error {
	if werr := s.Write(); werr != nil {
		return fmt.Errorf("fleet: %w (and recording the submission: %v)", err, werr)
	}
	if len(done) > 0 {
		return fmt.Errorf("fleet: %w (already submitted, and recorded in %s: %s)", err, s.dir, strings.Join(done, "; "))
	}
	return fmt.Errorf("fleet: %w", err)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func anyKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

// ResumeShards is a resume's default part count: as many as the resumed
// run had, but no more than it has cells to run again.
func ResumeShards(path string) int {
	d, err := rundir.Read(path)
	if err != nil || d.Run.Fleet == nil || len(d.Run.Fleet.Shards) == 0 {
		return 1
	}
	n := 0
	for _, c := range d.Summary.Cells {
		if Unsettled(c) {
			n++
		}
	}
	return max(1, min(d.Run.Fleet.Shards[0].Shard.Count, n))
}
