package runner

import (
	"slices"
	"testing"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/rundir"
)

// TestSplitTakesEveryCellOnce: on the default matrix, for N = 1 … 7, every
// cell is in exactly one part, the parts come out the same on every call,
// and no part's estimate exceeds another's by more than the heaviest cell.
func TestSplitTakesEveryCellOnce(t *testing.T) {
	m, err := matrix.Load("../../experiments.toml")
	if err != nil {
		t.Fatal(err)
	}
	m.SetCPUs(2)
	cells := m.Cells()
	k := Calibration{DivisionNS: shardDivisionNS, CPUs: 2}
	weight := func(c matrix.Cell) time.Duration {
		return time.Duration(max(c.Reps, 1)) * (k.Estimate(c) + sampleOverhead)
	}
	var heaviest time.Duration
	for _, c := range cells {
		heaviest = max(heaviest, weight(c))
	}
	for n := 1; n <= 7; n++ {
		seen := map[string]int{}
		var loads []time.Duration
		for i := 1; i <= n; i++ {
			part := Split(cells, 2, rundir.Shard{Index: i, Count: n})
			again := Split(cells, 2, rundir.Shard{Index: i, Count: n})
			if !slices.EqualFunc(part, again, func(a, b matrix.Cell) bool { return a.Name() == b.Name() }) {
				t.Errorf("N=%d: part %d differs between two calls", n, i)
			}
			var load time.Duration
			for _, c := range part {
				seen[c.Name()]++
				load += weight(c)
			}
			loads = append(loads, load)
		}
		for _, c := range cells {
			if seen[c.Name()] != 1 {
				t.Errorf("N=%d: cell %s is in %d parts; want 1", n, c.Name(), seen[c.Name()])
			}
		}
		if len(seen) != len(cells) {
			t.Errorf("N=%d: %d cells in the parts; want %d", n, len(seen), len(cells))
		}
		if spread := slices.Max(loads) - slices.Min(loads); spread > heaviest {
			t.Errorf("N=%d: part estimates %v differ by %v, more than the heaviest cell's %v", n, loads, spread, heaviest)
		}
	}
}

// TestSplitBalancesTimeNotCount: one cell estimated as long as four others
// together gets a part of its own.
func TestSplitBalancesTimeNotCount(t *testing.T) {
	sleepCell := func(ms string) matrix.Cell {
		return matrix.Cell{Experiment: "s" + ms, Workload: "sleep", Model: "goroutine",
			Params:   []matrix.Param{{Key: "tasks", Value: "1"}, {Key: "sleep_ms", Value: ms}, {Key: "workers", Value: "0"}},
			Settings: matrix.Settings{Reps: 1}}
	}
	cells := []matrix.Cell{sleepCell("100"), sleepCell("101"), sleepCell("102"), sleepCell("103"), sleepCell("2000")}
	var names []string
	for _, c := range Split(cells, 2, rundir.Shard{Index: 1, Count: 2}) {
		names = append(names, c.Experiment)
	}
	if !slices.Equal(names, []string{"s2000"}) {
		t.Errorf("part 1 of 2 = %q; want the long cell alone", names)
	}
	if got := len(Split(cells, 2, rundir.Shard{Index: 2, Count: 2})); got != 4 {
		t.Errorf("part 2 of 2 has %d cells; want the 4 short ones", got)
	}
}

func TestParseShard(t *testing.T) {
	if s, err := ParseShard("2/3"); err != nil || s != (rundir.Shard{Index: 2, Count: 3}) {
		t.Errorf("ParseShard(2/3) = %+v, %v", s, err)
	}
	for _, bad := range []string{"", "3", "0/2", "3/2", "1/0", "a/b", "-1/2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) gave no error", bad)
		}
	}
}
