package report

import (
	"html"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// scale multiplies the samples of unit of the cells keep accepts by factor.
func scale(unit string, factor float64, keep func(*rundir.Cell) bool) func(*rundir.Run, *rundir.Summary) {
	return func(_ *rundir.Run, s *rundir.Summary) {
		for i := range s.Cells {
			c := &s.Cells[i]
			if !keep(c) {
				continue
			}
			m := c.Metrics[unit]
			for j := range m.Samples {
				m.Samples[j] *= factor
			}
			m.Stats = stats.Summarize(m.Samples)
			c.Metrics[unit] = m
		}
	}
}

// TestGuideAndClaimsAgree builds a synthetic two-machine results tree (two
// full runs on one machine, a full run and a newer smoke run on the other)
// in which processes are the fastest CPU-bound model and threads move the
// most bytes, and checks that the article's table, the decision guide and
// the claims page show the same figures wherever they show one: the same run,
// the same cells, the same ratios with the same intervals, in the built
// pages as in the values behind them.
func TestGuideAndClaimsAgree(t *testing.T) {
	root := t.TempDir()
	fastProcess := scale("sec/op", 0.5, func(c *rundir.Cell) bool { return c.Workload == "primes" && c.Model == "process" })
	threadsMoveMore := scale("B/s", 3, func(c *rundir.Cell) bool { return c.Workload == "pipeline" && c.Model == "thread" })
	for _, r := range []struct {
		hw, id string
		seed   uint64
		smoke  bool
	}{
		{"lab-a", "20261125T100000Z", 1, false},
		{"lab-a", "20261125T120000Z", 2, false},
		{"lab-b", "20261125T110000Z", 3, false},
		{"lab-b", "20261126T000000Z", 4, true},
	} {
		dir := writeSynthRun(t, root, r.hw, r.id, "host", "cpu", r.seed)
		editRun(t, dir, fastProcess)
		editRun(t, dir, threadsMoveMore)
		if r.smoke {
			editRun(t, dir, func(run *rundir.Run, _ *rundir.Summary) { run.Options.Smoke = true })
		}
	}
	s, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	s.prepare()
	if len(s.Machines) != 2 {
		t.Fatalf("%d machines; want 2", len(s.Machines))
	}
	out, _ := buildSite(t, root)
	index, _ := os.ReadFile(filepath.Join(out, "index.html"))
	claimsPage, _ := os.ReadFile(filepath.Join(out, "claims.html"))

	// The article's figures come from one place: claims.ArticleSeconds.
	for model, sec := range claims.ArticleSeconds {
		txt := strconv.FormatFloat(sec, 'g', -1, 64)
		if !strings.Contains(string(index), txt+" s") || !strings.Contains(string(claimsPage), txt) {
			t.Errorf("the article's %s time %s s is not on both index.html and claims.html", model, txt)
		}
	}
	for _, m := range s.Machines {
		res := map[int]claims.Result{}
		for _, r := range m.Claims {
			res[r.Claim.N] = r
		}
		// Claims 1 and 3 compare the article's cells with process; the
		// article's table shows every model's time / process.
		claimRatio := map[string]claims.Comparison{}
		for _, n := range []int{1, 3} {
			for _, c := range res[n].Comparisons {
				claimRatio[c.B.Label] = c
			}
		}
		if len(claimRatio) != 3 {
			t.Fatalf("%s: claims 1 and 3 compared %d models with process; want 3 (results %+v)", m.ID, len(claimRatio), res)
		}
		h := m.Headline
		if h == nil {
			t.Fatalf("%s: no article table", m.ID)
		}
		if h.Run.ID() != res[1].Run || h.Run.ID() != res[3].Run {
			t.Errorf("%s: the article's table is from run %s, claims 1 and 3 from %s and %s", m.ID, h.Run.ID(), res[1].Run, res[3].Run)
		}
		if m.ID == "lab-b" && res[1].Run != "20261125T110000Z" {
			t.Errorf("lab-b: judged on %s; want its full run, not the newer smoke run", res[1].Run)
		}
		guideCPU := map[string]stats.Ratio{}
		if len(m.Guide) == 0 || !strings.Contains(m.Guide[0].Text, "CPU-bound") || !strings.Contains(m.Guide[0].Label, res[1].Run) {
			t.Fatalf("%s: the guide's first statement is not the CPU-bound one from run %s: %+v", m.ID, res[1].Run, m.Guide)
		}
		if m.Guide[0].Figures[0].Model != "process" {
			t.Fatalf("%s: the guide's best CPU-bound model is %s; the synthetic data make it process", m.ID, m.Guide[0].Figures[0].Model)
		}
		for _, f := range m.Guide[0].Figures {
			guideCPU[f.Model] = f.Ratio
		}
		for _, col := range h.Cols {
			c, ok := claimRatio[col.Model]
			if !ok {
				continue
			}
			if col.Cell.Name != c.B.Cells[0] || c.A.Cells[0] != cellOf(h, "process") {
				t.Errorf("%s %s: the table shows cell %s, the claim compares %s with %s", m.ID, col.Model, col.Cell.Name, c.B.Cells[0], c.A.Cells[0])
			}
			if col.Of == nil || *col.Of != *c.Ratio {
				t.Errorf("%s %s / process: the table shows %+v, the claims %+v", m.ID, col.Model, col.Of, *c.Ratio)
			}
			if g, ok := guideCPU[col.Model]; !ok || g != *c.Ratio {
				t.Errorf("%s %s / process: the guide shows %+v, the claims %+v", m.ID, col.Model, g, *c.Ratio)
			}
			// And the built pages print the same digits.
			for page, text := range map[string]string{
				"claims.html":        fmtRatio(c),
				"index.html (table)": fmtTimes(*c.Ratio),
				"index.html (guide)": fmt3(c.Ratio),
			} {
				body := string(index)
				if page == "claims.html" {
					body = string(claimsPage)
				}
				if !strings.Contains(body, html.EscapeString(text)) {
					t.Errorf("%s %s / process: %s does not show %q", m.ID, col.Model, page, text)
				}
			}
		}
		// Claim 6 compares thread's throughput with process's at the
		// largest payload; the guide's advice on large messages ranks them
		// against thread, the best.
		var pipe *Advice
		for i := range m.Guide {
			if strings.Contains(m.Guide[i].Text, "large messages") {
				pipe = &m.Guide[i]
			}
		}
		if pipe == nil || len(res[6].Comparisons) != 1 {
			t.Fatalf("%s: no pipeline advice (%+v) or claim 6 comparison (%+v)", m.ID, m.Guide, res[6])
		}
		if pipe.Figures[0].Model != "thread" {
			t.Fatalf("%s: the guide's best pipeline model is %s; the synthetic data make it thread", m.ID, pipe.Figures[0].Model)
		}
		for _, f := range pipe.Figures {
			if f.Model == "process" && f.Ratio != *res[6].Comparisons[0].Ratio {
				t.Errorf("%s: the guide's process vs thread throughput %+v; claim 6's %+v", m.ID, f.Ratio, *res[6].Comparisons[0].Ratio)
			}
		}
	}
}

func cellOf(h *Headline, model string) string {
	for _, c := range h.Cols {
		if c.Model == model {
			return c.Cell.Name
		}
	}
	return ""
}

// fmt3 is a ratio as the guide writes it: "2.01× as long [95% CI 1.98,
// 2.04]".
func fmt3(r *stats.Ratio) string {
	return fmtNum(r.Point) + "× as long [95% CI " + fmtNum(r.Lo) + ", " + fmtNum(r.Hi) + "]"
}

// TestPagesPrintTheirOptions builds a site with judging options other than
// the defaults: every page prints the options it was given, not a copy of
// the defaults.
func TestPagesPrintTheirOptions(t *testing.T) {
	root := t.TempDir()
	writeSynthRun(t, root, "lab-a", "r1", "h", "c", 1)
	writeSynthRun(t, root, "lab-b", "r2", "h", "c", 2)
	o := claims.DefaultOptions
	o.Seed, o.Resamples, o.HighCV, o.Tolerance, o.Correction = 7, 500, 0.125, 0.2, diff.Holm
	o.Margins.NoGIL = claims.WithinRule(0.75, 1.25)
	out := filepath.Join(t.TempDir(), "site")
	if _, err := Build(Options{Results: root, Out: out, Judging: &o}); err != nil {
		t.Fatal(err)
	}
	checkLinks(t, out)
	for page, wants := range map[string][]string{
		"claims.html":                {"seed 7", "500 resamples", "claim 3 within ±25%", "[0.75, 1.25]"},
		"methodology.html":           {"seed 7", "500 resamples", "above 12.5%", "within 20%", "claim 3 within ±25%"},
		"compare.html":               {"500 resamples, seed 7", "holm (Holm–Bonferroni)"},
		"runs/lab-a/r1/article.html": {},
	} {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(page)))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(html.UnescapeString(string(b)), w) {
				t.Errorf("%s does not say %q", page, w)
			}
		}
		for _, stale := range []string{"20261125", "10000 resamples", "10 000", "Benjamini"} {
			if strings.Contains(string(b), stale) {
				t.Errorf("%s says %q, a default it was not given", page, stale)
			}
		}
	}
}
