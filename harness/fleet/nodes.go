package fleet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"concurrency-lab/harness/rundir"
)

// collectNodes copies each node's whole run of an each-node class into
// <results>/<hw>/<id>-<node>, marked as that node's (run.json's fleet), so
// that the report compares the class's nodes. Runs stay apart: a merge
// would hide the slow node this is meant to find.
func (s *Submission) collectNodes(c Class, tasks map[string]Task) (Collected, error) {
	out := Collected{Hardware: c.Hardware, Complete: true, Total: len(c.Cells)}
	var ref *rundir.Dir
	var parts []found
	for i, node := range c.Nodes {
		p := s.readPart(c.Hardware, s.NodeID(node), rundir.Shard{Index: i + 1, Count: len(c.Nodes)}, c.Cells, tasks[node])
		parts = append(parts, p)
		if p.dir == nil {
			out.Complete = false
			out.Missing = append(out.Missing, fmt.Sprintf("node %s (%s)", node, p.why))
			continue
		}
		if ref == nil {
			ref = p.dir
		}
		if err := s.agree(ref, p.dir, c.Hardware); err != nil {
			return out, err
		}
		if got := cellNames(p.dir); !slices.Equal(sorted(got), sorted(c.Cells)) {
			return out, fmt.Errorf("fleet: class %s: node %s's run (%s) has other cells than the submission gave it (%d, not %d)", c.Hardware, node, p.dir.Path, len(got), len(c.Cells))
		}
	}
	if ref == nil {
		return out, fmt.Errorf("fleet: class %s: no node has written a run yet (%s)", c.Hardware, parts[0].why)
	}
	for i, p := range parts {
		if p.dir == nil {
			continue
		}
		r := p.dir.Run
		if !r.Complete {
			out.Complete = false
			out.Missing = append(out.Missing, fmt.Sprintf("node %s (incomplete: %s)", c.Nodes[i], r.Stopped))
		}
		r.Fleet = &rundir.Fleet{Submission: s.ID, EachNode: true, Shards: []rundir.ShardRun{{
			Shard: p.shard, Submission: s.ID, Run: r.ID, Node: r.Hardware.Detected.Hostname, Slurm: r.Slurm,
			Started: r.Started, Ended: r.Ended, Complete: r.Complete, Stopped: r.Stopped, Cells: len(p.cells), Seed: r.Seed,
		}}}
		runJSON, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return out, err
		}
		files := map[string][]byte{rundir.RunFile: append(runJSON, '\n')}
		for _, name := range []string{rundir.BenchFile, rundir.SummaryFile} {
			if files[name], err = os.ReadFile(filepath.Join(p.dir.Path, name)); err != nil {
				return out, fmt.Errorf("fleet: %w", err)
			}
		}
		dest := filepath.Join(s.Results, c.Hardware, s.NodeID(c.Nodes[i]))
		if err := replaceDir(dest, files); err != nil {
			return out, err
		}
		out.Runs = append(out.Runs, dest)
	}
	return out, nil
}
