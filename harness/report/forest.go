package report

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/report/plots"
)

// This file draws the claims at a glance: a forest plot of every claim's
// ratios against their bounds, coloured by verdict, which opens the claims
// page (every machine) and each machine's section of the index.
//
// The row rule: a claim judged on one comparison is one row, its ratio
// drawn on it. A claim that rests on several comparisons (claim 1's two
// ratios, claim 9's one per N, claim 4's throughput and memory) has a row
// with its overall verdict in words, then one thin row per comparison, each
// ratio against its own bound. A comparison without a ratio (an interval
// against an interval) and a claim without comparisons (no data) show
// their verdict as a coloured square and words, so that all twelve claims
// appear whatever was measured.

// claimsPage is what the claims page shows: the forest, then a section per
// claim.
type claimsPage struct {
	Forest *Chart
	Claims []claimView
}

// forestLabelMax is the most runes of a row's label and note: longer ones
// are cut with "…" (the table beside the chart has them whole).
const (
	forestLabelMax = 52
	forestNoteMax  = 80
	forestIDMax    = 20
)

// cut shortens s to n runes, with "…" when it cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// shortWhat is a comparison's description for a row label: without its
// parenthesis and the words every ratio shares.
func shortWhat(what string) string {
	if i := strings.Index(what, " ("); i > 0 {
		what = what[:i]
	}
	for _, p := range []string{"time of ", "throughput of "} {
		what = strings.TrimPrefix(what, p)
	}
	return what
}

// drawn says whether a comparison is a ratio the forest draws.
func drawn(c claims.Comparison) bool { return c.Ratio != nil }

// forestRow is a comparison's row: its ratio and interval against the rule
// it was judged by.
func forestRow(label string, c claims.Comparison) plots.ForestRow {
	if !drawn(c) {
		return plots.ForestRow{Label: label, Verdict: string(c.Verdict), Note: string(c.Verdict) + ": not a ratio, see the table"}
	}
	row := plots.ForestRow{Label: label, Verdict: string(c.Verdict), HasRatio: true, Point: c.Ratio.Point, Lo: c.Ratio.Lo, Hi: c.Ratio.Hi}
	if b := c.Bound; b != nil {
		switch b.Kind {
		case claims.AtLeast:
			row.Bound, row.BoundAt = plots.AtLeast, b.Bound
		case claims.AtMost:
			row.Bound, row.BoundAt = plots.AtMost, b.Bound
		case claims.Within:
			row.Bound, row.BoundLo, row.BoundHi = plots.Within, b.Lo, b.Hi
		}
	}
	return row
}

// claimRows are one claim's rows on one machine, under the label name
// ("3 · lab" on the claims page, "claim 3" on the index).
func claimRows(name string, r claims.Result) []plots.ForestRow {
	v := string(r.Verdict)
	switch comps := r.Comparisons; len(comps) {
	case 0:
		why := "no comparison"
		if len(r.Missing) > 0 {
			why, _, _ = strings.Cut(r.Missing[0], ", which")
			if strings.HasPrefix(why, "no data: no complete run") && len(r.Missing) > 1 {
				why = "no data, needs " + r.Missing[1] // what the cells are
			}
		}
		return []plots.ForestRow{{Label: name, Verdict: v, Note: cut(v+": "+why, forestNoteMax)}}
	case 1:
		label := name
		if drawn(comps[0]) {
			label += ": " + shortWhat(comps[0].What)
		}
		row := forestRow(cut(label, forestLabelMax), comps[0])
		row.Verdict = v // the claim's (the same as its one comparison's)
		return []plots.ForestRow{row}
	default:
		out := []plots.ForestRow{{Label: name, Verdict: v,
			Note: fmt.Sprintf("%s: %d comparisons below, all must hold", v, len(comps))}}
		for _, c := range comps {
			out = append(out, forestRow(cut("– "+shortWhat(c.What), forestLabelMax), c))
		}
		return out
	}
}

// claimsAlt is a chart's alt text: every claim's verdict in words.
func claimsAlt(intro string, parts []string) string {
	return intro + ": " + strings.Join(parts, "; ") + "."
}

// forestFor draws the forest of results (one machine's, in claim order),
// with each claim's row named by name.
func forestFor(title, file, intro string, groups [][]claims.Result, name func(claims.Result) string) *Chart {
	var rows []plots.ForestRow
	var parts []string
	for _, g := range groups {
		for _, r := range g {
			rows = append(rows, claimRows(name(r), r)...)
			parts = append(parts, fmt.Sprintf("%s %s", name(r), r.Verdict))
		}
	}
	c := &Chart{File: file, Title: title, Alt: claimsAlt(intro, parts)}
	svg, err := plots.Forest(title, "ratio B/A with its 95% CI (log scale)", rows)
	if err != nil {
		c.Problem = "chart not drawn: " + err.Error()
		return c
	}
	c.svg = svg
	return c
}

// claimsForest is the claims page's forest: each claim on every machine,
// claim by claim.
func (s *Site) claimsForest() *Chart {
	var groups [][]claims.Result
	for i := range claims.All {
		var g []claims.Result
		for _, m := range s.Machines {
			if i < len(m.Claims) {
				g = append(g, m.Claims[i])
			}
		}
		groups = append(groups, g)
	}
	if len(s.Machines) == 0 {
		return nil
	}
	return forestFor("The article's claims: every verdict on every machine", "img/claims-forest.svg",
		"Forest plot of the article's claims, one row per claim and machine", groups,
		func(r claims.Result) string { return fmt.Sprintf("%d · %s", r.Claim.N, cut(r.Hardware, forestIDMax)) })
}

// machineForest is the index's forest for machine m (the i-th).
func machineForest(i int, m *Machine) *Chart {
	if len(m.Claims) == 0 {
		return nil
	}
	return forestFor("The article's claims on "+cut(m.ID, forestIDMax), fmt.Sprintf("img/claims-%d-%s.svg", i+1, slug(m.ID)),
		"Forest plot of the article's claims on machine "+m.ID+", one row per claim", [][]claims.Result{m.Claims},
		func(r claims.Result) string { return fmt.Sprintf("claim %d", r.Claim.N) })
}

// forestView is what the "forest" template draws: a forest chart, an id
// for its figure and the sentence that says what a row is.
type forestView struct {
	Chart *Chart
	ID    string
	Rows  string
}

// forestFig is the template's "forest" function.
func forestFig(c *Chart, rows string) forestView {
	base := strings.TrimSuffix(c.File[strings.LastIndex(c.File, "/")+1:], ".svg")
	return forestView{Chart: c, ID: "forest-" + slug(base), Rows: rows}
}
