package report

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// synthExp is one experiment of a synthetic run, shaped like the default
// matrix.
type synthExp struct {
	name, workload string
	models         []string
	params         [][2]string // fixed
	vary           string      // one varying parameter
	values         []int
	vary2          string
	values2        []string
}

var synthMatrix = []synthExp{
	{"article", "primes", []string{"process", "thread", "thread-gil", "loop", "goroutine"}, [][2]string{{"split", "replicate"}, {"n", "100000"}, {"start", "cold"}}, "workers", []int{2}, "", nil},
	{"scaling", "primes", []string{"process", "thread", "thread-gil", "loop", "goroutine"}, [][2]string{{"n", "100000"}, {"start", "warm"}}, "workers", []int{1, 2, 4}, "split", []string{"replicate", "partition"}},
	{"sleep", "sleep", []string{"thread", "loop", "goroutine"}, [][2]string{{"sleep_ms", "100"}, {"workers", "0"}, {"start", "warm"}}, "tasks", []int{10, 100, 1000, 10000}, "", nil},
	{"sleep-process", "sleep", []string{"process"}, [][2]string{{"sleep_ms", "100"}, {"workers", "0"}, {"start", "warm"}}, "tasks", []int{10, 100, 1000}, "", nil},
	{"pipeline-small", "pipeline", []string{"process", "thread", "loop", "goroutine"}, [][2]string{{"stages", "3"}, {"messages", "20000"}, {"start", "warm"}}, "payload_bytes", []int{64, 4096}, "", nil},
	{"pipeline-large", "pipeline", []string{"process", "thread", "loop", "goroutine"}, [][2]string{{"stages", "3"}, {"messages", "1000"}, {"start", "warm"}}, "payload_bytes", []int{65536, 1048576}, "", nil},
}

// writeSynthRun writes a complete, plausible run directory (66 cells, 6
// seeded samples each) under root/<hwID>/<runID>, with the given hostname
// and CPU model (data that the pages must escape).
func writeSynthRun(t testing.TB, root, hwID, runID, hostname, cpuModel string, seed uint64) string {
	t.Helper()
	return writeSynthRunN(t, root, hwID, runID, hostname, cpuModel, seed, 6)
}

