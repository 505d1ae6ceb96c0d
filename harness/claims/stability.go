package claims

import (
	"fmt"
	"sort"

	"concurrency-lab/harness/rundir"
)

// Stability is how a claim's verdict held over the runs of one machine that
// share the judged run's setting: the same commit (clean), Go toolchain and
// matrix, complete, and of the same kind (full or smoke). With nothing
// changed, a verdict that differs from run to run says that the data do not
// decide the claim, whatever one run says.
type Stability struct {
	Setting string          // the setting shared: commit, Go, matrix
	Runs    int             // runs of that setting that have the claim's cells
	Counts  map[Verdict]int // verdicts over those runs
}

// Changed reports a verdict that differs between runs of one setting.
func (s Stability) Changed() bool { return len(s.Counts) > 1 }

// String is e.g. "holds in 4 of 4 runs" or "holds in 2, inconclusive in 1
// of 3 runs".
func (s Stability) String() string {
	if s.Runs == 0 {
		return ""
	}
	vs := make([]Verdict, 0, len(s.Counts))
	for v := range s.Counts {
		vs = append(vs, v)
	}
	// Most frequent first, then in a fixed order.
	sort.Slice(vs, func(i, j int) bool {
		if s.Counts[vs[i]] != s.Counts[vs[j]] {
			return s.Counts[vs[i]] > s.Counts[vs[j]]
		}
		return vs[i] < vs[j]
	})
	out := ""
	for i, v := range vs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s in %d", v, s.Counts[v])
	}
	return fmt.Sprintf("%s of %d runs", out, s.Runs)
}

// setting is what two runs must share for their verdicts to be expected
// equal: "" for a run whose commit is unknown or dirty (its code is not
// known to be another run's).
func setting(d *rundir.Dir) string {
	sw := d.Run.Software
	if sw.Commit == "" || sw.Dirty {
		return ""
	}
	kind := "full"
	if d.Run.Options.Smoke {
		kind = "smoke"
	}
	return fmt.Sprintf("commit %.12s, %s, matrix %.12s, %s runs", sw.Commit, sw.GoVersion, d.Run.Matrix.SHA256, kind)
}

// StabilityOf judges claim r.Claim again on every complete run of runs that
// shares the setting of the run r was judged on, and counts the verdicts.
// It is empty when r was judged on no run, or on one of unknown setting.
func StabilityOf(r Result, runs []*rundir.Dir, o Options) Stability {
	c := r.Claim
	if r.RunPath == "" || c.judge == nil {
		return Stability{}
	}
	var judged *rundir.Dir
	for _, d := range runs {
		if d.Path == r.RunPath {
			judged = d
		}
	}
	if judged == nil || setting(judged) == "" {
		return Stability{}
	}
	st := Stability{Setting: setting(judged), Counts: map[Verdict]int{}}
	for _, d := range Candidates(runs) {
		if setting(d) != st.Setting {
			continue
		}
		comps, missing := c.judge(d, o.ForRun(d))
		if len(missing) > 0 {
			continue
		}
		vs := make([]Verdict, len(comps))
		for i, cp := range comps {
			vs[i] = cp.Verdict
		}
		st.Runs++
		st.Counts[Combine(vs...)]++
	}
	return st
}
