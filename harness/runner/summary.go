package runner

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/perf/benchfmt"

	"concurrency-lab/experiments/matrix"
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
		rc := rundir.Cell{
			Name: c.cell.Name(), Experiment: c.cell.Experiment, Workload: c.cell.Workload, Model: c.cell.Model,
			Runtime: runtimeName(c.cell),
			Params:  map[string]string{}, Status: c.status, Error: c.err, Reps: c.cell.Reps,
			Metrics: map[string]rundir.Metric{},
		}
		if rc.Status == "" {
			rc.Status = rundir.Partial // still sampling, or stopped early with samples
		}
		for _, p := range c.cell.Params {
			rc.Params[p.Key] = p.Value
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
