package report

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/stats"
)

var (
	svgTextRE = regexp.MustCompile(`<text[^>]*>([^<]*)</text>`)
	imgRE     = regexp.MustCompile(`<figure class="forest"[^>]*><img src="([^"]*)" alt="([^"]*)"`)
)

// svgTexts reads the texts of the SVG file at path.
func svgTexts(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range svgTextRE.FindAllStringSubmatch(string(b), -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// claimLabels counts, for each claim, the chart's row labels that are that
// claim's row (name(n) alone, or followed by ": " and its comparison).
func claimLabels(texts []string, name func(n int) string) map[int]int {
	got := map[int]int{}
	for n := 1; n <= len(claims.All); n++ {
		for _, s := range texts {
			if s == name(n) || strings.HasPrefix(s, name(n)+": ") {
				got[n]++
			}
		}
	}
	return got
}

// TestForestOpensPages: the claims page opens with the forest of every
// claim on every machine, the index's section of each machine with the
// forest of its claims; each chart has one row label per claim (and
// machine), its alt text names every claim's verdict, and it comes before
// any table.
func TestForestOpensPages(t *testing.T) {
	root := synthResults(t, 3) // machine-0 (2 runs) and machine-1
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
	machines := []string{"machine-0", "machine-1"}

	// The claims page: the forest first, before any paragraph or table.
	page := readPage(t, out, "claims.html")
	main := page[strings.Index(page, "<main>"):]
	figs := imgRE.FindAllStringSubmatch(main, -1)
	if len(figs) != 1 {
		t.Fatalf("claims.html has %d forest charts; want 1", len(figs))
	}
	if f, p, tb := strings.Index(main, `<figure class="forest"`), strings.Index(main, "<p>"), strings.Index(main, "<table"); !(f >= 0 && f < p && f < tb) {
		t.Errorf("claims.html: the forest (at %d) does not open the page (first paragraph at %d, first table at %d)", f, p, tb)
	}
	texts := svgTexts(t, filepath.Join(out, figs[0][1]))
	for _, m := range machines {
		got := claimLabels(texts, func(n int) string { return fmt.Sprintf("%d · %s", n, m) })
		for n := 1; n <= len(claims.All); n++ {
			if got[n] != 1 {
				t.Errorf("claims forest: claim %d on %s has %d rows labelled; want 1 (texts %q)", n, m, got[n], texts)
			}
		}
	}
	alt := html.UnescapeString(figs[0][2])
	for _, m := range s.Machines {
		for _, r := range m.Claims {
			if w := fmt.Sprintf("%d · %s %s", r.Claim.N, m.ID, r.Verdict); !strings.Contains(alt, w) {
				t.Errorf("claims forest's alt text lacks %q", w)
			}
		}
	}
	// Claim 1 rests on two ratios: a row for the claim, then one per ratio
	// against the bound 1.5.
	for _, w := range []string{"– thread-gil / process", "– loop / process"} {
		if n := strings.Count(strings.Join(texts, "\n")+"\n", w+"\n"); n != len(machines) {
			t.Errorf("claims forest: %d rows %q; want one per machine", n, w)
		}
	}

	// The index: each machine's section opens with its forest.
	index := readPage(t, out, "index.html")
	sections := strings.Split(index, `<section class="machine">`)[1:]
	if len(sections) != len(machines) {
		t.Fatalf("index.html has %d machine sections; want %d", len(sections), len(machines))
	}
	for i, sec := range sections {
		figs := imgRE.FindAllStringSubmatch(sec, -1)
		if len(figs) != 1 {
			t.Errorf("%s: %d forest charts; want 1", machines[i], len(figs))
			continue
		}
		h2 := strings.Index(sec, "</h2>")
		if f, tb, h3 := strings.Index(sec, `<figure class="forest"`), strings.Index(sec, "<table"), strings.Index(sec, "<h3"); !(h2 < f && f < tb && f < h3) {
			t.Errorf("%s: the forest (at %d) does not open the section (heading ends at %d, first table at %d, first subsection at %d)", machines[i], f, h2, tb, h3)
		}
		texts := svgTexts(t, filepath.Join(out, figs[0][1]))
		got := claimLabels(texts, func(n int) string { return fmt.Sprintf("claim %d", n) })
		for n := 1; n <= len(claims.All); n++ {
			if got[n] != 1 {
				t.Errorf("%s's forest: claim %d has %d rows labelled; want 1", machines[i], n, got[n])
			}
		}
		if title := "The article's claims on " + machines[i]; !strings.Contains(strings.Join(texts, "\n"), title) {
			t.Errorf("%s's forest is not titled %q", machines[i], title)
		}
	}
}

// TestClaimRows: the row rule, claim by claim kind: one comparison is one
// row drawn with its bound; several are a verdict row and one row each; a
// comparison without a ratio, and a claim without data, are words in the
// verdict's colour.
func TestClaimRows(t *testing.T) {
	ratio := func(p float64) claims.Comparison {
		return claims.Comparison{What: "time of a / b (at n)", Verdict: claims.Holds, Ratio: &stats.Ratio{Point: p, Lo: p * 0.9, Hi: p * 1.1}}
	}
	atLeast := claims.AtLeastRule(1.5)
	one := ratio(2)
	one.Bound = &atLeast
	within := claims.WithinRule(0.9, 1.1)
	other := ratio(1)
	other.Bound, other.Verdict = &within, claims.Inconclusive
	interval := claims.Comparison{What: "memory per connection: loop vs thread", Verdict: claims.DoesNotHold}

	rows := claimRows("claim 3", claims.Result{Verdict: claims.Holds, Comparisons: []claims.Comparison{one}})
	if len(rows) != 1 || rows[0].Label != "claim 3: a / b" || !rows[0].HasRatio || rows[0].BoundAt != 1.5 || rows[0].Verdict != "holds" {
		t.Errorf("one comparison: %+v", rows)
	}
	rows = claimRows("claim 4", claims.Result{Verdict: claims.DoesNotHold, Comparisons: []claims.Comparison{one, other, interval}})
	if len(rows) != 4 || rows[0].HasRatio || !strings.HasPrefix(rows[0].Note, "does not hold: 3 comparisons") ||
		rows[2].BoundLo != 0.9 || rows[2].BoundHi != 1.1 || rows[2].Verdict != "inconclusive" ||
		rows[3].HasRatio || rows[3].Note != "does not hold: not a ratio, see the table" || rows[3].Label != "– memory per connection: loop vs thread" {
		t.Errorf("several comparisons: %+v", rows)
	}
	rows = claimRows("claim 7", claims.Result{Verdict: claims.Inconclusive, Missing: []string{"no data: no complete run on this machine has these cells", "interleave, models loop and thread"}})
	if len(rows) != 1 || rows[0].HasRatio || rows[0].Note != "inconclusive: no data, needs interleave, models loop and thread" {
		t.Errorf("no data: %+v", rows)
	}
}
