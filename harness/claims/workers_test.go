package claims

import (
	"slices"
	"strconv"
	"testing"

	"concurrency-lab/harness/rundir"
)

// interleaves is the interleave cells (between=wait, 20 repeats) of loop and
// thread in runtime rt, with the given distinct-order samples.
func interleaves(rt string, loop, thread []float64) []rundir.Cell {
	p := map[string]string{"tasks": "2", "events": "10", "repeats": "20", "between": "wait", "gap_us": "1000", "start": "warm"}
	l := cell("interleave", "interleave", "loop", p, map[string][]float64{"orders": loop})
	t := cell("interleave", "interleave", "thread", p, map[string][]float64{"orders": thread})
	l.Runtime, t.Runtime = rt, rt
	return []rundir.Cell{l, t}
}

// lonely is an interleave loop cell (start=cold) with no thread cell of its
// parameters, that varied: it must not be judged.
func lonely() rundir.Cell {
	p := map[string]string{"tasks": "2", "events": "10", "repeats": "20", "between": "wait", "gap_us": "1000", "start": "cold"}
	c := cell("interleave", "interleave", "loop", p, map[string][]float64{"orders": {2, 2, 2, 2, 2, 2, 2, 2}})
	c.Runtime = "go"
	return c
}

// blockings is the blocking cells of the loop: 10 tasks blocking 20 ms and
// waiting 20 ms, on the loop (none s) and offloaded to a pool of pool
// threads (pooled s).
func blockings(none, pooled float64, pool int) []rundir.Cell {
	p := func(off string, pl int) map[string]string {
		return map[string]string{"tasks": "10", "block_ms": "20", "wait_ms": "20", "offload": off, "pool": strconv.Itoa(pl), "start": "warm"}
	}
	return []rundir.Cell{
		cell("blocking", "blocking", "loop", p("none", 0), map[string][]float64{"sec/op": noisy(71, 8, none, 0.01)}),
		cell("blocking", "blocking", "loop", p("pool", pool), map[string][]float64{"sec/op": noisy(72, 8, pooled, 0.01)}),
	}
}

// spawns is the spawn cells of processes and threads at 100 workers: cold
// and warm times.
func spawns(spread, cold, warm float64) []rundir.Cell {
	var out []rundir.Cell
	for i, m := range []string{"process", "thread"} {
		for j, start := range []string{"cold", "warm"} {
			t := cold
			if start == "warm" {
				t = warm
			}
			out = append(out, cell("spawn", "spawn", m, map[string]string{"workers": "100", "start": start},
				map[string][]float64{"sec/op": noisy(uint64(80+2*i+j), 8, t, spread)}))
		}
	}
	return out
}

// holds is the hold cells of threads: 100 workers of 1 MiB, peak RSS when
// holding, one at a time, and releasing as they arrive (as much as
// holding: not the claim's comparison).
func holds(spread, held, released float64) []rundir.Cell {
	p := func(r string) map[string]string {
		return map[string]string{"workers": "100", "result_bytes": "1048576", "results": r, "start": "warm"}
	}
	return []rundir.Cell{
		cell("hold", "hold", "thread", p("hold"), map[string][]float64{"peak-rss-B": noisy(91, 8, held, spread)}),
		cell("hold", "hold", "thread", p("one-at-a-time"), map[string][]float64{"peak-rss-B": noisy(92, 8, released, spread)}),
		// The release mode is not the claim's comparison.
		cell("hold", "hold", "thread", p("release"), map[string][]float64{"peak-rss-B": noisy(93, 8, held, spread)}),
	}
}

