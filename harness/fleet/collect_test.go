package fleet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/perf/benchfmt"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/runner"
)

// newSubmission plans a submission of testdata/matrix.toml's class "cls" in
// shards parts (or on nodes, each-node), with its folder and matrix written
// as Create writes them (without building binaries).
func newSubmission(t *testing.T, shards int, nodes ...string) *Submission {
	t.Helper()
	text, err := os.ReadFile("testdata/matrix.toml")
	if err != nil {
		t.Fatal(err)
	}
	sl := fakeSlurm(t, map[string]string{"sinfo": strings.Join(nodeLines(nodes), "\n")})
	r := Request{MatrixPath: "testdata/matrix.toml", MatrixText: text, Results: t.TempDir(), Now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		Options: Options{Shards: shards, Seed: 42, Looks: 1, EachNode: len(nodes) > 0}}
	s, err := Plan(t.Context(), sl, r)
	if err != nil {
		t.Fatal(err)
	}
	s.Build = Build{Commit: "c0ffee", GoVersion: "go1.26.8"}
	writeSubmission(t, s, text)
	return s
}

func nodeLines(nodes []string) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n+"|fast,big|idle")
	}
	return out
}

func writeSubmission(t *testing.T, s *Submission, matrixText []byte) {
	t.Helper()
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, MatrixFile), matrixText, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(); err != nil {
		t.Fatal(err)
	}
}

// part is how writePart makes a task's run.
type part struct {
	node     string
	complete bool
	commit   string  // "" = the submission's
	sha      string  // "" = the submission's
	scale    float64 // sample times are scale × (1 ms + 10 µs × sample)
	samples  int     // per cell; 0 = the cell's reps
	runtimes []runtimes.Identity
	// noOutput: it stopped before its first sample (no configuration
	// lines, no results, every cell skipped); late: it stopped after every
	// cell had its samples.
	noOutput, late bool
}

