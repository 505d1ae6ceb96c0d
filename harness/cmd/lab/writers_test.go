package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// extract writes the files of a testdata/script archive under dir.
func extract(t *testing.T, archive, dir string) {
	t.Helper()
	a, err := txtar.ParseFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Files {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerbsUseTheirWriters runs every verb in this process, as the scripts
// cannot: each must write to the stdout and stderr it is given, and nothing
// to os.Stdout or os.Stderr. It also checks the repository's own matrix.
func TestVerbsUseTheirWriters(t *testing.T) {
	tmp := t.TempDir()
	extract(t, "testdata/script/diff.txtar", filepath.Join(tmp, "diff"))
	extract(t, "testdata/script/report.txtar", filepath.Join(tmp, "report"))
	a, b := filepath.Join(tmp, "diff", "a"), filepath.Join(tmp, "diff", "b")

	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string // regular expressions
	}{
		{"check the repository's matrix", []string{"check", "--matrix", filepath.Join(repoRoot, "experiments.toml")}, 0,
			`(?m)experiments\.toml: ok: [1-9]\d* experiments, [1-9]\d* cells, [1-9]\d* samples, ~\S+ \(a rough estimate`, `^$`},
		{"check, bad flag", []string{"check", "--matrx", "m.toml"}, 2, `^$`, `(?s)^flag provided but not defined: -matrx\n.*lab: flag provided`},
		{"hw --json", []string{"hw", "--json"}, 0, `^\{\n  "id": `, `^$`},
		{"hw", []string{"hw"}, 0, `^id: `, `^$`},
		{"diff", []string{"diff", a, b}, 0, `(?m)^verdicts: 1 slower, 1 faster, 1 same$`, `^$`},
		{"diff --fail-on", []string{"diff", a, b, "--fail-on", "50"}, 1, `(?m)^verdicts: `, `^lab: diff: 1 cells slower`},
		{"diff, bad format", []string{"diff", a, b, "--format", "bogus"}, 2, `^$`, `--format "bogus"`},
		{"diff -h", []string{"diff", "-h"}, 0, `^$`, `^usage: lab diff`},
		{"report", []string{"report", "--results", filepath.Join(tmp, "report", "results"), "--out", filepath.Join(tmp, "site")}, 0,
			`^file://.*index\.html\n$`, `(?m)^lab: report: 1 runs, 7 pages, 4 charts, 1 run directories refused$`},
		{"report, bad flag", []string{"report", "--frobnicate"}, 2, `^$`, `(?s)^flag provided but not defined: -frobnicate\nusage: lab report`},
		{"run, bad flag", []string{"run", "--frobnicate"}, 2, `^$`, `(?s)^flag provided but not defined: -frobnicate\nusage: lab run`},
		{"run, bad reps", []string{"run", "--reps", "-1"}, 2, `^$`, `^lab: run: --reps -1: want ≥ 1\n$`},
		{"no command", nil, 2, `^$`, `^usage: lab <command>`},
		{"unknown command", []string{"frobnicate"}, 2, `^$`, `^lab: unknown command "frobnicate"\nusage: lab <command>`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		var code int
		leaked := captureStd(t, func() { code = lab(context.Background(), tt.args, &stdout, &stderr) })
		if leaked != "" {
			t.Errorf("%s: wrote to os.Stdout or os.Stderr:\n%s", tt.name, leaked)
		}
		if code != tt.code {
			t.Errorf("%s: exit status %d; want %d\nstderr:\n%s", tt.name, code, tt.code, stderr.String())
		}
		if !regexp.MustCompile(tt.stdout).Match(stdout.Bytes()) {
			t.Errorf("%s: stdout does not match %s:\n%s", tt.name, tt.stdout, stdout.String())
		}
		if !regexp.MustCompile(tt.stderr).Match(stderr.Bytes()) {
			t.Errorf("%s: stderr does not match %s:\n%s", tt.name, tt.stderr, stderr.String())
		}
	}
}

// captureStd runs f with os.Stdout and os.Stderr pointing at a file and
// returns what was written to them.
func captureStd(t *testing.T, f func()) string {
	t.Helper()
	file, err := os.Create(filepath.Join(t.TempDir(), "std"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = file, file
	defer func() { os.Stdout, os.Stderr = stdout, stderr }()
	f()
	os.Stdout, os.Stderr = stdout, stderr
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
