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

func (sl Slurm) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	look := sl.LookPath
	if look == nil {
		look = exec.LookPath
	}
	if _, err := look(name); err != nil {
		return nil, fmt.Errorf("%s %w: lab fleet hands work to Slurm and needs its client commands on this machine (Debian: apt-get install slurm-client; scripts/slurm-local.sh brings up a one-node cluster)", name, ErrNoSlurm)
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
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
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
// node when it is ""), sorted, each once. A constraint other than one
// feature name (an expression with &, |, brackets or counts) is refused:
// the lab matches features itself and would guess.
func (sl Slurm) Nodes(ctx context.Context, partition, constraint string) ([]string, error) {
	if strings.ContainsAny(constraint, "&|[]*()!") {
		return nil, fmt.Errorf("each-node needs a constraint that is one feature name, not %q", constraint)
	}
	out, err := sl.run(ctx, "sinfo", "--noheader", "--Node", "--partition="+partition, "--format=%N|%f")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var nodes []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, feats, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok || name == "" || seen[name] {
			continue
		}
		if constraint != "" && !hasFeature(feats, constraint) {
			continue
		}
		seen[name] = true
		nodes = append(nodes, name)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("sinfo lists no node of partition %q with feature %q", partition, constraint)
	}
	slices.Sort(nodes)
	return nodes, nil
}

func hasFeature(list, f string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == f {
			return true
		}
	}
	return false
}
