package report

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// editRun rewrites a synthetic run directory's run.json and summary.json
// through edit.
func editRun(t *testing.T, dir string, edit func(*rundir.Run, *rundir.Summary)) {
	t.Helper()
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	edit(&d.Run, &d.Summary)
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.RunFile), d.Run); err != nil {
		t.Fatal(err)
	}
	if err := rundir.WriteJSON(filepath.Join(dir, rundir.SummaryFile), d.Summary); err != nil {
		t.Fatal(err)
	}
}

// slowPrimes makes every primes (CPU-bound) cell's time samples factor
// times larger.
func slowPrimes(factor float64) func(*rundir.Run, *rundir.Summary) {
	return func(_ *rundir.Run, s *rundir.Summary) {
		for i := range s.Cells {
			c := &s.Cells[i]
			if c.Workload != "primes" {
				continue
			}
			m := c.Metrics["sec/op"]
			for j := range m.Samples {
				m.Samples[j] *= factor
			}
			m.Stats = stats.Summarize(m.Samples)
			c.Metrics["sec/op"] = m
		}
	}
}

var rowRE = regexp.MustCompile(`(?s)<tr class="[^"]*"><td><code>([^<]*)</code></td>.*?<td class="verdict [^"]*">([^<(]*)`)

// compareRows returns the verdict of every cell row of compare.html.
func compareRows(t *testing.T, page string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range rowRE.FindAllStringSubmatch(page, -1) {
		out[m[1]] = strings.TrimSpace(m[2])
	}
	return out
}

func buildSite(t *testing.T, root string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out}); err != nil {
		t.Fatal(err)
	}
	checkLinks(t, out)
	b, err := os.ReadFile(filepath.Join(out, "compare.html"))
	if err != nil {
		t.Fatal(err)
	}
	return out, string(b)
}

// TestCompareTwoMachines: machine B's CPU-bound (primes) cells are 2×
// slower than A's, the rest drawn from the same distribution: the page names
// both machines, says slower for every primes cell and only for them, shows
// the setting differences and draws the chart.
func TestCompareTwoMachines(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, "lab-a", "20261125T100000Z", "host-a", "CPU A", 1)
	b := writeSynthRun(t, root, "lab-b", "20261125T110000Z", "host-b", "CPU B", 2)
	editRun(t, b, slowPrimes(2))
	// A newer smoke run on B must not be the one compared.
	smoke := writeSynthRun(t, root, "lab-b", "20261126T000000Z", "host-b", "CPU B", 30)
	editRun(t, smoke, func(r *rundir.Run, _ *rundir.Summary) { r.Options.Smoke = true })

	out, page := buildSite(t, root)
	for _, want := range []string{"lab-a", "lab-b", `id="pair-lab-a-vs-lab-b"`, "hardware.detected.cpu_model", "CPU A", "CPU B", "seed 20261125", "20261125T110000Z", "compare/pair-lab-a-vs-lab-b.svg"} {
		if !strings.Contains(page, want) {
			t.Errorf("compare.html does not say %q", want)
		}
	}
	if strings.Contains(page, "20261126T000000Z") {
		t.Errorf("compare.html compares B's smoke run; want its newest full run")
	}
	rows := compareRows(t, page)
	if got, want := len(rows), 66; got != want {
		t.Fatalf("compare.html has %d cell rows; want %d", got, want)
	}
	primes := 0
	for name, verdict := range rows {
		isPrimes := strings.HasPrefix(name, "article/") || strings.HasPrefix(name, "scaling/")
		if isPrimes {
			primes++
		}
		if got, want := verdict == "slower", isPrimes; got != want {
			t.Errorf("%s: verdict %q; want slower: %v", name, verdict, want)
		}
	}
	if primes == 0 {
		t.Errorf("no primes cell on the page")
	}
	svg, err := os.ReadFile(filepath.Join(out, "compare", "pair-lab-a-vs-lab-b.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "1 = no change") {
		t.Errorf("the ratio chart has no line at 1 in its legend")
	}
	// Every page links to the compare page.
	idx, _ := os.ReadFile(filepath.Join(out, "index.html"))
	if !strings.Contains(string(idx), `href="compare.html"`) {
		t.Errorf("index.html does not link to compare.html")
	}
}

// TestCompareFallbacks: a machine with only a smoke run is compared on it,
// and the page says so; an incomplete newest run is skipped.
func TestCompareFallbacks(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, "lab-a", "full", "h", "c", 1)
	inc := writeSynthRun(t, root, "lab-a", "partial", "h", "c", 5)
	editRun(t, inc, func(r *rundir.Run, _ *rundir.Summary) { r.Complete, r.Stopped = false, "interrupted" })
	s := writeSynthRun(t, root, "lab-b", "smoke", "h", "c", 2)
	editRun(t, s, func(r *rundir.Run, _ *rundir.Summary) { r.Options.Smoke = true })
	_, page := buildSite(t, root)
	for _, want := range []string{"newest complete smoke run", ">full<"} {
		if !strings.Contains(page, want) {
			t.Errorf("compare.html does not say %q", want)
		}
	}
	if strings.Contains(page, ">partial<") {
		t.Errorf("compare.html compares an incomplete run although a complete one exists")
	}
}

func TestCompareOneMachine(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, "solo", "run1", "h", "c", 1)
	_, page := buildSite(t, root)
	if want := "One machine so far: run <code>make bench</code> on another lab machine, copy its <code>results/&lt;hw&gt;/</code> here, and rebuild"; !strings.Contains(page, want) {
		t.Errorf("compare.html does not say %q", want)
	}
	if strings.Contains(page, `class="pair"`) {
		t.Errorf("compare.html shows a pair with one machine")
	}
}

// TestCompareHostileIDs: hardware ids and CPU models are data on the compare
// page too.
func TestCompareHostileIDs(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, `a<b>x`, "r1", "h", `<script>alert(1)</script>`, 1)
	writeSynthRun(t, root, `b"><i>`, "r2", "h", "c", 2)
	_, page := buildSite(t, root)
	for _, bad := range []string{"<script", "<b>x", "<i>"} {
		if strings.Contains(page, bad) {
			t.Errorf("compare.html contains %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "a&lt;b&gt;x") {
		t.Errorf("compare.html does not name the machine a<b>x, escaped")
	}
}
