package claims

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// synthRun is a complete run on a machine with cpus usable CPUs.
func synthRun(id string, cpus int, cells ...rundir.Cell) *rundir.Dir {
	d := &rundir.Dir{Path: "results/hw/" + id, Run: rundir.Run{ID: id, Complete: true, Started: time.Unix(0, 0)}}
	d.Run.Hardware.Detected.UsableCPUs = cpus
	d.Summary.Cells = cells
	return d
}

// article is the article's cells (primes, replicate, 2 workers) of the
// given models, each with 10 time samples around its centre with a relative
// spread.
func article(spread float64, centres map[string]float64) []rundir.Cell {
	p := map[string]string{"split": "replicate", "workers": "2", "n": "100000"}
	var out []rundir.Cell
	for i, m := range []string{"process", "thread", "thread-gil", "loop"} {
		if c, ok := centres[m]; ok {
			out = append(out, cell("article", "primes", m, p, map[string][]float64{"sec/op": noisy(uint64(100+i), 10, c, spread)}))
		}
	}
	return out
}

// echoes is the echo cells of claims 4 and 5 in runtime rt: for each model,
// at each connections value, 5 requests of 64 B, think_ms think (0: fast),
// requests/s samples around reqs[model][conns] and peak RSS samples around
// rss[model][conns], with relative spreads.
func echoes(rt string, think int, spread, rssSpread float64, reqs, rss map[string]map[int]float64) []rundir.Cell {
	var out []rundir.Cell
	seed := uint64(500 + 10*think)
	for _, m := range []string{"process", "thread", "loop", "goroutine"} {
		for _, conns := range []int{10, 100, 1000, 10000} {
			r, ok := reqs[m][conns]
			if !ok {
				continue
			}
			seed += 2
			p := map[string]string{"connections": strconv.Itoa(conns), "requests": "5", "payload_bytes": "64", "think_ms": strconv.Itoa(think), "start": "warm"}
			metrics := map[string][]float64{"requests/s": noisy(seed, 8, r, spread)}
			if b, ok := rss[m][conns]; ok {
				metrics["peak-rss-B"] = noisy(seed+1, 8, b, rssSpread)
			}
			c := cell("echo", "echo", m, p, metrics)
			c.Runtime = rt
			out = append(out, c)
		}
	}
	return out
}

// Slow echo figures: the loop serves 10 000 slow connections faster than
// threads and with the least memory per connection (≈ 2 KB against ≈ 10 KB
// and ≈ 1 MB), or slower, or as heavy as threads.
var (
	slowFast = map[string]map[int]float64{
		"loop": {100: 900, 10000: 90000}, "thread": {100: 900, 10000: 50000}, "process": {100: 900},
	}
	slowSlowLoop = map[string]map[int]float64{
		"loop": {100: 900, 10000: 40000}, "thread": {100: 900, 10000: 50000},
	}
	memLoopLight = map[string]map[int]float64{
		"loop": {100: 10e6, 10000: 30e6}, "thread": {100: 10e6, 10000: 110e6},
	}
	memLoopLikeThreads = map[string]map[int]float64{
		"loop": {100: 10e6, 10000: 110e6}, "thread": {100: 10e6, 10000: 110e6},
	}
)

// pipes is the pipeline cells of claim 6 at 1 MiB payloads.
func pipes(spread float64, process, thread float64) []rundir.Cell {
	p := map[string]string{"payload_bytes": "1048576", "stages": "3", "messages": "1000"}
	return []rundir.Cell{
		cell("pipeline-large", "pipeline", "process", p, map[string][]float64{"B/s": noisy(301, 10, process, spread)}),
		cell("pipeline-large", "pipeline", "thread", p, map[string][]float64{"B/s": noisy(302, 10, thread, spread)}),
	}
}

// partition is the primes partition cells of claim 9, process model, at 1
// and 2 workers.
func partition(spread float64, one, two float64) []rundir.Cell {
	return partitionAt(spread, map[int]float64{1: one, 2: two})
}

// partitionAt is the partition cells at each workers value, time samples
// around times[workers].
func partitionAt(spread float64, times map[int]float64) []rundir.Cell {
	var out []rundir.Cell
	for w := 1; w <= 16; w++ {
		t, ok := times[w]
		if !ok {
			continue
		}
		p := map[string]string{"split": "partition", "workers": strconv.Itoa(w), "n": "100000"}
		out = append(out, cell("scaling", "primes", "process", p, map[string][]float64{"sec/op": noisy(uint64(400+w), 10, t, spread)}))
	}
	return out
}

