package matrix

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hardware is a machine the matrix declares, [hardware.<id>]: what a lab
// machine is, or a smaller machine to emulate on a bigger one.
//
//	[hardware.lab-2c]
//	cpus = 2                # usable logical CPUs
//	memory_gib = 24         # total memory, GiB (±10%: kernels keep some)
//	cpu_model = "Xeon"      # optional regular expression on the CPU model
//	affinity = "0"          # optional: pin the run to these CPUs (sched_setaffinity)
//
//	[hardware.lab-2c.slurm] # optional: which Slurm nodes are of this class
//	partition = "lab"       # required in the table
//	constraint = "epyc2c"   # optional: a node feature (sbatch --constraint)
//	account = "perf"        # optional (sbatch --account)
//	time_limit = "2h"       # optional: each shard's limit (default: from the estimate)
type Hardware struct {
	ID        string
	CPUs      int
	MemoryGiB float64
	CPUModel  *regexp.Regexp // nil: any
	// Affinity lists the CPUs the run is pinned to, nil for none; when set,
	// CPUs must equal its length.
	Affinity []int
	// Slurm says which nodes of a Slurm cluster are of this class; nil
	// when the matrix does not say (the class cannot be submitted).
	Slurm *Slurm
}

// Slurm is a hardware class's nodes in a Slurm cluster, as sbatch selects
// them.
type Slurm struct {
	Partition  string
	Constraint string        // "" = any node of the partition
	Account    string        // "" = the submitter's default
	TimeLimit  time.Duration // 0 = from the matrix's time estimate
}

type hardwareDoc struct {
	CPUs      int       `toml:"cpus"`
	MemoryGiB float64   `toml:"memory_gib"`
	CPUModel  string    `toml:"cpu_model"`
	Affinity  string    `toml:"affinity"`
	Slurm     *slurmDoc `toml:"slurm"`
}

type slurmDoc struct {
	Partition  string `toml:"partition"`
	Constraint string `toml:"constraint"`
	Account    string `toml:"account"`
	TimeLimit  string `toml:"time_limit"`
}

func (c *checker) hardware(docs map[string]hardwareDoc) map[string]Hardware {
	out := map[string]Hardware{}
	for id, d := range docs {
		at := "hardware." + id
		h := Hardware{ID: id, CPUs: d.CPUs, MemoryGiB: d.MemoryGiB}
		if !nameRe.MatchString(id) {
			c.fail(at, "%q: want an id of letters, digits, '-' and '_' (it names a results folder)", id)
		}
		if d.CPUs < 1 {
			c.fail(at+".cpus", "%d: want cpus ≥ 1", d.CPUs)
		}
		if d.MemoryGiB <= 0 {
			c.fail(at+".memory_gib", "%v: want the machine's memory in GiB, > 0", d.MemoryGiB)
		}
		if d.CPUModel != "" {
			re, err := regexp.Compile(d.CPUModel)
			if err != nil {
				c.fail(at+".cpu_model", "%q is not a regular expression: %v", d.CPUModel, err)
			}
			h.CPUModel = re
		}
		if d.Affinity != "" {
			cpus, err := ParseCPUList(d.Affinity)
			switch {
			case err != nil:
				c.fail(at+".affinity", "%v", err)
			case len(cpus) != d.CPUs:
				c.fail(at+".affinity", "%q lists %d CPUs but cpus = %d", d.Affinity, len(cpus), d.CPUs)
			}
			h.Affinity = cpus
		}
		if d.Slurm != nil {
			h.Slurm = c.slurm(at+".slurm", *d.Slurm)
		}
		out[id] = h
	}
	return out
}

func (c *checker) slurm(at string, d slurmDoc) *Slurm {
	s := &Slurm{Partition: d.Partition, Constraint: d.Constraint, Account: d.Account}
	if d.Partition == "" {
		c.fail(at+".partition", "missing: want the Slurm partition whose nodes are of this class")
	}
	for key, v := range map[string]string{"partition": d.Partition, "constraint": d.Constraint, "account": d.Account} {
		if strings.ContainsAny(v, " \t\n'\"\\") {
			c.fail(at+"."+key, "%q: want a Slurm name, without spaces or quotes", v)
		}
	}
	if d.TimeLimit != "" {
		t, err := time.ParseDuration(d.TimeLimit)
		if err != nil || t < time.Minute {
			c.fail(at+".time_limit", "%q: want a duration of at least a minute, such as \"90m\"", d.TimeLimit)
		}
		s.TimeLimit = t
	}
	return s
}

// ParseCPUList parses a Linux CPU list such as "0-3,8,10-11" into sorted,
// distinct CPU numbers.
func ParseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("%q is not a CPU list such as \"0-3,8\"", s)
		}
		for n := a; n <= b; n++ {
			cpus = append(cpus, n)
		}
	}
	slices.Sort(cpus)
	if len(slices.Compact(slices.Clone(cpus))) != len(cpus) {
		return nil, fmt.Errorf("%q lists a CPU twice", s)
	}
	return cpus, nil
}
