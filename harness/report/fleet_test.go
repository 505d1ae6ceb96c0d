package report

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// mustContain fails for every want that page does not contain.
func mustContain(t *testing.T, name, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("%s does not say %q", name, w)
		}
	}
}

var shardStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// mergedTwoShards makes a synthetic run the merge of two shards of
// submission sub-1, the second of which left no run: the cells of the sleep
// and pipeline experiments (its share) are missing.
func mergedTwoShards(r *rundir.Run, s *rundir.Summary) {
	r.Complete, r.Stopped = false, "shard 2/2 left no run"
	r.Fleet = &rundir.Fleet{Submission: "sub-1", Shards: []rundir.ShardRun{
		{Shard: rundir.Shard{Index: 1, Count: 2}, Submission: "sub-1", Run: "part-1", Node: "cn01",
			Slurm:   &rundir.SlurmTask{JobID: "101", ArrayJobID: "100", ArrayTaskID: "1", Node: "cn01"},
			Started: shardStart, Ended: shardStart.Add(5 * time.Minute), Complete: true, Cells: 35, Seed: 1},
		{Shard: rundir.Shard{Index: 2, Count: 2}, Submission: "sub-1", Node: "cn02",
			Slurm:    &rundir.SlurmTask{JobID: "102", ArrayJobID: "100", ArrayTaskID: "2", Node: "cn02"},
			Complete: false, Stopped: "job 100_2 ended NODE_FAIL", Cells: 31, Seed: 1},
	}}
	for i := range s.Cells {
		c := &s.Cells[i]
		if c.Workload == "sleep" || c.Workload == "pipeline" {
			c.Status, c.Metrics, c.Error = rundir.Missing, nil, "shard 2/2 left no run: job 100_2 ended NODE_FAIL"
		}
	}
}

var flaggedMissingRE = regexp.MustCompile(`<tr id="[^"]*" class="flagged">(?:<td>.*?</td>){2}<td>missing: shard 2/2 left no run`)

// TestMergedRunParts: a run merged from two shards, the second of which left
// no run, lists both parts with their nodes and Slurm jobs, shows the second
// as "left no run" with the warn class, counts the missing cells on the run
// page and shows them as missing and flagged on their experiment pages; a
// single-machine run made inside Slurm says which job it was.
func TestMergedRunParts(t *testing.T) {
	root := t.TempDir()
	merged := writeSynthRun(t, root, "cluster-a", "merged", "login", "Synthetic CPU", 1)
	editRun(t, merged, mergedTwoShards)
	alone := writeSynthRun(t, root, "cluster-a", "alone", "cn03", "Synthetic CPU", 2)
	editRun(t, alone, func(r *rundir.Run, _ *rundir.Summary) {
		r.Slurm = &rundir.SlurmTask{JobID: "203", ArrayJobID: "200", ArrayTaskID: "3", Node: "cn03"}
	})
	site, _ := buildSite(t, root)

	page := readPage(t, site, "runs/cluster-a/merged/index.html")
	mustContain(t, "the merged run's page", page,
		`<h2 id="parts">Parts</h2>`, "submission <code>sub-1</code>",
		"<td>1/2</td><td>cn01</td><td>100_1</td><td><code>part-1</code></td><td>2026-12-01 09:00:00 UTC → 2026-12-01 09:05:00 UTC</td><td>5m0s</td><td>35</td><td>complete</td>",
		`<tr class="flagged"><td>2/2</td><td>cn02</td><td>100_2</td><td>—</td><td>— → —</td><td>—</td><td>31</td><td class="warn">left no run: job 100_2 ended NODE_FAIL</td>`,
		`<a href="sleep.html">sleep</a> — 12 cells`, `<span class="warn">(12 missing)</span>`,
		"bin/lab fleet submit --matrix runs/cluster-a/merged/experiments.toml --hardware cluster-a --shards 2 --seed 1")
	if strings.Contains(page, "<th>Slurm</th>") {
		t.Errorf("the merged run's page has a Slurm row; its parts' jobs are in the parts table")
	}
	if strings.Contains(page, "<th>submission</th>") {
		t.Errorf("the merged run's page has a submission column, but no part was resumed")
	}
	if n := strings.Count(page, "missing)</span>"); n != 4 {
		t.Errorf("the merged run's page counts missing cells in %d experiments; want 4 (sleep, sleep-process, pipeline-small, pipeline-large)", n)
	}

	sleep := readPage(t, site, "runs/cluster-a/merged/sleep.html")
	if n := len(flaggedMissingRE.FindAllString(sleep, -1)); n != 12 {
		t.Errorf("sleep.html has %d flagged rows with status missing; want 12", n)
	}
	mustContain(t, "sleep.html", sleep, "<li>sleep/runtime=go/model=thread/sleep_ms=100/workers=0/start=warm/tasks=10: missing: shard 2/2 left no run")
	if article := readPage(t, site, "runs/cluster-a/merged/article.html"); strings.Contains(article, "missing") {
		t.Errorf("article.html, whose cells shard 1 ran, mentions missing cells")
	}

	mustContain(t, "the Slurm run's page", readPage(t, site, "runs/cluster-a/alone/index.html"),
		"<tr><th>Slurm</th><td>job 200_3 (job id 203) on node cn03</td></tr>")
}