// TestJudges judges every claim the matrix can judge on synthetic samples:
// one case where it holds, one where it does not, one where the data cannot
// tell.
func TestJudges(t *testing.T) {
	tests := []struct {
		name  string
		claim int
		cpus  int
		cells []rundir.Cell
		want  Verdict
	}{
		{"1 holds: processes 2× faster", 1, 2, article(0.01, map[string]float64{"process": 1, "thread-gil": 2, "loop": 2}), Holds},
		{"1 does not hold: 1.05×", 1, 2, article(0.01, map[string]float64{"process": 1, "thread-gil": 1.05, "loop": 1.05}), DoesNotHold},
		{"1 inconclusive: 1.5× with 60% noise", 1, 2, article(0.6, map[string]float64{"process": 1, "thread-gil": 1.5, "loop": 1.5}), Inconclusive},

		{"2 holds: loop = thread-gil", 2, 2, article(0.01, map[string]float64{"thread-gil": 2, "loop": 2.02}), Holds},
		{"2 does not hold: loop 2× thread-gil", 2, 2, article(0.01, map[string]float64{"thread-gil": 2, "loop": 4}), DoesNotHold},
		{"2 inconclusive: 60% noise", 2, 2, article(0.6, map[string]float64{"thread-gil": 2, "loop": 2}), Inconclusive},

		{"3 holds: thread = process", 3, 2, article(0.01, map[string]float64{"process": 1, "thread": 1.01}), Holds},
		{"3 does not hold: thread 2× process", 3, 2, article(0.01, map[string]float64{"process": 1, "thread": 2}), DoesNotHold},
		{"3 inconclusive: 60% noise", 3, 2, article(0.6, map[string]float64{"process": 1, "thread": 1}), Inconclusive},

		{"4 holds: loop faster at 10000 slow connections and the lightest", 4, 2, echoes("go", 100, 0.01, 0.01, slowFast, memLoopLight), Holds},
		{"4 does not hold: loop slower", 4, 2, echoes("go", 100, 0.01, 0.01, slowSlowLoop, memLoopLight), DoesNotHold},
		{"4 inconclusive: loop's memory per connection overlaps threads'", 4, 2, echoes("go", 100, 0.01, 0.01, slowFast, memLoopLikeThreads), Inconclusive},
		{"4 inconclusive: 60% noise", 4, 2, echoes("go", 100, 0.6, 0.01, map[string]map[int]float64{"loop": {100: 900, 10000: 40000}, "thread": {100: 900, 10000: 50000}}, memLoopLight), Inconclusive},
		{"4 does not hold in one runtime of two", 4, 2, append(echoes("go", 100, 0.01, 0.01, slowFast, memLoopLight), echoes("cpython", 100, 0.01, 0.01, slowSlowLoop, memLoopLight)...), DoesNotHold},

		{"5 holds: thread = loop at 10 fast connections", 5, 2, echoes("go", 0, 0.005, 0, map[string]map[int]float64{"loop": {10: 50000}, "thread": {10: 49000}}, nil), Holds},
		{"5 holds: thread better than loop", 5, 2, echoes("go", 0, 0.005, 0, map[string]map[int]float64{"loop": {10: 50000}, "thread": {10: 80000}}, nil), Holds},
		{"5 does not hold: thread at half the loop's", 5, 2, echoes("go", 0, 0.005, 0, map[string]map[int]float64{"loop": {10: 50000}, "thread": {10: 25000}}, nil), DoesNotHold},
		{"5 inconclusive: 60% noise", 5, 2, echoes("go", 0, 0.6, 0, map[string]map[int]float64{"loop": {10: 50000}, "thread": {10: 45000}}, nil), Inconclusive},

		{"6 holds: threads 3× the throughput", 6, 2, pipes(0.01, 1e9, 3e9), Holds},
		{"6 does not hold: the same throughput", 6, 2, pipes(0.01, 1e9, 1e9), DoesNotHold},
		{"6 inconclusive: 1.5× with 60% noise", 6, 2, pipes(0.6, 1e9, 1.5e9), Inconclusive},

		{"9 holds: 2 workers twice as fast", 9, 2, partition(0.01, 2, 1), Holds},
		{"9 does not hold: no speed-up", 9, 2, partition(0.01, 2, 2), DoesNotHold},
		{"9 inconclusive: 60% noise", 9, 2, partition(0.6, 2, 1), Inconclusive},
		{"9 inconclusive: one CPU", 9, 1, partition(0.01, 2, 1), Inconclusive},
		{"9 holds on 4 CPUs: N = 2, 3, 4", 9, 4, partitionAt(0.01, map[int]float64{1: 4, 2: 2, 3: 1.34, 4: 1.01}), Holds},
		{"9 does not hold on 4 CPUs: no speed-up past 2", 9, 4, partitionAt(0.01, map[int]float64{1: 4, 2: 2, 3: 2, 4: 2}), DoesNotHold},
		{"9 on 4 CPUs with only N = 2 and 4", 9, 4, partitionAt(0.01, map[int]float64{1: 4, 2: 2, 4: 1.01}), Holds},
		{"9 inconclusive on 4 CPUs: 60% noise", 9, 4, partitionAt(0.6, map[int]float64{1: 4, 2: 2, 3: 1.34, 4: 1}), Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Judge("hw", []*rundir.Dir{synthRun("r1", tt.cpus, tt.cells...)}, DefaultOptions)[tt.claim-1]
			if res.Claim.N != tt.claim {
				t.Fatalf("result %d is claim %d", tt.claim-1, res.Claim.N)
			}
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
			// Every case but the one-CPU machine has the cells: an
			// inconclusive verdict there comes from the data, not from
			// something missing.
			if hasCells := !strings.Contains(tt.name, "one CPU"); hasCells && (res.Run != "r1" || len(res.Missing) != 0 || len(res.Comparisons) == 0) {
				t.Errorf("claim %d judged on run %q with missing %q and %d comparisons; want r1, nothing missing", tt.claim, res.Run, res.Missing, len(res.Comparisons))
			}
		})
	}
}

