package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/fleet"
	"concurrency-lab/harness/runner"
)

// noSlurm is a machine without Slurm's commands.
var noSlurm = fleet.Slurm{LookPath: func(string) (string, error) { return "", exec.ErrNotFound }}

const slurmMatrix = `[hardware.cls]
cpus = 2
memory_gib = 4

[hardware.cls.slurm]
partition = "lab"

[hardware.plain]
cpus = 2
memory_gib = 4

[[experiments]]
name = "x"
workload = "primes"
models = ["thread", "process"]
params = { workers = [1, 2], n = [100] }
`

func TestFleetSubmitWithoutSlurm(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.toml")
	if err := os.WriteFile(m, []byte(slurmMatrix), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	var out, errb bytes.Buffer
	err := fleetSubmit(t.Context(), noSlurm, []string{"--matrix", m, "--results", results, "--shards", "2"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "sbatch not found on PATH") {
		t.Fatalf("submit without Slurm: %v; want sbatch not found", err)
	}
	if code := exitCode(err, &errb); code != exitError {
		t.Errorf("exit status %d; want %d", code, exitError)
	}
	if _, err := os.Stat(results); !os.IsNotExist(err) {
		t.Errorf("submit without Slurm wrote %s", results)
	}

	// A dry run needs no Slurm: it prints the script and writes nothing.
	out.Reset()
	if err := fleetSubmit(t.Context(), noSlurm, []string{"--matrix", m, "--results", results, "--shards", "2", "--dry-run", "--seed", "7"}, &out, &errb); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	for _, want := range []string{"#SBATCH --array=1-2\n", "#SBATCH --partition=lab\n", "#SBATCH --exclusive\n", "--hardware cls", "--shard \"$part\"/2", "--seed 7"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run's script lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(results); !os.IsNotExist(err) {
		t.Errorf("a dry run wrote %s", results)
	}
	// The script is bash.
	script := filepath.Join(dir, "x.sbatch")
	if err := os.WriteFile(script, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, b)
	}
}

func TestFleetBadInput(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.toml")
	if err := os.WriteFile(m, []byte(slurmMatrix), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"submit", "--dry-run", "--matrix", m, "--hardware", "plain"}, "hardware.plain has no slurm table"},
		{[]string{"submit", "--dry-run", "--matrix", m, "--hardware", "nosuch"}, `--hardware "nosuch" is not declared`},
		{[]string{"submit", "--dry-run", "--matrix", m, "--shards", "0"}, "--shards 0: want at least 1"},
		{[]string{"submit", "--dry-run", "--matrix", m, "--shards", "5"}, "--shards 5 but only 4 cells"},
		{[]string{"submit", "--dry-run", "--matrix", m, "--each-node", "--resume", "x"}, "do not go together"},
		{[]string{"status", "--results", results}, "no submission under"},
		{[]string{"collect", "--results", results}, "no submission under"},
		{[]string{"status", "--results", results, "12", "abc"}, `"abc" is not a Slurm job id`},
		{[]string{"frob"}, `unknown verb "frob"`},
		{nil, "want submit, status or collect"},
	} {
		var out, errb bytes.Buffer
		err := fleetCmd(t.Context(), tc.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lab fleet %q: %v; want %q", tc.args, err, tc.want)
			continue
		}
		if code := exitCode(err, &errb); code != exitUsage {
			t.Errorf("lab fleet %q: exit status %d; want %d", tc.args, code, exitUsage)
		}
	}
	if _, err := os.Stat(results); !os.IsNotExist(err) {
		t.Errorf("bad input wrote %s", results)
	}
}

func TestKeepNamed(t *testing.T) {
	// lab run --cells, a resume's task: exactly the named cells, in the
	// matrix's order; a name not among the cells names its line.
	dir := t.TempDir()
	m := filepath.Join(dir, "m.toml")
	if err := os.WriteFile(m, []byte(slurmMatrix), 0o644); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(m)
	mx, err := matrix.Parse(m, text)
	if err != nil {
		t.Fatal(err)
	}
	cells, err := runner.Select(mx, "", "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "cells.txt")
	write := func(s string) {
		if err := os.WriteFile(list, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# resume\n" + cells[3].Name() + "\n\n" + cells[1].Name() + "\n")
	got, err := keepNamed(cells, list)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name() != cells[1].Name() || got[1].Name() != cells[3].Name() {
		t.Errorf("kept %v; want cells 1 and 3 in matrix order", got)
	}
	write(cells[0].Name() + "\nx/runtime=go/model=thread/nope\n")
	if _, err := keepNamed(cells, list); err == nil || !strings.Contains(err.Error(), list+":2:") {
		t.Errorf("unknown cell: %v; want its line named", err)
	}
	write("# nothing\n")
	if _, err := keepNamed(cells, list); err == nil || !strings.Contains(err.Error(), "names no cell") {
		t.Errorf("empty list: %v", err)
	}
}
