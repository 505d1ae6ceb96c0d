package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/runner"
)

func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	matrixPath := fs.String("matrix", "experiments.toml", "the experiment matrix")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	m, err := matrix.Load(*matrixPath)
	if err != nil {
		return usageError{err}
	}
	// Cells this machine cannot give what they need are refused here,
	// with the reason, rather than failing mid-run.
	lim := runner.DetectLimits()
	var refused []error
	for _, c := range m.Cells() {
		if err := lim.Check(c); err != nil {
			refused = append(refused, err)
		}
	}
	if len(refused) > 0 {
		return usageError{fmt.Errorf("%s: %d cells exceed this machine's limits:\n  %w", *matrixPath, len(refused), joinLines(refused))}
	}
	k := runner.Calibrate(runtime.NumCPU())
	var total time.Duration
	cells, samples := 0, 0
	for _, x := range m.Experiments {
		var t time.Duration
		cs := x.Cells()
		reps := x.Reps
		for _, c := range cs {
			t += time.Duration(reps*(1+c.Warmup)) * k.Estimate(c)
		}
		auto := ""
		if x.Auto {
			auto = fmt.Sprintf(" (auto: %d to %d, until the CI is within %.0f%%)", x.Reps, x.MaxReps, 100*x.TargetCI)
		}
		fmt.Fprintf(stdout, "%-20s %-9s %3d cells × %d reps%s  ~%v\n", x.Name, x.Workload, len(cs), reps, auto, t.Round(time.Second))
		total += t
		cells += len(cs)
		samples += len(cs) * reps
	}
	// Every sample runs in a benchmark process of its own.
	total += time.Duration(samples) * sampleOverhead
	fmt.Fprintf(stdout, "%s: ok: %d experiments, %d cells, %d samples, ~%v (a rough estimate from a %.1f ns/division calibration on %d CPUs)\n",
		*matrixPath, len(m.Experiments), cells, samples, total.Round(time.Second), k.DivisionNS, k.CPUs)
	fmt.Fprintln(stdout, detectable(m, diff.DefaultOptions))
	return nil
}

// sampleOverhead is what a sample's own benchmark process costs beyond the
// cell (exec, start-up, exit): measured 5–19 ms, median 7, on 2 vCPUs.
const sampleOverhead = 10 * time.Millisecond

// detectable says what `lab diff` with options o can flag between two runs
// of m: whether a lone change among all its cells can be significant after
// correction at the fewest reps any cell takes, and the smallest change it
// then flags.
func detectable(m *matrix.Matrix, o diff.Options) string {
	cells, reps := 0, 0
	for _, x := range m.Experiments {
		n := len(x.Cells())
		if n == 0 {
			continue
		}
		cells += n
		if reps == 0 || x.Reps < reps {
			reps = x.Reps
		}
	}
	if cells == 0 {
		return "lab diff: no cells"
	}
	pw := diff.PowerFor(reps, cells, o)
	if !pw.Enough {
		return fmt.Sprintf("lab diff: with %d reps a side over %d cells (%s), a lone change reaches at best p = %.3g ≥ α = %g: it cannot be flagged; %d reps would be needed",
			reps, cells, o.Correction, pw.MinPAdj, o.Alpha, pw.NeededReps)
	}
	return fmt.Sprintf("lab diff: with %d reps a side over %d cells (%s), a lone change can be flagged (best p = %.3g < α = %g): the smallest it flags is %.0f%%, when the two runs' samples of the cell do not overlap",
		reps, cells, o.Correction, pw.MinPAdj, o.Alpha, 100*o.Threshold)
}

// joinLines joins errors one per line, indented.
func joinLines(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}
