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
	return Parts(cells, cpus, s.Count)[s.Index-1]
}

// Parts is every part of Split's division of cells into count parts, in
// part order.
func Parts(cells []matrix.Cell, cpus, count int) [][]matrix.Cell {
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
	load := make([]time.Duration, count)
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
	out := make([][]matrix.Cell, count)
	for i, c := range cells {
		out[part[i]-1] = append(out[part[i]-1], c)
	}
	return out
}

// Duration estimates how long lab run takes to sample cells on a machine
// of calibration k: every execution of every sample (warm-ups included;
// an auto-reps cell at its most samples) and each sample's process start.
// The sequential plan's extra looks are not in it.
func Duration(cells []matrix.Cell, k Calibration) time.Duration {
	var t time.Duration
	for _, c := range cells {
		reps := max(c.Reps, 1)
		if c.Auto {
			reps = max(reps, c.MaxReps)
		}
		t += time.Duration(reps) * (time.Duration(1+c.Warmup)*k.Estimate(c) + sampleOverhead)
	}
	return t
}
