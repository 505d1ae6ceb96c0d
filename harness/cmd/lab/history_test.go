package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// historyTree writes results/m/ with six complete runs of three cells, ten
// samples each spread ±1% around their level, and a smoke run (left out):
// cpu/…/a steps 2× at run 3, where the commit changes too; cpu/…/b slows
// 1.5× at run 6, the newest; nap/…/a stays at 10 ms throughout.
func historyTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for i := range 7 {
		levels := map[string]float64{"cpu/runtime=go/a": 0.1, "cpu/runtime=go/b": 0.2, "nap/runtime=go/a": 0.01}
		commit := "1111111111111111111111111111111111111111"
		if i >= 2 {
			levels["cpu/runtime=go/a"], commit = 0.2, "2222222222222222222222222222222222222222"
		}
		if i >= 5 {
			levels["cpu/runtime=go/b"] = 0.3
		}
		id := fmt.Sprintf("20261101T%02d0000Z", i)
		run := rundir.Run{Schema: rundir.Schema, ID: id, Complete: true, Cells: 3, Rounds: 10,
			Started:  time.Date(2026, 11, 1, i, 0, 0, 0, time.UTC),
			Ended:    time.Date(2026, 11, 1, i, 30, 0, 0, time.UTC),
			Hardware: rundir.RunHardware{ID: "m", Detected: hw.Machine{CPUModel: "Test CPU", UsableCPUs: 2, Hostname: "h"}},
			Software: hw.Software{GoVersion: "go1.26.8", Commit: commit, GOMAXPROCS: 2},
		}
		if i == 6 {
			run.ID, run.Options.Smoke = id+"-smoke", true
		}
		var sum rundir.Summary
		sum.Schema = rundir.Schema
		var bench strings.Builder
		for _, name := range []string{"cpu/runtime=go/a", "cpu/runtime=go/b", "nap/runtime=go/a"} {
			var v []float64
			for k := range 10 {
				// ±1% in a fixed pattern, and the run's own 0.5% offset.
				v = append(v, levels[name]*(1+0.002*float64((k*7+i*3)%11-5))*(1+0.005*float64(i%3-1)))
				fmt.Fprintf(&bench, "BenchmarkLab/%s-2 1 %.0f ns/op\n", name, v[k]*1e9)
			}
			exp, _, _ := strings.Cut(name, "/")
			sum.Cells = append(sum.Cells, rundir.Cell{Name: name, Experiment: exp, Model: "thread", Runtime: "go", Status: rundir.OK, Reps: 10,
				Metrics: map[string]rundir.Metric{"sec/op": {Samples: v, Stats: stats.Summarize(v)}}})
		}
		path := filepath.Join(dir, "results", "m", run.ID)
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]any{rundir.RunFile: run, rundir.SummaryFile: sum} {
			if err := rundir.WriteJSON(filepath.Join(path, name), v); err != nil {
				t.Fatal(err)
			}
		}
		if err := rundir.WriteFile(filepath.Join(path, rundir.BenchFile), []byte(bench.String())); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestHistoryGolden checks lab history's text and json output against
// testdata/history/*.golden (go test -run TestHistoryGolden -update
// rewrites them).
func TestHistoryGolden(t *testing.T) {
	t.Chdir(historyTree(t))
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"text.golden", []string{"history", "m"}},
		{"json.golden", []string{"history", "m", "--format", "json"}},
		{"cell.golden", []string{"history", "--cell", "^cpu/runtime=go/a$", "m"}},
	} {
		var out, errb bytes.Buffer
		if code := lab(t.Context(), tc.args, &out, &errb); code != 0 {
			t.Fatalf("lab %q: exit %d\n%s", tc.args, code, errb.String())
		}
		path := filepath.Join(origWD(t), "testdata", "history", tc.golden)
		if *update {
			if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), out.String()); diff != "" {
			t.Errorf("lab %q (-%s +got):\n%s", tc.args, tc.golden, diff)
		}
	}
}

// origWD is the package directory: tests start there, before t.Chdir.
var packageDir, _ = os.Getwd()

func origWD(*testing.T) string { return packageDir }

func TestHistoryFailOn(t *testing.T) {
	t.Chdir(historyTree(t))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"history", "m", "--fail-on", "10"}, exitError, "1 cells slower by more than 10% in a step among the newest 3 runs:\n  cpu/runtime=go/b: ×1.507 from run #6 (slower"},
		{[]string{"history", "m", "--fail-on", "60%"}, exitOK, ""},
		// cpu/…/a's step, at run 3, is older than the newest three: no gate.
		{[]string{"history", "m", "--cell", "^cpu/runtime=go/a$", "--fail-on", "10"}, exitOK, ""},
		{[]string{"history", "nosuch"}, exitUsage, "results/nosuch: no such file or directory"},
		{[]string{"history"}, exitUsage, "which hardware id?"},
		{[]string{"history", "m", "--format", "xml"}, exitUsage, `--format "xml"`},
		{[]string{"history", "m", "--fail-on", "x"}, exitUsage, `--fail-on "x"`},
		{[]string{"history", "m", "--cell", "("}, exitUsage, "--cell: error parsing regexp"},
	} {
		var out, errb bytes.Buffer
		code := lab(t.Context(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("lab %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}
