package runner

import (
	"testing"

	"concurrency-lab/harness/rundir"
)

// TestSummaryStatus: a cell still taking samples is partial, whatever it has
// so far; only a cell whose sampling ended says ok.
func TestSummaryStatus(t *testing.T) {
	bench := []byte("BenchmarkLab/a/runtime=go/model=thread/workers=1-2 \t 1\t 1000 ns/op\n")
	cells := []*cellState{
		{cell: cell("a", "thread", 6), samples: 1},
		{cell: cell("b", "loop", 6)},
		{cell: cell("c", "process", 6), samples: 6, status: rundir.OK},
		{cell: cell("d", "goroutine", 6), status: rundir.Failed, err: "boom"},
	}
	sum, err := summarize(bench, cells)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rundir.Partial, rundir.Partial, rundir.OK, rundir.Failed}
	for i, c := range sum.Cells {
		if c.Status != want[i] {
			t.Errorf("%s: status %s; want %s", c.Name, c.Status, want[i])
		}
	}
	if n := len(sum.Cells[0].Metrics["sec/op"].Samples); n != 1 {
		t.Errorf("the partial cell has %d samples; want the 1 taken", n)
	}
}
