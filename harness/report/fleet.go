package report

// This file shows the runs lab fleet collect writes: a run merged from the
// shards of one submission (its parts on the run page, how to submit it
// again), and the runs of an each-node submission, one per node of a
// hardware class, which the compare page sets against each other so that a
// lab sees whether nodes sold as identical measure alike.

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"concurrency-lab/harness/diff"
	"concurrency-lab/harness/rundir"
)

// partRow is one part of a fleet run, as the run page lists it.
type partRow struct {
	Shard, Node, Job string
	Run              string // the part's run id, "" when it left none
	// Started and Ended are "—" for a part that left no run (its times
	// are unknown); Duration too.
	Started, Ended, Duration string
	Cells                    int
	State                    string // complete, incomplete: …, left no run: …
	Warn                     bool   // the part is not complete
	// Submission is the submission that ran the part when it is not the
	// run's own: a resume ran it.
	Submission string
}

// Parts lists the parts of a fleet run in the order collect recorded them;
// nil for a run that is not a fleet run.
func (r *Run) Parts() []partRow {
	f := r.Dir.Run.Fleet
	if f == nil {
		return nil
	}
	var out []partRow
	for _, s := range f.Shards {
		p := partRow{Shard: s.Shard.String(), Node: orDash(s.Node), Job: orDash(slurmJob(s.Slurm)),
			Run: s.Run, Cells: s.Cells, Started: "—", Ended: "—", Duration: "—"}
		if !s.Started.IsZero() {
			p.Started = fmtTime(s.Started)
		}
		if !s.Ended.IsZero() {
			p.Ended = fmtTime(s.Ended)
		}
		if !s.Started.IsZero() && !s.Ended.IsZero() {
			p.Duration = s.Ended.Sub(s.Started).Round(time.Second).String()
		}
		p.State, p.Warn = partState(s)
		if s.Submission != "" && s.Submission != f.Submission {
			p.Submission = s.Submission
		}
		out = append(out, p)
	}
	return out
}

// Resumed says whether a resume ran some of the run's parts: the run page
// then shows which submission ran each.
func (r *Run) Resumed() bool {
	return slices.ContainsFunc(r.Parts(), func(p partRow) bool { return p.Submission != "" })
}

// partState says how a part ended and whether that needs the reader's eye.
func partState(s rundir.ShardRun) (string, bool) {
	why := func(state string) string {
		if s.Stopped == "" {
			return state
		}
		return state + ": " + s.Stopped
	}
	switch {
	case s.Run == "":
		return why("left no run"), true
	case !s.Complete:
		return why("incomplete"), true
	}
	return "complete", false
}

// Node is the host whose run an each-node run is: its detected hostname, or
// the node its part recorded, or "" when neither is known.
func (r *Run) Node() string {
	if h := r.Dir.Run.Hardware.Detected.Hostname; h != "" {
		return h
	}
	if f := r.Dir.Run.Fleet; f != nil && len(f.Shards) > 0 {
		return f.Shards[0].Node
	}
	return ""
}

// slurmJob names a Slurm task as squeue and sacct do: "<array job>_<task>"
// for a task of a job array, else the job id; "" for none.
func slurmJob(t *rundir.SlurmTask) string {
	switch {
	case t == nil:
		return ""
	case t.ArrayJobID != "" && t.ArrayTaskID != "":
		return t.ArrayJobID + "_" + t.ArrayTaskID
	}
	return t.JobID
}

