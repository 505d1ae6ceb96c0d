package report

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"html"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/history"
	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// The synthetic history: 20 complete runs of machine-0, an hour apart, 10
// samples a cell (enough for lab diff to flag one cell among 66); from run
// 8 on, Go is another version (and nothing changes); from run 12 on, one
// cell's samples are doubled and the commit is another.
const (
	historyRuns   = 20
	historyGoAt   = 8 // 1-based
	newGo         = "go1.26.9"
	historyStepAt = 12 // 1-based
	steppedCell   = "scaling/runtime=go/model=goroutine/split=partition/n=100000/start=warm/workers=4"
	newCommit     = "fedcba9876543210"
)

// historyTree writes the synthetic history under a new results root, with
// a smoke run and an incomplete run among its runs, and one run of
// machine-1; it returns the root.
func historyTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for i := range historyRuns {
		dir := writeSynthRunN(t, root, "machine-0", fmt.Sprintf("20261125T%02d0000Z", i), "host", "Synthetic CPU", uint64(i+1), 10)
		if i+1 >= historyGoAt {
			editRun(t, dir, func(r *rundir.Run, _ *rundir.Summary) { r.Software.GoVersion = newGo })
		}
		if i+1 >= historyStepAt {
			editRun(t, dir, func(r *rundir.Run, s *rundir.Summary) {
				r.Software.Commit = newCommit
				for j := range s.Cells {
					if s.Cells[j].Name == steppedCell {
						scaleCell(&s.Cells[j], "sec/op", 2)
					}
				}
			})
		}
	}
	// Between runs 5 and 6: a smoke run and an incomplete one, each with
	// every cell 3× slower (they would show as steps if taken).
	base := time.Date(2026, 11, 25, 19, 30, 0, 0, time.UTC)
	for i, id := range []string{"smoke-run-x", "incomplete-run-x"} {
		dir := writeSynthRunN(t, root, "machine-0", id, "host", "Synthetic CPU", uint64(50+i), 10)
		editRun(t, dir, func(r *rundir.Run, s *rundir.Summary) {
			r.Started = base.Add(time.Duration(i) * time.Minute)
			if i == 0 {
				r.Options.Smoke = true
			} else {
				r.Complete, r.Stopped = false, "interrupted"
			}
			for j := range s.Cells {
				scaleCell(&s.Cells[j], "sec/op", 3)
			}
		})
	}
	writeSynthRun(t, root, "machine-1", "20261125T000000Z", "host", "Synthetic CPU", 1)
	return root
}

var (
	stepSectionRE = regexp.MustCompile(`(?s)<section class="step" id="([^"]*)">(.*?)</section>`)
	stepCellRE    = regexp.MustCompile(`(?s)<tr class="[^"]*"><td>([^<]*)</td><td><a href="#([^"]*)">`)
	runsTableRE   = regexp.MustCompile(`(?s)<table class="history-runs">(.*?)</table>`)
	runRowRE      = regexp.MustCompile(`<tr id="run-\d+">`)
	historyImgRE  = regexp.MustCompile(`<img src="([^"]*)"`)
)