// TestOptionsPassedDown: the margins and the seed come from the options
// given, and the rule printed says so.
func TestOptionsPassedDown(t *testing.T) {
	d := synthRun("r1", 2, article(0.01, map[string]float64{"process": 1, "thread": 2})...)
	o := DefaultOptions
	o.Margins.NoGIL = WithinRule(0.4, 2.5)
	o.Seed = 7
	res := Judge("hw", []*rundir.Dir{d}, o)[2]
	if res.Verdict != Holds {
		t.Errorf("claim 3 with the margin [0.4, 2.5]: %q; want holds", res.Verdict)
	}
	if !strings.Contains(res.Rule, "[0.4, 2.5]") || !strings.Contains(res.Comparisons[0].Rule, "[0.4, 2.5]") {
		t.Errorf("claim 3's rule %q / %q does not print the margin [0.4, 2.5]", res.Rule, res.Comparisons[0].Rule)
	}
	if res.Comparisons[0].Ratio.Seed != 7 {
		t.Errorf("ratio drawn with seed %d; want 7", res.Comparisons[0].Ratio.Seed)
	}
	if got := Judge("hw", []*rundir.Dir{d}, DefaultOptions)[2]; got.Verdict != DoesNotHold || !strings.Contains(got.Rule, "±10%") {
		t.Errorf("claim 3 with the default margin: %q, rule %q; want does not hold, ±10%%", got.Verdict, got.Rule)
	}
}

// TestEdges: an end of the CI exactly at a bound counts as the claimed side
// for a difference; for a sameness, a CI exactly filling the margin holds
// and one that touches it from outside is inconclusive.
func TestEdges(t *testing.T) {
	tests := []struct {
		name   string
		rule   Rule
		lo, hi float64
		want   Verdict
	}{
		{"≥: low end at the bound", AtLeastRule(1.5), 1.5, 2, Holds},
		{"≥: high end at the bound", AtLeastRule(1.5), 1, 1.5, Inconclusive},
		{"≥: just below", AtLeastRule(1.5), 1, 1.4999, DoesNotHold},
		{"≥: a point CI at the bound", AtLeastRule(1.5), 1.5, 1.5, Holds},
		{"≤: high end at the bound", AtMostRule(1.05), 0.9, 1.05, Holds},
		{"≤: low end at the bound", AtMostRule(1.05), 1.05, 1.2, Inconclusive},
		{"≤: just above", AtMostRule(1.05), 1.0501, 1.2, DoesNotHold},
		{"within: exactly the margin", WithinRule(0.9, 1.1), 0.9, 1.1, Holds},
		{"within: low end just outside", WithinRule(0.9, 1.1), 0.8999, 1.0, Inconclusive},
		{"within: high end just outside", WithinRule(0.9, 1.1), 1.0, 1.1001, Inconclusive},
		{"within: wider than the margin", WithinRule(0.9, 1.1), 0.8, 1.2, Inconclusive},
		{"within: touches the low edge from below", WithinRule(0.9, 1.1), 0.7, 0.9, Inconclusive},
		{"within: touches the high edge from above", WithinRule(0.9, 1.1), 1.1, 1.3, Inconclusive},
		{"within: entirely below", WithinRule(0.9, 1.1), 0.7, 0.8999, DoesNotHold},
		{"within: entirely above", WithinRule(0.9, 1.1), 1.1001, 1.3, DoesNotHold},
	}
	for _, tt := range tests {
		if got := tt.rule.Judge(stats.Ratio{Lo: tt.lo, Hi: tt.hi}); got != tt.want {
			t.Errorf("%s: %s on [%g, %g] = %q; want %q", tt.name, tt.rule.Short(), tt.lo, tt.hi, got, tt.want)
		}
	}
}

