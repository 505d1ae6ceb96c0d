package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/runner"
)

// Collected is what Collect made of one class: the runs it wrote and what
// is still missing.
type Collected struct {
	Hardware string
	Runs     []string // run directories written (one merged run, or one per node)
	Complete bool
	// Missing lists the parts that left no complete run, and Cells the
	// cells that have no complete result (lab fleet submit --resume runs
	// them).
	Missing []string
	Cells   []string
	// Total counts the cells of the run (or of every node's run).
	Total int
}

// A found part is one task's run directory as Collect read it.
type found struct {
	shard rundir.Shard
	sub   string      // the submission that ran it
	id    string      // its run id
	dir   *rundir.Dir // nil: it left no run
	why   string      // why dir is nil
	cells []string    // the cells it was given
}

// Collect merges the parts class c's tasks wrote into runs under the
// results root: for a sharded class one run, <results>/<hw>/<id> (or the
// resumed run), whose cells are every part's, with bench.txt concatenated
// under one set of configuration lines and summary.json recomputed from it;
// for an each-node class one run per node that wrote one. Parts must agree
// with the submission and each other (hardware id, matrix, commit, Go,
// runtimes, the benchmark's configuration lines) or Collect refuses the
// class, naming the difference. tasks, when known, say what Slurm made of
// each task (by shard index or node), for the reasons of missing parts.
func (s *Submission) Collect(c Class, tasks map[string]Task) (Collected, error) {
	if s.Options.EachNode {
		return s.collectNodes(c, tasks)
	}
	out := Collected{Hardware: c.Hardware}
	var parts []found
	for i, names := range c.Parts {
		sh := rundir.Shard{Index: i + 1, Count: len(c.Parts)}
		parts = append(parts, s.readPart(c.Hardware, s.PartID(sh.Index, sh.Count), sh, names, tasks[fmt.Sprint(sh.Index)]))
	}
	var base *rundir.Dir // the resumed run
	if s.Resume != "" {
		d, err := rundir.Read(s.Resume)
		if err != nil {
			return out, fmt.Errorf("fleet: the resumed run: %w", err)
		}
		if d.Run.Fleet == nil {
			return out, fmt.Errorf("fleet: %s was not made by lab fleet collect", s.Resume)
		}
		base = d
	}
	var have []*rundir.Dir
	for _, p := range parts {
		if p.dir != nil {
			have = append(have, p.dir)
		}
	}
	if len(have) == 0 {
		return out, fmt.Errorf("fleet: class %s: no part has written a run yet (%s)", c.Hardware, parts[0].why)
	}
	ref := have[0]
	if base != nil {
		ref = base
	}
	for _, p := range parts {
		if p.dir == nil {
			continue
		}
		if err := s.agree(ref, p.dir, c.Hardware); err != nil {
			return out, err
		}
		got := cellNames(p.dir)
		if !slices.Equal(sorted(got), sorted(p.cells)) {
			return out, fmt.Errorf("fleet: class %s: part %s (%s) ran other cells than the submission gave it (%d, not %d): was it made from another matrix or lab?", c.Hardware, p.shard, p.dir.Path, len(got), len(p.cells))
		}
	}
	m, err := s.merge(c, base, parts)
	if err != nil {
		return out, err
	}
	dest := filepath.Join(s.Results, c.Hardware, s.ID)
	if base != nil {
		dest = base.Path
	} else if d, err := rundir.Read(dest); err == nil && d.Run.Fleet != nil {
		// Collecting again is fine, but not over a resume's parts: the
		// run would lose the cells the resume ran.
		for _, sr := range d.Run.Fleet.Shards {
			if sr.Submission != s.ID {
				return out, fmt.Errorf("fleet: %s was completed by resume %s since: collect that submission instead", dest, sr.Submission)
			}
		}
	}
	if err := replaceDir(dest, m.files); err != nil {
		return out, err
	}
	out.Runs, out.Complete, out.Missing, out.Cells, out.Total = []string{dest}, m.run.Complete, m.missing, m.cells, m.run.Cells
	return out, nil
}

