package claims

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// ArticleSeconds are the article's CPython times (i7-8700K, primes up to
// 100 000, 2 workers), by the lab model that stands for each: processes,
// threads (thread-gil) and asyncio (loop).
var ArticleSeconds = map[string]float64{"process": 23.87, "thread-gil": 45.24, "loop": 44.77}

// Claim is one of the article's claims as a hypothesis.
type Claim struct {
	N       int
	Text    string // the claim, in the article's words
	Kind    string // "difference" or "sameness"
	Compare string // what is compared, in words
	// rule is the rule in words, with its bound or margin from the options.
	rule func(m Margins) string
	// margin picks the claim's bound or margin from the options' (nil when
	// the rule has none).
	margin func(m Margins) Rule
	Note   string // a caveat that belongs next to every verdict
	// CPython marks the claims about CPython itself (1, 2, 5, 10): they
	// are judged on a CPython runtime's cells where one ran, and on the Go
	// models otherwise, and the result says which (Result.On).
	CPython bool
	// Needs names the experiment that would give the data, for claims the
	// matrix cannot judge yet; judge is nil then.
	Needs string
	judge func(d *rundir.Dir, o Options) ([]Comparison, []string)
}

// Rule is the claim's rule in words, with the bound or margin o gives it.
func (c *Claim) Rule(o Options) string { return c.rule(o.Margins) }

func fixed(s string) func(Margins) string { return func(Margins) string { return s } }

// Quantity is one side of a comparison: a cell's median (or a quantity
// derived from cells) with its 95% CI when there is one.
type Quantity struct {
	Label  string
	Cells  []string // names of the cells it comes from
	Unit   string
	Median float64
	Lo, Hi float64
	HasCI  bool
	N      int // samples (the fewest among Cells)
}

// Comparison is one comparison a verdict rests on: B against the baseline A.
type Comparison struct {
	What  string
	A, B  Quantity
	Ratio *stats.Ratio // B/A with its CI; nil for comparisons of intervals
	Rule  string
	// Bound is the rule Ratio was judged by, for a chart that draws the
	// ratio against it; nil for comparisons judged otherwise.
	Bound   *Rule
	Verdict Verdict
	// Runtime is the runtime whose cells were compared ("" = go).
	Runtime string
}

// Result is a claim judged on one machine.
type Result struct {
	Claim       *Claim
	Rule        string // the claim's rule with the options' margins
	Hardware    string
	Run         string // the run judged ("" when none had the cells)
	RunPath     string
	Smoke       bool // the run judged is a smoke run: sizes capped
	Verdict     Verdict
	Comparisons []Comparison
	Missing     []string // cells (or experiments) that were needed and absent
	// On says whose cells the verdict rests on, for the claims about
	// CPython: a CPython runtime's, or the Go emulation's ("" for the
	// other claims).
	On string
	// Plan describes the run's sequential plan when it had one ("" else):
	// its intervals are then at the plan's per-look level.
	Plan string
	// Stability is the claim's verdict over every run of this machine
	// with the judged run's setting (commit, Go, matrix).
	Stability Stability
}

