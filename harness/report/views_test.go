package report

import (
	"testing"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// TestRowsFlagSleepCellsThatDidNotWaitAtOnce: a sleep cell whose measured
// peak of concurrent waits fell below what it asked for is shown with its
// peak and flagged; one where every task waited together is not.
func TestRowsFlagSleepCellsThatDidNotWaitAtOnce(t *testing.T) {
	cell := func(name, tasks, workers string, peaks ...float64) *rundir.Cell {
		secs := []float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1}
		return &rundir.Cell{Name: name, Workload: "sleep", Model: "thread", Status: rundir.OK,
			Params: map[string]string{"tasks": tasks, "workers": workers, "sleep_ms": "100"},
			Metrics: map[string]rundir.Metric{
				"sec/op":       {Samples: secs, Stats: stats.Summarize(secs)},
				"peak-waiting": {Samples: peaks, Stats: stats.Summarize(peaks)},
			}}
	}
	x := &Experiment{Name: "sleep", Workload: "sleep", rts: runtimesOf(&rundir.Dir{}), Cells: []*rundir.Cell{
		cell("all", "100", "0", 100, 100, 100),
		cell("short", "10000", "0", 3830, 4100, 10000),
		cell("pool", "100", "10", 10, 10, 10),
		cell("pool-short", "100", "10", 10, 9, 10),
	}}
	want := map[string]struct {
		waiting string
		short   bool
	}{
		"all":        {"100 of 100", false},
		"short":      {"3830–10000 of 10000", true},
		"pool":       {"10 of 10", false},
		"pool-short": {"9–10 of 10", true},
	}
	for _, r := range rows(x, claims.DefaultOptions) {
		w := want[r.Name]
		if r.Waiting != w.waiting || r.Short != w.short || r.Flagged != w.short {
			t.Errorf("%s: waiting %q, short %v, flagged %v; want %q, %v, %v", r.Name, r.Waiting, r.Short, r.Flagged, w.waiting, w.short, w.short)
		}
	}
}