// TestPartsStates: a part is complete, incomplete (with why) or left no run;
// one a resume ran names its submission.
func TestPartsStates(t *testing.T) {
	r := &Run{Dir: &rundir.Dir{Run: rundir.Run{Fleet: &rundir.Fleet{Submission: "s2", Shards: []rundir.ShardRun{
		{Shard: rundir.Shard{Index: 1, Count: 3}, Submission: "s1", Run: "p1", Complete: true, Slurm: &rundir.SlurmTask{JobID: "7"}},
		{Shard: rundir.Shard{Index: 2, Count: 3}, Submission: "s2", Run: "p2", Stopped: "time limit"},
		{Shard: rundir.Shard{Index: 3, Count: 3}, Submission: "s2"},
	}}}}}
	type state struct {
		Job, State, Submission string
		Warn                   bool
	}
	var got []state
	for _, p := range r.Parts() {
		got = append(got, state{p.Job, p.State, p.Submission, p.Warn})
	}
	want := []state{{"7", "complete", "s1", false}, {"—", "incomplete: time limit", "", true}, {"—", "left no run", "", true}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Parts (-want +got):\n%s", d)
	}
	if !r.Resumed() {
		t.Errorf("Resumed: false; want true (shard 1 ran in submission s1)")
	}
}

// writeNodeRun writes a complete each-node run of submission sub on host
// under root/<hwID>/<runID>: nine scaling cells, 12 seeded samples of
// sec/op each (CV 1%), those named in slow multiplied by their factor.
func writeNodeRun(t *testing.T, root, hwID, runID, host, sub string, seed uint64, slow map[string]float64) {
	t.Helper()
	dir := filepath.Join(root, hwID, runID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 17))
	started := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Minute)
	run := rundir.Run{Schema: rundir.Schema, ID: runID, Seed: 9, Rounds: 12, Started: started, Ended: started.Add(time.Hour), Complete: true, Cells: 9}
	run.Hardware.ID, run.Hardware.Detected.Hostname = hwID, host
	run.Software.GoVersion = "go1.26.8"
	run.Matrix.File, run.Matrix.Text = "experiments.toml", "# synthetic\n"
	run.Fleet = &rundir.Fleet{Submission: sub, EachNode: true, Shards: []rundir.ShardRun{{Shard: rundir.Shard{Index: 1, Count: 1},
		Submission: sub, Run: "part-" + host, Node: host, Started: started, Ended: run.Ended, Complete: true, Cells: 9, Seed: 9}}}
	sum := rundir.Summary{Schema: rundir.Schema}
	for _, m := range []string{"thread", "loop", "goroutine"} {
		for _, w := range []string{"1", "2", "4"} {
			name := "scaling/runtime=go/model=" + m + "/workers=" + w
			var secs []float64
			for range 12 {
				secs = append(secs, 0.2*(1+0.01*rng.NormFloat64())*max(1, slow[name]))
			}
			sum.Cells = append(sum.Cells, rundir.Cell{Name: name, Experiment: "scaling", Workload: "primes", Model: m, Runtime: "go",
				Params: map[string]string{"workers": w}, Status: rundir.OK, Reps: 12,
				Metrics: map[string]rundir.Metric{"sec/op": {Samples: secs, Stats: stats.Summarize(secs)}}})
		}
	}
	for name, v := range map[string]any{rundir.RunFile: run, rundir.SummaryFile: sum} {
		if err := rundir.WriteJSON(filepath.Join(dir, name), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := rundir.WriteFile(filepath.Join(dir, rundir.BenchFile), []byte("goos: linux\n")); err != nil {
		t.Fatal(err)
	}
}

// sectionsRE splits the compare page at its node pairs' sections.
var sectionsRE = regexp.MustCompile(`<section class="pair node-pair" id="([^"]*)">`)

// nodePairs returns the changed rows of each node pair's section of the
// compare page, by the pair's id.
func nodePairs(t *testing.T, page string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	locs := sectionsRE.FindAllStringSubmatchIndex(page, -1)
	for i, l := range locs {
		end := len(page)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[page[l[2]:l[3]]] = compareRows(t, page[l[0]:end])
	}
	return out
}

// TestCompareNodes: three each-node runs of one hardware id, the one on
// cn03 with every sample of one cell 1.5× slower. The compare page compares
// cn02 and cn03 with cn01 (the first by host name, not by run id), flags
// the slow cell slower on cn03 and no other cell anywhere, and each run's
// page links to its group. An older single-machine run is what the class
// is compared on; a class with only each-node runs is compared on one of
// them, and the page says so.
func TestCompareNodes(t *testing.T) {
	root := t.TempDir()
	const slowCell = "scaling/runtime=go/model=loop/workers=2"
	writeNodeRun(t, root, "cluster-a", "r1", "cn03", "sub-7", 1, map[string]float64{slowCell: 1.5})
	writeNodeRun(t, root, "cluster-a", "r2", "cn01", "sub-7", 2, nil)
	writeNodeRun(t, root, "cluster-a", "r3", "cn02", "sub-7", 3, nil)
	writeSynthRun(t, root, "cluster-a", "plain", "login", "Synthetic CPU", 1) // started 2026-11-25, before the each-node runs
	writeNodeRun(t, root, "cluster-b", "only", "cn11", "sub-8", 4, nil)
	site, page := buildSite(t, root)

	mustContain(t, "compare.html", page,
		`<section class="nodes" id="nodes">`, `<section class="node-group" id="nodes-cluster-a-sub-7">`,
		"<code>cluster-a</code>, submission <code>sub-7</code>: 3 nodes", "Baseline: node <code>cn01</code>, run",
		`<a href="#nodes-cluster-a-sub-7-cn02">node cn02 vs node cn01</a>: 0 slower, 0 faster, geomean `,
		`<a href="#nodes-cluster-a-sub-7-cn03">node cn03 vs node cn01</a>: 1 slower, 0 faster, geomean `,
		"<code>hardware.detected.hostname</code></td><td>cn01</td><td>cn03</td>",
		"No cell is slower or faster on node <code>cn02</code> than on node <code>cn01</code>.",
		// cluster-a is compared on its single-machine run, cluster-b on a node's.
		`run <a href="runs/cluster-a/plain/index.html">plain</a></td>`,
		"no complete merged or single-machine run: this is node cn11&#39;s run of each-node submission sub-8")
	if strings.Contains(page, "sub-8</code>: ") {
		t.Errorf("compare.html shows a node group for sub-8, which has one node's run")
	}
	got := nodePairs(t, page)
	want := map[string]map[string]string{
		"nodes-cluster-a-sub-7-cn02": {},
		"nodes-cluster-a-sub-7-cn03": {slowCell: "slower"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("changed cells per node pair (-want +got):\n%s", d)
	}
	mustContain(t, "cn03's run page", readPage(t, site, "runs/cluster-a/r1/index.html"),
		"This is node <code>cn03</code>'s whole run of submission <code>sub-7</code>",
		`href="../../../compare.html#nodes-cluster-a-sub-7"`,
		"--hardware cluster-a --each-node --seed 9")
	mustContain(t, "cn11's run page", readPage(t, site, "runs/cluster-b/only/index.html"),
		`href="../../../compare.html#nodes"`)
}

// TestCompareNoNodes: without each-node runs the section says how to get
// them.
func TestCompareNoNodes(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, "solo", "run1", "h", "c", 1)
	_, page := buildSite(t, root)
	mustContain(t, "compare.html", page, `<h2>Nodes of a class</h2>`,
		"No each-node submission with two or more nodes' runs yet: on a Slurm cluster, <code>bin/lab fleet submit --hardware &lt;id&gt; --each-node</code>")
	if strings.Contains(page, "node-pair") {
		t.Errorf("compare.html shows a node pair without each-node runs")
	}
}

func TestReproduceFleet(t *testing.T) {
	fleetRun := func(eachNode bool, o rundir.RunOptions) rundir.Run {
		r := rundir.Run{Seed: 42, Options: o}
		r.Hardware.ID = "cluster a"
		r.Matrix.File = "experiments.toml"
		r.Fleet = &rundir.Fleet{Submission: "s", EachNode: eachNode, Shards: []rundir.ShardRun{
			{Shard: rundir.Shard{Index: 1, Count: 4}}, {Shard: rundir.Shard{Index: 2, Count: 4}}}}
		return r
	}
	merged := fleetRun(false, rundir.RunOptions{Only: "article,scaling", Reps: 10})
	merged.Software.Commit = "0123abc"
	eachNode := fleetRun(true, rundir.RunOptions{Smoke: true})
	eachNode.Fleet.Shards = eachNode.Fleet.Shards[:1]
	plain := rundir.Run{Seed: 3, Options: rundir.RunOptions{Only: "sleep", Force: true}}
	plain.Software.Commit, plain.Hardware.ID, plain.Hardware.Declared = "0123abc", "lab-a", &rundir.Declared{CPUs: 2}
	for _, tt := range []struct {
		name   string
		run    rundir.Run
		copied bool // the matrix is copied next to the page
		want   string
	}{
		{"merged", merged, true, "git checkout 0123abc && make lab && \\\n" +
			"  bin/lab fleet submit --matrix runs/c/r/experiments.toml --hardware 'cluster a' --shards 4 --only article,scaling --reps 10 --seed 42\n" +
			"# once its jobs have ended:\n" +
			"bin/lab fleet collect"},
		{"each node", eachNode, false, "bin/lab fleet submit --matrix experiments.toml --hardware 'cluster a' --smoke --each-node --seed 42\n" +
			"# once its jobs have ended:\n" +
			"bin/lab fleet collect"},
		{"plain", plain, true, "git checkout 0123abc && make lab && \\\n" +
			"  bin/lab run --matrix runs/c/r/experiments.toml --hardware lab-a --force --only sleep --seed 3"},
	} {
		r := &Run{Dir: &rundir.Dir{Run: tt.run}, Path: "runs/c/r", Matrix: tt.copied}
		if got := reproduce(r); got != tt.want {
			t.Errorf("%s: reproduce:\n%s\nwant:\n%s", tt.name, got, tt.want)
		}
	}
}
