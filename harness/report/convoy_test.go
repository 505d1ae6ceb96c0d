package report

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"concurrency-lab/harness/rundir"
)

// convoySite builds a site from a run with runtimes and a convoy
// experiment slowed as slow says, and returns it loaded and prepared, with
// the site's directory.
func convoySite(t *testing.T, runtimes []string, slow convoySlowdown) (*Site, string) {
	t.Helper()
	root := t.TempDir()
	dir := writeRuntimeRun(t, root, "lab", "r1", 1)
	addConvoy(t, dir, runtimes, slow, 1)
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out}); err != nil {
		t.Fatal(err)
	}
	checkLinks(t, out)
	s, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	s.prepare()
	return s, out
}

// TestConvoyCalibration: on a run where the emulated GIL and CPython's
// threads both convoy, the index's convoy table has the emulated GIL first,
// CPython's threads next, Go's other models for contrast, each slowdown
// with a CI around the synthetic factor, and says the two are of the same
// order; the experiment page shows the latency percentiles and the CPU
// chunks.
func TestConvoyCalibration(t *testing.T) {
	s, out := convoySite(t, []string{"go", "cpython"}, defaultConvoy)
	cv := s.Machines[0].Convoy
	if cv == nil {
		t.Fatal("no convoy calibration")
	}
	var labels []string
	for _, r := range cv.Rows {
		labels = append(labels, r.Label)
	}
	want := []string{"thread-gil", "thread (cpython)", "thread", "process", "loop", "goroutine", "process (cpython)", "loop (cpython)"}
	if strings.Join(labels, ", ") != strings.Join(want, ", ") {
		t.Errorf("rows %q; want %q", labels, want)
	}
	factor := map[string]float64{"thread-gil": 45, "thread (cpython)": 50}
	for _, r := range cv.Rows {
		f, ok := factor[r.Label]
		if !ok {
			f = 1.05
		}
		if sd := r.Slowdown; !(sd.Lo <= sd.Point && sd.Point <= sd.Hi) || sd.Point < f*0.9 || sd.Point > f*1.1 {
			t.Errorf("%s: slowdown %+v; want about %g", r.Label, sd, f)
		}
		if r.P50Alone == "—" || r.P50Beside == "—" || r.P50Ratio == "—" {
			t.Errorf("%s: p50 alone %q, beside %q, ratio %q; want all three", r.Label, r.P50Alone, r.P50Beside, r.P50Ratio)
		}
		if !strings.Contains(r.Params, "cpu_workers=1") || !strings.Contains(r.Params, "io_us=100") {
			t.Errorf("%s: parameters %q", r.Label, r.Params)
		}
	}
	if cv.Rows[0].Role != "the emulated GIL" || !strings.HasPrefix(cv.Rows[1].Role, "CPython's threads") {
		t.Errorf("roles %q, %q", cv.Rows[0].Role, cv.Rows[1].Role)
	}
	if len(cv.Compare) != 1 || cv.Compare[0].Runtime != "cpython" || cv.Compare[0].Verdict != "of the same order" {
		t.Fatalf("compare %+v; want cpython, of the same order", cv.Compare)
	}
	if q := cv.Compare[0].Quotient; q.Point < 0.8 || q.Point > 1 {
		t.Errorf("thread-gil's slowdown over CPython's %v; want 45/50", q.Point)
	}
	if len(cv.Missing) != 0 {
		t.Errorf("missing %q; want nothing", cv.Missing)
	}

	index := readPage(t, out, "index.html")
	for _, w := range []string{"The GIL's convoy: the emulation beside CPython", "The emulated GIL reproduces CPython's convoy when its slowdown is of the same order",
		"The emulation reproduces CPython&#39;s convoy here.", "of the same order</span>", cv.Rows[0].SlowdownText, "the emulated GIL"} {
		if !strings.Contains(index, w) {
			t.Errorf("index.html lacks %q", w)
		}
	}
	// After the GIL calibration.
	if i, j := strings.Index(index, "The emulated GIL against CPython"), strings.Index(index, "The GIL's convoy"); i < 0 || j < i {
		t.Errorf("the convoy section (at %d) does not follow the GIL calibration (at %d)", j, i)
	}

	// The experiment page: latency and chunks columns, filled.
	r := s.Runs[0]
	page := readPage(t, out, r.Path+"/"+r.experiment("convoy").File)
	for _, w := range []string{"<th>latency p50</th>", "<th>latency p99</th>", "<th>CPU chunks</th>", "the I/O worker's operations"} {
		if !strings.Contains(page, w) {
			t.Errorf("convoy page lacks %q", w)
		}
	}
	for id, row := range pageRows(page) {
		if !strings.Contains(row[1], " µs</td>") && !strings.Contains(row[1], " ms</td>") {
			t.Errorf("convoy row %s shows no latency: %s", id, row[1])
		}
	}
	// The article's page has neither column: no cell reports them.
	if art := readPage(t, out, r.Path+"/article.html"); strings.Contains(art, "latency p50") || strings.Contains(art, "CPU chunks") {
		t.Error("article.html shows latency or chunk columns")
	}
}