// writePart writes the run directory a task would write for cells: every
// cell ok with its samples when p.complete, else only the first cell ok and
// the others partial and skipped.
func writePart(t *testing.T, s *Submission, id string, cells []string, p part) string {
	t.Helper()
	c := s.Classes[0]
	defs, err := s.cellDefs(c.Hardware)
	if err != nil {
		t.Fatal(err)
	}
	dir := s.PartDir(c.Hardware, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	commit, sha := cmpOr(p.commit, s.Build.Commit), cmpOr(p.sha, s.MatrixSHA)
	text, err := os.ReadFile(filepath.Join(s.dir, MatrixFile))
	if err != nil {
		t.Fatal(err)
	}
	var bench bytes.Buffer
	h := rundir.BenchHeader{Hardware: c.Hardware, Commit: commit, GoVersion: s.Build.GoVersion, MatrixSHA: sha, Seed: s.Options.Seed, RunID: id}
	for _, l := range h.Lines() {
		fmt.Fprintln(&bench, l)
	}
	if !p.noOutput {
		fmt.Fprint(&bench, "goos: linux\ngoarch: amd64\npkg: concurrency-lab/experiments\ncpu: Test CPU\n")
	}
	var sum []rundir.Cell
	for i, name := range cells {
		def := defs[name]
		status, n := rundir.OK, cmpOr(p.samples, def.Reps)
		switch {
		case p.noOutput:
			status, n = rundir.Skipped, 0
		case p.complete, p.late:
		case i == 0:
		case i == 1:
			status, n = rundir.Partial, 2
		default:
			status, n = rundir.Skipped, 0
		}
		for k := range n {
			ns := p.scale * (1e6 + 1e4*float64(k))
			fmt.Fprintf(&bench, "BenchmarkLab/%s-2 \t       1\t %.0f ns/op\n", name, ns)
		}
		sum = append(sum, runner.SummaryCell(def, status, ""))
	}
	summary, err := runner.Resummarize(bench.Bytes(), sum)
	if err != nil {
		t.Fatal(err)
	}
	run := rundir.Run{Schema: rundir.Schema, ID: id, Complete: p.complete, Cells: len(cells), Seed: s.Options.Seed, Rounds: 6,
		Hardware: rundir.RunHardware{ID: c.Hardware, Detected: hw.Machine{Hostname: p.node, CPUModel: "Test CPU"}},
		Software: hw.Software{GoVersion: s.Build.GoVersion, Commit: commit},
		Matrix:   rundir.RunMatrix{File: filepath.Join(s.dir, MatrixFile), SHA256: sha, Text: string(text)},
		Started:  time.Date(2026, 11, 29, 12, 1, 0, 0, time.UTC), Ended: time.Date(2026, 11, 29, 12, 5, 0, 0, time.UTC),
		Slurm: &rundir.SlurmTask{JobID: "7", Node: p.node}, Runtimes: p.runtimes}
	if !p.complete {
		run.Stopped = "node lost"
	}
	for _, f := range []struct {
		name string
		v    any
	}{{rundir.RunFile, run}, {rundir.SummaryFile, summary}} {
		if err := rundir.WriteJSON(filepath.Join(dir, f.name), f.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := rundir.WriteFile(filepath.Join(dir, rundir.BenchFile), bench.Bytes()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func statuses(d *rundir.Dir) map[string]string {
	out := map[string]string{}
	for _, c := range d.Summary.Cells {
		out[c.Name] = c.Status
	}
	return out
}

func TestCollectMergesParts(t *testing.T) {
	s := newSubmission(t, 2)
	c := s.Classes[0]
	if len(c.Parts) != 2 || len(c.Parts[0])+len(c.Parts[1]) != len(c.Cells) {
		t.Fatalf("parts %v of cells %v", c.Parts, c.Cells)
	}
	// Each part prepares the runtimes of its own cells; the merged run
	// used them all.
	writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", complete: true, scale: 1, runtimes: []runtimes.Identity{py311}})
	writePart(t, s, s.PartID(2, 2), c.Parts[1], part{node: "n2", complete: true, scale: 2, runtimes: []runtimes.Identity{native, py311}})
	got, err := s.Collect(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Complete || len(got.Missing) > 0 || len(got.Cells) > 0 || len(got.Runs) != 1 {
		t.Fatalf("collected %+v; want one complete run", got)
	}
	d, err := rundir.Read(got.Runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]runtimes.Identity{py311, native}, d.Run.Runtimes); diff != "" {
		t.Errorf("runtimes (-want +got):\n%s", diff)
	}
	if want := filepath.Join(s.Results, "cls", s.ID); d.Path != want {
		t.Errorf("merged into %s; want %s", d.Path, want)
	}
	if !d.Run.Complete || d.Run.ID != s.ID || d.Run.Options.Shard != nil || d.Run.Seed != 42 {
		t.Errorf("run.json: complete %t, id %s, shard %v, seed %d", d.Run.Complete, d.Run.ID, d.Run.Options.Shard, d.Run.Seed)
	}
	// Every cell of the submission, in matrix order, with its part's samples.
	if diff := cmp.Diff(c.Cells, cellNames(d)); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	for _, cell := range d.Summary.Cells {
		scale := 1.0
		if slices.Contains(c.Parts[1], cell.Name) {
			scale = 2
		}
		m := cell.Metrics["sec/op"]
		if cell.Status != rundir.OK || len(m.Samples) != 6 || m.Samples[0] != scale*1e-3 {
			t.Errorf("%s: status %s, samples %v; want ok, 6 from %gms", cell.Name, cell.Status, m.Samples, scale)
		}
	}
	// Which node ran which part.
	var nodes []string
	for _, sr := range d.Run.Fleet.Shards {
		nodes = append(nodes, fmt.Sprintf("%s %s %t %d", sr.Shard, sr.Node, sr.Complete, sr.Cells))
	}
	want := []string{fmt.Sprintf("1/2 n1 true %d", len(c.Parts[0])), fmt.Sprintf("2/2 n2 true %d", len(c.Parts[1]))}
	if diff := cmp.Diff(want, nodes); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	// One set of configuration lines, read by benchfmt as every result's.
	b, err := os.ReadFile(filepath.Join(d.Path, rundir.BenchFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\ngoos: "); n != 1 {
		t.Errorf("bench.txt has %d goos lines; want 1", n)
	}
	if n := strings.Count(string(b), "\nrun: "); n != 1 || !strings.Contains(string(b), "\nrun: "+s.ID+"\n") {
		t.Errorf("bench.txt's run lines: %d; want one, run: %s", n, s.ID)
	}
	r := benchfmt.NewReader(bytes.NewReader(b), "bench.txt")
	results := 0
	for r.Scan() {
		if res, ok := r.Result().(*benchfmt.Result); ok {
			results++
			if got := string(res.GetConfig("run")); got != s.ID {
				t.Fatalf("result %s has run %q", res.Name, got)
			}
		}
	}
	if results != 6*len(c.Cells) {
		t.Errorf("bench.txt has %d results; want %d", results, 6*len(c.Cells))
	}
}

var (
	py311  = runtimes.Identity{Runtime: "cpython", Executable: "/usr/bin/python3", Version: "3.11.2 (main)"}
	native = runtimes.Identity{Runtime: "native", CC: "cc", CCVersion: "cc 12"}
)

func TestCollectRefusesMismatchedParts(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    part
		want string
	}{
		{"commit", part{commit: "deadbeef"}, `its commit is "deadbeef", not "c0ffee"`},
		{"matrix", part{sha: "0123"}, `its matrix sha256 is "0123"`},
		{"runtime", part{runtimes: []runtimes.Identity{{Runtime: "cpython", Executable: "/usr/bin/python3", Version: "3.12.1 (main)"}}}, `its runtime cpython is "/usr/bin/python3 3.12.1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSubmission(t, 2)
			c := s.Classes[0]
			writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", complete: true, scale: 1, runtimes: []runtimes.Identity{py311}})
			tc.p.node, tc.p.complete, tc.p.scale = "n2", true, 1
			bad := writePart(t, s, s.PartID(2, 2), c.Parts[1], tc.p)
			_, err := s.Collect(c, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), bad) {
				t.Fatalf("Collect: %v; want a refusal naming %s and %q", err, bad, tc.want)
			}
			if _, err := os.Stat(filepath.Join(s.Results, "cls", s.ID)); !os.IsNotExist(err) {
				t.Errorf("a refused merge wrote a run: %v", err)
			}
		})
	}
}

func TestCollectListsMissingPart(t *testing.T) {
	s := newSubmission(t, 2)
	c := s.Classes[0]
	writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", complete: true, scale: 1})
	got, err := s.Collect(c, map[string]Task{"2": {Job: "7", Task: "2", State: "NODE_FAIL", Node: "n2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete {
		t.Fatal("complete with part 2 missing")
	}
	if diff := cmp.Diff(sorted(c.Parts[1]), sorted(got.Cells)); diff != "" {
		t.Errorf("cells listed as missing (-want +got):\n%s", diff)
	}
	if len(got.Missing) != 1 || !strings.Contains(got.Missing[0], "part 2/2 (no run directory; Slurm: NODE_FAIL on n2") {
		t.Errorf("missing parts %q; want part 2/2 with Slurm's NODE_FAIL on n2", got.Missing)
	}
	d, err := rundir.Read(got.Runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if d.Run.Complete || !strings.Contains(d.Run.Stopped, "part 2/2") {
		t.Errorf("run.json: complete %t, stopped %q", d.Run.Complete, d.Run.Stopped)
	}
	st := statuses(d)
	for _, n := range c.Cells {
		want := rundir.OK
		if slices.Contains(c.Parts[1], n) {
			want = rundir.Missing
		}
		if st[n] != want {
			t.Errorf("%s: %s; want %s", n, st[n], want)
		}
	}
}

func TestResumeRunsOnlyTheMissingCells(t *testing.T) {
	s := newSubmission(t, 2)
	c := s.Classes[0]
	writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", complete: true, scale: 1})
	// Part 2's node died after its first cell: one ok, one partial, the
	// rest skipped.
	writePart(t, s, s.PartID(2, 2), c.Parts[1], part{node: "n2", scale: 1})
	got, err := s.Collect(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	merged := got.Runs[0]
	wantRerun := slices.Clone(c.Parts[1][1:]) // the partial and the skipped
	if diff := cmp.Diff(sorted(wantRerun), sorted(got.Cells)); diff != "" {
		t.Fatalf("cells without a result (-want +got):\n%s", diff)
	}

	text, _ := os.ReadFile("testdata/matrix.toml")
	r := Request{Results: s.Results, Resume: merged, Now: s.Created.Add(time.Hour), Options: Options{Shards: 1, Looks: 1}}
	rs, err := Plan(t.Context(), Slurm{}, r)
	if err != nil {
		t.Fatal(err)
	}
	rc := rs.Classes[0]
	if diff := cmp.Diff(sorted(wantRerun), sorted(rc.Cells)); diff != "" {
		t.Errorf("the resume's cells (-want +got):\n%s", diff)
	}
	if rs.Options.Seed != 42 || rs.Resume != merged || rs.MatrixSHA != s.MatrixSHA {
		t.Errorf("resume: seed %d, resume %s, matrix %s; want the run's", rs.Options.Seed, rs.Resume, rs.MatrixSHA)
	}
	script := rs.Script(rc)
	if !strings.Contains(script, "--cells "+filepath.Join(rs.dir, CellsFile("cls"))) || !strings.Contains(script, "--array=1-1") {
		t.Errorf("resume script does not run its cells file as one part:\n%s", script)
	}

	rs.Build = s.Build
	writeSubmission(t, rs, text)
	writePart(t, rs, rs.PartID(1, 1), rc.Parts[0], part{node: "n3", complete: true, scale: 3})
	got, err = rs.Collect(rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Complete || got.Runs[0] != merged {
		t.Fatalf("after the resume: %+v; want %s complete", got, merged)
	}
	d, err := rundir.Read(merged)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.Cells, cellNames(d)); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	for _, cell := range d.Summary.Cells {
		scale := 1.0
		if slices.Contains(wantRerun, cell.Name) {
			scale = 3 // the resume's samples replace the partial ones
		}
		if m := cell.Metrics["sec/op"]; cell.Status != rundir.OK || len(m.Samples) != 6 || m.Samples[0] != scale*1e-3 {
			t.Errorf("%s: %s, %v; want ok, 6 samples from %gms", cell.Name, cell.Status, m.Samples, scale)
		}
	}
	if n := len(d.Run.Fleet.Shards); n != 3 || d.Run.Fleet.Shards[2].Submission != rs.ID || d.Run.Fleet.Submission != s.ID {
		t.Errorf("parts %+v; want the two first parts and the resume's", d.Run.Fleet.Shards)
	}
	if !d.Run.Complete || d.Run.ID != s.ID {
		t.Errorf("run: complete %t, id %s", d.Run.Complete, d.Run.ID)
	}
	if _, err := s.Collect(c, nil); err == nil || !strings.Contains(err.Error(), "completed by resume "+rs.ID) {
		t.Errorf("collecting the first submission again: %v; want a refusal naming the resume", err)
	}
	if _, err := Plan(t.Context(), Slurm{}, r); err == nil || !strings.Contains(err.Error(), "nothing to resume") {
		t.Errorf("resuming a complete run: %v; want a refusal", err)
	}
}

func TestCollectEachNodeKeepsRunsApart(t *testing.T) {
	s := newSubmission(t, 1, "n1", "n2", "n3")
	c := s.Classes[0]
	if diff := cmp.Diff([]string{"n1", "n2", "n3"}, c.Nodes); diff != "" {
		t.Fatalf("nodes (-want +got):\n%s", diff)
	}
	writePart(t, s, s.NodeID("n1"), c.Cells, part{node: "n1", complete: true, scale: 1})
	writePart(t, s, s.NodeID("n3"), c.Cells, part{node: "n3", complete: true, scale: 1.5})
	got, err := s.Collect(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete || len(got.Runs) != 2 || len(got.Missing) != 1 || !strings.Contains(got.Missing[0], "node n2") {
		t.Fatalf("collected %+v; want two runs and node n2 missing", got)
	}
	for i, node := range []string{"n1", "n3"} {
		d, err := rundir.Read(got.Runs[i])
		if err != nil {
			t.Fatal(err)
		}
		f := d.Run.Fleet
		if f == nil || !f.EachNode || f.Submission != s.ID || len(f.Shards) != 1 || f.Shards[0].Node != node || d.Run.Hardware.Detected.Hostname != node {
			t.Errorf("%s: fleet %+v; want node %s's run of %s", d.Path, f, node, s.ID)
		}
		if filepath.Base(d.Path) != s.ID+"-"+node {
			t.Errorf("run dir %s; want %s-%s", d.Path, s.ID, node)
		}
	}
}

func TestPartsMatchLabRunShard(t *testing.T) {
	// A task's lab run --shard i/N must take the cells the submission
	// recorded for part i: both split the same selection the same way.
	s := newSubmission(t, 3)
	c := s.Classes[0]
	text, _ := os.ReadFile("testdata/matrix.toml")
	for i := 1; i <= 3; i++ {
		m, err := matrix.Parse("testdata/matrix.toml", text)
		if err != nil {
			t.Fatal(err)
		}
		m.SetCPUs(m.Hardware["cls"].CPUs)
		cells, err := runner.Select(m, "cls", "", 0, false)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, cell := range runner.Split(cells, m.CPUs, rundir.Shard{Index: i, Count: 3}) {
			names = append(names, cell.Name())
		}
		if diff := cmp.Diff(c.Parts[i-1], names); diff != "" {
			t.Errorf("part %d (-submission +lab run):\n%s", i, diff)
		}
	}
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func TestCollectPartWithoutOutput(t *testing.T) {
	// Part 2 stopped before its first sample: no configuration lines, no
	// results. It is not a mismatch; its cells are missing.
	s := newSubmission(t, 2)
	c := s.Classes[0]
	writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", complete: true, scale: 1})
	writePart(t, s, s.PartID(2, 2), c.Parts[1], part{node: "n2", noOutput: true})
	got, err := s.Collect(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete || !slices.Equal(sorted(got.Cells), sorted(c.Parts[1])) {
		t.Errorf("collected %+v; want incomplete with part 2's cells listed", got)
	}
	b, err := os.ReadFile(filepath.Join(got.Runs[0], rundir.BenchFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ncpu: Test CPU\n") {
		t.Errorf("the merged bench.txt lacks part 1's configuration lines:\n%s", b)
	}
	// The other way round too: the part with output is not the first.
	s = newSubmission(t, 2)
	c = s.Classes[0]
	writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", noOutput: true})
	writePart(t, s, s.PartID(2, 2), c.Parts[1], part{node: "n2", complete: true, scale: 1})
	if _, err := s.Collect(c, nil); err != nil {
		t.Errorf("first part without output: %v", err)
	}
}

func TestCollectIsStrictAboutParts(t *testing.T) {
	// Every cell has its samples, but part 2 stopped afterwards (killed
	// during the sequential plan's extra looks): the run is not complete,
	// and a resume has nothing to run again and says so.
	s := newSubmission(t, 2)
	c := s.Classes[0]
	writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", complete: true, scale: 1})
	writePart(t, s, s.PartID(2, 2), c.Parts[1], part{node: "n2", late: true, scale: 1})
	got, err := s.Collect(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete || len(got.Cells) != 0 || len(got.Missing) != 1 {
		t.Fatalf("collected %+v; want incomplete, no cell missing, part 2 listed", got)
	}
	_, err = Plan(t.Context(), Slurm{}, Request{Resume: got.Runs[0], Now: s.Created, Options: Options{Shards: 1}})
	if err == nil || !strings.Contains(err.Error(), "every cell has its result") {
		t.Errorf("resume: %v; want a refusal saying every cell has its result", err)
	}
}

func TestResumeTwiceAndDyingAgain(t *testing.T) {
	s := newSubmission(t, 2)
	c := s.Classes[0]
	writePart(t, s, s.PartID(1, 2), c.Parts[0], part{node: "n1", complete: true, scale: 1})
	writePart(t, s, s.PartID(2, 2), c.Parts[1], part{node: "n2", scale: 1}) // one ok, one partial (2 samples), rest skipped
	got, err := s.Collect(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	merged := got.Runs[0]
	partial := c.Parts[1][1]

	text, _ := os.ReadFile("testdata/matrix.toml")
	rs, err := Plan(t.Context(), Slurm{}, Request{Resume: merged, Now: s.Created.Add(time.Hour), Options: Options{Shards: 2}})
	if err != nil {
		t.Fatal(err)
	}
	rs.Build = s.Build
	writeSubmission(t, rs, text)
	rc := rs.Classes[0]
	if !slices.Contains(rc.Parts[1], partial) {
		t.Fatalf("setup: the partial cell %s is not in the resume's part 2 %v", partial, rc.Parts[1])
	}
	// The resume's part 1 runs; its part 2 dies again and leaves nothing.
	writePart(t, rs, rs.PartID(1, 2), rc.Parts[0], part{node: "n3", complete: true, scale: 3})
	for range 2 { // collecting twice gives the same run
		if got, err = rs.Collect(rc, nil); err != nil {
			t.Fatal(err)
		}
	}
	d, err := rundir.Read(merged)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Run.Fleet.Shards); n != 4 {
		t.Errorf("%d parts after collecting the resume twice; want 4 (2 + the resume's 2)", n)
	}
	seen := map[string]int{}
	for _, w := range d.Run.Warnings {
		if seen[w]++; seen[w] == 2 {
			t.Errorf("warning twice: %q", w)
		}
	}
	byName := map[string]rundir.Cell{}
	for _, cell := range d.Summary.Cells {
		byName[cell.Name] = cell
	}
	for _, n := range rc.Cells {
		cell := byName[n]
		switch {
		case slices.Contains(rc.Parts[0], n):
			if cell.Status != rundir.OK || cell.Metrics["sec/op"].Samples[0] != 3e-3 {
				t.Errorf("%s: %s %v; want the resume's samples", n, cell.Status, cell.Metrics["sec/op"].Samples)
			}
		case n == partial:
			// Its resume part died: the base's two samples stay.
			if cell.Status != rundir.Partial || len(cell.Metrics["sec/op"].Samples) != 2 {
				t.Errorf("%s: %s with %d samples; want the base's partial 2", n, cell.Status, len(cell.Metrics["sec/op"].Samples))
			}
		default:
			if cell.Status != rundir.Missing {
				t.Errorf("%s: %s; want missing", n, cell.Status)
			}
		}
	}
	if d.Run.Complete || len(got.Cells) != len(rc.Parts[1]) {
		t.Errorf("complete %t, %d cells without a result; want incomplete with the dead part's %d", d.Run.Complete, len(got.Cells), len(rc.Parts[1]))
	}
}