// TestRunChoice: full runs before smoke runs, newest first; incomplete runs
// never judged; Latest falls back and says why.
func TestRunChoice(t *testing.T) {
	at := func(id string, h int, complete, smoke bool) *rundir.Dir {
		d := synthRun(id, 2)
		d.Run.Started = time.Unix(int64(h)*3600, 0)
		d.Run.Complete, d.Run.Options.Smoke = complete, smoke
		return d
	}
	old, newer, smoke, partial := at("old", 1, true, false), at("new", 2, true, false), at("smoke", 3, true, true), at("partial", 4, false, false)
	var ids []string
	for _, d := range Candidates([]*rundir.Dir{smoke, old, partial, newer}) {
		ids = append(ids, RunID(d))
	}
	if got := strings.Join(ids, " "); got != "new old smoke" {
		t.Errorf("Candidates: %s; want new old smoke", got)
	}
	if d, why := Latest([]*rundir.Dir{smoke, old, partial}); d != old || why != "" {
		t.Errorf("Latest: %s (%q); want old", RunID(d), why)
	}
	if d, why := Latest([]*rundir.Dir{smoke, partial}); d != smoke || !strings.Contains(why, "smoke") {
		t.Errorf("Latest without a full run: %s (%q); want smoke, saying so", RunID(d), why)
	}
	if d, why := Latest([]*rundir.Dir{partial}); d != partial || !strings.Contains(why, "incomplete") {
		t.Errorf("Latest without a complete run: %s (%q); want partial, saying so", RunID(d), why)
	}
}

// TestCPythonClaims: claim 5 is judged on CPython's cells where a CPython
// runtime ran (and says so), claim 10 on uvloop against asyncio of the same
// interpreter, and is inconclusive without uvloop.
func TestCPythonClaims(t *testing.T) {
	py := runtimes.Identity{Runtime: "cpython", Kind: "cpython", Executable: "/usr/bin/python3", Version: "3.11.2 (main)", EventLoop: "asyncio"}
	uv := runtimes.Identity{Runtime: "cpython-uvloop", Kind: "cpython", Executable: "/usr/bin/python3", Version: "3.11.2 (main)", EventLoop: "uvloop"}
	run := func(ids []runtimes.Identity, cells ...rundir.Cell) *rundir.Dir {
		d := synthRun("r1", 2, cells...)
		d.Run.Runtimes = ids
		return d
	}
	fast := func(rt string, loop, thread float64) []rundir.Cell {
		return echoes(rt, 0, 0.01, 0, map[string]map[int]float64{"loop": {10: loop}, "thread": {10: thread}}, nil)
	}
	uvFast := func(rt string, loop float64) []rundir.Cell {
		return echoes(rt, 0, 0.01, 0, map[string]map[int]float64{"loop": {10: loop}}, nil)
	}
	// Go's threads fall short, CPython's do not: claim 5 follows CPython.
	d := run([]runtimes.Identity{py}, append(fast("go", 50000, 20000), fast("cpython", 20000, 19500)...)...)
	if r := Judge("hw", []*rundir.Dir{d}, DefaultOptions)[4]; r.Verdict != Holds || !strings.Contains(r.On, "CPython: runtime cpython") {
		t.Errorf("claim 5 with CPython cells: %q on %q; want holds on CPython", r.Verdict, r.On)
	}
	if r := Judge("hw", []*rundir.Dir{run(nil, fast("go", 50000, 20000)...)}, DefaultOptions)[4]; r.Verdict != DoesNotHold || !strings.Contains(r.On, "Go emulation") {
		t.Errorf("claim 5 without CPython: %q on %q; want does not hold on the Go emulation", r.Verdict, r.On)
	}
	tests := []struct {
		name string
		d    *rundir.Dir
		want Verdict
	}{
		{"10 holds: uvloop 3× asyncio", run([]runtimes.Identity{py, uv}, append(fast("cpython", 20000, 19000), uvFast("cpython-uvloop", 60000)...)...), Holds},
		{"10 does not hold: uvloop 1.1×", run([]runtimes.Identity{py, uv}, append(fast("cpython", 20000, 19000), uvFast("cpython-uvloop", 22000)...)...), DoesNotHold},
		{"10 inconclusive: uvloop absent", run([]runtimes.Identity{py, {Runtime: "cpython-uvloop", Kind: "cpython", EventLoop: "uvloop", Unavailable: "no uvloop"}}, fast("cpython", 20000, 19000)...), Inconclusive},
	}
	for _, tt := range tests {
		if r := Judge("hw", []*rundir.Dir{tt.d}, DefaultOptions)[9]; r.Verdict != tt.want {
			t.Errorf("%s: %q (missing %q); want %q", tt.name, r.Verdict, r.Missing, tt.want)
		}
	}
}
