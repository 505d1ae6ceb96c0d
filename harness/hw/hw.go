// Package hw detects the machine a run is measured on and checks it against
// the hardware a matrix declares.
//
// Linux first: caches, the frequency governor and the CPU affinity mask are
// read from /sys and sched_getaffinity; elsewhere they are left empty.
package hw

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
)

// Machine is what was detected about the hardware and OS.
type Machine struct {
	CPUModel       string     `json:"cpu_model"`
	LogicalCPUs    int        `json:"logical_cpus"`
	PhysicalCores  int        `json:"physical_cores"`
	UsableCPUs     int        `json:"usable_cpus"` // in this process's affinity mask
	Caches         []string   `json:"caches,omitempty"`
	MemoryBytes    uint64     `json:"memory_bytes"`
	Kernel         string     `json:"kernel"`
	OS             string     `json:"os"`
	Arch           string     `json:"arch"`
	Virtualization string     `json:"virtualization,omitempty"`
	Governor       string     `json:"governor,omitempty"` // "" when not readable (common in VMs)
	LoadAvg        [3]float64 `json:"load_avg"`
	Hostname       string     `json:"hostname"`
}

// Software is what built and ran the benchmarks.
type Software struct {
	GoVersion  string `json:"go_version"` // of the toolchain that compiles the benchmarks
	Commit     string `json:"commit,omitempty"`
	Dirty      bool   `json:"dirty"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

// Detect reads the machine. A part that cannot be read is left empty rather
// than failing the run; the run records what it could see.
func Detect(ctx context.Context) (Machine, error) {
	var m Machine
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil {
		return m, fmt.Errorf("hw: cpu: %w", err)
	}
	if len(infos) > 0 {
		m.CPUModel = strings.TrimSpace(infos[0].ModelName)
	}
	m.LogicalCPUs, _ = cpu.CountsWithContext(ctx, true)
	m.PhysicalCores, _ = cpu.CountsWithContext(ctx, false)
	if cpus, err := UsableCPUs(); err == nil {
		m.UsableCPUs = len(cpus)
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		m.MemoryBytes = vm.Total
	}
	if h, err := host.InfoWithContext(ctx); err == nil {
		m.Kernel = h.KernelVersion
		m.OS = strings.TrimSpace(h.Platform + " " + h.PlatformVersion)
		m.Arch = h.KernelArch
		m.Hostname = h.Hostname
		if h.VirtualizationRole == "guest" {
			m.Virtualization = h.VirtualizationSystem
		}
	}
	if l, err := load.AvgWithContext(ctx); err == nil {
		m.LoadAvg = [3]float64{l.Load1, l.Load5, l.Load15}
	}
	m.Caches = caches()
	m.Governor = readTrim("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
	return m, nil
}

// caches lists cpu0's caches, e.g. "L1d 32K", "L2 4096K".
func caches() []string {
	dirs, _ := filepath.Glob("/sys/devices/system/cpu/cpu0/cache/index*")
	var out []string
	for _, d := range dirs {
		level, typ, size := readTrim(d+"/level"), readTrim(d+"/type"), readTrim(d+"/size")
		if level == "" || size == "" {
			continue
		}
		t := map[string]string{"Data": "d", "Instruction": "i"}[typ]
		out = append(out, "L"+level+t+" "+size)
	}
	return out
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// DetectSoftware records the Go toolchain (the `go` on PATH, which compiles
// the benchmarks) and the git state of dir.
func DetectSoftware(ctx context.Context, dir string) Software {
	s := Software{GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		s.GoVersion = strings.TrimSpace(string(out))
	}
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if c, err := git("rev-parse", "HEAD"); err == nil {
		s.Commit = c
		st, err := git("status", "--porcelain", "--untracked-files=no")
		s.Dirty = err != nil || st != ""
	}
	return s
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// ID derives a hardware id from a machine, for runs made without a declared
// one: the CPU model, the usable CPUs and the memory, e.g.
// "intel-xeon-processor-2cpu-23gib".
func (m Machine) ID() string {
	model := strings.ToLower(m.CPUModel)
	for _, noise := range []string{"(r)", "(tm)", " cpu ", "@"} {
		model = strings.ReplaceAll(model, noise, " ")
	}
	model = strings.Trim(slugRe.ReplaceAllString(model, "-"), "-")
	if model == "" {
		model = runtime.GOARCH
	}
	return fmt.Sprintf("%s-%dcpu-%dgib", model, m.UsableCPUs, (m.MemoryBytes+1<<29)>>30)
}
