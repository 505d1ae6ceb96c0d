package diff

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchunit"
)

// JSON writes r as indented JSON. The fields are documented on Result,
// Cell, Side, Geomean, Power and Change; they are stable: new fields may be
// added, none renamed or removed without a new schema of the lab.
func JSON(w io.Writer, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Text writes r as aligned columns, like benchstat: the setting first, then
// one line per cell, the cells in one run only, the geometric means and the
// warnings.
func Text(w io.Writer, r *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "A: %s\nB: %s\n", r.A, r.B)
	fmt.Fprintf(&b, "metric %s · threshold ±%s · α = %g · correction %s\n\n", r.Metric, pct(r.Threshold), r.Alpha, correctionName(r.Correction))
	if len(r.Setting) == 0 {
		b.WriteString("setting: identical hardware, software and matrix\n\n")
	} else {
		b.WriteString("setting (A → B):\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, c := range r.Setting {
			fmt.Fprintf(tw, "  %s\t%s\t→ %s\n", c.Path, ValueText(c.A), ValueText(c.B))
		}
		tw.Flush()
		b.WriteByte('\n')
	}

	if len(r.Cells) == 0 {
		b.WriteString("no cells in common\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(r.Cells) > 0 {
		fmt.Fprintf(tw, "cell\tA %s\tB %s\tB/A\t95%% CI\tp\tp(%s)\tverdict\n", r.Metric, r.Metric, r.Correction)
	}
	for _, c := range r.Cells {
		sc := scaler(r.Metric, c)
		ratio, ci, p, padj := "-", "-", "-", "-"
		if c.Ratio != nil {
			ratio = fmt.Sprintf("%.3f", c.Ratio.Point)
			ci = fmt.Sprintf("[%.3f %.3f]", c.Ratio.Lo, c.Ratio.Hi)
		}
		if c.P != nil {
			p, padj = fmt.Sprintf("%.3f", *c.P), fmt.Sprintf("%.3f", *c.PAdj)
		}
		v := c.Verdict
		if c.Underpowered {
			v += " (underpowered)"
		}
		if c.Reason != "" {
			v += " (" + c.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, sideText(c.A, sc), sideText(c.B, sc), ratio, ci, p, padj, v)
	}
	tw.Flush()
	for _, x := range []struct {
		label string
		names []string
	}{{"only in A", r.OnlyA}, {"only in B", r.OnlyB}} {
		if len(x.names) > 0 {
			fmt.Fprintf(&b, "\n%s (%d):\n", x.label, len(x.names))
			for _, n := range x.names {
				fmt.Fprintf(&b, "  %s\n", n)
			}
		}
	}
	if len(r.Geomeans) > 0 {
		b.WriteString("\ngeometric mean of B/A:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, g := range r.Geomeans {
			key := g.By + " " + g.Key
			if g.By == "all" {
				key = "all cells"
			}
			fmt.Fprintf(tw, "  %s\t%d cells\t%.3f\n", key, g.Cells, g.Ratio)
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\nverdicts: %s\n", countsText(r.Counts))
	for _, wn := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func correctionName(c Correction) string {
	switch c {
	case BH:
		return "bh (Benjamini–Hochberg, false discovery rate)"
	case Holm:
		return "holm (Holm–Bonferroni, family-wise error)"
	}
	return "none (raw p-values)"
}

func countsText(m map[string]int) string {
	var parts []string
	for _, v := range []string{Slower, Faster, Same, Unsure, Untestable} {
		if m[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[v], v))
		}
	}
	if len(parts) == 0 {
		return "no cells in common"
	}
	return strings.Join(parts, ", ")
}

func pct(f float64) string { return fmt.Sprintf("%g%%", math.Round(f*1e4)/100) }

// ValueText shows a setting value (Change.A or B) compactly, on one line;
// an absent value as "(none)".
func ValueText(raw json.RawMessage) string {
	if string(raw) == "null" || len(raw) == 0 {
		return "(none)"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return fmt.Sprintf("%q", s)
	}
	return string(raw)
}

// scaler picks one scale for both medians of a cell, as benchstat does for a
// row.
func scaler(metric string, c Cell) benchunit.Scaler {
	var vals []float64
	for _, s := range []Side{c.A, c.B} {
		if s.Median != nil {
			vals = append(vals, *s.Median)
		}
	}
	if len(vals) == 0 {
		return benchunit.NoOpScaler
	}
	return benchunit.CommonScale(vals, benchunit.ClassOf(metric))
}

// sideText is "median ±x%" (x the larger half-width of the CI, relative),
// "median ±∞" without a CI, "-" without samples.
func sideText(s Side, sc benchunit.Scaler) string {
	if s.Median == nil {
		return "-"
	}
	return sc.Format(*s.Median) + " " + halfWidth(s)
}

func halfWidth(s Side) string {
	if s.CILo == nil || s.CIHi == nil || *s.Median == 0 {
		return "±∞"
	}
	h := math.Max(*s.Median-*s.CILo, *s.CIHi-*s.Median) / math.Abs(*s.Median)
	return fmt.Sprintf("±%.0f%%", h*100)
}

//go:embed diff.html.tmpl
var htmlText string

var htmlTmpl = template.Must(template.New("diff").Funcs(template.FuncMap{
	"side":   func(metric string, c Cell, s Side) string { return sideText(s, scaler(metric, c)) },
	"f3":     func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"pct":    pct,
	"raw":    func(m json.RawMessage) string { return ValueText(m) },
	"counts": countsText,
	"corr":   correctionName,
	"deref":  func(p *float64) float64 { return *p },
}).Parse(htmlText))

// HTML writes r as a self-contained page (embedded CSS, no script, no
// external resource); every value from the runs is escaped by html/template.
func HTML(w io.Writer, r *Result) error {
	if err := htmlTmpl.Execute(w, r); err != nil {
		return fmt.Errorf("diff: html: %w", err)
	}
	return nil
}
