package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"concurrency-lab/harness/rundir"
)

// WorkDir is the folder, below a results root, of the fleet's submissions.
// It starts with a dot so that the report, which reads every
// <hardware>/<run> below the root, passes it by.
const WorkDir = ".fleet"

// Files of a submission's folder.
const (
	SubmissionFile = "submission.json"
	MatrixFile     = "experiments.toml"
	PartsDir       = "parts"
	LogsDir        = "logs"
	BinDir         = "bin"
)

// Schema is the version of submission.json this package writes.
const Schema = 1

// A Submission is one lab fleet submit: the matrix and binaries it
// submitted, and per hardware class the cells, parts and Slurm jobs.
type Submission struct {
	Schema    int       `json:"schema"`
	ID        string    `json:"id"` // the start time, UTC (+ "-smoke"); the merged runs' id
	Created   time.Time `json:"created"`
	Results   string    `json:"results"` // the results root (absolute), where collect writes
	MatrixSHA string    `json:"matrix_sha256"`
	Build     Build     `json:"build"`
	Options   Options   `json:"options"`
	// Resume is the merged run (a directory) whose missing cells this
	// submission runs; collect merges its parts into that run.
	Resume  string  `json:"resume,omitempty"`
	Classes []Class `json:"classes"`

	dir string
}

// Options are how the cells were chosen and how each task runs them: lab
// run's flags, which every task is given.
type Options struct {
	Smoke    bool   `json:"smoke,omitempty"`
	Only     string `json:"only,omitempty"`
	Reps     int    `json:"reps,omitempty"`
	Looks    int    `json:"looks"`
	Force    bool   `json:"force,omitempty"`
	Seed     int64  `json:"seed"`
	Shards   int    `json:"shards"`
	EachNode bool   `json:"each_node,omitempty"`
}

// A Class is one hardware class of a submission.
type Class struct {
	Hardware   string `json:"hardware"`
	Partition  string `json:"partition"`
	Constraint string `json:"constraint,omitempty"`
	Account    string `json:"account,omitempty"`
	// Cells are every cell the class runs, in matrix order; Parts the
	// cells of each shard (lab run --shard i/N makes the same split).
	Cells []string   `json:"cells"`
	Parts [][]string `json:"parts,omitempty"`
	// Nodes are the nodes an each-node submission runs on, one job each.
	Nodes []string `json:"nodes,omitempty"`
	// Estimate is the heaviest task's estimated time on the submitting
	// machine; TimeLimit the limit each task was given.
	Estimate  time.Duration `json:"estimate"`
	TimeLimit time.Duration `json:"time_limit"`
	Script    string        `json:"script"` // the sbatch script, in the submission's folder
	// Jobs are the Slurm job ids sbatch gave: one job array, or one job per
	// node of an each-node submission (in Nodes' order).
	Jobs []string `json:"jobs,omitempty"`
}

// Dir is the submission's folder.
func (s *Submission) Dir() string { return s.dir }

// PartID is the run id of part i (1-based) of a sharded class.
func (s *Submission) PartID(i, n int) string { return fmt.Sprintf("%s-shard%dof%d", s.ID, i, n) }

// NodeID is the run id of a node's run in an each-node submission.
func (s *Submission) NodeID(node string) string { return s.ID + "-" + node }

// PartDir is where a task of class hw writes the run with id.
func (s *Submission) PartDir(hw, id string) string {
	return filepath.Join(s.dir, PartsDir, hw, id)
}

// Write saves submission.json, atomically.
func (s *Submission) Write() error {
	return rundir.WriteJSON(filepath.Join(s.dir, SubmissionFile), s)
}

// Read reads a submission from its folder.
func Read(dir string) (*Submission, error) {
	path := filepath.Join(dir, SubmissionFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	s := &Submission{dir: dir}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("fleet: %s: %w", path, err)
	}
	if s.Schema != Schema {
		return nil, fmt.Errorf("fleet: %s: schema %d; this lab reads schema %d", path, s.Schema, Schema)
	}
	return s, nil
}

// Submissions lists the submissions below a results root, oldest first.
func Submissions(results string) ([]*Submission, error) {
	root := filepath.Join(results, WorkDir)
	entries, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	var out []*Submission
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := Read(filepath.Join(root, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // still being made by lab fleet submit, or abandoned
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
