package runner

import (
	"math"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/workloads/primes"
)

// Calibration holds this machine's speeds for Estimate.
type Calibration struct {
	DivisionNS float64 // one trial division of the primes workload
	CPUs       int
}

// Calibrate times a small primes count (about 0.1 s) to learn the cost of
// one trial division here.
func Calibrate(cpus int) Calibration {
	const n = 20000
	start := time.Now()
	primes.Count(2, n, nil)
	return Calibration{DivisionNS: float64(time.Since(start).Nanoseconds()) / divisions(n), CPUs: max(cpus, 1)}
}

// divisions approximates the trial divisions of Count(2, n): a prime p costs
// p−2 and there are about n/ln n of them averaging n/2, while composites stop
// at their smallest factor and add little.
func divisions(n int) float64 {
	fn := float64(n)
	return fn * fn / (2 * math.Log(fn))
}

// Costs of the external runtimes relative to Go's, for Estimate: rough
// figures measured on a 2-vCPU machine (CPython 3.11's trial division is
// about 13× Go's; a CPython worker process costs a fork of the interpreter, a
// thread ~100 µs; each message between pipeline stages ~15 µs; a driver
// starts in ~50 ms).
var runtimeCost = map[string]struct {
	division  float64 // × Go's trial division
	perMsg    float64 // seconds per message per pipeline hop
	bandwidth float64 // pipeline bytes per second per hop
	start     map[string]time.Duration
	driver    time.Duration
}{
	matrix.KindCPython: {division: 13, perMsg: 15e-6, bandwidth: 1e9,
		start: map[string]time.Duration{"process": 5 * time.Millisecond, "thread": 100 * time.Microsecond}, driver: 50 * time.Millisecond},
	matrix.KindNative: {division: 1, perMsg: 5e-6, bandwidth: 3e9,
		start: map[string]time.Duration{"process": time.Millisecond, "thread": 20 * time.Microsecond}, driver: 5 * time.Millisecond},
}

// Estimate guesses the wall time of one sample of c, set-up included. It is
// a rough guide for planning (`lab check`), not a measurement.
func (k Calibration) Estimate(c matrix.Cell) time.Duration {
	serial := c.Model == "loop" || c.Model == "thread-gil"
	startEach := map[string]time.Duration{"process": 2 * time.Millisecond, "thread": 30 * time.Microsecond}[c.Model]
	division, perMsg, bw0, setup := k.DivisionNS, 5e-6, 0.0, time.Duration(0)
	if rc, ok := runtimeCost[c.Runtime.Kind]; ok {
		division *= rc.division
		perMsg, bw0, setup = rc.perMsg, rc.bandwidth, rc.driver
		startEach = rc.start[c.Model]
		if c.Runtime.Kind == matrix.KindCPython && c.Model == "thread" {
			serial = true // the GIL
		}
		if c.Value("start") != "cold" {
			// A warm pool starts outside the timed region, but within
			// the sample's wall time.
			setup += time.Duration(poolSize(c)) * startEach
		}
	}
	var sec float64
	switch c.Workload {
	case "primes":
		w := float64(c.Int("workers"))
		work := divisions(c.Int("n")) * division / 1e9
		if c.Value("split") == "replicate" {
			work *= w
		}
		if !serial {
			work /= math.Min(w, float64(k.CPUs))
		}
		sec = work + w*startEach.Seconds()
	case "sleep":
		tasks := c.Int("tasks")
		conc := c.Int("workers")
		if conc == 0 || conc > tasks {
			conc = tasks
		}
		rounds := (tasks + conc - 1) / conc
		sec = float64(rounds*c.Int("sleep_ms"))/1e3 + float64(conc)*startEach.Seconds() + float64(tasks)*2e-6
	case "pipeline":
		bytes := float64(c.Int("messages")) * float64(c.Int("payload_bytes"))
		bw := 3e9 // in-memory hand-offs: the per-byte work bounds them
		if c.Model == "process" {
			bw = 1e9 // every byte crosses the kernel once per hop
		}
		if bw0 > 0 {
			bw = bw0
		}
		hops := float64(c.Int("stages") + 1)
		sec = bytes*hops/bw/float64(k.CPUs) + float64(c.Int("messages"))*hops*perMsg + float64(c.Int("stages"))*startEach.Seconds()
	case "echo":
		// A loopback round trip costs a few wake-ups (~10 µs each here);
		// slow clients add their think time; every connection its
		// accept and, for threads and processes, its worker.
		conns, reqs := float64(c.Int("connections")), float64(c.Int("requests"))
		think := float64(c.Int("think_ms")) / 1e3
		rtt := 3 * perMsg
		sec = conns*reqs*rtt/float64(k.CPUs) + (reqs-1)*think + conns*(50e-6+startEach.Seconds())
	case "interleave":
		pause := float64(c.Int("gap_us")) / 1e6
		if c.Value("between") == "compute" {
			pause = divisions(c.Int("compute_n")) * division / 1e9 * float64(c.Int("tasks"))
		}
		sec = float64(c.Int("repeats")) * (float64(c.Int("events"))*pause + float64(c.Int("tasks"))*startEach.Seconds())
	case "blocking":
		tasks, block := c.Int("tasks"), float64(c.Int("block_ms"))/1e3
		rounds := float64(tasks)
		if c.Value("offload") == "pool" {
			pool := c.Int("pool")
			if pool == 0 {
				pool = tasks
			}
			rounds = float64((tasks + pool - 1) / pool)
		}
		sec = rounds*block + float64(c.Int("wait_ms"))/1e3
	case "spawn":
		each := 20e-6 // a hand-off to a ready worker
		if c.Value("start") == "cold" {
			each += startEach.Seconds()
		}
		sec = float64(c.Int("workers")) * each
	case "hold":
		sec = float64(c.Int("workers")) * float64(c.Int("result_bytes")) / 1e9
	case "convoy":
		op := float64(c.Int("io_us")) / 1e6
		if c.Int("cpu_workers") > 0 {
			switch {
			case c.Model == "thread-gil" || serial && c.Model == "thread":
				op += 5e-3 // a switch interval per operation
			case c.Model == "loop":
				op += divisions(c.Int("chunk_n")) * division / 1e9 // a chunk per operation
			}
		}
		sec = float64(c.Int("ops")) * op
	}
	return time.Duration(sec*1e9) + setup
}

// poolSize is how many workers a cell starts.
func poolSize(c matrix.Cell) int {
	switch c.Workload {
	case "primes":
		return c.Int("workers")
	case "sleep":
		n := c.Int("workers")
		if n == 0 || n > c.Int("tasks") {
			n = c.Int("tasks")
		}
		return n
	case "pipeline":
		return c.Int("stages") + 2
	case "spawn", "hold":
		return c.Int("workers")
	case "interleave":
		return c.Int("tasks")
	case "convoy":
		return c.Int("cpu_workers") + 1
	case "blocking":
		if c.Value("offload") == "pool" {
			if p := c.Int("pool"); p > 0 {
				return p + 1
			}
			return c.Int("tasks") + 1
		}
	}
	return 1
}
