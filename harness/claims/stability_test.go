package claims

import (
	"strings"
	"testing"
	"time"

	"concurrency-lab/harness/rundir"
)

// TestStability: claim 3 judged on three runs of one setting (two where
// threads match processes, one too noisy to decide) and one of another
// commit: the verdicts of the three are counted, the other run is not, and
// the change is flagged.
func TestStability(t *testing.T) {
	run := func(id, commit string, started int64, spread float64) *rundir.Dir {
		d := synthRun(id, 2, article(spread, map[string]float64{"process": 1, "thread": 1.01})...)
		d.Run.Software.Commit, d.Run.Software.GoVersion = commit, "go1.26.8"
		d.Run.Matrix.SHA256 = "abc"
		d.Run.Started = time.Unix(started, 0)
		d.Path = "results/hw/" + id
		return d
	}
	runs := []*rundir.Dir{
		run("r1", "c0ffee", 1, 0.01),
		run("r2", "c0ffee", 2, 0.6),
		run("r3", "c0ffee", 3, 0.01),
		run("r0", "beef00", 0, 0.6), // another commit: not counted
	}
	o := DefaultOptions
	o.Resamples = 2000
	r := Judge("hw", runs, o)[2]
	if r.Claim.N != 3 || r.Run != "r3" || r.Verdict != Holds {
		t.Fatalf("claim %d judged on %q: %s; want claim 3 on r3: holds", r.Claim.N, r.Run, r.Verdict)
	}
	st := r.Stability
	if st.Runs != 3 || st.Counts[Holds] != 2 || st.Counts[Inconclusive] != 1 || !st.Changed() {
		t.Errorf("stability %+v; want 3 runs: 2 holds, 1 inconclusive, changed", st)
	}
	if got := st.String(); got != "holds in 2, inconclusive in 1 of 3 runs" {
		t.Errorf("String() = %q", got)
	}
	if !strings.Contains(st.Setting, "c0ffee") {
		t.Errorf("setting %q does not name the commit", st.Setting)
	}

	// Two runs that agree: not flagged.
	r = Judge("hw", runs[2:3], o)[2]
	if r.Stability.Runs != 1 || r.Stability.Changed() || r.Stability.String() != "holds in 1 of 1 runs" {
		t.Errorf("one run: %+v (%s)", r.Stability, r.Stability)
	}
	// A dirty tree's run has no known setting: no stability line.
	runs[2].Run.Software.Dirty = true
	if r = Judge("hw", runs[2:3], o)[2]; r.Stability.Runs != 0 {
		t.Errorf("a dirty run got stability %+v; want none", r.Stability)
	}
}

func TestJudgedLeavesOutEachNodeRuns(t *testing.T) {
	run := func(id string, complete, smoke, eachNode bool) *rundir.Dir {
		d := &rundir.Dir{Path: id, Run: rundir.Run{ID: id, Complete: complete, Options: rundir.RunOptions{Smoke: smoke}}}
		if eachNode {
			d.Run.Fleet = &rundir.Fleet{Submission: "s", EachNode: true}
		}
		return d
	}
	ids := func(ds []*rundir.Dir) string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Run.ID)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		runs []*rundir.Dir
		want string
	}{
		// A merged or single run beside node runs: the node runs go.
		{[]*rundir.Dir{run("full", true, false, false), run("n1", true, false, true)}, "full"},
		// Only a smoke run beside full node runs: the node runs stay.
		{[]*rundir.Dir{run("smoke", true, true, false), run("n1", true, false, true)}, "smoke n1"},
		// Smoke runs on both sides: the node runs go.
		{[]*rundir.Dir{run("smoke", true, true, false), run("n1", true, true, true)}, "smoke"},
		// Nothing else complete: everything stays.
		{[]*rundir.Dir{run("broken", false, false, false), run("n1", true, false, true)}, "broken n1"},
	} {
		if got := ids(Judged(tc.runs)); got != tc.want {
			t.Errorf("Judged(%s) = %q; want %q", ids(tc.runs), got, tc.want)
		}
	}
}