// All is the article's twelve claims, in order, as the README states
// them.
var All = []*Claim{
	{
		N: 1, Kind: "difference",
		Text: fmt.Sprintf("CPU-bound ⇒ processes: with 2 workers, processes are ~2× faster than threads and asyncio (CPython, i7-8700K: %g / %g / %g s).",
			ArticleSeconds["process"], ArticleSeconds["thread-gil"], ArticleSeconds["loop"]),
		Compare: "primes, replicate, 2 workers: time of threads / processes and of asyncio / processes (CPython: its thread and loop cells; Go emulation: thread-gil and loop)",
		rule:    func(m Margins) string { return "both ratios " + m.CPUBound.Short() + ". " + m.CPUBound.String() },
		margin:  func(m Margins) Rule { return m.CPUBound },
		Note:    "Judged on CPython where a CPython runtime ran (threading, asyncio and multiprocessing themselves); otherwise on the lab's Go emulation, where thread-gil stands for CPython threads (one global lock, 5 ms switch interval) and loop for asyncio. The verdict says which.",
		CPython: true,
		judge:   judgeCPUBound,
	},
	{
		N: 2, Kind: "sameness",
		Text:    "Under a GIL, threads and the event loop are equally serialised for CPU work.",
		Compare: "primes, replicate, 2 workers: time of asyncio / threads (CPython: loop / thread; Go emulation: loop / thread-gil)",
		rule:    func(m Margins) string { return m.GILSame.Short() + ". " + m.GILSame.String() },
		margin:  func(m Margins) Rule { return m.GILSame },
		Note:    "Judged on CPython's threads and asyncio where a CPython runtime ran; otherwise on the lab's Go emulation (thread-gil for CPython threads, loop for asyncio). The verdict says which.",
		CPython: true,
		judge:   judgeGILSame,
	},
	{
		N: 3, Kind: "sameness",
		Text:    "Without a GIL (Go threads) CPU work runs in parallel like processes.",
		Compare: "primes, replicate, 2 workers: time of thread / process",
		rule:    func(m Margins) string { return m.NoGIL.Short() + ". " + m.NoGIL.String() },
		margin:  func(m Margins) Rule { return m.NoGIL },
		judge:   judgeNoGIL,
	},
	{
		N: 4, Kind: "difference",
		Text:    "I/O-bound with many slow connections ⇒ event loop.",
		Compare: "echo, the most slow connections (think time > 0) both served, per runtime: throughput (requests/s) of loop / thread; memory per connection of loop vs every other model that served them",
		rule: func(m Margins) string {
			return "loop / thread throughput " + m.ManyConns.Short() + " (" + m.ManyConns.String() + ") and loop the least memory per connection " +
				"(per connection = (peak RSS at the most connections − peak RSS at the fewest) / (the difference in connections), from the medians; its interval from the two medians' 95% CIs; " +
				"least when loop's interval lies entirely below the other model's, not least when entirely above, inconclusive when they overlap), in every runtime that has the cells"
		},
		margin: func(m Margins) Rule { return m.ManyConns },
		judge:  judgeManyConns,
	},
	{
		N: 5, Kind: "sameness",
		Text:    "I/O-bound with few fast connections ⇒ threads are fine.",
		Compare: "echo, the fewest fast connections (no think time): throughput (requests/s) of thread / loop",
		rule: func(m Margins) string {
			return "within ±10% or better: " + m.FewConns.Short() + ". " + m.FewConns.String()
		},
		margin:  func(m Margins) Rule { return m.FewConns },
		Note:    "Judged on CPython's threads and asyncio where a CPython runtime ran, on the Go models otherwise. The verdict says which.",
		CPython: true,
		judge:   judgeFewConns,
	},
	{
		N: 6, Kind: "difference",
		Text:    "Processes pay for IPC; threads share memory.",
		Compare: "pipeline, the largest payload: throughput (B/s) of thread / process",
		rule:    func(m Margins) string { return m.IPC.Short() + ". " + m.IPC.String() },
		margin:  func(m Margins) Rule { return m.IPC },
		judge:   judgeIPC,
	},
	{
		N: 7, Kind: "difference",
		Text:    "The loop's interleaving is deterministic; threads' is not.",
		Compare: "interleave, the article's two-task program (two tasks of 10 numbered events, a short wait between events), between=wait: distinct event orders over the repeats of each sample, loop and thread, per runtime",
		rule:    fixed("the loop gives 1 order in every sample, and the 95% CI of the median of the thread model's distinct orders lies above 1 (every thread sample at 1: does not hold), in every runtime that has the cells"),
		Note:    "Nothing is added to make threads vary or the loop repeat itself: the orders are what the tasks produced, and each is kept in the run's bench.txt (lines starting with \"# orders\").",
		judge:   judgeInterleave,
	},
	{
		N: 8, Kind: "difference",
		Text:    "A blocking call inside a coroutine stalls the whole loop.",
		Compare: "blocking, loop model: K tasks that each make a blocking call of X ms, then wait Y ms on the loop; the blocking call on the loop (offload=none) against the same handed to a thread pool of at least K threads (offload=pool, asyncio's run_in_executor), the most tasks with both, per runtime",
		rule: func(m Margins) string {
			return "loop-only time / (K·X) " + m.Stall.Short() + ", and offloaded time / (X + Y) " + m.Offload.Short() + ", in every runtime that has the cells. " + m.Stall.String()
		},
		margin: func(m Margins) Rule { return m.Stall },
		judge:  judgeBlocking,
	},
	{
		N: 9, Kind: "sameness",
		Text:    "Partitioning a CPU job over N cores gives ~N× (the article's \"cut the list into 8 parts\").",
		Compare: "primes, partition, process model: speed-up / N = time(1 worker) / time(N workers) / N, for every N from 2 to the usable CPUs that the run has (the default matrix has them all: workers = \"1..cpus\")",
		rule:    func(m Margins) string { return m.Partition.Short() + " for every N. " + m.Partition.String() },
		margin:  func(m Margins) Rule { return m.Partition },
		judge:   judgePartition,
	},
	{
		N: 10, Kind: "difference",
		Text:    "uvloop makes asyncio 2–4× faster.",
		Compare: "CPython's loop, same interpreter: echo throughput on uvloop / on asyncio's event loop (fast connections, the most), and sleep time on asyncio / on uvloop (the most tasks)",
		rule:    func(m Margins) string { return m.UVLoop.Short() + ". " + m.UVLoop.String() },
		margin:  func(m Margins) Rule { return m.UVLoop },
		Note:    "Judged on CPython's echo cells (the loop's socket handling is what uvloop replaces) and sleep cells (its timers). Inconclusive where uvloop is absent.",
		CPython: true,
		judge:   judgeUVLoop,
	},
	{
		N: 11, Kind: "difference",
		Text:    "Spawning workers costs; pools amortise it.",
		Compare: "spawn: workers that do nothing, started and joined inside the timed region (cold) against handed an empty task from a pool started beforehand (warm), the most workers with both; time per worker cold / warm, for processes and threads (the operating system's workers), per runtime (CPython: per start method)",
		rule:    func(m Margins) string { return m.Spawn.Short() + " for each. " + m.Spawn.String() },
		margin:  func(m Margins) Rule { return m.Spawn },
		Note:    "Goroutines and loop tasks are on the spawn experiment's page for contrast; the claim is about processes and threads.",
		judge:   judgeSpawn,
	},
	{
		N: 12, Kind: "difference",
		Text:    "Many threads holding large results cost memory.",
		Compare: "hold, thread model: W workers each producing a result of result_bytes, every result held until all are done (hold) against the article's fix, where the workers return what a result is made from and the consumer makes, consumes and drops one at a time (one-at-a-time); the most workers with both; (peak RSS hold − one at a time) / W / result_bytes, per runtime",
		rule: func(m Margins) string {
			return "extra RSS per worker " + m.Hold.Short() + " × result_bytes (interval from the two medians' 95% CIs), in every runtime that has the cells. " + m.Hold.String()
		},
		margin: func(m Margins) Rule { return m.Hold },
		Note:   "The hold experiment also has a release mode (each result consumed and dropped as it arrives, the workers building theirs at once): it saves little memory, because the workers' results all exist before the consumer gets to them. The claim is judged against the article's own fix.",
		judge:  judgeHold,
	},
}

