package runner

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// status is where a run stands when a sample starts.
type status struct {
	round, rounds int           // this round, and the rounds the run needs as far as known
	pos, inRound  int           // this sample's place in the round, and the round's samples
	taken, left   int           // samples taken so far, and still to take as far as known
	elapsed       time.Duration // since the run began
	cell          string
}

// eta is the time left at the average pace so far, "?" before any sample.
func (st status) eta() string {
	if st.taken == 0 {
		return "?"
	}
	return "~" + (st.elapsed / time.Duration(st.taken) * time.Duration(st.left)).Round(time.Second).String()
}

// reporter shows a run's progress and what the benchmark says on stderr.
type reporter interface {
	// update shows where the run stands.
	update(st status)
	// println shows a line of its own (a warning, the benchmark's stderr).
	println(line string)
	// close ends the display; later output starts on a fresh line.
	close()
}

// newReporter returns a live status line when w is a terminal, and plain
// lines otherwise (CI, a log file, a pipe), which read well when appended.
func newReporter(w io.Writer) reporter {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return newLiveReporter(w)
	}
	return plainReporter{w}
}

// plainReporter writes one line per sample started.
type plainReporter struct{ w io.Writer }

func (r plainReporter) update(st status) {
	fmt.Fprintf(r.w, "lab: round %d/%d · cell %d/%d · %s elapsed · %s left · %s\n",
		st.round, st.rounds, st.pos, st.inRound, st.elapsed.Round(time.Second), st.eta(), st.cell)
}

func (r plainReporter) println(line string) { fmt.Fprintln(r.w, line) }
func (r plainReporter) close()              {}

// liveReporter keeps one status line (a bar of the samples taken, the round,
// the cell, elapsed and left) redrawn in place at the bottom of the
// terminal; lines printed meanwhile appear above it. The terminal handling is
// the progressbar package's.
type liveReporter struct {
	bar *progressbar.ProgressBar
}

func newLiveReporter(w io.Writer) *liveReporter {
	bar := progressbar.NewOptions(1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
	)
	return &liveReporter{bar: bar}
}

func (r *liveReporter) update(st status) {
	if total := st.taken + st.left; total != r.bar.GetMax() && total > 0 {
		r.bar.ChangeMax(total)
	}
	r.bar.Describe(fmt.Sprintf("round %d/%d · cell %d/%d · %s elapsed · %s left · %s",
		st.round, st.rounds, st.pos, st.inRound, st.elapsed.Round(time.Second), st.eta(), st.cell))
	r.bar.Set(st.taken)
}

func (r *liveReporter) println(line string) { progressbar.Bprintln(r.bar, line) }

func (r *liveReporter) close() {
	r.bar.Clear()
	r.bar.Exit()
}
