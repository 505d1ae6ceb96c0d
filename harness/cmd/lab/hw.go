package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"concurrency-lab/harness/hw"
)

func hwCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hw", flag.ContinueOnError)
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
		fmt.Println(string(b))
		return nil
	}
	gov := m.Governor
	if gov == "" {
		gov = "(not readable)"
	}
	fmt.Printf("id:          %s\n", m.ID())
	fmt.Printf("cpu:         %s\n", m.CPUModel)
	fmt.Printf("cpus:        %d logical, %d physical cores, %d usable here\n", m.LogicalCPUs, m.PhysicalCores, m.UsableCPUs)
	fmt.Printf("caches:      %s\n", strings.Join(m.Caches, ", "))
	fmt.Printf("memory:      %.1f GiB\n", float64(m.MemoryBytes)/(1<<30))
	fmt.Printf("os:          %s, kernel %s, %s\n", m.OS, m.Kernel, m.Arch)
	if m.Virtualization != "" {
		fmt.Printf("virtualized: %s guest\n", m.Virtualization)
	}
	fmt.Printf("governor:    %s\n", gov)
	fmt.Printf("load:        %.2f %.2f %.2f\n", m.LoadAvg[0], m.LoadAvg[1], m.LoadAvg[2])
	fmt.Printf("go:          %s (GOMAXPROCS %d)\n", s.GoVersion, s.GOMAXPROCS)
	dirty := ""
	if s.Dirty {
		dirty = " (dirty)"
	}
	fmt.Printf("commit:      %s%s\n", s.Commit, dirty)
	return nil
}
