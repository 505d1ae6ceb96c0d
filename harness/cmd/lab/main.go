// Command lab runs the concurrency lab's experiments and reads their results.
//
// Usage:
//
//	lab run [--matrix experiments.toml] [--hardware ID] [--force] [--only REGEX]
//	        [--reps N] [--smoke] [--seed N] [--out results]
//	lab diff RUN_A RUN_B [--format text|json|html] [--threshold 5%] [--correction bh|holm|none] [--fail-on PCT] [--metric sec/op]
//	lab report [--results results] [--out site/public]
//	lab check [--matrix experiments.toml]
//	lab hw [--json]
//
// `lab run` compiles the benchmarks once, samples every cell in rounds (each
// round a fresh benchmark process running every cell once, in an order
// shuffled per round), streams progress on stderr and prints the run
// directory, results/<hardware>/<run-id>, as its last line. Ctrl-C stops it
// cleanly: the files written so far stay, marked incomplete.
//
// `lab report` builds the static site from every run under results/.
// `lab diff` compares two runs cell by cell (medians, the ratio's CI, the
// Mann–Whitney p corrected across cells, a verdict). `lab check` validates the matrix, counts its cells and estimates the run
// time. `lab hw` prints the detected hardware and software.
//
// Exit status: 0 on success, 1 on an error, 2 on bad usage or input, 130
// when interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// A command is one verb of lab.
type command struct {
	run   func(ctx context.Context, args []string) error
	usage string
}

var commands = map[string]command{
	"run":    {runCmd, "sample the matrix and write a run directory"},
	"check":  {checkCmd, "validate the matrix, count cells, estimate the time"},
	"diff":   {diffCmd, "compare two run directories cell by cell"},
	"report": {reportCmd, "build the static HTML report from every run under results/"},
	"hw":     {hwCmd, "print the detected hardware and software"},
}

// usageError is bad input from the user: exit status 2.
type usageError struct{ error }

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "lab: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(ctx, os.Args[2:])
	switch {
	case err == nil:
		return
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(130)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: lab <command> [flags]\n\ncommands:")
	var names []string
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-6s %s\n", name, commands[name].usage)
	}
}