// Judge judges every claim on one machine's runs (any order) with options
// o. Each claim is judged on the first of Candidates(runs) that has its
// cells (full runs before smoke runs, newest first); a claim no run can
// judge is inconclusive, with what is missing.
func Judge(hardware string, runs []*rundir.Dir, o Options) []Result {
	cands := Candidates(runs)
	var out []Result
	for _, c := range All {
		r := judgeOne(c, hardware, cands, o)
		r.Stability = StabilityOf(r, cands, o)
		out = append(out, r)
	}
	return out
}

func judgeOne(c *Claim, hardware string, runs []*rundir.Dir, o Options) Result {
	r := Result{Claim: c, Rule: c.Rule(o), Hardware: hardware, Verdict: Inconclusive}
	if c.judge == nil {
		r.Missing = []string{"no data: needs " + c.Needs + ", which the matrix does not have yet"}
		return r
	}
	if len(runs) == 0 {
		r.Missing = []string{"no data: no complete run on this machine"}
		return r
	}
	var firstMissing []string
	for i, d := range runs {
		comps, missing := c.judge(d, o.ForRun(d))
		if len(missing) == 0 {
			r.Run, r.RunPath, r.Smoke = RunID(d), d.Path, d.Run.Options.Smoke
			if sq := d.Run.Sequential; sq != nil && sq.Looks > 0 {
				r.Plan = fmt.Sprintf("sampled until decided: %s; %d looks taken",
					Plan{Looks: sq.Looks, Alpha: sq.Alpha}, sq.Taken)
			}
			r.Comparisons = comps
			r.On = judgedOn(c, d, comps)
			vs := make([]Verdict, len(comps))
			for i, cp := range comps {
				vs[i] = cp.Verdict
			}
			r.Verdict = Combine(vs...)
			return r
		}
		if i == 0 {
			firstMissing = missing
		}
	}
	r.Missing = append([]string{"no data: no complete run on this machine has these cells"}, firstMissing...)
	return r
}