// writeSynthRunN is writeSynthRun with n samples per cell.
func writeSynthRunN(t testing.TB, root, hwID, runID, hostname, cpuModel string, seed uint64, n int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := filepath.Join(root, hwID, runID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Hour)
	run := rundir.Run{Schema: rundir.Schema, ID: runID, Seed: int64(seed), Rounds: n, Started: started, Ended: started.Add(8 * time.Minute), Complete: true, Cells: 66}
	run.Hardware.ID = hwID
	run.Hardware.Detected.Hostname = hostname
	run.Hardware.Detected.CPUModel = cpuModel
	run.Hardware.Detected.UsableCPUs, run.Hardware.Detected.LogicalCPUs = 2, 2
	run.Software.GoVersion, run.Software.Commit = "go1.26.8", "0123456789abcdef"
	run.Matrix.File = "experiments.toml"
	run.Matrix.Text = "# synthetic\n"
	var sum rundir.Summary
	sum.Schema = rundir.Schema
	for _, x := range synthMatrix {
		v2 := x.values2
		if v2 == nil {
			v2 = []string{""}
		}
		for _, m := range x.models {
			for _, b := range v2 {
				for _, v := range x.values {
					params := map[string]string{x.vary: strconv.Itoa(v)}
					name := x.name + "/model=" + m
					if x.vary2 != "" {
						params[x.vary2] = b
						name += "/" + x.vary2 + "=" + b
					}
					for _, p := range x.params {
						params[p[0]] = p[1]
						name += "/" + p[0] + "=" + p[1]
					}
					name += "/" + x.vary + "=" + strconv.Itoa(v)
					sum.Cells = append(sum.Cells, synthCellN(rng, x, m, name, params, v, n))
				}
			}
		}
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.RunFile), run); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.SummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteFile(filepath.Join(dir, rundir.BenchFile), []byte("goos: linux\n")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func synthCell(rng *rand.Rand, x synthExp, model, name string, params map[string]string, v int) rundir.Cell {
	return synthCellN(rng, x, model, name, params, v, 6)
}

// synthCellN is synthCell with n samples.
func synthCellN(rng *rand.Rand, x synthExp, model, name string, params map[string]string, v, n int) rundir.Cell {
	base := 1.5
	switch x.workload {
	case "primes":
		if model == "loop" || model == "thread-gil" {
			base *= float64(v)
		} else if v > 2 {
			base *= float64(v) / 2
		}
		if params["split"] == "partition" {
			base /= float64(v)
		}
	case "sleep":
		base = 0.1 * (1 + float64(v)/1e5)
	case "pipeline":
		base = float64(v) * 1e-6
	}
	metrics := map[string][]float64{}
	for i := 0; i < n; i++ {
		s := base * (1 + 0.02*rng.NormFloat64())
		metrics["sec/op"] = append(metrics["sec/op"], s)
		metrics["cpu-sec/op"] = append(metrics["cpu-sec/op"], s*1.9)
		metrics["peak-rss-B"] = append(metrics["peak-rss-B"], (10+float64(v)/100)*(1<<20)*(1+0.05*rng.Float64()))
		metrics["procs"] = append(metrics["procs"], 1)
		metrics["threads"] = append(metrics["threads"], 2)
		if x.workload == "pipeline" {
			metrics["B/s"] = append(metrics["B/s"], float64(v)*1000/s)
		} else {
			metrics["tasks/s"] = append(metrics["tasks/s"], float64(v)/s)
		}
	}
	c := rundir.Cell{Name: name, Experiment: x.name, Workload: x.workload, Model: model, Params: params, Status: rundir.OK, Reps: n, Metrics: map[string]rundir.Metric{}}
	for u, s := range metrics {
		c.Metrics[u] = rundir.Metric{Samples: s, Stats: stats.Summarize(s)}
	}
	return c
}

func synthResults(t testing.TB, runs int) string {
	t.Helper()
	root := t.TempDir()
	for i := range runs {
		hw := fmt.Sprintf("machine-%d", i%2)
		writeSynthRun(t, root, hw, fmt.Sprintf("20261125T%02d0000Z", i), "host", "Synthetic CPU", uint64(i+1))
	}
	return root
}

// synthRuntime is an external runtime of a synthetic run: its identity in
// run.json, the models it runs, and how its times relate to Go's.
type synthRuntime struct {
	id     runtimes.Identity
	models []string
	// factor multiplies the Go base time of its cells; threadGIL makes its
	// primes threads as slow as its loop (a real GIL).
	factor    float64
	threadGIL bool
}

var gilOn = true

// synthRuntimes are CPython on asyncio, the same interpreter on uvloop, C,
// and a runtime this machine lacks.
var synthRuntimes = []synthRuntime{
	{runtimes.Identity{Runtime: "cpython", Kind: "cpython", Executable: "/usr/bin/python3", Version: "3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]",
		GILEnabled: &gilOn, EventLoop: "asyncio", StartMethod: "fork"}, []string{"process", "thread", "loop"}, 3, true},
	{runtimes.Identity{Runtime: "cpython-uvloop", Kind: "cpython", Executable: "/usr/bin/python3", Version: "3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]",
		GILEnabled: &gilOn, EventLoop: "uvloop", UVLoop: "0.17.0"}, []string{"loop"}, 2, true},
	{runtimes.Identity{Runtime: "native", Kind: "native", CC: "/usr/bin/cc", CCVersion: "cc (Debian 12.2.0-14) 12.2.0", Flags: runtimes.CFlags}, []string{"process", "thread", "loop"}, 0.5, false},
	{runtimes.Identity{Runtime: "pypy", Kind: "cpython", Unavailable: `no interpreter "pypy3": exec: "pypy3": executable file not found in $PATH`, Hint: "Debian: apt-get install pypy3"},
		[]string{"process", "thread", "loop"}, 1, false},
}

// synthRuntimeExps are the experiments of a run with runtimes (the article's
// and the sleep experiment of synthMatrix) and the runtimes each runs.
var synthRuntimeExps = []struct {
	exp      synthExp
	runtimes []string
}{
	{synthMatrix[0], []string{"go", "cpython", "cpython-uvloop", "native", "pypy"}},
	{synthMatrix[2], []string{"go", "cpython", "cpython-uvloop", "native", "pypy"}},
}

// writeRuntimeRun writes a complete run directory whose article and sleep
// experiments ran in Go, CPython (asyncio and uvloop) and C, with one more
// runtime absent (its cells skipped, with the reason and a hint).
func writeRuntimeRun(t testing.TB, root, hwID, runID string, seed uint64) string {
	t.Helper()
	dir := writeSynthRun(t, root, hwID, runID, "host", "Synthetic CPU", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sum rundir.Summary
	sum.Schema = rundir.Schema
	for _, e := range synthRuntimeExps {
		x := e.exp
		for _, rt := range e.runtimes {
			if rt == "go" {
				for _, c := range d.Summary.Cells {
					if c.Experiment == x.name {
						sum.Cells = append(sum.Cells, c)
					}
				}
				continue
			}
			srt := synthRuntimeOf(rt)
			for _, m := range x.models {
				if !slices.Contains(srt.models, m) {
					continue
				}
				for _, v := range x.values {
					params := map[string]string{x.vary: strconv.Itoa(v)}
					name := x.name + "/runtime=" + rt + "/model=" + m
					for _, p := range x.params {
						params[p[0]] = p[1]
						name += "/" + p[0] + "=" + p[1]
					}
					name += "/" + x.vary + "=" + strconv.Itoa(v)
					c := synthCell(rng, x, m, name, params, v)
					c.Runtime = rt
					f := srt.factor
					if srt.threadGIL && x.workload == "primes" && m == "thread" {
						f *= float64(v) // threads behind a GIL take turns
					}
					scaleCell(&c, "sec/op", f)
					if srt.id.Unavailable != "" {
						c.Status, c.Metrics = rundir.Skipped, nil
						c.Error = (&runtimes.Unavailable{Runtime: rt, Reason: srt.id.Unavailable, Hint: srt.id.Hint}).Error()
					}
					sum.Cells = append(sum.Cells, c)
				}
			}
		}
	}
	d.Run.Cells = len(sum.Cells)
	for _, r := range synthRuntimes {
		d.Run.Runtimes = append(d.Run.Runtimes, r.id)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.RunFile), d.Run); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.SummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	return dir
}

func synthRuntimeOf(name string) synthRuntime {
	for _, r := range synthRuntimes {
		if r.id.Runtime == name {
			return r
		}
	}
	panic("no synthetic runtime " + name)
}

// scaleCell multiplies a cell's samples of unit by f.
func scaleCell(c *rundir.Cell, unit string, f float64) {
	m := c.Metrics[unit]
	for i := range m.Samples {
		m.Samples[i] *= f
	}
	m.Stats = stats.Summarize(m.Samples)
	c.Metrics[unit] = m
}

// convoySlowdown is how many times slower a synthetic convoy cell's I/O
// worker is beside a CPU-bound worker than alone, by runtime and model
// (1.05 when not listed): behind a GIL every 100 µs operation waits for a
// 5 ms switch interval.
type convoySlowdown map[[2]string]float64

// defaultConvoy: the emulated GIL and CPython's threads convoy alike; the
// rest barely notice the CPU-bound worker.
var defaultConvoy = convoySlowdown{{"go", "thread-gil"}: 45, {"cpython", "thread"}: 50}

// addConvoy adds to the run directory dir a convoy experiment: the I/O
// worker alone (cpu_workers=0) and beside a CPU-bound one (cpu_workers=1),
// for Go's five models and the runtimes' models (CPython's thread, process
// and loop), 6 seeded samples each of sec/op, p50-sec, p99-sec and
// chunks/op, slowed down beside as slow says.
func addConvoy(t testing.TB, dir string, runtimes []string, slow convoySlowdown, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 13))
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	models := map[string][]string{"go": {"process", "thread", "thread-gil", "loop", "goroutine"}, "cpython": {"process", "thread", "loop"}}
	for _, rt := range runtimes {
		for _, m := range models[rt] {
			for _, cpu := range []string{"0", "1"} {
				params := map[string]string{"ops": "500", "io_us": "100", "cpu_workers": cpu, "chunk_n": "5000"}
				name := "convoy/runtime=" + rt + "/model=" + m + "/ops=500/io_us=100/cpu_workers=" + cpu + "/chunk_n=5000"
				f := 1.0
				if cpu == "1" {
					f = 1.05
					if s, ok := slow[[2]string{rt, m}]; ok {
						f = s
					}
				}
				c := rundir.Cell{Name: name, Experiment: "convoy", Workload: "convoy", Model: m, Runtime: rt, Params: params, Status: rundir.OK, Reps: 6, Metrics: map[string]rundir.Metric{}}
				vals := map[string][]float64{}
				for range 6 {
					noise := 1 + 0.02*rng.NormFloat64()
					vals["sec/op"] = append(vals["sec/op"], 0.055*f*noise)
					vals["p50-sec"] = append(vals["p50-sec"], 110e-6*f*noise)
					vals["p99-sec"] = append(vals["p99-sec"], 150e-6*f*noise)
					chunks := 0.0
					if cpu == "1" {
						chunks = 400 * noise
					}
					vals["chunks/op"] = append(vals["chunks/op"], chunks)
				}
				for u, v := range vals {
					c.Metrics[u] = rundir.Metric{Samples: v, Stats: stats.Summarize(v)}
				}
				d.Summary.Cells = append(d.Summary.Cells, c)
			}
		}
	}
	d.Run.Cells = len(d.Summary.Cells)
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.RunFile), d.Run); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.SummaryFile), d.Summary); err != nil {
		t.Fatal(err)
	}
}
