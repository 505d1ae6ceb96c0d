package fleet

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Script is class c's sbatch script. A sharded class is one job array, task
// i running part i; an each-node class is one job per node (sbatch
// --nodelist), each running every cell. Each task asks for a whole node
// (--exclusive) of the class's partition and constraint: nothing else runs
// there while it measures.
func (s *Submission) Script(c Class) string {
	var b strings.Builder
	n := len(c.Parts)
	kind := fmt.Sprintf("%d parts of %d cells, one job array task per part", n, len(c.Cells))
	if s.Options.EachNode {
		kind = fmt.Sprintf("all %d cells on each node, one job per node (sbatch --nodelist)", len(c.Cells))
	}
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# concurrency-lab: hardware class %s, submission %s: %s.\n", c.Hardware, s.ID, kind)
	fmt.Fprintf(&b, "# Written by lab fleet submit; lab fleet collect merges what the tasks write.\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=lab-%s\n", c.Hardware)
	if !s.Options.EachNode {
		fmt.Fprintf(&b, "#SBATCH --array=1-%d\n", n)
	}
	fmt.Fprintf(&b, "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n#SBATCH --exclusive\n")
	fmt.Fprintf(&b, "#SBATCH --partition=%s\n", c.Partition)
	if c.Constraint != "" {
		fmt.Fprintf(&b, "#SBATCH --constraint=%s\n", c.Constraint)
	}
	if c.Account != "" {
		fmt.Fprintf(&b, "#SBATCH --account=%s\n", c.Account)
	}
	fmt.Fprintf(&b, "#SBATCH --time=%s\n", SlurmDuration(c.TimeLimit))
	log := "%A_%a.out"
	if s.Options.EachNode {
		log = "%j-%N.out"
	}
	// #SBATCH lines are not shell: paths with spaces cannot be quoted there.
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(s.dir, LogsDir, c.Hardware+"-"+log))
	fmt.Fprintf(&b, "set -euo pipefail\n")

	bin := filepath.Join(s.dir, BinDir)
	// One line per flag, for a person reading the script.
	lines := []string{
		shellQuote(filepath.Join(bin, LabBinary)) + " run",
		"--prebuilt " + shellQuote(bin),
		"--matrix " + shellQuote(filepath.Join(s.dir, MatrixFile)),
		"--hardware " + shellQuote(c.Hardware),
		"--out " + shellQuote(filepath.Join(s.dir, PartsDir)),
		"--seed " + strconv.FormatInt(s.Options.Seed, 10),
		"--looks " + strconv.Itoa(s.Options.Looks),
	}
	if s.Options.EachNode {
		fmt.Fprintf(&b, "node=${SLURMD_NODENAME:?not in a Slurm job}\n")
		lines = append(lines, "--run-id "+shellQuote(s.ID+"-")+`"$node"`)
	} else {
		fmt.Fprintf(&b, "part=${SLURM_ARRAY_TASK_ID:?not a Slurm job array task}\n")
		lines = append(lines, "--run-id "+shellQuote(s.ID+"-shard")+`"$part"`+shellQuote(fmt.Sprintf("of%d", n)),
			"--shard "+`"$part"`+shellQuote(fmt.Sprintf("/%d", n)))
	}
	if s.Options.Smoke {
		lines = append(lines, "--smoke")
	}
	if s.Options.Only != "" {
		lines = append(lines, "--only "+shellQuote(s.Options.Only))
	}
	if s.Options.Reps > 0 {
		lines = append(lines, "--reps "+strconv.Itoa(s.Options.Reps))
	}
	if s.Options.Force {
		lines = append(lines, "--force")
	}
	if s.Resume != "" {
		lines = append(lines, "--cells "+shellQuote(filepath.Join(s.dir, CellsFile(c.Hardware))))
	}
	// exec: Slurm's SIGTERM at the time limit reaches lab run, which stops
	// and keeps what it measured, marked incomplete.
	fmt.Fprintf(&b, "exec %s\n", strings.Join(lines, " \\\n  "))
	return b.String()
}

// CellsFile names the file, in a resume's folder, of the cells class hw runs.
func CellsFile(hw string) string { return "cells-" + hw + ".txt" }

// TimeLimit is the limit a task estimated to take est gets: twice the
// estimate and ten minutes (nodes may be slower than the submitting machine,
// and the sequential plan may add looks), in whole minutes, at most max
// when max > 0. It is an error when est alone is above max: the task would
// be killed before it could end.
func TimeLimit(est, maxLimit time.Duration) (time.Duration, error) {
	t := (2*est + 10*time.Minute).Round(time.Minute)
	if maxLimit > 0 {
		if est > maxLimit {
			return 0, fmt.Errorf("the heaviest task is estimated at %v, above the class's time_limit %v", est.Round(time.Second), maxLimit)
		}
		t = min(t, maxLimit)
	}
	return t, nil
}

// SlurmDuration formats d as sbatch's --time takes it: D-HH:MM:SS.
func SlurmDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d-%02d:%02d:%02d", s/86400, s/3600%24, s/60%60, s%60)
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for bash when it needs it.
func shellQuote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