// quantity is a cell's metric as a Quantity.
func quantity(label string, c *rundir.Cell, unit string) Quantity {
	m := c.Metrics[unit]
	q := Quantity{Label: label, Cells: []string{c.Name}, Unit: unit, Median: m.Stats.Median, N: len(m.Samples)}
	if m.Stats.CILo != nil && m.Stats.CIHi != nil {
		q.Lo, q.Hi, q.HasCI = *m.Stats.CILo, *m.Stats.CIHi, true
	}
	return q
}

// ratio compares unit of b against a with the options' bootstrap.
func ratio(o Options, what string, a, b *rundir.Cell, unit string, la, lb string) (Comparison, error) {
	r, err := o.Ratio(a.Metrics[unit].Samples, b.Metrics[unit].Samples)
	if err != nil {
		return Comparison{}, fmt.Errorf("%s vs %s: %w", b.Name, a.Name, err)
	}
	return Comparison{What: what, A: quantity(la, a, unit), B: quantity(lb, b, unit), Ratio: &r}, nil
}

var primes2 = map[string]string{"split": "replicate", "workers": "2"}

// judge sets a comparison's rule and verdict from a margin.
func (c *Comparison) judge(rule Rule) {
	c.Rule, c.Verdict, c.Bound = rule.String(), rule.Judge(*c.Ratio), &rule
}

func judgeCPUBound(d *rundir.Dir, o Options) ([]Comparison, []string) {
	// CPython itself where it ran: threads and asyncio against processes.
	for _, rt := range CPythonRuntimes(d) {
		if cells, missing := articleModelsIn(d, rt, "process", "thread", "loop"); missing == nil {
			return cpuBound(o, rt, cells, "thread", "asyncio")
		}
	}
	cells, missing := articleModels(d, "process", "thread-gil", "loop")
	if missing != nil {
		return nil, missing
	}
	return cpuBound(o, GoRuntime, cells, "thread-gil", "loop")
}

// cpuBound judges claim 1 on the article cells process, thread, loop of one
// runtime; thread and loop are what those models are called there.
func cpuBound(o Options, rt string, cells []*rundir.Cell, thread, loop string) ([]Comparison, []string) {
	var out []Comparison
	for i, m := range []string{thread, loop} {
		c, err := ratio(o, "time of "+m+" / process", cells[0], cells[i+1], "sec/op", "process", m)
		if err != nil {
			return nil, []string{err.Error()}
		}
		c.Runtime = rt
		c.judge(o.Margins.CPUBound)
		out = append(out, c)
	}
	return out, nil
}

// sameArticle compares the article cells of two models with a sameness
// rule.
func sameArticle(d *rundir.Dir, o Options, rule Rule, base, other string) ([]Comparison, []string) {
	cells, missing := articleModels(d, base, other)
	if missing != nil {
		return nil, missing
	}
	c, err := ratio(o, "time of "+other+" / "+base, cells[0], cells[1], "sec/op", base, other)
	if err != nil {
		return nil, []string{err.Error()}
	}
	c.judge(rule)
	return []Comparison{c}, nil
}

func judgeGILSame(d *rundir.Dir, o Options) ([]Comparison, []string) {
	for _, rt := range CPythonRuntimes(d) {
		if cells, missing := articleModelsIn(d, rt, "thread", "loop"); missing == nil {
			c, err := ratio(o, "time of asyncio / thread", cells[0], cells[1], "sec/op", "thread", "asyncio")
			if err != nil {
				return nil, []string{err.Error()}
			}
			c.Runtime = rt
			c.judge(o.Margins.GILSame)
			return []Comparison{c}, nil
		}
	}
	return sameArticle(d, o, o.Margins.GILSame, "thread-gil", "loop")
}

