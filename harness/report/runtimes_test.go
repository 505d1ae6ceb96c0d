package report

import (
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// labelRE finds the label of every cell row of an experiment page.
var labelRE = regexp.MustCompile(`<tr id="(cell-[^"]*)"[^>]*><td><span class="key"[^>]*></span>([^<]*)</td>`)

// pageRows maps each cell row's id on an experiment page to its label and
// the row's HTML.
func pageRows(page string) map[string][2]string {
	out := map[string][2]string{}
	for _, m := range labelRE.FindAllStringSubmatchIndex(page, -1) {
		id, label := page[m[2]:m[3]], page[m[4]:m[5]]
		end := strings.Index(page[m[0]:], "</tr>")
		out[id] = [2]string{html.UnescapeString(label), page[m[0] : m[0]+end]}
	}
	return out
}

func readPage(t *testing.T, out, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(page)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRuntimesNotMixed builds a site from a run whose article and sleep
// experiments ran in Go, CPython on asyncio and on uvloop, and C, with one
// more runtime absent: no page or chart merges another runtime's cell into a
// Go model's, the article's table across runtimes and the GIL calibration
// show their figures, and the absent runtime is said with how to get it.
func TestRuntimesNotMixed(t *testing.T) {
	root := t.TempDir()
	writeRuntimeRun(t, root, "lab", "r1", 1)
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out}); err != nil {
		t.Fatal(err)
	}
	checkLinks(t, out) // every href and src, SVG charts included, resolves
	s, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	s.prepare()
	m, r := s.Machines[0], s.Runs[0]

	// Every experiment page: one row per (runtime, model, parameters), each
	// label the model with its runtime when not Go's.
	for _, tt := range []struct {
		page string
		want []string // labels that must be rows
	}{
		{"article.html", []string{"process", "thread", "thread-gil", "loop", "goroutine", "process (cpython)", "thread (cpython)", "loop (cpython)", "process (native)", "thread (native)", "loop (native)", "loop (cpython-uvloop)", "thread (pypy)"}},
		{"sleep.html", []string{"thread", "loop", "goroutine", "thread (cpython)", "loop (cpython)", "loop (cpython-uvloop)", "loop (native)"}},
	} {
		page := readPage(t, out, r.Path+"/"+tt.page)
		rows := pageRows(page)
		labels := map[string]bool{}
		for _, row := range rows {
			labels[row[0]] = true
		}
		x := r.experiment(strings.TrimSuffix(tt.page, ".html"))
		for _, c := range x.Cells {
			want := c.Model
			if c.Runtime != "go" {
				want += " (" + c.Runtime + ")"
			}
			if got := rows[anchor(c.Name)][0]; got != want {
				t.Errorf("%s: the row of %s is labelled %q; want %q", tt.page, c.Name, got, want)
			}
		}
		for _, w := range tt.want {
			if !labels[w] {
				t.Errorf("%s has no row %q (rows: %v)", tt.page, w, labels)
			}
		}
	}

	// Charts: the article's time chart has a legend entry per series, and a
	// CPython thread never joins Go's.
	x := r.experiment("article")
	var dots []byte
	for _, c := range x.Charts {
		if strings.Contains(c.File, "sec-op") {
			dots = c.svg
		}
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(r.Path), filepath.FromSlash(c.File))); err != nil {
			t.Errorf("chart %s: %v", c.File, err)
		}
	}
	for _, w := range []string{">thread<", ">thread (cpython)<", ">process (native)<"} {
		if !strings.Contains(string(dots), w) {
			t.Errorf("the article's time chart lacks %q", w)
		}
	}
	keys, per := bySeries(x.rts, okCells(x.Cells, "sec/op"))
	for _, k := range keys {
		for _, c := range per[k] {
			if claims.RuntimeOf(c) != k.Runtime || c.Model != k.Model {
				t.Errorf("series %v holds cell %s", k, c.Name)
			}
		}
	}
	if got := keys[0]; got.Runtime != "go" {
		t.Errorf("first series %v; want Go's first", got)
	}

	// × native on the experiment page: Go's process over C's process.
	cell := func(rt, model string) *rundir.Cell {
		for _, c := range x.Cells {
			if claims.RuntimeOf(c) == rt && c.Model == model {
				return c
			}
		}
		t.Fatalf("no %s %s cell", rt, model)
		return nil
	}
	ratio := func(a, b *rundir.Cell) stats.Ratio {
		t.Helper()
		rt, err := s.Options.Ratio(a.Metrics["sec/op"].Samples, b.Metrics["sec/op"].Samples)
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	article := readPage(t, out, r.Path+"/article.html")
	rows := pageRows(article)
	for _, tt := range []struct {
		rt, model, want string
	}{
		{"go", "process", fmtTimes(ratio(cell("native", "process"), cell("go", "process")))},
		{"cpython", "thread", fmtTimes(ratio(cell("native", "thread"), cell("cpython", "thread")))},
		{"go", "thread-gil", "<td>—</td>"},
		{"native", "loop", "the floor"},
	} {
		row := html.UnescapeString(rows[anchor(cell(tt.rt, tt.model).Name)][1])
		if !strings.Contains(row, tt.want) {
			t.Errorf("article.html, %s %s: × native is not %q: %s", tt.rt, tt.model, tt.want, row)
		}
	}

	// Skipped cells are said, not flagged as failures.
	for id, row := range rows {
		if strings.Contains(row[0], "(pypy)") && strings.Contains(row[1], `class="flagged"`) {
			t.Errorf("article.html: skipped row %s is flagged", id)
		}
	}
	if i := strings.Index(article, `<section class="flags">`); i >= 0 && strings.Contains(article[i:strings.Index(article, `<section class="skipped">`)], "pypy") {
		t.Errorf("article.html flags the skipped pypy cells as problems")
	}
	if !strings.Contains(html.UnescapeString(article), `skipped: runtime pypy unavailable: no interpreter "pypy3"`) {
		t.Errorf("article.html does not say the pypy cells were skipped, and why")
	}

	// The reference table, the calibration and the runtimes, on the index.
	ref := m.Reference
	if ref == nil || ref.Run != r {
		t.Fatalf("no article table across runtimes from run r1: %+v", ref)
	}
	var cols []string
	for _, c := range ref.Columns {
		cols = append(cols, c.Runtime)
	}
	if !slices.Equal(cols, []string{"cpython", "cpython-uvloop", "native", "go"}) {
		t.Errorf("the table across runtimes has columns %v; want cpython, cpython-uvloop, native, go", cols)
	}
	cal := m.Calibration
	if cal == nil || cal.Go == nil || len(cal.CPython) != 1 || cal.CPython[0].Verdict == "" {
		t.Fatalf("GIL calibration incomplete: %+v", cal)
	}
	goRatio := ratio(cell("go", "thread-gil"), cell("go", "loop"))
	cpRatio := ratio(cell("cpython", "thread"), cell("cpython", "loop"))
	index := html.UnescapeString(readPage(t, out, "index.html"))
	runPage := html.UnescapeString(readPage(t, out, r.Path+"/index.html"))
	claimsPage := html.UnescapeString(readPage(t, out, "claims.html"))
	for _, tt := range []struct {
		page, text, want string
	}{
		{"index", index, "The article's table across runtimes"},
		{"index", index, "article (CPython, i7-8700K)"},
		{"index", index, "cpython (CPython 3.11.2)"},
		{"index", index, "cpython-uvloop (CPython 3.11.2, uvloop 0.17.0)"},
		{"index", index, fmtTimes(ratio(cell("native", "loop"), cell("cpython-uvloop", "loop"))) + " over native"},
		{"index", index, "native (C, the floor)"},
		{"index", index, "go (the lab's models)"},
		{"index", index, "45.24 s (threading)"},
		{"index", index, fmtTimes(ratio(cell("native", "process"), cell("cpython", "process"))) + " over native"},
		{"index", index, fmtTimes(ratio(cell("native", "loop"), cell("go", "loop"))) + " over native"},
		{"index", index, "The emulated GIL against CPython's"},
		{"index", index, fmtTimes(goRatio)},
		{"index", index, fmtTimes(cpRatio)},
		{"index", index, cal.CPython[0].Text},
		{"index", index, cal.CPython[0].Verdict},
		{"index", index, "The guide ranks the lab's Go models only"},
		{"index", index, `not available here: no interpreter "pypy3"`},
		{"index", index, "to get them: Debian: apt-get install pypy3"},
		{"run page", runPage, `not available here: no interpreter "pypy3"`},
		{"run page", runPage, "to get them: Debian: apt-get install pypy3"},
		{"run page", runPage, "CPython /usr/bin/python3, Python 3.11.2, event loop asyncio, GIL enabled"},
		{"run page", runPage, "event loop uvloop 0.17.0"},
		{"run page", runPage, "C, compiled by cc (Debian 12.2.0-14) 12.2.0 (/usr/bin/cc) with -std=c11"},
		{"claims", claimsPage, "judged on:</strong> CPython: runtime cpython (/usr/bin/python3, Python 3.11.2)"},
	} {
		if !strings.Contains(tt.text, tt.want) {
			t.Errorf("%s does not say %q", tt.page, tt.want)
		}
	}

	// The decision guide ranks Go's cells only.
	for _, c := range sleepAtMost(r) {
		if claims.RuntimeOf(c) != "go" {
			t.Errorf("the guide's sleep cells include %s", c.Name)
		}
	}
	if len(m.Guide) == 0 {
		t.Errorf("no decision guide")
	}
}

