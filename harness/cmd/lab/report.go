package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"concurrency-lab/harness/report"
)

const reportUsage = `usage: lab report [flags]

Builds the static report from every run directory under --results
(results/<hardware>/<run-id>/, any number of machines) into --out: plain
HTML, CSS and SVG files, readable without a server, JavaScript or network.
A run directory that cannot be read (corrupt, unknown schema) is reported
and left out; the other runs are built. --out is replaced whole, and only
if it is empty or a site lab report wrote.

Examples:
  lab report                                  # results/ -> site/public/
  lab report --results /mnt/fleet/results --out /tmp/site
`

func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), reportUsage); fs.PrintDefaults() }
	results := fs.String("results", "results", "the results root")
	out := fs.String("out", "site/public", "the site's directory (replaced whole)")
	historySmoke := fs.Bool("history-smoke", false, "keep smoke runs on the history pages (left out by default: their sizes are capped)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("report: unexpected arguments %q", fs.Args())}
	}
	if st, err := os.Stat(*results); err != nil || !st.IsDir() {
		return usageError{fmt.Errorf("report: --results %s: not a directory", *results)}
	}
	if err := ctx.Err(); err != nil {
		return errInterrupted
	}
	b, err := report.Build(report.Options{Results: *results, Out: *out, HistorySmoke: *historySmoke})
	if err != nil {
		return err
	}
	for _, r := range b.Refused {
		fmt.Fprintf(stderr, "lab: report: refused %s: %s\n", r.Path, r.Err)
	}
	fmt.Fprintf(stderr, "lab: report: %d runs, %d pages, %d charts", b.Runs, b.Pages, b.Charts)
	if len(b.Refused) > 0 {
		fmt.Fprintf(stderr, ", %d run directories refused", len(b.Refused))
	}
	fmt.Fprintln(stderr)
	index, err := filepath.Abs(filepath.Join(b.Out, "index.html"))
	if err != nil {
		index = filepath.Join(b.Out, "index.html")
	}
	fmt.Fprintln(stdout, "file://"+index)
	return nil
}