func judgeNoGIL(d *rundir.Dir, o Options) ([]Comparison, []string) {
	return sameArticle(d, o, o.Margins.NoGIL, "process", "thread")
}

// sleepTasksIn lists the tasks values of one runtime's ok sleep cells of
// model with all tasks waiting at once (workers = 0), ascending, with the
// cells.
func sleepTasksIn(d *rundir.Dir, runtime, model string) ([]int, map[int]*rundir.Cell) {
	cells := map[int]*rundir.Cell{}
	var ts []int
	for i := range d.Summary.Cells {
		c := &d.Summary.Cells[i]
		if c.Workload != "sleep" || c.Model != model || RuntimeOf(c) != runtime || c.Params["workers"] != "0" || !Usable(c, "sec/op") {
			continue
		}
		t, err := strconv.Atoi(c.Params["tasks"])
		if err != nil || cells[t] != nil {
			continue
		}
		cells[t] = c
		ts = append(ts, t)
	}
	sort.Ints(ts)
	return ts, cells
}

// judgeUVLoop compares, on the sleep cells at the most tasks, CPython's loop
// on asyncio's own event loop with the same interpreter's loop on uvloop.
func judgeUVLoop(d *rundir.Dir, o Options) ([]Comparison, []string) {
	pairs := uvloopPairs(d)
	if len(pairs) == 0 {
		return nil, []string{"a CPython runtime with event_loop = \"uvloop\" that ran, beside one on asyncio with the same interpreter (uvloop absent or not declared)"}
	}
	var out []Comparison
	for _, p := range pairs {
		if c, ok, err := uvloopEcho(d, o, p[0], p[1]); err != nil {
			return nil, []string{err.Error()}
		} else if ok {
			out = append(out, c)
		}
		if c, ok, err := uvloopSleep(d, o, p[0], p[1]); err != nil {
			return nil, []string{err.Error()}
		} else if ok {
			out = append(out, c)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, []string{"echo (fast connections) or sleep, model=loop, the same parameters (status ok) in a CPython runtime on asyncio and the same interpreter on uvloop"}
}

// uvloopSleep compares, for claim 10, asyncio's time with uvloop's on the
// sleep cells at the most tasks both ran.
func uvloopSleep(d *rundir.Dir, o Options, asyncioRT, uvRT string) (Comparison, bool, error) {
	ta, asyncio := sleepTasksIn(d, asyncioRT, "loop")
	tu, _ := sleepTasksIn(d, uvRT, "loop")
	for i := len(ta) - 1; i >= 0; i-- { // the most tasks both have
		t := ta[i]
		if !slices.Contains(tu, t) {
			continue
		}
		params := map[string]string{"tasks": strconv.Itoa(t), "workers": asyncio[t].Params["workers"], "sleep_ms": asyncio[t].Params["sleep_ms"]}
		cells, missing := together(d, []string{asyncio[t].Experiment}, want{"sleep", "loop", params, "sec/op", asyncioRT}, want{"sleep", "loop", params, "sec/op", uvRT})
		if missing != nil {
			continue
		}
		// Speed-up of uvloop = asyncio's time / uvloop's time.
		c, err := ratio(o, fmt.Sprintf("speed-up of uvloop: time of asyncio / uvloop, sleep at tasks=%d", t), cells[1], cells[0], "sec/op", uvRT+" (uvloop)", asyncioRT+" (asyncio)")
		if err != nil {
			return Comparison{}, false, err
		}
		c.Runtime = asyncioRT
		c.judge(o.Margins.UVLoop)
		return c, true, nil
	}
	return Comparison{}, false, nil
}

func judgeIPC(d *rundir.Dir, o Options) ([]Comparison, []string) {
	// The largest payload both models have, in one experiment.
	best, bestBytes := []*rundir.Cell(nil), -1
	for i := range d.Summary.Cells {
		p := &d.Summary.Cells[i]
		if p.Workload != "pipeline" || p.Model != "process" || RuntimeOf(p) != GoRuntime {
			continue
		}
		b, err := strconv.Atoi(p.Params["payload_bytes"])
		if err != nil || b <= bestBytes {
			continue
		}
		params := map[string]string{"payload_bytes": p.Params["payload_bytes"], "stages": p.Params["stages"], "messages": p.Params["messages"]}
		cells, missing := together(d, []string{p.Experiment},
			want{"pipeline", "process", params, "B/s", ""}, want{"pipeline", "thread", params, "B/s", ""})
		if missing == nil {
			best, bestBytes = cells, b
		}
	}
	if best == nil {
		return nil, []string{"pipeline, models process and thread, the same payload_bytes, with B/s samples (status ok)"}
	}
	c, err := ratio(o, fmt.Sprintf("throughput of thread / process at payload_bytes=%d", bestBytes), best[0], best[1], "B/s", "process", "thread")
	if err != nil {
		return nil, []string{err.Error()}
	}
	c.judge(o.Margins.IPC)
	return []Comparison{c}, nil
}

func judgePartition(d *rundir.Dir, o Options) ([]Comparison, []string) {
	cores := d.Run.Hardware.Detected.UsableCPUs
	if decl := d.Run.Hardware.Declared; decl != nil && len(decl.Affinity) > 0 {
		cores = len(decl.Affinity) // the run was pinned to these
	}
	if cores < 2 {
		return nil, []string{fmt.Sprintf("a machine with at least 2 usable CPUs (this run saw %d)", cores)}
	}
	// Every N from 2 to the usable CPUs that the run has cells for; the
	// speed-up cannot exceed the CPUs, so larger N say nothing of it.
	var out []Comparison
	var missing []string
	for n := 2; n <= cores; n++ {
		one := map[string]string{"split": "partition", "workers": "1"}
		many := map[string]string{"split": "partition", "workers": strconv.Itoa(n)}
		cells, miss := together(d, []string{"scaling"}, want{"primes", "process", many, "sec/op", ""}, want{"primes", "process", one, "sec/op", ""})
		if miss != nil {
			missing = append(missing, miss...)
			continue
		}
		c, err := ratio(o, fmt.Sprintf("speed-up / N at N=%d (time at 1 worker / time at %d, divided by %d)", n, n, n), cells[0], cells[1], "sec/op", fmt.Sprintf("process, %d workers", n), "process, 1 worker")
		if err != nil {
			return nil, []string{err.Error()}
		}
		r := *c.Ratio
		r.Point, r.Lo, r.Hi = r.Point/float64(n), r.Lo/float64(n), r.Hi/float64(n)
		c.Ratio = &r
		c.judge(o.Margins.Partition)
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, missing
	}
	return out, nil
}

// CPythonRuntimes lists run d's CPython runtimes that ran on asyncio's own
// event loop (not uvloop), in the run's order: the ones the claims about
// CPython are judged on.
func CPythonRuntimes(d *rundir.Dir) []string {
	var out []string
	for _, id := range d.Run.Runtimes {
		if id.Kind == "cpython" && id.Unavailable == "" && id.EventLoop != "uvloop" {
			out = append(out, id.Runtime)
		}
	}
	return out
}

// uvloopPairs pairs each CPython runtime of run d on uvloop with a CPython
// runtime on asyncio of the same interpreter: {asyncio, uvloop} names.
func uvloopPairs(d *rundir.Dir) [][2]string {
	var out [][2]string
	for _, u := range d.Run.Runtimes {
		if u.Kind != "cpython" || u.Unavailable != "" || u.EventLoop != "uvloop" {
			continue
		}
		for _, a := range d.Run.Runtimes {
			if a.Kind == "cpython" && a.Unavailable == "" && a.EventLoop != "uvloop" && a.Executable == u.Executable {
				out = append(out, [2]string{a.Runtime, u.Runtime})
				break
			}
		}
	}
	return out
}

// judgedOn says, for a claim about CPython, whose cells its comparisons
// compared.
func judgedOn(c *Claim, d *rundir.Dir, comps []Comparison) string {
	if !c.CPython || len(comps) == 0 {
		return ""
	}
	rt := comps[0].Runtime
	if rt == "" || rt == GoRuntime {
		return "the Go emulation (this run has no CPython cells for it)"
	}
	for _, id := range d.Run.Runtimes {
		if id.Runtime == rt {
			v, _, _ := strings.Cut(id.Version, " ")
			return fmt.Sprintf("CPython: runtime %s (%s, Python %s)", rt, id.Executable, v)
		}
	}
	return "CPython: runtime " + rt
}
