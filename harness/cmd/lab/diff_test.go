package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"concurrency-lab/harness/rundir"
)

// writeRun writes a run directory whose cells have the given sec/op samples.
func writeRun(t *testing.T, cells map[string][]float64) string {
	t.Helper()
	dir := t.TempDir()
	var s rundir.Summary
	s.Schema = rundir.Schema
	for _, name := range []string{"e/model=process/n=1", "e/model=thread/n=1", "e/model=loop/n=1"} {
		if secs, ok := cells[name]; ok {
			s.Cells = append(s.Cells, rundir.Cell{Name: name, Experiment: "e", Model: strings.TrimPrefix(strings.Split(name, "/")[1], "model="),
				Status: rundir.OK, Reps: len(secs), Metrics: map[string]rundir.Metric{"sec/op": {Samples: secs}}})
		}
	}
	run := rundir.Run{Schema: rundir.Schema, ID: "x", Complete: true, Cells: len(s.Cells)}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.RunFile), run); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.SummaryFile), s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.BenchFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func scaled(f float64) []float64 {
	base := []float64{1, 1.002, 0.998, 1.001, 0.999, 1.003}
	out := make([]float64, len(base))
	for i, v := range base {
		out[i] = v * f
	}
	return out
}

func TestDiffCmd(t *testing.T) {
	a := writeRun(t, map[string][]float64{"e/model=process/n=1": scaled(1), "e/model=thread/n=1": scaled(1), "e/model=loop/n=1": scaled(1)})
	b := writeRun(t, map[string][]float64{"e/model=process/n=1": scaled(1), "e/model=thread/n=1": scaled(2)})
	ctx := context.Background()

	var out bytes.Buffer
	// Flags after the run directories, as the usage shows.
	if err := runDiff(ctx, []string{a, b, "--format", "json"}, &out); err != nil {
		t.Fatalf("lab diff --format json: %v", err)
	}
	var res struct {
		Cells []struct{ Name, Verdict string }
		OnlyA []string `json:"only_a"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("json output: %v\n%s", err, out.String())
	}
	got := map[string]string{}
	for _, c := range res.Cells {
		got[c.Name] = c.Verdict
	}
	if got["e/model=process/n=1"] != "same" || got["e/model=thread/n=1"] != "slower" || len(res.OnlyA) != 1 {
		t.Errorf("verdicts %v, only in A %v; want process same, thread slower, loop only in A", got, res.OnlyA)
	}

	for _, f := range []string{"text", "html"} {
		out.Reset()
		if err := runDiff(ctx, []string{"--format", f, a, b}, &out); err != nil || out.Len() == 0 {
			t.Errorf("lab diff --format %s: err %v, %d bytes", f, err, out.Len())
		}
	}

	// --fail-on: the thread cell is 2× slower, significantly.
	err := runDiff(ctx, []string{a, b, "--fail-on", "50"}, &out)
	if err == nil || errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "e/model=thread/n=1") {
		t.Errorf("--fail-on 50 with a 2× slowdown: %v; want a plain error (exit 1) naming the cell", err)
	}
	if err := runDiff(ctx, []string{a, b, "--fail-on", "150"}, &out); err != nil {
		t.Errorf("--fail-on 150 with a 2× slowdown: %v; want none", err)
	}
}

func TestDiffCmdRefuses(t *testing.T) {
	good := writeRun(t, map[string][]float64{"e/model=process/n=1": scaled(1)})
	otherSchema := writeRun(t, map[string][]float64{"e/model=process/n=1": scaled(1)})
	os.WriteFile(filepath.Join(otherSchema, rundir.SummaryFile), []byte(`{"schema": 99, "cells": []}`), 0o644)
	corrupt := writeRun(t, map[string][]float64{"e/model=process/n=1": scaled(1)})
	os.WriteFile(filepath.Join(corrupt, rundir.RunFile), []byte("{\n\"schema\": 1,\n oops\n}"), 0o644)

	tests := []struct {
		name string
		args []string
		want string // in the message
	}{
		{"other schema", []string{good, otherSchema}, filepath.Join(otherSchema, rundir.SummaryFile) + ": schema 99"},
		{"corrupt", []string{corrupt, good}, filepath.Join(corrupt, rundir.RunFile) + ":3: corrupt JSON"},
		{"missing", []string{good, filepath.Join(good, "nope")}, "no such file"},
		{"one run", []string{good}, "want two run directories"},
		{"bad format", []string{good, good, "--format", "xml"}, `--format "xml"`},
		{"bad correction", []string{good, good, "--correction", "bonf"}, `unknown correction "bonf"`},
		{"bad threshold", []string{good, good, "--threshold", "-3"}, "--threshold"},
		{"unknown metric", []string{good, good, "--metric", "furlongs"}, `metric "furlongs"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runDiff(context.Background(), tt.args, &out)
			if err == nil || !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("lab diff %q: %v; want a usage error (exit 2) containing %q", tt.args, err, tt.want)
			}
			if out.Len() > 0 {
				t.Errorf("lab diff %q wrote output despite the error:\n%s", tt.args, out.String())
			}
		})
	}
}