func TestWorkerClaims(t *testing.T) {
	ones, many := []float64{1, 1, 1, 1, 1, 1, 1, 1}, []float64{3, 5, 2, 4, 6, 3, 4, 5}
	const mib = 1 << 20
	tests := []struct {
		name  string
		claim int
		cells []rundir.Cell
		want  Verdict
	}{
		{"7 holds: loop always one order, threads several", 7, interleaves("go", ones, many), Holds},
		{"7 does not hold: threads always one order", 7, interleaves("go", ones, ones), DoesNotHold},
		{"7 does not hold: the loop varied once", 7, interleaves("go", []float64{1, 1, 2, 1, 1, 1, 1, 1}, many), DoesNotHold},
		{"7 inconclusive: threads varied in one sample of eight", 7, interleaves("go", ones, []float64{1, 1, 1, 2, 1, 1, 1, 1}), Inconclusive},
		{"7 pairs like cells: a loop cell without a thread partner is passed over", 7, append([]rundir.Cell{lonely()}, interleaves("go", ones, many)...), Holds},
		{"7 does not hold in one runtime of two", 7, append(interleaves("go", ones, many), interleaves("cpython", ones, ones)...), DoesNotHold},

		{"8 holds: loop-only 10 × 20 ms, offloaded 40 ms", 8, blockings(0.205, 0.041, 0), Holds},
		{"8 does not hold: loop-only as fast as offloaded", 8, blockings(0.041, 0.041, 0), DoesNotHold},
		{"8 does not hold: offloaded twice block + wait", 8, blockings(0.205, 0.08, 10), DoesNotHold},

		{"11 holds: cold 5× warm", 11, spawns(0.01, 0.05, 0.01), Holds},
		{"11 does not hold: cold faster", 11, spawns(0.01, 0.005, 0.01), DoesNotHold},
		{"11 inconclusive: 60% noise", 11, spawns(0.6, 0.011, 0.01), Inconclusive},

		{"12 holds: 100 MiB more when holding", 12, holds(0.005, 110*mib, 10*mib), Holds},
		{"12 does not hold: the same memory", 12, holds(0.005, 10*mib, 10*mib), DoesNotHold},
		{"12 inconclusive: 40% noise", 12, holds(0.4, 110*mib, 10*mib), Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Judge("hw", []*rundir.Dir{synthRun("r1", 2, tt.cells...)}, DefaultOptions)[tt.claim-1]
			if res.Verdict != tt.want {
				t.Errorf("claim %d: %q; want %q (missing %q)", tt.claim, res.Verdict, tt.want, res.Missing)
				for _, c := range res.Comparisons {
					if c.Ratio != nil {
						t.Logf("  %s: %.3f [%.3f, %.3f] %s", c.What, c.Ratio.Point, c.Ratio.Lo, c.Ratio.Hi, c.Verdict)
					} else {
						t.Logf("  %s: A %+v B %+v %s", c.What, c.A, c.B, c.Verdict)
					}
				}
			}
			if res.Run != "r1" || len(res.Missing) != 0 || len(res.Comparisons) == 0 {
				t.Errorf("claim %d judged on run %q with missing %q and %d comparisons; want r1, nothing missing", tt.claim, res.Run, res.Missing, len(res.Comparisons))
			}
		})
	}
}

// TestPairs: cells pair only with their like (same experiment and every
// other parameter), the largest size first.
func TestPairs(t *testing.T) {
	cells := append(spawns(0.01, 0.05, 0.01),
		cell("spawn", "spawn", "process", map[string]string{"workers": "1000", "start": "cold"}, map[string][]float64{"sec/op": {1, 2}}),
		cell("other", "spawn", "process", map[string]string{"workers": "1000", "start": "warm"}, map[string][]float64{"sec/op": {1, 2}}),
		cell("spawn", "spawn", "process", map[string]string{"workers": "10", "start": "cold"}, map[string][]float64{"sec/op": {1, 2}}),
		cell("spawn", "spawn", "process", map[string]string{"workers": "10", "start": "warm"}, map[string][]float64{"sec/op": {1, 2}}),
	)
	ps := pairs(synthRun("r", 2, cells...), "spawn", "process", "go", "sec/op", "start", "warm", "cold", "workers")
	var got []string
	for _, p := range ps {
		got = append(got, p.a.Params["workers"]+":"+p.a.Params["start"]+"/"+p.b.Params["start"])
	}
	if want := []string{"100:warm/cold", "10:warm/cold"}; !slices.Equal(got, want) {
		t.Errorf("pairs = %q; want %q (1000 has no like warm cell in its experiment)", got, want)
	}
}