// readPart reads a part's run directory, or says why there is none.
func (s *Submission) readPart(hw, id string, sh rundir.Shard, cells []string, t Task) found {
	f := found{shard: sh, sub: s.ID, id: id, cells: cells}
	path := s.PartDir(hw, id)
	d, err := rundir.Read(path)
	switch {
	case err == nil:
		f.dir = d
	case errors.Is(err, fs.ErrNotExist):
		f.why = "no run directory"
	default:
		f.why = err.Error()
	}
	if t.State != "" && f.dir == nil {
		f.why += "; Slurm: " + t.String()
	}
	return f
}

// agree checks that part p was made like ref: the things a merged run says
// once must be the same in every part.
func (s *Submission) agree(ref, p *rundir.Dir, hw string) error {
	type difference struct{ what, a, b, from string }
	sub := "the submission's"
	diffs := []difference{
		{"hardware id", hw, p.Run.Hardware.ID, sub},
		{"matrix sha256", s.MatrixSHA, p.Run.Matrix.SHA256, sub},
		{"commit", s.Build.Commit, p.Run.Software.Commit, sub},
		{"dirty", fmt.Sprint(s.Build.Dirty), fmt.Sprint(p.Run.Software.Dirty), sub},
		{"go", ref.Run.Software.GoVersion, p.Run.Software.GoVersion, "as in " + ref.Path},
	}
	// A part that never got to print (it died before its first sample, or
	// all its cells were skipped) has no configuration lines to compare.
	if a, b := configLines(ref), configLines(p); len(a) > 0 && len(b) > 0 {
		diffs = append(diffs, difference{"benchmark configuration", strings.Join(a, "; "), strings.Join(b, "; "), "as in " + ref.Path})
	}
	// A part prepares only the runtimes its cells use: those both have
	// must be the same.
	for _, a := range ref.Run.Runtimes {
		for _, b := range p.Run.Runtimes {
			if a.Runtime == b.Runtime && jsonOf(a) != jsonOf(b) {
				diffs = append(diffs, difference{"runtime " + a.Runtime, brief(a), brief(b), "as in " + ref.Path})
			}
		}
	}
	for _, d := range diffs {
		if d.a != d.b {
			return fmt.Errorf("fleet: class %s: refusing to merge %s: its %s is %q, not %q (%s)", hw, p.Path, d.what, d.b, d.a, d.from)
		}
	}
	return nil
}

// brief is what tells two identities of a runtime apart, for a person.
func brief(id runtimes.Identity) string {
	if id.Unavailable != "" {
		return "unavailable: " + id.Unavailable
	}
	return strings.Join(strings.Fields(fmt.Sprintf("%s %s %s %s %s %s", id.Executable, strings.Fields(id.Version + " ?")[0], id.UVLoop, id.StartMethod, id.CCVersion, id.SourceSHA256)), " ")
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// headerKeys are the configuration keys lab run writes itself (BenchHeader);
// the others come from the benchmark binary.
var headerKeys = []string{"hardware", "commit", "dirty", "go", "matrix-sha256", "seed", "run"}

// configLines are the benchmark binary's configuration lines of a run's
// bench.txt (goos, goarch, pkg, cpu).
func configLines(d *rundir.Dir) []string {
	_, cfg, _ := splitBench(d)
	return cfg
}

// splitBench reads a run's bench.txt into lab run's header lines, the
// benchmark's configuration lines and the rest (results and comments).
func splitBench(d *rundir.Dir) (header, config, body []string) {
	b, err := os.ReadFile(filepath.Join(d.Path, rundir.BenchFile))
	if err != nil {
		return nil, nil, nil
	}
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		key, _, isConfig := strings.Cut(line, ": ")
		switch {
		case line == "":
		case isConfig && configKey(key) && slices.Contains(headerKeys, key):
			header = append(header, line)
		case isConfig && configKey(key):
			config = append(config, line)
		default:
			body = append(body, line)
		}
	}
	return header, config, body
}

