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
//	lab fleet submit|status|collect [flags]
//	lab history HARDWARE_ID [--cell REGEX] [--format text|json] [--fail-on PCT]
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
// time. `lab hw` prints the detected hardware and software. `lab fleet`
// runs the matrix on the nodes of a Slurm cluster and merges their runs.
// `lab history` follows one machine's runs over time and finds the runs
// where a cell's level changed.
//
// Exit status: 0 on success, 1 on an error, 2 on bad usage or input, 130
// when interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// A command is one verb of lab. It writes its output to stdout and its
// progress, warnings and usage messages to stderr, never to os.Stdout or
// os.Stderr directly; its error goes back to lab, which prints it.
type command struct {
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	usage string
}

var commands = map[string]command{
	"run":     {runCmd, "sample the matrix and write a run directory"},
	"check":   {checkCmd, "validate the matrix, count cells, estimate the time"},
	"diff":    {diffCmd, "compare two run directories cell by cell"},
	"report":  {reportCmd, "build the static HTML report from every run under results/"},
	"hw":      {hwCmd, "print the detected hardware and software"},
	"fleet":   {fleetCmd, "run the matrix on a Slurm cluster: submit, status, collect"},
	"history": {historyCmd, "one machine's runs over time: steps found and dated"},
}

// usageError is bad input from the user: exit status 2.
type usageError struct{ error }

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := lab(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// lab runs the command line args (without the program name), writing to
// stdout and stderr, and returns the exit status.
func lab(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		usage(stderr)
		return exitUsage
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "lab: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	return exitCode(err, stderr)
}

// exitCode prints err, if any, and maps it to lab's exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "lab:", err)
	switch {
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.As(err, new(usageError)):
		return exitUsage
	}
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lab <command> [flags]\n\ncommands:")
	var names []string
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-7s %s\n", name, commands[name].usage)
	}
}
