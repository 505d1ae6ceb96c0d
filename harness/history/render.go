package history

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchunit"

	"concurrency-lab/harness/diff"
)

// JSON writes h as indented JSON; its fields are documented on History,
// Run, Series, Point, Step and Boundary.
func JSON(w io.Writer, h *History) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Text writes h for a terminal: the runs, then every step with the setting
// differences at it, then the newest run against the one before it.
func Text(w io.Writer, h *History) error {
	var b strings.Builder
	fmt.Fprintf(&b, "history of %s: %d complete runs, metric %s\n", h.Hardware, len(h.Runs), h.Metric)
	fmt.Fprintf(&b, "%s\n\n", h.Method)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tstarted\tid\tcommit\tgo\truntimes")
	for i, r := range h.Runs {
		fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%s\n", i+1, r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.ID, commit(r), r.Go, dash(strings.Join(r.Runtimes, ", ")))
	}
	tw.Flush()

	byPair := map[pair][]stepOf{}
	for _, s := range h.Cells {
		for _, st := range s.Steps {
			byPair[pair{st.From, st.At}] = append(byPair[pair{st.From, st.At}], stepOf{s.Cell, st})
		}
	}
	steps := 0
	for _, bd := range h.Boundaries {
		cells := byPair[pair{bd.From, bd.At}]
		if len(cells) == 0 {
			continue
		}
		steps += len(cells)
		fmt.Fprintf(&b, "\nstep at run #%d (%s, after #%d %s): %d cells\n", bd.At+1, h.Runs[bd.At].ID, bd.From+1, h.Runs[bd.From].ID, len(cells))
		if len(bd.Setting) == 0 {
			b.WriteString("  setting: identical hardware, software and matrix\n")
		} else {
			b.WriteString("  setting (before → after):\n")
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			for _, c := range bd.Setting {
				fmt.Fprintf(tw, "    %s\t%s\t→ %s\n", c.Path, diff.ValueText(c.A), diff.ValueText(c.B))
			}
			tw.Flush()
		}
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  cell\tlevel before\tafter\tratio\tlab diff #%d→#%d\n", bd.From+1, bd.At+1)
		for _, c := range cells {
			sc := benchunit.CommonScale([]float64{c.step.Before, c.step.After}, benchunit.ClassOf(h.Metric))
			fmt.Fprintf(tw, "  %s\t%s\t%s\t×%.3f\t%s\n", c.cell, sc.Format(c.step.Before), sc.Format(c.step.After), c.step.Ratio, verdict(c.step.Diff))
		}
		tw.Flush()
	}
	if steps == 0 {
		b.WriteString("\nno step found\n")
	}
	if n := len(h.Runs); n >= 2 {
		counts := map[string]int{}
		for _, s := range h.Cells {
			if s.Latest != nil {
				counts[s.Latest.Verdict]++
			}
		}
		fmt.Fprintf(&b, "\nnewest run #%d against #%d (lab diff):", n, n-1)
		for _, v := range []string{diff.Slower, diff.Faster, diff.Same, diff.Unsure, diff.Untestable} {
			if counts[v] > 0 {
				fmt.Fprintf(&b, " %s %d", v, counts[v])
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type stepOf struct {
	cell string
	step Step
}

// RecentRuns is how many of the newest runs a step may start in and still
// fail the nightly gate (Regressions).
const RecentRuns = 3

// Regressions are the steps starting in one of the newest RecentRuns runs
// that make a cell slower by more than pct percent (lab diff calls it
// slower there): what a nightly gate fails on. Not only the newest run:
// a level of one run must stand out more than one the next runs confirm,
// so a moderate slowdown is often found a run or two after it began (and
// the gate then keeps failing until it is older than that).
func (h *History) Regressions(pct float64) []string {
	var out []string
	first := len(h.Runs) - RecentRuns
	for _, s := range h.Cells {
		for _, st := range s.Steps {
			if st.At < first || st.Diff.Verdict != diff.Slower {
				continue
			}
			change := st.Ratio
			if change < 1 { // a throughput metric: slower is lower
				change = 1 / change
			}
			if 100*(change-1) > pct {
				out = append(out, fmt.Sprintf("%s: ×%.3f from run #%d (%s)", s.Cell, st.Ratio, st.At+1, verdict(st.Diff)))
			}
		}
	}
	return out
}

func verdict(c diff.Cell) string {
	v := c.Verdict
	if c.Ratio != nil {
		v += fmt.Sprintf(" %.3f [%.3f %.3f]", c.Ratio.Point, c.Ratio.Lo, c.Ratio.Hi)
	}
	if c.PAdj != nil {
		v += fmt.Sprintf(" p=%.3g", *c.PAdj)
	}
	return v
}

func commit(r Run) string {
	c := r.Commit
	if len(c) > 10 {
		c = c[:10]
	}
	if r.Dirty {
		c += " (dirty)"
	}
	return dash(c)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