// TestHistoryPage builds the synthetic history: its page lists exactly one
// step, at run 12, for the stepped cell only, with the commit as the
// setting difference there; each experiment has its chart; the smoke and
// incomplete runs are not in the runs table; and the index links the page.
func TestHistoryPage(t *testing.T) {
	root := historyTree(t)
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out}); err != nil {
		t.Fatal(err)
	}
	checkLinks(t, out)
	page := readPage(t, out, "history/machine-0.html")

	t.Run("one step at run 12", func(t *testing.T) {
		sections := stepSectionRE.FindAllStringSubmatch(page, -1)
		if len(sections) != 1 {
			t.Fatalf("%d step sections; want 1", len(sections))
		}
		id, body := sections[0][1], sections[0][2]
		if want := fmt.Sprintf("step-%d", historyStepAt); id != want {
			t.Errorf("the step is %s; want %s", id, want)
		}
		if want := fmt.Sprintf("Run %d → run %d", historyStepAt-1, historyStepAt); !strings.Contains(body, want) {
			t.Errorf("the step section does not say %q", want)
		}
		if !strings.Contains(body, "<code>software.commit</code></td><td>0123456789abcdef</td><td>"+newCommit+"</td>") {
			t.Errorf("the step section does not show the commit as its setting difference:\n%s", body)
		}
		if n := strings.Count(body, "<tr><td><code>"); n != 1 {
			t.Errorf("the step section shows %d setting differences; want 1 (the commit)", n)
		}
		cells := stepCellRE.FindAllStringSubmatch(body, -1)
		if len(cells) != 1 || cells[0][2] != anchor(steppedCell) {
			t.Errorf("stepped cells %v; want only %s", cells, steppedCell)
		}
		if !strings.Contains(body, `<td class="verdict slower">slower</td>`) || !strings.Contains(body, "×2.0") {
			t.Errorf("the step is not a 2× slower one:\n%s", body)
		}
		// The cells' tables: only the stepped cell has a step.
		if n := strings.Count(page, fmt.Sprintf("run %d: ×", historyStepAt)); n != 1 {
			t.Errorf("%d cells list a step at run %d; want 1", n, historyStepAt)
		}
		if n := strings.Count(page, ": ×"); n != 1 {
			t.Errorf("%d steps in the cells' tables; want 1", n)
		}
	})

	t.Run("one chart per experiment", func(t *testing.T) {
		imgs := historyImgRE.FindAllStringSubmatch(page, -1)
		if len(imgs) != len(synthMatrix) {
			t.Errorf("%d charts on the page; want %d (one per experiment)", len(imgs), len(synthMatrix))
		}
		for _, m := range imgs {
			b, err := os.ReadFile(filepath.Join(out, "history", filepath.FromSlash(m[1])))
			if err != nil || !bytes.Contains(b, []byte("<svg")) {
				t.Errorf("chart %s: not an SVG (%v)", m[1], err)
			}
		}
		svgs, _ := filepath.Glob(filepath.Join(out, "history", "img", "*.svg"))
		if len(svgs) != len(synthMatrix) {
			t.Errorf("%d SVG files in history/img; want %d", len(svgs), len(synthMatrix))
		}
		// Each marks the change of Go; the scaling chart the step too.
		for _, f := range svgs {
			b, _ := os.ReadFile(f)
			if !bytes.Contains(b, []byte(">"+newGo+"<")) {
				t.Errorf("%s does not mark the change to %s", filepath.Base(f), newGo)
			}
			step := bytes.Contains(b, []byte(fmt.Sprintf(">run %d<", historyStepAt)))
			if want := strings.Contains(f, "scaling"); step != want {
				t.Errorf("%s marks the step at run %d: %v; want %v", filepath.Base(f), historyStepAt, step, want)
			}
		}
	})

	t.Run("smoke and incomplete runs left out", func(t *testing.T) {
		m := runsTableRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("no runs table")
		}
		if n := len(runRowRE.FindAllString(m[1], -1)); n != historyRuns {
			t.Errorf("the runs table has %d runs; want %d", n, historyRuns)
		}
		for _, id := range []string{"smoke-run-x", "incomplete-run-x"} {
			if strings.Contains(m[1], id) {
				t.Errorf("the runs table lists %s", id)
			}
		}
		for _, want := range []string{"20 complete runs", "1 smoke run", "1 incomplete run"} {
			if !strings.Contains(page, want) {
				t.Errorf("the page does not say %q", want)
			}
		}
		// Run 12's commit and run 8's Go are marked as changed, and
		// nothing else.
		if !strings.Contains(page, `<td class="changed"><code title="`+newCommit+`">`) {
			t.Errorf("the commit's change at run %d is not marked", historyStepAt)
		}
		if !strings.Contains(page, `<td class="changed">`+newGo+`</td>`) {
			t.Errorf("the change of Go at run %d is not marked", historyGoAt)
		}
		if n := strings.Count(page, `<td class="changed">`); n != 2 {
			t.Errorf("%d values marked changed; want 2 (Go at run %d, the commit at run %d)", n, historyGoAt, historyStepAt)
		}
	})

	t.Run("index links it", func(t *testing.T) {
		index := readPage(t, out, "index.html")
		for _, want := range []string{`<a href="history/machine-0.html">History</a> of this machine: 20 complete runs, 1 step found.`,
			`<a href="history/machine-1.html">History</a> of this machine: 1 complete run.`} {
			if !strings.Contains(index, want) {
				t.Errorf("index.html lacks %q", want)
			}
		}
	})
}

