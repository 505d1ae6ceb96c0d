package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/fleet"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/report"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/runner"
)

// RequireSlurmEnv, when set, turns TestFleetOnSlurm's skip (no Slurm here)
// into a failure: CI brings a cluster up and must never pass by skipping.
const RequireSlurmEnv = "LAB_REQUIRE_SLURM"

// localCluster is the ClusterName scripts/slurm-local.sh gives its cluster:
// the test submits only there, never to a real cluster whose client
// commands happen to be installed.
const localCluster = "lab-local"

// TestFleetOnSlurm submits the smoke matrix as two shards to the one-node
// cluster scripts/slurm-local.sh brings up on this machine, waits for both
// tasks (bounded), collects them, and checks the merged run: exactly the
// cells a local lab run --smoke selects, each with its samples, both parts
// complete on the node, and a site built from it.
func TestFleetOnSlurm(t *testing.T) {
	if why := slurmHere(t.Context()); why != "" {
		if os.Getenv(RequireSlurmEnv) != "" {
			t.Fatalf("%s is set but %s", RequireSlurmEnv, why)
		}
		t.Skipf("%s (scripts/slurm-local.sh up makes one)", why)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 12*time.Minute)
	defer cancel()

	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(root, "experiments.toml"))
	if err != nil {
		t.Fatal(err)
	}
	machine, err := hw.Detect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A class this machine is: its usable CPUs and memory, on the local
	// cluster's partition.
	class := fmt.Sprintf("\n[hardware.slurm-local]\ncpus = %d\nmemory_gib = %.1f\n\n[hardware.slurm-local.slurm]\npartition = \"lab\"\nconstraint = \"lab-local\"\ntime_limit = \"30m\"\n",
		machine.UsableCPUs, float64(machine.MemoryBytes)/(1<<30))
	dir := t.TempDir()
	matrixPath := filepath.Join(dir, "experiments.toml")
	if err := os.WriteFile(matrixPath, append(text, class...), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")

	var out, errb bytes.Buffer
	if code := lab(ctx, []string{"fleet", "submit", "--matrix", matrixPath, "--hardware", "slurm-local", "--smoke", "--shards", "2", "--results", results}, &out, &errb); code != 0 {
		t.Fatalf("lab fleet submit: exit %d\n%s", code, errb.String())
	}
	id := strings.TrimSpace(out.String())
	t.Logf("submitted %s:\n%s", id, errb.String())
	t.Cleanup(func() {
		// A failed or timed-out test leaves no task running.
		if s, err := fleet.Read(filepath.Join(results, fleet.WorkDir, id)); err == nil {
			for _, c := range s.Classes {
				exec.Command("scancel", c.Jobs...).Run()
			}
		}
	})
	out.Reset()
	errb.Reset()
	code := lab(ctx, []string{"fleet", "collect", "--results", results, "--wait", "10m", id}, &out, &errb)
	if code != 0 {
		logs, _ := filepath.Glob(filepath.Join(results, ".fleet", id, "logs", "*"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, tail(string(b), 2000))
		}
		t.Fatalf("lab fleet collect: exit %d\n%s", code, errb.String())
	}
	merged := strings.TrimSpace(out.String())
	d, err := rundir.Read(merged)
	if err != nil {
		t.Fatal(err)
	}

	// The cells a local lab run --smoke selects on this machine.
	m, err := matrix.Parse(matrixPath, append(text, class...))
	if err != nil {
		t.Fatal(err)
	}
	local, err := runner.Select(m, "", "", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, c := range local {
		want = append(want, c.Name())
	}
	for _, c := range d.Summary.Cells {
		got = append(got, c.Name)
		n := len(c.Metrics["sec/op"].Samples)
		if c.Status != rundir.OK || n < c.Reps || c.Reps < 6 {
			t.Errorf("%s: %s (%s), %d samples of %d", c.Name, c.Status, c.Error, n, c.Reps)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged cells (-lab run --smoke +merged):\n%s", diff)
	}
	if !d.Run.Complete || d.Run.Fleet == nil || len(d.Run.Fleet.Shards) != 2 {
		t.Fatalf("merged run: complete %t, fleet %+v", d.Run.Complete, d.Run.Fleet)
	}
	for _, sr := range d.Run.Fleet.Shards {
		if !sr.Complete || sr.Node == "" || sr.Slurm == nil || sr.Slurm.ArrayTaskID != fmt.Sprint(sr.Shard.Index) || sr.Cells == 0 {
			t.Errorf("part %s: %+v; want complete, on a node, from its array task", sr.Shard, sr)
		}
	}

	site := filepath.Join(dir, "site")
	built, err := report.Build(report.Options{Results: results, Out: site})
	if err != nil {
		t.Fatalf("the site from the merged run: %v", err)
	}
	if built.Runs != 1 || len(built.Refused) > 0 {
		t.Errorf("site: %d runs, refused %v; want the merged run alone (parts stay in .fleet)", built.Runs, built.Refused)
	}
	page, err := filepath.Glob(filepath.Join(site, "runs", "slurm-local", "*", "index.html"))
	if err != nil || len(page) != 1 {
		t.Fatalf("run pages %v (%v); want the merged run's", page, err)
	}
	b, err := os.ReadFile(page[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range d.Run.Fleet.Shards {
		if !strings.Contains(string(b), sr.Node) {
			t.Errorf("the run page does not name part %s's node %s", sr.Shard, sr.Node)
		}
	}
}

// slurmHere says why the local cluster cannot take the test's jobs, or ""
// when it can.
func slurmHere(ctx context.Context) string {
	if _, err := exec.LookPath("sbatch"); err != nil {
		return "no sbatch on PATH"
	}
	conf := cmpOr(os.Getenv("SLURM_CONF"), "/etc/slurm/slurm.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return "no Slurm configuration: " + err.Error()
	}
	if !strings.Contains(string(b), "\nClusterName="+localCluster+"\n") {
		return conf + " is not the configuration of " + localCluster + " (scripts/slurm-local.sh's cluster)"
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