// configKey reports whether key is a configuration key as benchfmt reads
// one: it starts with a lower-case letter and has no space or upper case.
func configKey(key string) bool {
	if key == "" || key[0] < 'a' || key[0] > 'z' {
		return false
	}
	return !strings.ContainsAny(key, " \t") && strings.ToLower(key) == key
}

func cellNames(d *rundir.Dir) []string {
	var out []string
	for _, c := range d.Summary.Cells {
		out = append(out, c.Name)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// merged is a merged run's files and what it lacks.
type merged struct {
	run     rundir.Run
	files   map[string][]byte
	missing []string
	cells   []string
}

// merge makes one run of a class's parts, and of the resumed run base, if
// any: a cell a part ran again (and got a result or samples for) replaces
// the base's, lines and all; a cell whose part died again keeps the base's.
func (s *Submission) merge(c Class, base *rundir.Dir, parts []found) (merged, error) {
	var out merged
	defs, err := s.cellDefs(c.Hardware)
	if err != nil {
		return out, err
	}
	var shards []rundir.ShardRun
	from := map[string]rundir.Cell{} // the cell each name takes
	replaced := map[string]bool{}    // names whose cell comes from this submission
	var order []string               // the cells in the run's order
	for _, p := range parts {
		sr := rundir.ShardRun{Shard: p.shard, Submission: p.sub, Run: p.id, Cells: len(p.cells), Stopped: p.why}
		got := map[string]rundir.Cell{}
		if p.dir != nil {
			r := p.dir.Run
			sr.Node, sr.Slurm, sr.Started, sr.Ended = r.Hardware.Detected.Hostname, r.Slurm, r.Started, r.Ended
			sr.Complete, sr.Stopped, sr.Seed = r.Complete, r.Stopped, r.Seed
			for _, cell := range p.dir.Summary.Cells {
				got[cell.Name] = cell
			}
		}
		shards = append(shards, sr)
		for _, n := range p.cells {
			cell, ok := got[n]
			if !ok {
				def, known := defs[n]
				if !known {
					return out, fmt.Errorf("fleet: class %s: cell %s is not in the submitted matrix", c.Hardware, n)
				}
				cell = runner.SummaryCell(def, rundir.Missing, fmt.Sprintf("part %s left no run: %s", p.shard, p.why))
			}
			if cell.Status == rundir.Skipped && !sr.Complete {
				// Skipped because its part stopped first, not for a
				// reason of its own: resume runs it.
				cell.Status, cell.Error = rundir.Missing, fmt.Sprintf("part %s stopped before it: %s", p.shard, sr.Stopped)
			}
			from[n] = cell
			replaced[n] = true
		}
	}
	ref := base
	if base != nil {
		// Collecting a resume again replaces its own earlier parts.
		earlier := slices.DeleteFunc(slices.Clone(base.Run.Fleet.Shards), func(sr rundir.ShardRun) bool { return sr.Submission == s.ID })
		shards = append(earlier, shards...)
		for _, cell := range base.Summary.Cells {
			order = append(order, cell.Name)
			if replaced[cell.Name] && from[cell.Name].Status == rundir.Missing {
				replaced[cell.Name] = false // its part died again: keep what the base has
			}
			if !replaced[cell.Name] {
				from[cell.Name] = cell
			}
		}
	} else {
		order = slices.Clone(c.Cells)
	}
	var body []string
	keep := func(d *rundir.Dir, fromThis bool) {
		_, _, lines := splitBench(d)
		for _, l := range lines {
			if n, ok := runner.LineCell(l); ok && replaced[n] != fromThis {
				continue
			}
			body = append(body, l)
		}
	}
	if base != nil {
		keep(base, false)
	}
	var config []string // the benchmark's configuration lines, from the first run that printed them
	for _, d := range append([]*rundir.Dir{base}, dirsOf(parts)...) {
		if d != nil && len(config) == 0 {
			config = configLines(d)
		}
	}
	for _, p := range parts {
		if p.dir != nil {
			keep(p.dir, true)
			if ref == nil {
				ref = p.dir
			}
		}
	}

	run := ref.Run
	run.Runtimes = slices.Clone(run.Runtimes)
	run.ID, run.Seed, run.Slurm = s.ID, s.Options.Seed, nil
	run.Options.Shard = nil
	run.Cells = len(order)
	run.Rounds, run.Warnings, run.Sequential, run.Stopped = 0, nil, nil, ""
	run.Started, run.Ended = time.Time{}, time.Time{}
	if base != nil {
		run.ID, run.Seed = base.Run.ID, base.Run.Seed
		run.Rounds, run.Sequential = base.Run.Rounds, base.Run.Sequential
		run.Started, run.Ended = base.Run.Started, base.Run.Ended
	}
	var warnings []string
	for _, p := range parts {
		if p.dir == nil {
			continue
		}
		r := p.dir.Run
		run.Rounds = max(run.Rounds, r.Rounds)
		if run.Started.IsZero() || r.Started.Before(run.Started) {
			run.Started = r.Started
		}
		if r.Ended.After(run.Ended) {
			run.Ended = r.Ended
		}
		for _, w := range r.Warnings {
			warnings = append(warnings, fmt.Sprintf("part %s of %s (%s): %s", p.shard, p.sub, r.Hardware.Detected.Hostname, w))
		}
		run.Sequential = mergeSequential(run.Sequential, r.Sequential)
		// Each part prepared the runtimes of its own cells (agree checked
		// that those they share are the same): the run used them all.
		for _, id := range r.Runtimes {
			if !slices.ContainsFunc(run.Runtimes, func(x runtimes.Identity) bool { return x.Runtime == id.Runtime }) {
				run.Runtimes = append(run.Runtimes, id)
			}
		}
	}
	if base != nil {
		// The base's own warnings, less those of this submission's
		// parts from an earlier collect of it.
		for _, w := range base.Run.Warnings {
			if !slices.Contains(warnings, w) && !strings.HasPrefix(w, "parts stopped early") {
				run.Warnings = append(run.Warnings, w)
			}
		}
	}
	run.Warnings = append(run.Warnings, warnings...)
	run.Fleet = &rundir.Fleet{Submission: run.ID, Shards: shards}
	if base != nil {
		run.Fleet.Submission = base.Run.Fleet.Submission
	}

	// The run is complete when every part of this submission completed and
	// every cell has its result: none missing, none with fewer samples than
	// meant. Those cells are what a resume runs again.
	var cells []rundir.Cell
	for _, n := range order {
		cell, ok := from[n]
		if !ok {
			return out, fmt.Errorf("fleet: class %s: no part ran cell %s", c.Hardware, n)
		}
		cells = append(cells, cell)
		if Unsettled(cell) {
			out.cells = append(out.cells, n)
		}
	}
	for _, p := range parts {
		if p.dir == nil || !p.dir.Run.Complete {
			why := p.why
			if p.dir != nil {
				why = "incomplete: " + p.dir.Run.Stopped
			}
			out.missing = append(out.missing, fmt.Sprintf("part %s (%s)", p.shard, why))
		}
	}
	run.Complete = len(out.cells) == 0 && len(out.missing) == 0
	switch {
	case len(out.cells) > 0:
		run.Stopped = fmt.Sprintf("%d cells have no complete result; parts that did not complete: %s", len(out.cells), strings.Join(out.missing, "; "))
	case len(out.missing) > 0:
		run.Stopped = "every cell has its result, but parts did not complete (stopped during the sequential plan's extra looks?): " + strings.Join(out.missing, "; ")
	}

	h := rundir.BenchHeader{Hardware: c.Hardware, Commit: run.Software.Commit, Dirty: run.Software.Dirty,
		GoVersion: run.Software.GoVersion, MatrixSHA: run.Matrix.SHA256, Seed: run.Seed, RunID: run.ID}
	var bench bytes.Buffer
	for _, l := range append(append(h.Lines(), config...), body...) {
		bench.WriteString(l + "\n")
	}
	sum, err := runner.Resummarize(bench.Bytes(), cells)
	if err != nil {
		return out, fmt.Errorf("fleet: class %s: the merged bench.txt: %w", c.Hardware, err)
	}
	runJSON, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return out, err
	}
	sumJSON, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return out, err
	}
	out.run = run
	out.files = map[string][]byte{
		rundir.BenchFile: bench.Bytes(), rundir.RunFile: append(runJSON, '\n'), rundir.SummaryFile: append(sumJSON, '\n'),
	}
	return out, nil
}

