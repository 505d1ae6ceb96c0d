package runner

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"concurrency-lab/harness/rundir"
	"concurrency-lab/harness/stats"
)

// write saves the run directory as it stands.
func (s *state) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b bytes.Buffer
	h := rundir.BenchHeader{Hardware: s.o.HardwareID, Commit: s.o.Software.Commit, Dirty: s.o.Software.Dirty,
		GoVersion: s.o.Software.GoVersion, MatrixSHA: s.o.MatrixSHA, Seed: s.o.Seed, RunID: s.run.ID}
	for _, line := range h.Lines() {
		fmt.Fprintln(&b, line)
	}
	for _, h := range s.header {
		fmt.Fprintln(&b, h)
	}
	for _, r := range s.results {
		fmt.Fprintln(&b, r)
	}
	if err := rundir.WriteFile(filepath.Join(s.dir, rundir.BenchFile), b.Bytes()); err != nil {
		return err
	}
	sum, err := summarize(b.Bytes(), s.cells)
	if err != nil {
		return err
	}
	if err := rundir.WriteJSON(filepath.Join(s.dir, rundir.SummaryFile), sum); err != nil {
		return err
	}
	return rundir.WriteJSON(filepath.Join(s.dir, rundir.RunFile), s.run)
}

// finish adds the end-of-run warnings and writes the final files.
func (s *state) finish() error {
	sum, err := summarize(s.benchText(), s.cells)
	if err != nil {
		return err
	}
	for _, c := range sum.Cells {
		if m, ok := c.Metrics["sec/op"]; ok && m.Stats.N > 1 && m.Stats.CV > stats.HighCV {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf("%s: time varies: CV %.1f%% > %g%%", c.Name, 100*m.Stats.CV, 100*stats.HighCV))
		}
		if asked, lo, _, ok := c.Waiting(); ok && lo < asked {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf("%s: only %d of %d tasks waited at once in a sample (peak-waiting): its time is not that of all at once", c.Name, lo, asked))
		}
		if c.Status == rundir.Failed || c.Status == rundir.Timeout {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf("%s: %s", c.Name, c.Status))
		}
	}
	return s.write()
}

func (s *state) benchText() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []byte(strings.Join(s.results, "\n") + "\n")
}