// TestHistoryOneRun: a machine with a single run gets a page that says
// there is nothing to compare yet, without charts or steps.
func TestHistoryOneRun(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, "solo", "20261125T000000Z", "host", "Synthetic CPU", 1)
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out}); err != nil {
		t.Fatal(err)
	}
	checkLinks(t, out)
	page := readPage(t, out, "history/solo.html")
	for _, want := range []string{"nothing to compare yet", "1 complete run", `<tr id="run-1">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	if strings.Contains(page, "<img") || strings.Contains(page, `class="step"`) {
		t.Errorf("a one-run history draws charts or steps")
	}
}

// TestHistoryNoStep: flat runs (the same levels, other seeds) give a page
// that says no step was found.
func TestHistoryNoStep(t *testing.T) {
	root := t.TempDir()
	for i := range 8 {
		writeSynthRunN(t, root, "flat", fmt.Sprintf("20261125T%02d0000Z", i), "host", "Synthetic CPU", uint64(i+1), 10)
	}
	s, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	v := s.history(s.Machines[0], false)
	if v.Err != "" || v.StepCount != 0 || len(v.Steps) != 0 {
		t.Errorf("flat runs: err %q, %d steps; want none", v.Err, v.StepCount)
	}
	if got := len(v.Experiments); got != len(synthMatrix) {
		t.Errorf("%d experiments; want %d", got, len(synthMatrix))
	}
	for _, x := range v.Experiments {
		if x.Chart == nil {
			t.Errorf("%s: no chart (%s)", x.Name, x.ChartProblem)
		}
	}
	tm, err := templates()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tm["history"].ExecuteTemplate(&buf, "layout", pageData{Title: "t", Root: "../", Site: s, Page: v}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "No step found over these 8 runs") {
		t.Errorf("the page does not say no step was found")
	}
}

// defaultMatrixRuns makes n complete runs of the default matrix's cells in
// memory (samples at the reps it declares, 2% noise in a run and 1%
// between runs); from run n*3/5 on, a tenth of the cells are 1.5× slower
// and the commit is another.
func defaultMatrixRuns(tb testing.TB, n int) (*Site, int) {
	tb.Helper()
	mx, err := matrix.Load("../../experiments.toml")
	if err != nil {
		tb.Fatal(err)
	}
	cells := mx.Cells()
	rng := rand.New(rand.NewPCG(1, 2))
	m := &Machine{ID: "bench"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("run-%03d", i)
		d := &rundir.Dir{Path: "results/bench/" + id, Run: rundir.Run{Schema: rundir.Schema, ID: id, Complete: true,
			Started:  t0.Add(time.Duration(i) * 7 * time.Hour),
			Hardware: rundir.RunHardware{ID: "bench", Detected: hw.Machine{CPUModel: "Bench CPU", UsableCPUs: 8}},
			Software: hw.Software{GoVersion: "go1.26.8", Commit: "c1"}, Cells: len(cells)}}
		if i >= n*3/5 {
			d.Run.Software.Commit = "c2"
		}
		for ci, c := range cells {
			h := fnv.New64a()
			h.Write([]byte(c.Name()))
			level := 1e-3 * math.Exp(float64(h.Sum64()%1000)/100) * math.Exp(0.01*rng.NormFloat64())
			if i >= n*3/5 && ci%10 == 0 {
				level *= 1.5
			}
			reps := max(c.Reps, 6)
			v := make([]float64, reps)
			for k := range v {
				v[k] = level * math.Exp(0.02*rng.NormFloat64())
			}
			params := map[string]string{}
			for _, p := range c.Params {
				params[p.Key] = p.Value
			}
			d.Summary.Cells = append(d.Summary.Cells, rundir.Cell{Name: c.Name(), Experiment: c.Experiment, Workload: c.Workload,
				Model: c.Model, Runtime: c.Runtime.Name, Params: params, Status: rundir.OK, Reps: reps,
				Metrics: map[string]rundir.Metric{"sec/op": {Samples: v, Stats: stats.Summarize(v)}}})
		}
		m.Runs = append(m.Runs, &Run{Dir: d, Machine: m.ID, Path: "runs/bench/" + id, rts: runtimesOf(d)})
	}
	slices.Reverse(m.Runs) // newest first, as Load orders them
	s := &Site{Machines: []*Machine{m}, Runs: m.Runs, Options: claims.DefaultOptions}
	return s, len(cells)
}

// BenchmarkHistoryPage100 builds one machine's history page from 100 runs
// of the default matrix's cells, in memory: history.Build alone, and the
// whole page (history, charts and the rendered HTML).
func BenchmarkHistoryPage100(b *testing.B) {
	s, cells := defaultMatrixRuns(b, 100)
	m := s.Machines[0]
	b.Logf("100 runs of %d cells", cells)
	b.Run("history.Build", func(b *testing.B) {
		o := history.DefaultOptions
		o.Diff = s.compareOptions()
		for b.Loop() {
			if _, err := history.Build(m.ID, m.judged(), o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page", func(b *testing.B) {
		tm, err := templates()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			v := s.history(m, false)
			if v.Err != "" {
				b.Fatal(v.Err)
			}
			var buf bytes.Buffer
			if err := tm["history"].ExecuteTemplate(&buf, "layout", pageData{Title: "History", Root: "../", Site: s, Page: v}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(buf.Len()), "html-bytes")
			b.ReportMetric(float64(v.StepCount), "steps")
			b.ReportMetric(float64(len(v.H.Boundaries)), "boundaries")
		}
	})
}

// TestHistorySmokeAsked: smoke runs are left out of a history unless asked
// for (Options.HistorySmoke), and then marked in the runs table.
func TestHistorySmokeAsked(t *testing.T) {
	root := t.TempDir()
	for i := range 3 {
		writeSynthRun(t, root, "m", fmt.Sprintf("20261125T%02d0000Z", i), "host", "Synthetic CPU", uint64(i+1))
	}
	smoke := writeSynthRun(t, root, "m", "smoke-1", "host", "Synthetic CPU", 9)
	editRun(t, smoke, func(r *rundir.Run, _ *rundir.Summary) { r.Options.Smoke = true })
	for _, keep := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "site")
		if _, err := Build(Options{Results: root, Out: out, HistorySmoke: keep}); err != nil {
			t.Fatal(err)
		}
		page := readPage(t, out, "history/m.html")
		listed := strings.Contains(runsTableRE.FindString(page), "smoke-1</a> <strong>(smoke)</strong>")
		if listed != keep {
			t.Errorf("HistorySmoke %v: smoke run listed %v", keep, listed)
		}
		if said := strings.Contains(page, "1 smoke run"); said == keep {
			t.Errorf("HistorySmoke %v: the page says a smoke run is left out: %v", keep, said)
		}
	}
}

// TestHistoryPrintsItsOptions: the history page judges with the site's
// options (the compare page's) and says so, not lab diff's defaults.
func TestHistoryPrintsItsOptions(t *testing.T) {
	root := t.TempDir()
	for i := range 2 {
		writeSynthRun(t, root, "m", fmt.Sprintf("r%d", i), "host", "Synthetic CPU", uint64(i+1))
	}
	o := claims.DefaultOptions
	o.Seed, o.Resamples, o.Correction, o.Threshold = 7, 500, diff.Holm, 0.1
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out, Judging: &o}); err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(readPage(t, out, "history/m.html"))
	for _, w := range []string{"500 resamples, seed 7", "holm (Holm–Bonferroni)", "threshold ±10%", "holm-corrected", "at least 10%"} {
		if !strings.Contains(page, w) {
			t.Errorf("the history page does not say %q", w)
		}
	}
	for _, stale := range []string{"10000 resamples", "Benjamini", "±5%"} {
		if strings.Contains(page, stale) {
			t.Errorf("the history page says %q, a default it was not given", stale)
		}
	}
}

// BenchmarkSitePrepare100 is the site's whole preparation (per-run tables
// and charts, claims, guide) for 100 runs of the default matrix, without
// writing: what lab report adds to reading the runs.
func BenchmarkSitePrepare100(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s, _ := defaultMatrixRuns(b, 100)
		b.StartTimer()
		s.prepare()
	}
}
