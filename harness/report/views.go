package report

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"concurrency-lab/harness/claims"
	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/report/plots"
	"concurrency-lab/harness/rundir"
)

var funcs = template.FuncMap{
	"modelColor": plots.ModelCSS,
	"labelColor": labelColor,
	"bytes":      func(b uint64) string { return fmtUnit("B", float64(b)) },
	"num":        fmtNum,
	"verdictClass": func(v claims.Verdict) string {
		return map[claims.Verdict]string{claims.Holds: "holds", claims.DoesNotHold: "fails", claims.Inconclusive: "unsure"}[v]
	},
	"quantity":   fmtQuantity,
	"ratio":      fmtRatio,
	"reproduce":  reproduce,
	"slurm":      slurmText,
	"cellsOf":    cellsOf,
	"time":       func(t interface{ Format(string) string }) string { return t.Format("2006-01-02 15:04:05 MST") },
	"anchor":     anchor,
	"join":       strings.Join,
	"pct":        pct,
	"correction": correctionName,
	"margins":    margins,
	"forest":     forestFig,
	"forestMin":  func() string { return strconv.FormatFloat(plots.ForestMin, 'g', -1, 64) },
	"forestMax":  func() string { return strconv.FormatFloat(plots.ForestMax, 'g', -1, 64) },
}

// correctionName is a multiple-comparison correction's name in words.
func correctionName(c diff.Correction) string {
	switch c {
	case diff.BH:
		return "Benjamini–Hochberg"
	case diff.Holm:
		return "Holm–Bonferroni"
	case diff.None:
		return "no correction"
	}
	return string(c)
}

// margins lists the claims' bounds and margins the options give, for the
// pages: "1: ≥ 1.5", ...
func margins(o claims.Options) []string {
	var out []string
	for _, c := range claims.All {
		if r, ok := c.Margin(o); ok {
			out = append(out, fmt.Sprintf("claim %d %s", c.N, r.Short()))
		}
	}
	return out
}

// anchor is the id of a cell's row on its experiment page.
func anchor(cell string) string { return "cell-" + slug(cell) }

type expView struct {
	Run *Run
	X   *Experiment
}

// cellRow is one line of an experiment's table.
type cellRow struct {
	Name, Anchor, Model, Params, Status, Error string
	Runtime                                    string
	Label                                      string // the model, with its runtime when not Go's: "thread (cpython)"
	Median, CI, CV, N                          string
	// XNative is the time over the native cell of the same model and
	// parameters with its CI, "1.23× [1.20, 1.26]"; "—" without one,
	// "the floor" on native's own cells.
	XNative                              string
	Procs, Threads, RSS, Throughput, CPU string
	Waiting                              string // sleep: tasks that waited at once, of those asked
	GILSwitches                          string // thread-gil: GIL hand-overs per second
	// P50 and P99 are the latency percentiles (echo: a request's; convoy:
	// the I/O worker's operation's); Chunks the convoy's CPU chunks per
	// execution.
	P50, P99, Chunks string
	Short            bool // fewer waited at once than asked
	Flagged          bool
	Skipped          bool // not run (e.g. its runtime is absent): not a failure
}

// rows are an experiment's table; a time is flagged noisy when its CV is
// above o.HighCV, and set against its native counterpart with o's ratio.
func rows(x *Experiment, o claims.Options) []cellRow {
	var out []cellRow
	for _, c := range x.Cells {
		r := cellRow{Name: c.Name, Anchor: anchor(c.Name), Model: c.Model, Runtime: claims.RuntimeOf(c), Label: cellLabel(c),
			Params: combo(c, paramOrder(c)), Status: c.Status, Error: c.Error, Skipped: c.Status == rundir.Skipped}
		if m, ok := c.Metrics["sec/op"]; ok {
			r.Median = fmtUnit("sec/op", m.Stats.Median)
			r.CI = "—"
			if m.Stats.CILo != nil && m.Stats.CIHi != nil {
				r.CI = fmt.Sprintf("[%s, %s]", fmtUnit("sec/op", *m.Stats.CILo), fmtUnit("sec/op", *m.Stats.CIHi))
			}
			r.CV = fmt.Sprintf("%.1f%%", 100*m.Stats.CV)
			r.N = fmt.Sprint(m.Stats.N)
			r.Flagged = m.Stats.CV > o.HighCV || len(m.Stats.Outliers) > 0 || m.Stats.CILo == nil
		}
		r.Flagged = r.Flagged || c.Status != rundir.OK && !r.Skipped
		r.XNative = xNative(x, o, c)
		med := func(unit string) string {
			if m, ok := c.Metrics[unit]; ok && m.Stats.N > 0 {
				return fmtUnit(unit, m.Stats.Median)
			}
			return "—"
		}
		r.Procs, r.Threads, r.RSS, r.CPU = med("procs"), med("threads"), med("peak-rss-B"), med("cpu-sec/op")
		r.GILSwitches = med("gil-switches/s")
		r.Waiting = "—"
		if asked, lo, hi, ok := c.Waiting(); ok {
			r.Waiting = fmt.Sprint(lo)
			if hi != lo {
				r.Waiting += "–" + fmt.Sprint(hi)
			}
			r.Waiting += " of " + fmt.Sprint(asked)
			r.Short = lo < asked
			r.Flagged = r.Flagged || r.Short
		}
		r.Throughput = med("B/s")
		if r.Throughput == "—" {
			r.Throughput = med("requests/s")
		}
		if r.Throughput == "—" {
			r.Throughput = med("tasks/s")
		}
		r.P50, r.P99, r.Chunks = med("p50-sec"), med("p99-sec"), med("chunks/op")
		out = append(out, r)
	}
	return out
}

