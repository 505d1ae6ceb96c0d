package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"concurrency-lab/harness/hw"
)

func hwCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	m, err := hw.Detect(ctx)
	if err != nil {
		return err
	}
	dir, _ := os.Getwd()
	s := hw.DetectSoftware(ctx, dir)
	if *asJSON {
		b, _ := json.MarshalIndent(struct {
			ID       string      `json:"id"`
			Machine  hw.Machine  `json:"machine"`
			Software hw.Software `json:"software"`
		}{m.ID(), m, s}, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	gov := m.Governor
	if gov == "" {
		gov = "(not readable)"
	}
	fmt.Fprintf(stdout, "id:          %s\n", m.ID())
	fmt.Fprintf(stdout, "cpu:         %s\n", m.CPUModel)
	fmt.Fprintf(stdout, "cpus:        %d logical, %d physical cores, %d usable here\n", m.LogicalCPUs, m.PhysicalCores, m.UsableCPUs)
	fmt.Fprintf(stdout, "caches:      %s\n", strings.Join(m.Caches, ", "))
	fmt.Fprintf(stdout, "memory:      %.1f GiB\n", float64(m.MemoryBytes)/(1<<30))
	fmt.Fprintf(stdout, "os:          %s, kernel %s, %s\n", m.OS, m.Kernel, m.Arch)
	if m.Virtualization != "" {
		fmt.Fprintf(stdout, "virtualized: %s guest\n", m.Virtualization)
	}
	fmt.Fprintf(stdout, "governor:    %s\n", gov)
	fmt.Fprintf(stdout, "load:        %.2f %.2f %.2f\n", m.LoadAvg[0], m.LoadAvg[1], m.LoadAvg[2])
	fmt.Fprintf(stdout, "go:          %s (GOMAXPROCS %d)\n", s.GoVersion, s.GOMAXPROCS)
	dirty := ""
	if s.Dirty {
		dirty = " (dirty)"
	}
	fmt.Fprintf(stdout, "commit:      %s%s\n", s.Commit, dirty)
	return nil
}
