package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Slurm runs Slurm's client commands. The zero value runs the real ones
// from PATH; tests set Command to stand in for them.
type Slurm struct {
	// Command runs the Slurm command name with args and returns its
	// standard output; an *exec.ExitError's Stderr says why it failed.
	Command func(ctx context.Context, name string, args ...string) ([]byte, error)
	// LookPath finds a command (exec.LookPath when nil).
	LookPath func(name string) (string, error)
}

// ErrNoSlurm is returned when a Slurm command is not on PATH.
var ErrNoSlurm = errors.New("not found on PATH")

// A CommandError is a Slurm command that is missing or failed: a problem of
// the machine or the cluster, not of the lab's input.
type CommandError struct {
	Name string
	Err  error
}

func (e *CommandError) Error() string { return e.Err.Error() }
func (e *CommandError) Unwrap() error { return e.Err }

func (sl Slurm) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	look := sl.LookPath
	if look == nil {
		look = exec.LookPath
	}
	if _, err := look(name); err != nil {
		return nil, &CommandError{name, fmt.Errorf("%s %w: lab fleet hands work to Slurm and needs its client commands on this machine (Debian: apt-get install slurm-client; scripts/slurm-local.sh brings up a one-node cluster)", name, ErrNoSlurm)}
	}
	var out []byte
	var err error
	if sl.Command != nil {
		out, err = sl.Command(ctx, name, args...)
	} else {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Stderr = &stderr
		out, err = cmd.Output()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
	}
	if err != nil {
		return out, &CommandError{name, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)}
	}
	return out, nil
}

// Available reports whether sbatch is on PATH.
func (sl Slurm) Available() bool {
	look := sl.LookPath
	if look == nil {
		look = exec.LookPath
	}
	_, err := look("sbatch")
	return err == nil
}

// Sbatch submits script with sbatch's extra options and returns the job id.
func (sl Slurm) Sbatch(ctx context.Context, script string, extra ...string) (string, error) {
	args := append([]string{"--parsable"}, extra...)
	out, err := sl.run(ctx, "sbatch", append(args, script)...)
	if err != nil {
		return "", fmt.Errorf("sbatch refused the job: %w", err)
	}
	// --parsable prints "jobid" or "jobid;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if id == "" || strings.ContainsAny(id, " \t\n") {
		return "", fmt.Errorf("sbatch: no job id in its output %q", out)
	}
	return id, nil
}

// Nodes lists the nodes of partition that have the feature constraint (any
// node when it is "") and can take a job now, sorted, each once: a node
// down, drained, failing, in maintenance or not responding would hold its
// job pending for ever. A constraint other than one feature name (an
// expression with &, |, brackets or counts) is refused: the lab matches
// features itself and would guess.
func (sl Slurm) Nodes(ctx context.Context, partition, constraint string) ([]string, error) {
	if strings.ContainsAny(constraint, "&|[]*()!") {
		return nil, fmt.Errorf("each-node needs a constraint that is one feature name, not %q", constraint)
	}
	out, err := sl.run(ctx, "sinfo", "--noheader", "--Node", "--partition="+partition, "--format=%N|%f|%t")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var nodes, unusable []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) < 3 || f[0] == "" || seen[f[0]] {
			continue
		}
		if constraint != "" && !hasFeature(f[1], constraint) {
			continue
		}
		seen[f[0]] = true
		if !usable(f[2]) {
			unusable = append(unusable, f[0]+" ("+f[2]+")")
			continue
		}
		nodes = append(nodes, f[0])
	}
	if len(nodes) == 0 {
		return nil, &CommandError{"sinfo", fmt.Errorf("sinfo lists no usable node of partition %q with feature %q (unusable: %s)", partition, constraint, strings.Join(unusable, ", "))}
	}
	slices.Sort(nodes)
	return nodes, nil
}

// usable reports whether a node in sinfo's short state (%t) can take a
// job: idle, mixed, allocated or completing, and responding (a trailing
// "*" is a node that does not answer; "~" one powered off).
func usable(state string) bool {
	if strings.ContainsAny(state, "*~#!%$@^-") {
		return false
	}
	switch state {
	case "idle", "mix", "alloc", "comp", "resv":
		return true
	}
	return false
}

func hasFeature(list, f string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == f {
			return true
		}
	}
	return false
}
