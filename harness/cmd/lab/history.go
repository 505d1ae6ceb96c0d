package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/history"
	"concurrency-lab/harness/rundir"
)

const historyUsage = `usage: lab history HARDWARE_ID [flags]

Follows one machine's complete runs (results/<HARDWARE_ID>/*) in time:
every cell's median per run, the runs where a cell's level changed (steps,
with the setting differences at each), and the newest run against the one
before it, as lab diff judges them. Smoke and incomplete runs are left out.

Exit status: 0; 1 when --fail-on finds a step among the newest three runs
that slows a cell by more than PCT (a step of one run must stand out more
than one the next runs confirm, so a moderate slowdown is often found a run
or two late), or on an error; 2 on bad usage or no such machine.

Examples:
  lab history amd-epyc-2cpu-24gib
  lab history lab-2c --cell '^article/' --format json
  lab history lab-2c --fail-on 10      # a nightly gate
`

func historyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), historyUsage); fs.PrintDefaults() }
	results := fs.String("results", "results", "the results root")
	cell := fs.String("cell", "", "show only the cells whose name matches this regular expression")
	format := fs.String("format", "text", "text or json")
	failOn := fs.String("fail-on", "", "exit 1 when a step among the newest three runs slows a cell by more than this percentage")
	smoke := fs.Bool("smoke", false, "keep smoke runs (left out by default: their sizes are capped)")
	// The id may come before or after the flags.
	ids, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		return usageError{fmt.Errorf("history: one hardware id, not %q", ids)}
	}
	var hwID string
	if len(ids) == 1 {
		hwID = ids[0]
	}
	if hwID == "" {
		fs.Usage()
		return usageError{errors.New("history: which hardware id? (the folders under --results)")}
	}
	o := history.DefaultOptions
	o.Smoke = *smoke
	if *cell != "" {
		re, err := regexp.Compile(*cell)
		if err != nil {
			return usageError{fmt.Errorf("history: --cell: %w", err)}
		}
		o.Cell = re
	}
	if *format != "text" && *format != "json" {
		return usageError{fmt.Errorf("history: --format %q: want text or json", *format)}
	}
	var pct float64
	if *failOn != "" {
		if pct, err = percent(*failOn); err != nil {
			return usageError{fmt.Errorf("history: --fail-on %w", err)}
		}
	}
	dirs, err := machineRuns(*results, hwID, stderr)
	if err != nil {
		return usageError{err}
	}
	if ctx.Err() != nil {
		return errInterrupted
	}
	h, err := history.Build(hwID, claims.Judged(dirs), o)
	if err != nil {
		return err
	}
	if *format == "json" {
		err = history.JSON(stdout, h)
	} else {
		err = history.Text(stdout, h)
	}
	if err != nil {
		return err
	}
	if *failOn != "" {
		if bad := h.Regressions(pct); len(bad) > 0 {
			return fmt.Errorf("history: %d cells slower by more than %g%% in a step among the newest %d runs:\n  %s", len(bad), pct, history.RecentRuns, strings.Join(bad, "\n  "))
		}
	}
	return nil
}

// machineRuns reads the run directories of one machine; an unreadable one
// is reported and left out.
func machineRuns(results, hwID string, stderr io.Writer) ([]*rundir.Dir, error) {
	root := filepath.Join(results, hwID)
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	var dirs []*rundir.Dir
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		d, err := rundir.Read(filepath.Join(root, e.Name()))
		if err != nil {
			fmt.Fprintf(stderr, "lab: history: left out: %v\n", err)
			continue
		}
		dirs = append(dirs, d)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("history: no run under %s", root)
	}
	return dirs, nil
}
