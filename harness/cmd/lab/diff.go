package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/rundir"
)

const diffUsage = `usage: lab diff RUN_A RUN_B [flags]

Compares run B with run A (the baseline), cell by cell: medians with their
95% CIs, the ratio B/A with its CI, the Mann–Whitney U p-value corrected for
the number of cells, and a verdict — faster/slower (significant after
correction and a change of at least --threshold), same (the ratio's CI lies
inside ±threshold), ~ (neither) or untestable (fewer than 4 samples a side, or
a failed cell). The differences in hardware, software and matrix come first.

Exit status: 0; 1 when --fail-on finds a cell slower by more than PCT with
significance; 2 on bad usage or an unreadable, corrupt or other-schema run.

Examples:
  lab diff results/lab-2c/20261125T141502Z results/lab-2c/20261126T090000Z
  lab diff A B --format html > diff.html
  lab diff A B --format json --correction holm --threshold 10
  lab diff A B --fail-on 10          # for CI: exit 1 on a significant >10% slowdown
`

func diffCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), diffUsage); fs.PrintDefaults() }
	format := fs.String("format", "text", "text (aligned like benchstat), json (documented fields) or html (a self-contained page)")
	metric := fs.String("metric", diff.DefaultOptions.Metric, "the unit to compare: sec/op, cpu-sec/op, peak-rss-B, tasks/s, B/s, ...")
	threshold := fs.String("threshold", "5%", "the smallest change that counts, in percent")
	correction := fs.String("correction", string(diff.DefaultOptions.Correction), "multiple-comparison correction: bh (false discovery rate), holm (family-wise) or none")
	alpha := fs.Float64("alpha", diff.DefaultOptions.Alpha, "significance level of the corrected p-values")
	failOn := fs.String("fail-on", "", "exit 1 when a cell is slower by more than this percentage, significantly")
	seed := fs.Uint64("seed", diff.DefaultOptions.Seed, "seed of the ratio CIs' bootstrap")
	// Flags may follow the run directories, as in the examples.
	runs, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(runs) != 2 {
		return usageError{fmt.Errorf("diff: want two run directories, RUN_A RUN_B; got %d", len(runs))}
	}

	o := diff.DefaultOptions
	o.Metric, o.Alpha, o.Seed = *metric, *alpha, *seed
	t, err := percent(*threshold)
	if err != nil {
		return usageError{fmt.Errorf("diff: --threshold: %w", err)}
	}
	o.Threshold = t / 100
	if o.Correction, err = diff.ParseCorrection(*correction); err != nil {
		return usageError{err}
	}
	var fail float64 = -1
	if *failOn != "" {
		if fail, err = percent(*failOn); err != nil {
			return usageError{fmt.Errorf("diff: --fail-on: %w", err)}
		}
	}
	render := map[string]func(io.Writer, *diff.Result) error{"text": diff.Text, "json": diff.JSON, "html": diff.HTML}[*format]
	if render == nil {
		return usageError{fmt.Errorf("diff: --format %q: want text, json or html", *format)}
	}

	var dirs [2]*rundir.Dir
	for i, path := range runs {
		// rundir.Read names the file and what is wrong with it (missing,
		// corrupt at line N, another schema).
		if dirs[i], err = rundir.Read(path); err != nil {
			return usageError{fmt.Errorf("diff: run %c: %w", 'A'+i, err)}
		}
	}
	res, err := diff.Compare(dirs[0], dirs[1], o)
	if err != nil {
		return usageError{err}
	}
	if !hasMetric(dirs[0], o.Metric) && !hasMetric(dirs[1], o.Metric) {
		return usageError{fmt.Errorf("diff: no cell of either run has metric %q", o.Metric)}
	}
	if err := render(stdout, res); err != nil {
		return err
	}
	if fail >= 0 {
		if bad := res.FailOn(fail); len(bad) > 0 {
			names := make([]string, len(bad))
			for i, c := range bad {
				names[i] = fmt.Sprintf("%s (×%.3f)", c.Name, c.Ratio.Point)
			}
			return fmt.Errorf("diff: %d cells slower by more than %g%% with significance: %s", len(bad), fail, strings.Join(names, ", "))
		}
	}
	return nil
}

// percent parses "5", "5%" or "2.5 %" as a non-negative percentage.
// parseInterspersed parses fs's flags wherever they stand among args and
// returns the other arguments in order; a bad flag is a usageError, -h is
// flag.ErrHelp.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func percent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || v < 0 || v != v {
		return 0, fmt.Errorf("%q: want a percentage ≥ 0, like 5 or 5%%", s)
	}
	return v, nil
}

func hasMetric(d *rundir.Dir, metric string) bool {
	for _, c := range d.Summary.Cells {
		if _, ok := c.Metrics[metric]; ok {
			return true
		}
	}
	return false
}