// TestQuotientCI: the quotient of two ratios of medians and its bootstrap
// interval, read against the ±10% goal.
func TestQuotientCI(t *testing.T) {
	noisy := []float64{1.0, 1.1, 1.2, 1.0, 1.1, 1.2}
	for _, tt := range []struct {
		name           string
		a1, b1, a2, b2 []float64
		point          float64
		verdict        string
	}{
		{"same ratio, no noise", []float64{1, 1}, []float64{2, 2}, []float64{3, 3}, []float64{6, 6}, 1, "within the goal"},
		{"1.5 times, no noise", []float64{1, 1}, []float64{3, 3}, []float64{1, 1}, []float64{2, 2}, 1.5, "outside the goal"},
		{"at the edge, noisy", []float64{1, 1, 1, 1, 1, 1}, noisy, []float64{1, 1, 1, 1, 1, 1}, []float64{1, 1, 1, 1, 1, 1}, 1.1, "undecided"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q, err := quotientCI(claims.DefaultOptions, tt.a1, tt.b1, tt.a2, tt.b2)
			if err != nil {
				t.Fatal(err)
			}
			if diff := q.Point - tt.point; diff > 1e-9 || diff < -1e-9 || q.Lo > q.Point || q.Hi < q.Point {
				t.Errorf("quotient %+v; want point %v inside its interval", q, tt.point)
			}
			if v, _ := goalVerdict(q); v != tt.verdict {
				t.Errorf("verdict %q for %+v; want %q", v, q, tt.verdict)
			}
			again, _ := quotientCI(claims.DefaultOptions, tt.a1, tt.b1, tt.a2, tt.b2)
			if again != q {
				t.Errorf("a second draw gave %+v, the first %+v; want the same (seeded)", again, q)
			}
		})
	}
	if _, err := quotientCI(claims.DefaultOptions, []float64{1}, noisy, noisy, noisy); err == nil {
		t.Errorf("quotientCI of a single sample: no error")
	}
}