func dirsOf(parts []found) []*rundir.Dir {
	var out []*rundir.Dir
	for _, p := range parts {
		if p.dir != nil {
			out = append(out, p.dir)
		}
	}
	return out
}

// Unsettled reports whether a merged run's cell lacks its result: missing
// (its part left no run, or stopped before it) or partial (its part stopped
// before it had all its samples). lab fleet submit --resume runs these.
func Unsettled(c rundir.Cell) bool { return c.Status == rundir.Missing || c.Status == rundir.Partial }

// mergeSequential combines the parts' sequential plans: the same plan, the
// most looks any part took, and every extended cell.
func mergeSequential(a, b *rundir.Sequential) *rundir.Sequential {
	if b == nil {
		return a
	}
	if a == nil {
		c := *b
		c.Extended = slices.Clone(b.Extended)
		return &c
	}
	a.Taken = max(a.Taken, b.Taken)
	for _, e := range b.Extended {
		if !slices.Contains(a.Extended, e) {
			a.Extended = append(a.Extended, e)
		}
	}
	if b.Stopped != "" && !strings.Contains(a.Stopped, b.Stopped) {
		a.Stopped = strings.TrimPrefix(a.Stopped+"; "+b.Stopped, "; ")
	}
	return a
}

// cellDefs are the submitted matrix's cells for class hw, by name, as its
// tasks select them.
func (s *Submission) cellDefs(hw string) (map[string]matrix.Cell, error) {
	cells, err := s.Select(hw)
	if err != nil {
		return nil, err
	}
	out := map[string]matrix.Cell{}
	for _, c := range cells {
		out[c.Name()] = c
	}
	return out, nil
}

