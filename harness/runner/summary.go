package runner

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/perf/benchfmt"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// samples reads benchmark output with benchfmt, the reader benchstat uses,
// so that summary.json and benchstat see the same numbers: cell name → unit
// (as benchfmt tidies it) → values in order.
func samples(bench []byte) (map[string]map[string][]float64, error) {
	out := map[string]map[string][]float64{}
	r := benchfmt.NewReader(bytes.NewReader(bench), "bench.txt")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			return nil, fmt.Errorf("runner: %w", rec)
		case *benchfmt.Result:
			name := trimProcs(strings.TrimPrefix(rec.Name.String(), "Lab/"))
			if out[name] == nil {
				out[name] = map[string][]float64{}
			}
			for _, v := range rec.Values {
				out[name][v.Unit] = append(out[name][v.Unit], v.Value)
			}
		}
	}
	return out, r.Err()
}

// trimProcs drops the -GOMAXPROCS suffix go test adds to benchmark names.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return name
		}
	}
	if i == len(name)-1 {
		return name
	}
	return name[:i]
}

// summarize builds summary.json from the raw output and the cells' states.
func summarize(bench []byte, cells []*cellState) (rundir.Summary, error) {
	all, err := samples(bench)
	if err != nil {
		return rundir.Summary{}, err
	}
	sum := rundir.Summary{Schema: rundir.Schema}
	for _, c := range cells {
		rc := SummaryCell(c.cell, c.status, c.err)
		if rc.Status == "" {
			rc.Status = rundir.Partial // still sampling, or stopped early with samples
		}
		for unit, vals := range all[rc.Name] {
			rc.Metrics[unit] = rundir.Metric{Samples: vals, Stats: stats.Summarize(vals)}
		}
		sum.Cells = append(sum.Cells, rc)
	}
	return sum, nil
}

// ciSettled reports whether an auto-reps cell's time is known well enough:
// the 95% CI of its median within target_ci of the median.
func (s *state) ciSettled(c *cellState) bool {
	all, err := samples(s.benchText())
	if err != nil {
		return false
	}
	vals := all[c.cell.Name()]["sec/op"]
	return stats.Summarize(vals).CIWithin(c.cell.TargetCI)
}

func runtimeName(c matrix.Cell) string {
	if c.Runtime.Name == "" {
		return matrix.Go.Name
	}
	return c.Runtime.Name
}

// SummaryCell is c as summary.json records it, with status and err and no
// samples yet.
func SummaryCell(c matrix.Cell, status, err string) rundir.Cell {
	rc := rundir.Cell{
		Name: c.Name(), Experiment: c.Experiment, Workload: c.Workload, Model: c.Model,
		Runtime: runtimeName(c), Params: map[string]string{}, Status: status, Error: err,
		Reps: c.Reps, Metrics: map[string]rundir.Metric{},
	}
	for _, p := range c.Params {
		rc.Params[p.Key] = p.Value
	}
	return rc
}

// Resummarize recomputes cells' samples and statistics from bench, the
// whole bench.txt of a run (lab fleet collect's merge), keeping everything
// else of each cell as it is.
func Resummarize(bench []byte, cells []rundir.Cell) (rundir.Summary, error) {
	all, err := samples(bench)
	if err != nil {
		return rundir.Summary{}, err
	}
	sum := rundir.Summary{Schema: rundir.Schema}
	for _, c := range cells {
		c.Metrics = map[string]rundir.Metric{}
		for unit, vals := range all[c.Name] {
			c.Metrics[unit] = rundir.Metric{Samples: vals, Stats: stats.Summarize(vals)}
		}
		sum.Cells = append(sum.Cells, c)
	}
	return sum, nil
}

// LineCell names the cell a line of bench.txt belongs to: a result line's
// (BenchmarkLab/<cell>-<procs> ...) or an orders line's (# orders <cell>
// ...). ok is false for other lines (configuration, other comments).
func LineCell(line string) (cell string, ok bool) {
	if rest, found := strings.CutPrefix(line, "BenchmarkLab/"); found {
		name, _, _ := strings.Cut(rest, "\t")
		name, _, _ = strings.Cut(name, " ")
		return trimProcs(name), true
	}
	if rest, found := strings.CutPrefix(line, interleave.RawPrefix+" "); found {
		name, _, _ := strings.Cut(rest, " ")
		return name, name != ""
	}
	return "", false
}
