package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"concurrency-lab/harness/rundir"
)

// A Task is what Slurm says of one task of a submission: one job array
// task, or one job of an each-node submission.
type Task struct {
	Job      string `json:"job"`  // the job id sbatch gave
	Task     string `json:"task"` // the array task index ("1", "2", or a pending range "1-4"); "" for a plain job
	State    string `json:"state"`
	Node     string `json:"node,omitempty"`
	Elapsed  string `json:"elapsed,omitempty"`
	ExitCode string `json:"exit_code,omitempty"`
	Reason   string `json:"reason,omitempty"` // why it waits or ended, when Slurm says
}

// Active reports whether the task may still run: pending, running, or on
// its way in or out of a node.
func (t Task) Active() bool {
	switch t.State {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED":
		return true
	}
	return false
}

// String is the task's state for a person: "FAILED on n1 after 0:42 (exit
// 1:0)".
func (t Task) String() string {
	s := t.State
	if t.Node != "" && t.Node != "(null)" && t.Node != "None" {
		s += " on " + t.Node
	}
	if t.Elapsed != "" {
		s += " after " + t.Elapsed
	}
	if t.ExitCode != "" && t.ExitCode != "0:0" {
		s += " (exit " + t.ExitCode + ")"
	}
	if t.Reason != "" && t.Reason != "None" {
		s += " (" + t.Reason + ")"
	}
	return s
}

// Tasks asks Slurm for the tasks of jobs: scontrol first, which knows
// pending, running and recently ended jobs with no accounting database,
// then sacct for the jobs scontrol has forgotten (it keeps an ended job
// for MinJobAge, five minutes by default). A job neither knows is returned
// with state UNKNOWN.
func (sl Slurm) Tasks(ctx context.Context, jobs []string) ([]Task, error) {
	var out []Task
	for _, job := range jobs {
		b, err := sl.run(ctx, "scontrol", "--oneliner", "show", "job", job)
		if err == nil {
			if ts := parseScontrol(string(b)); len(ts) > 0 {
				out = append(out, ts...)
				continue
			}
		} else if strings.Contains(err.Error(), ErrNoSlurm.Error()) {
			return nil, err
		}
		b, err = sl.run(ctx, "sacct", "--noheader", "--parsable2", "--allocations", "--jobs="+job,
			"--format=JobID,State,NodeList,Elapsed,ExitCode")
		if ts := parseSacct(string(b)); err == nil && len(ts) > 0 {
			out = append(out, ts...)
			continue
		}
		out = append(out, Task{Job: job, State: "UNKNOWN", Reason: "neither scontrol nor sacct knows the job any more"})
	}
	// Slurm lists a job's tasks in no useful order.
	slices.SortStableFunc(out, func(a, b Task) int {
		return cmp.Or(cmp.Compare(num(a.Job), num(b.Job)), cmp.Compare(a.Job, b.Job), cmp.Compare(num(a.Task), num(b.Task)), cmp.Compare(a.Task, b.Task))
	})
	return out, nil
}

// num is the leading number of a job or task id ("12", "3-4"), for
// ordering; -1 when there is none.
func num(s string) int {
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(s[:end])
	if err != nil {
		return -1
	}
	return n
}

// parseScontrol reads scontrol --oneliner show job: one line per job (or
// array task, or still-pending range of an array), of Key=Value fields.
func parseScontrol(text string) []Task {
	var out []Task
	for _, line := range strings.Split(text, "\n") {
		f := fields(line)
		if f["JobId"] == "" {
			continue
		}
		t := Task{Job: f["JobId"], State: f["JobState"], Node: f["NodeList"], Elapsed: f["RunTime"],
			ExitCode: f["ExitCode"], Reason: f["Reason"]}
		if a := f["ArrayJobId"]; a != "" {
			t.Job, t.Task = a, f["ArrayTaskId"]
		}
		out = append(out, t)
	}
	return out
}

// fields splits a line of space-separated Key=Value pairs. Values with
// spaces (Command=, WorkDir=) come out cut, which none of the fields read
// here has.
func fields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// parseSacct reads sacct --parsable2 --allocations lines of
// JobID|State|NodeList|Elapsed|ExitCode; an array task's JobID is
// "<array job>_<task>" (a pending range "<array job>_[1-4]").
func parseSacct(text string) []Task {
	var out []Task
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		p := strings.Split(line, "|")
		if len(p) < 5 {
			continue
		}
		t := Task{Job: p[0], State: p[1], Node: p[2], Elapsed: p[3], ExitCode: p[4]}
		if j, task, ok := strings.Cut(p[0], "_"); ok {
			t.Job, t.Task = j, strings.Trim(task, "[]")
		}
		// "CANCELLED by 0" → CANCELLED
		t.State, _, _ = strings.Cut(t.State, " ")
		out = append(out, t)
	}
	return out
}

// TasksOf is the tasks of a submission's class keyed as Collect takes them:
// by shard index, or by node for an each-node class.
func TasksOf(c Class, ts []Task) map[string]Task {
	out := map[string]Task{}
	for _, t := range ts {
		switch {
		case len(c.Nodes) > 0:
			for i, j := range c.Jobs {
				if j == t.Job && i < len(c.Nodes) {
					out[c.Nodes[i]] = t
				}
			}
		case len(c.Jobs) > 0 && t.Job == c.Jobs[0]:
			out[t.Task] = t
		}
	}
	return out
}

// PartStates says, one line per expected part, what the part's run
// directory holds so far: nothing, a run in progress or stopped, or a
// complete run, with the node that ran it.
func (s *Submission) PartStates() []string {
	var out []string
	for _, c := range s.Classes {
		var ids []string
		if len(c.Nodes) > 0 {
			for _, n := range c.Nodes {
				ids = append(ids, s.NodeID(n))
			}
		} else {
			for i := range c.Parts {
				ids = append(ids, s.PartID(i+1, len(c.Parts)))
			}
		}
		for _, id := range ids {
			d, err := rundir.Read(s.PartDir(c.Hardware, id))
			state := "no run yet"
			switch {
			case err == nil && d.Run.Complete:
				state = fmt.Sprintf("complete on %s, %d rounds", d.Run.Hardware.Detected.Hostname, d.Run.Rounds)
			case err == nil && d.Run.Ended.IsZero():
				// Running, or its node died: Slurm's state above tells.
				state = fmt.Sprintf("started on %s, %d rounds so far, no end recorded", d.Run.Hardware.Detected.Hostname, d.Run.Rounds)
			case err == nil:
				state = fmt.Sprintf("stopped on %s: %s", d.Run.Hardware.Detected.Hostname, d.Run.Stopped)
			case !errors.Is(err, fs.ErrNotExist):
				state = err.Error()
			}
			out = append(out, fmt.Sprintf("%s %s: %s", c.Hardware, id, state))
		}
	}
	return out
}