// TestRuntimeLabels: a Go model is named alone, another runtime's with the
// runtime, and splitLabel undoes it (the compare page colours diff's keys).
func TestRuntimeLabels(t *testing.T) {
	for _, tt := range []struct{ rt, model, label string }{
		{"go", "thread", "thread"},
		{"", "loop", "loop"},
		{"cpython", "thread", "thread (cpython)"},
		{"cpython-uvloop", "loop", "loop (cpython-uvloop)"},
		{"native", "process", "process (native)"},
	} {
		if got := runtimeLabel(tt.rt, tt.model); got != tt.label {
			t.Errorf("runtimeLabel(%q, %q) = %q; want %q", tt.rt, tt.model, got, tt.label)
		}
		m, rt := splitLabel(tt.label)
		wantRT := tt.rt
		if wantRT == "" {
			wantRT = "go"
		}
		if m != tt.model || rt != wantRT {
			t.Errorf("splitLabel(%q) = %q, %q; want %q, %q", tt.label, m, rt, tt.model, wantRT)
		}
	}
}

// TestCalibrationSaysWhatIsMissing: without CPython cells, or without Go's
// thread-gil, the GIL calibration names what it lacks instead of a verdict.
func TestCalibrationSaysWhatIsMissing(t *testing.T) {
	drop := func(rt, model string) func(*rundir.Run, *rundir.Summary) {
		return func(_ *rundir.Run, s *rundir.Summary) {
			s.Cells = slices.DeleteFunc(s.Cells, func(c rundir.Cell) bool { return c.Runtime == rt && c.Model == model })
		}
	}
	for _, tt := range []struct {
		name    string
		write   func(t *testing.T, root string) string
		edit    func(*rundir.Run, *rundir.Summary)
		missing string
	}{
		{"go only", func(t *testing.T, root string) string { return writeSynthRun(t, root, "lab", "r1", "h", "c", 1) }, nil, "CPython's thread and loop article cells"},
		{"no thread-gil", func(t *testing.T, root string) string { return writeRuntimeRun(t, root, "lab", "r1", 1) }, drop("go", "thread-gil"), "Go's thread-gil article cell"},
		{"no CPython thread", func(t *testing.T, root string) string { return writeRuntimeRun(t, root, "lab", "r1", 1) }, drop("cpython", "thread"), "CPython's thread and loop article cells in runtime cpython"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := tt.write(t, root)
			if tt.edit != nil {
				editRun(t, dir, tt.edit)
			}
			out, _ := buildSite(t, root)
			index := html.UnescapeString(readPage(t, out, "index.html"))
			if !strings.Contains(index, "Missing for the calibration") || !strings.Contains(index, tt.missing) {
				t.Errorf("index.html does not say the calibration misses %q", tt.missing)
			}
			for _, v := range []string{"within the goal</span>", "outside the goal</span>", "undecided</span>"} {
				if strings.Contains(index, v) {
					t.Errorf("index.html gives a calibration verdict (%s) without the cells", v)
				}
			}
		})
	}
}
