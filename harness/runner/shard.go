package runner

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/rundir"
)

// ParseShard parses lab run's --shard "i/N": part i (1 ≤ i ≤ N) of N.
func ParseShard(s string) (rundir.Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return rundir.Shard{}, fmt.Errorf("--shard %q: want i/N with 1 ≤ i ≤ N, such as 1/4", s)
	}
	return rundir.Shard{Index: i, Count: n}, nil
}

// shardDivisionNS is the trial division's cost the shard split assumes. The
// split must be the same on every node that takes a part of the run, so it
// cannot use the node's own calibration; only the estimates' proportions
// matter to it.
const shardDivisionNS = 2.0

// sampleOverhead is what a sample costs besides its executions: a fresh
// benchmark process and its start-up (measured: 50–100 ms here).
const sampleOverhead = 100 * time.Millisecond

// Split divides cells into count parts of about equal estimated time and
// returns part index (1-based), in the cells' order. Every cell is in
// exactly one part, and the split depends only on the cells and cpus (the
// CPUs the cells were expanded for): the nodes of one hardware class, given
// the same matrix, agree on it. A cell weighs its time estimate (at
// shardDivisionNS per division) plus sampleOverhead, times its samples; the
// heaviest cells are placed first, each on the part with the least weight so
// far (the lower index on a tie), so parts are balanced by time, not count.
func Split(cells []matrix.Cell, cpus int, s rundir.Shard) []matrix.Cell {
	k := Calibration{DivisionNS: shardDivisionNS, CPUs: max(cpus, 1)}
	type item struct {
		i      int
		weight time.Duration
		name   string
	}
	items := make([]item, len(cells))
	for i, c := range cells {
		items[i] = item{i, time.Duration(max(c.Reps, 1)) * (k.Estimate(c) + sampleOverhead), c.Name()}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(b.weight, a.weight), cmp.Compare(a.name, b.name))
	})
	load := make([]time.Duration, s.Count)
	part := make([]int, len(cells))
	for _, it := range items {
		p := 0
		for j := range load {
			if load[j] < load[p] {
				p = j
			}
		}
		load[p] += it.weight
		part[it.i] = p + 1
	}
	var out []matrix.Cell
	for i, c := range cells {
		if part[i] == s.Index {
			out = append(out, c)
		}
	}
	return out
}
