package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"concurrency-lab/experiments/matrix"
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
	// Every round starts a benchmark process; the most reps set the rounds.
	rounds := 0
	for _, x := range m.Experiments {
		rounds = max(rounds, x.Reps)
	}
	total += time.Duration(rounds) * 200 * time.Millisecond
	fmt.Fprintf(stdout, "%s: ok: %d experiments, %d cells, %d samples, ~%v (a rough estimate from a %.1f ns/division calibration on %d CPUs)\n",
		*matrixPath, len(m.Experiments), cells, samples, total.Round(time.Second), k.DivisionNS, k.CPUs)
	return nil
}
