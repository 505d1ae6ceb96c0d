package diff

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
)

func run(cpus int, goVersion, matrix string, decl *rundir.Declared) rundir.Run {
	return rundir.Run{Schema: rundir.Schema, ID: "ignored-" + goVersion, Complete: true,
		Hardware: rundir.RunHardware{ID: "m", Declared: decl,
			Detected: hw.Machine{CPUModel: "Xeon", LogicalCPUs: cpus, UsableCPUs: cpus}},
		Software: hw.Software{GoVersion: goVersion, GOMAXPROCS: cpus},
		Matrix:   rundir.RunMatrix{File: "experiments.toml", SHA256: "h-" + matrix, Text: matrix}}
}

func TestSetting(t *testing.T) {
	a := run(2, "go1.26.8", "reps = 6\nn = [1]\nend", nil)
	b := run(1, "go1.26.9", "reps = 6\nn = [2]\nend", &rundir.Declared{CPUs: 1, Affinity: []int{0}})
	got := Setting(a, b)
	var paths []string
	for _, c := range got {
		paths = append(paths, c.Path+" "+string(c.A)+" "+string(c.B))
	}
	want := []string{
		"hardware.declared null {\"cpus\":1,\"memory_gib\":0,\"affinity\":[0]}",
		"hardware.detected.logical_cpus 2 1",
		"hardware.detected.usable_cpus 2 1",
		"software.go_version \"go1.26.8\" \"go1.26.9\"",
		"software.gomaxprocs 2 1",
		"matrix.sha256 \"h-reps = 6\\nn = [1]\\nend\" \"h-reps = 6\\nn = [2]\\nend\"",
		"matrix.lines[2] \"n = [1]\" \"n = [2]\"",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("Setting =\n  %s\nwant\n  %s", strings.Join(paths, "\n  "), strings.Join(want, "\n  "))
	}
	if got := Setting(a, a); len(got) != 0 {
		t.Errorf("Setting(a, a) = %v; want none", got)
	}
	// Stable: the same inputs give the same changes, byte for byte.
	x, _ := json.Marshal(Setting(a, b))
	for range 5 {
		if y, _ := json.Marshal(Setting(a, b)); !bytes.Equal(x, y) {
			t.Fatalf("Setting is unstable:\n%s\n%s", x, y)
		}
	}
}

func TestSettingMatrixLineInserted(t *testing.T) {
	got := Setting(run(2, "g", "a\nb", nil), run(2, "g", "a\nnew\nb", nil))
	var lineChanges []Change
	for _, c := range got {
		if strings.HasPrefix(c.Path, "matrix.lines") {
			lineChanges = append(lineChanges, c)
		}
	}
	if len(lineChanges) != 1 || lineChanges[0].Path != "matrix.lines[2]" || string(lineChanges[0].A) != "null" || string(lineChanges[0].B) != `"new"` {
		t.Errorf("inserted line: %+v; want one change matrix.lines[2] null → \"new\"", lineChanges)
	}
}

func sample() *Result {
	tight := func(c float64) []float64 { return []float64{c, c * 1.001, c * 1.002, c * 0.999, c * 0.998, c * 1.003} }
	r := Cells([]Input{
		{Name: "e/model=<script>alert(1)</script>", Experiment: "e", Model: "<b>", A: tight(1), B: tight(2)},
		{Name: "e/model=m/n=1", Experiment: "e", Model: "m", A: tight(0.002), B: tight(0.002)},
		{Name: "e/model=m/n=2", Experiment: "e", Model: "m", A: tight(1), B: tight(1)[:3]},
	}, opts(BH))
	r.A, r.B = "runs/a", "runs/<b>"
	r.OnlyA = []string{"e/gone"}
	r.Setting = []Change{{Path: "software.go_version", A: json.RawMessage(`"go1"`), B: json.RawMessage(`"</td><script>"`)}}
	return r
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"setting (A → B):", "software.go_version", "cell", "B/A", "p(bh)",
		"slower", "same", "untestable (6 and 3 samples", "only in A (1):", "  e/gone",
		"geometric mean of B/A:", "verdicts: 1 slower, 1 same, 1 untestable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	// Aligned: the B/A column starts at the same rune offset on the header
	// and on every testable cell line.
	col := func(line, sub string) int { return utf8.RuneCountInString(line[:strings.Index(line, sub)]) }
	lines := strings.Split(out, "\n")
	var header, slow, same string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "cell "):
			header = l
		case strings.HasPrefix(l, "e/model=<script>"):
			slow = l
		case strings.HasPrefix(l, "e/model=m/n=1 "):
			same = l
		}
	}
	if h, a, b := col(header, "B/A"), col(slow, "2.000  ["), col(same, "1.000  ["); h != a || h != b {
		t.Errorf("B/A column at %d, %d, %d; want aligned:\n%s", h, a, b, out)
	}
}

func TestJSONFields(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	for _, k := range []string{"a", "b", "metric", "threshold", "alpha", "correction", "setting", "cells", "only_a", "only_b", "geomeans", "power", "counts", "warnings"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks top-level field %q", k)
		}
	}
	c := m["cells"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "experiment", "model", "a", "b", "ratio", "p", "p_adj", "verdict"} {
		if _, ok := c[k]; !ok {
			t.Errorf("JSON cell lacks field %q", k)
		}
	}
	if u := m["cells"].([]any)[2].(map[string]any); u["p"] != nil || u["verdict"] != Untestable {
		t.Errorf("untestable cell: p %v verdict %v; want null, untestable", u["p"], u["verdict"])
	}
}

func TestHTMLEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script>", "</td><script>", "<b>"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"<style>", "&lt;script&gt;alert(1)&lt;/script&gt;", `class="slower"`, "Only in A"} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(out, "http://") || strings.Contains(out, "https://") || strings.Contains(out, "<link") {
		t.Error("HTML refers to an external resource; want a self-contained page")
	}
}