// slurmText is the run page's line for a run made inside Slurm.
func slurmText(t *rundir.SlurmTask) string {
	s := "job " + slurmJob(t)
	if t.ArrayJobID != "" && t.JobID != "" && t.JobID != slurmJob(t) {
		s += " (job id " + t.JobID + ")"
	}
	if t.Node != "" {
		s += " on node " + t.Node
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func fmtTime(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") }

// MissingCells counts the experiment's cells that a merged run has no
// samples of, because their part left no run.
func (x *Experiment) MissingCells() int { return x.countStatus(rundir.Missing) }

// fleetCommand is the part of reproduce that submits a fleet run again: the
// same selection and seed, sharded as before or once per node, and the
// collect that makes its runs once the jobs have ended.
func fleetCommand(r *Run) string {
	d := r.Dir.Run
	var b strings.Builder
	b.WriteString("bin/lab fleet submit --matrix " + matrixArg(r))
	b.WriteString(" --hardware " + shellQuote(d.Hardware.ID))
	if !d.Fleet.EachNode && len(d.Fleet.Shards) > 0 {
		fmt.Fprintf(&b, " --shards %d", d.Fleet.Shards[0].Shard.Count)
	}
	b.WriteString(selectionArgs(d.Options))
	if d.Options.Force {
		b.WriteString(" --force")
	}
	if sq := d.Sequential; sq != nil {
		fmt.Fprintf(&b, " --looks %d", sq.Looks)
	}
	if d.Fleet.EachNode {
		b.WriteString(" --each-node")
	}
	fmt.Fprintf(&b, " --seed %d\n", d.Seed)
	b.WriteString("# once its jobs have ended:\nbin/lab fleet collect")
	return b.String()
}

// isEachNode says whether d is one node's run of an each-node submission.
func isEachNode(d *rundir.Dir) bool { return d.Run.Fleet != nil && d.Run.Fleet.EachNode }

// NodeGroup is one each-node submission on one hardware id: its nodes' runs
// in node order, and every later node's run diffed against the first's.
type NodeGroup struct {
	Machine    *Machine
	Submission string
	Anchor     string // the group's id on the compare page
	Runs       []*Run // by node
	// Pairs[i] is Runs[i+1] (B) against Runs[0] (A).
	Pairs []*Pair
}

// nodeGroups finds every each-node submission with at least two runs, by
// hardware id then submission, with their anchors; the runs are not diffed
// yet. The run page and the compare page both call it, so that a run's link
// finds its group's anchor.
func (s *Site) nodeGroups() []*NodeGroup {
	ms := slices.Clone(s.Machines)
	slices.SortFunc(ms, func(a, b *Machine) int { return cmp.Compare(a.ID, b.ID) })
	used := map[string]bool{}
	var out []*NodeGroup
	for _, m := range ms {
		bySub := map[string]*NodeGroup{}
		var groups []*NodeGroup
		for _, r := range m.Runs {
			if !isEachNode(r.Dir) {
				continue
			}
			sub := r.Dir.Run.Fleet.Submission
			g := bySub[sub]
			if g == nil {
				g = &NodeGroup{Machine: m, Submission: sub}
				bySub[sub] = g
				groups = append(groups, g)
			}
			g.Runs = append(g.Runs, r)
		}
		slices.SortFunc(groups, func(a, b *NodeGroup) int { return cmp.Compare(a.Submission, b.Submission) })
		for _, g := range groups {
			if len(g.Runs) < 2 {
				continue
			}
			slices.SortStableFunc(g.Runs, func(a, b *Run) int { return cmp.Or(cmp.Compare(a.Node(), b.Node()), cmp.Compare(a.ID(), b.ID())) })
			g.Anchor = unique("nodes-"+slug(m.ID)+"-"+slug(g.Submission), used)
			out = append(out, g)
		}
	}
	return out
}

// NodesAnchor is where the compare page sets r beside the other nodes of
// its each-node submission: the group's id, or "nodes" (the section) when
// the submission has no other node's run to compare with.
func (s *Site) NodesAnchor(r *Run) string {
	for _, g := range s.nodeGroups() {
		if slices.Contains(g.Runs, r) {
			return g.Anchor
		}
	}
	return "nodes"
}

// compareNodes diffs every later node's run of each group against its first
// node's, with the machine pairs' options. Node pairs draw no chart: their
// table of changed cells is the point.
func (s *Site) compareNodes(o diff.Options, verdicts []string) []*NodeGroup {
	groups := s.nodeGroups()
	used := map[string]bool{}
	for _, g := range groups {
		a := g.Runs[0]
		for _, b := range g.Runs[1:] {
			p := &Pair{A: g.Machine, B: g.Machine, RunA: a, RunB: b, NodeA: a.Node(), NodeB: b.Node(),
				Anchor: unique(g.Anchor+"-"+slug(b.Node()), used)}
			p.diff(o, verdicts)
			g.Pairs = append(g.Pairs, p)
		}
	}
	return groups
}

// Changed are the pair's cells whose verdict is slower or faster: on a node
// pair, the cells where one node differs from the other.
func (p *Pair) Changed() []compareRow {
	var out []compareRow
	for _, r := range p.Rows {
		if r.Verdict == diff.Slower || r.Verdict == diff.Faster {
			out = append(out, r)
		}
	}
	return out
}

// Count is the number of the pair's cells with verdict v.
func (p *Pair) Count(v string) int {
	if p.Result == nil {
		return 0
	}
	return p.Result.Counts[v]
}