// Select is the cells lab run selects, from the submitted matrix and
// options, on hardware class hw.
func (s *Submission) Select(hw string) ([]matrix.Cell, error) {
	path := filepath.Join(s.dir, MatrixFile)
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	m, err := matrix.Parse(path, text)
	if err != nil {
		return nil, err
	}
	return SelectFor(m, hw, s.Options)
}

// SelectFor is lab run's selection of m's cells for a run on the declared
// hardware hw with o's options.
func SelectFor(m *matrix.Matrix, hw string, o Options) ([]matrix.Cell, error) {
	d, ok := m.Hardware[hw]
	if !ok {
		return nil, fmt.Errorf("fleet: hardware %q is not declared in %s", hw, m.File)
	}
	m.SetCPUs(d.CPUs)
	return runner.Select(m, hw, o.Only, o.Reps, o.Smoke)
}

// replaceDir writes files into dir as a whole: into a new folder beside it,
// which then takes dir's place in one step (renameat2 RENAME_EXCHANGE, so
// that dir never stops existing: a crash leaves the old run or the new one,
// and at worst a dot-folder beside it that the report skips).
func replaceDir(dir string, files map[string][]byte) error {
	parent, base := filepath.Split(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".collect-")
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer os.RemoveAll(tmp) // after the exchange, the old run
	for name, b := range files {
		if err := rundir.WriteFile(filepath.Join(tmp, name), b); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		return nil
	}
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("fleet: replace %s: %w", dir, err)
	}
	return nil
}