// xNative is a cell's time over its native counterpart's, for the table.
func xNative(x *Experiment, o claims.Options, c *rundir.Cell) string {
	if nat := x.rts.native(); nat != "" && claims.RuntimeOf(c) == nat {
		if claims.Usable(c, "sec/op") {
			return "the floor"
		}
		return "—"
	}
	if rt, ok := overNative(o, nativeOf(x, c), c); ok {
		return fmtTimes(rt)
	}
	return "—"
}

func fmtQuantity(q claims.Quantity) string {
	s := fmtUnit(q.Unit, q.Median)
	if q.HasCI && (q.Lo != q.Median || q.Hi != q.Median) {
		s += fmt.Sprintf(" [%s, %s]", fmtUnit(q.Unit, q.Lo), fmtUnit(q.Unit, q.Hi))
	}
	if q.N > 0 {
		s += fmt.Sprintf(", n = %d", q.N)
	}
	return s
}

func fmtRatio(c claims.Comparison) string {
	if c.Ratio == nil {
		return "—"
	}
	return fmt.Sprintf("%s [%s, %s]", fmtNum(c.Ratio.Point), fmtNum(c.Ratio.Lo), fmtNum(c.Ratio.Hi))
}

// claimView is one claim with its verdict on every machine.
type claimView struct {
	Claim *claims.Claim
	Rule  string // the claim's rule with the site's margins
	Rows  []claimRow
}

type claimRow struct {
	Machine string
	Result  claims.Result
	RunLink string // site path of the run judged
	Comps   []compView
}

type compView struct {
	claims.Comparison
	ALinks, BLinks []link
}

type link struct{ Href, Text string }

func (s *Site) claimViews() []claimView {
	runByPath := map[string]*Run{}
	for _, r := range s.Runs {
		runByPath[r.Dir.Path] = r
	}
	var out []claimView
	for i, c := range claims.All {
		v := claimView{Claim: c, Rule: c.Rule(s.Options)}
		for _, m := range s.Machines {
			res := m.Claims[i]
			row := claimRow{Machine: m.ID, Result: res}
			if r := runByPath[res.RunPath]; r != nil {
				row.RunLink = r.Path + "/index.html"
				for _, cp := range res.Comparisons {
					row.Comps = append(row.Comps, compView{cp, cellLinks(r, cp.A.Cells), cellLinks(r, cp.B.Cells)})
				}
			}
			v.Rows = append(v.Rows, row)
		}
		out = append(out, v)
	}
	return out
}

// cellLinks links cell names to their rows on their experiment pages.
func cellLinks(r *Run, names []string) []link {
	var out []link
	for _, n := range names {
		for _, x := range r.Experiments {
			for _, c := range x.Cells {
				if c.Name == n {
					out = append(out, link{r.Path + "/" + x.File + "#" + anchor(n), n})
				}
			}
		}
	}
	return out
}

// reproduce is the command that re-runs r: the same matrix (copied next to
// the page), hardware declaration, seed and options, at the same commit. A
// fleet run is submitted again to the fleet, sharded as it was or once per
// node.
func reproduce(r *Run) string {
	d := r.Dir.Run
	var b strings.Builder
	if d.Software.Commit != "" {
		fmt.Fprintf(&b, "git checkout %s && make lab && \\\n  ", shellQuote(d.Software.Commit))
	}
	if d.Fleet != nil {
		b.WriteString(fleetCommand(r))
		return b.String()
	}
	b.WriteString("bin/lab run --matrix " + matrixArg(r))
	if d.Hardware.Declared != nil {
		b.WriteString(" --hardware " + shellQuote(d.Hardware.ID))
	}
	if d.Options.Force {
		b.WriteString(" --force")
	}
	b.WriteString(selectionArgs(d.Options))
	fmt.Fprintf(&b, " --seed %d", d.Seed)
	return b.String()
}

// matrixArg is the matrix to reproduce r with, quoted: the copy next to the
// run's page when there is one, else the file the run named.
func matrixArg(r *Run) string {
	if r.Matrix {
		return shellQuote(r.Path + "/experiments.toml")
	}
	return shellQuote(r.Dir.Run.Matrix.File)
}

// selectionArgs are the flags that chose the run's cells and samples, each
// with a leading space: --only, --reps and --smoke, as given.
func selectionArgs(o rundir.RunOptions) string {
	var b strings.Builder
	if o.Only != "" {
		b.WriteString(" --only " + shellQuote(o.Only))
	}
	if o.Reps > 0 {
		fmt.Fprintf(&b, " --reps %d", o.Reps)
	}
	if o.Smoke {
		b.WriteString(" --smoke")
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./=:,+@", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
