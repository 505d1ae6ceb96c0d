package rundir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("content %q; want %q", b, "new")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only run.json (no temporary files left)", len(entries))
	}
	// A write that cannot complete leaves the old file as it was.
	if err := WriteFile(filepath.Join(dir, "missing", "x.json"), []byte("x")); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "sub.json"), []byte("x")); err == nil {
		t.Error("WriteFile over a directory succeeded")
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("after failed writes the directory holds %d entries; want 2 (no temporary files left)", len(entries))
	}
}

func writeDir(t *testing.T, run, summary string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, RunFile), []byte(run), 0o644)
	os.WriteFile(filepath.Join(dir, SummaryFile), []byte(summary), 0o644)
	os.WriteFile(filepath.Join(dir, BenchFile), []byte("hardware: x\n"), 0o644)
	return dir
}

func TestReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	run := Run{Schema: Schema, ID: "r", Complete: true, Seed: 9}
	sum := Summary{Schema: Schema, Cells: []Cell{{Name: "a/model=loop", Status: OK, Metrics: map[string]Metric{"sec/op": {Samples: []float64{1, 2}}}}}}
	if err := WriteJSON(filepath.Join(dir, RunFile), run); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(filepath.Join(dir, SummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	WriteFile(filepath.Join(dir, BenchFile), nil)
	d, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Run.Seed != 9 || !d.Run.Complete || d.Summary.Cells[0].Metrics["sec/op"].Samples[1] != 2 {
		t.Errorf("read back %+v", d)
	}
}

// TestReadNamesOldCellsAsNow: a run made before cells had a runtime reads
// back with its cells in the go runtime and named as the same cells are now,
// so that it compares with new runs; a new cell is left as it is.
func TestReadNamesOldCellsAsNow(t *testing.T) {
	dir := t.TempDir()
	sum := Summary{Schema: Schema, Cells: []Cell{
		{Name: "a/model=loop/n=1", Experiment: "a", Model: "loop"},
		{Name: "a/runtime=cpython/model=loop/n=1", Experiment: "a", Model: "loop", Runtime: "cpython"},
	}}
	WriteJSON(filepath.Join(dir, RunFile), Run{Schema: Schema})
	WriteJSON(filepath.Join(dir, SummaryFile), sum)
	WriteFile(filepath.Join(dir, BenchFile), nil)
	d, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"a/runtime=go/model=loop/n=1", "go"}, {"a/runtime=cpython/model=loop/n=1", "cpython"}}
	for i, c := range d.Summary.Cells {
		if c.Name != want[i][0] || c.Runtime != want[i][1] {
			t.Errorf("cell %d read back as %q in runtime %q; want %q in %q", i, c.Name, c.Runtime, want[i][0], want[i][1])
		}
	}
}

func TestReadErrors(t *testing.T) {
	good := `{"schema": 1}`
	tests := []struct {
		name, run, summary string
		want               []string
	}{
		{"corrupt run.json", "{\n\"schema\": 1,\n\"id\": x\n}\n", good, []string{"run.json:3", "corrupt JSON"}},
		{"truncated summary", good, `{"schema": 1, "cells": [`, []string{"summary.json", "unexpected end"}},
		{"wrong schema", `{"schema": 7}`, good, []string{"run.json", "schema 7"}},
		{"wrong type", `{"schema": 1, "complete": "yes"}`, good, []string{"run.json", "complete"}},
	}
	for _, tt := range tests {
		_, err := Read(writeDir(t, tt.run, tt.summary))
		if err == nil {
			t.Errorf("%s: Read succeeded", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tt.name, err, w)
			}
		}
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), RunFile) {
		t.Errorf("Read of an empty directory: %v; want an error naming %s", err, RunFile)
	}
}