// TestConvoyNotReproduced: when CPython's threads do not convoy (a build
// without a GIL) the emulated GIL's slowdown is not of their order, and
// the page says so; without CPython cells the calibration says what is
// missing and still shows Go's models.
func TestConvoyNotReproduced(t *testing.T) {
	s, out := convoySite(t, []string{"go", "cpython"}, convoySlowdown{{"go", "thread-gil"}: 45})
	cv := s.Machines[0].Convoy
	if len(cv.Compare) != 1 || cv.Compare[0].Verdict != "not of the same order" {
		t.Fatalf("compare %+v; want not of the same order", cv.Compare)
	}
	if index := readPage(t, out, "index.html"); !strings.Contains(index, "does not reproduce CPython&#39;s convoy here") {
		t.Error("index.html does not say the emulation does not reproduce CPython's convoy")
	}

	s, _ = convoySite(t, []string{"go"}, defaultConvoy)
	cv = s.Machines[0].Convoy
	if len(cv.Rows) != 5 || cv.Rows[0].Label != "thread-gil" || len(cv.Compare) != 0 {
		t.Errorf("Go only: %d rows (first %q), %d comparisons; want 5, thread-gil, none", len(cv.Rows), cv.Rows[0].Label, len(cv.Compare))
	}
	if len(cv.Missing) != 1 || !strings.Contains(cv.Missing[0], "CPython runtime's thread convoy cells") {
		t.Errorf("missing %q; want CPython's threads", cv.Missing)
	}

	// Convoy cells that pair nowhere (only beside): the section says what
	// is missing.
	root := t.TempDir()
	dir := writeRuntimeRun(t, root, "lab", "r1", 1)
	addConvoy(t, dir, []string{"go"}, defaultConvoy, 1)
	editRun(t, dir, func(_ *rundir.Run, sum *rundir.Summary) {
		sum.Cells = slices.DeleteFunc(sum.Cells, func(c rundir.Cell) bool { return c.Workload == "convoy" && c.Params["cpu_workers"] == "0" })
	})
	s, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	s.prepare()
	if cv := s.Machines[0].Convoy; cv == nil || len(cv.Rows) != 0 || len(cv.Missing) != 1 || !strings.Contains(cv.Missing[0], "cpu_workers = 0 and with cpu_workers ≥ 1") {
		t.Errorf("unpaired convoy cells: %+v; want no row and what is missing", cv)
	}

	// No convoy cells: no section.
	s, out = convoySite(t, nil, nil)
	if s.Machines[0].Convoy != nil {
		t.Error("a convoy calibration without convoy cells")
	}
	if strings.Contains(readPage(t, out, "index.html"), "The GIL's convoy") {
		t.Error("index.html has a convoy section without convoy cells")
	}
}
