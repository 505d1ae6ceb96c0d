// Package interleave is the article's two-task program: tasks that each emit
// numbered events with a short pause between them, run side by side. The
// order in which their events reach a shared log is the measurement: the
// article says the event loop's order is always the same, threads' is not.
//
// The lab records what happens and adds nothing: no noise to make threads
// look nondeterministic, no special case to make the loop deterministic.
package interleave

import (
	"fmt"
	"strings"
	"time"

	"concurrency-lab/experiments/workloads/primes"
)

// Between says what a task does between two of its events.
const (
	// Wait: a wait of Gap (the article's sleep between prints), done the
	// model's own way: a blocking nanosleep, a timer on the loop, a
	// goroutine's time.Sleep.
	Wait = "wait"
	// Compute: count the primes in [2, ComputeN] (a short computation that
	// never yields to a scheduler that waits to be asked).
	Compute = "compute"
)

// Job is Tasks tasks that each emit Events events in order, with Between
// between consecutive events, run Repeats times (each repeat starts its
// tasks afresh, at the same moment).
type Job struct {
	Tasks, Events, Repeats int
	Between                string
	Gap                    time.Duration // the wait, for Between = Wait
	ComputeN               int           // the computation, for Between = Compute
	// Pi is the number of primes in [2, ComputeN], which each Compute
	// pause must count.
	Pi int
}

// MaxTasks is the most tasks a job may have: one letter each, 'A' onwards.
const MaxTasks = 26

// NewJob builds a job.
func NewJob(tasks, events, repeats int, between string, gap time.Duration, computeN int) (Job, error) {
	j := Job{Tasks: tasks, Events: events, Repeats: repeats, Between: between, Gap: gap, ComputeN: computeN}
	if err := j.Check(); err != nil {
		return Job{}, err
	}
	j.Pi = primes.Pi(computeN)
	return j, nil
}

// Check reports whether j's parameters make a job, as NewJob requires; a
// model's Start checks a job with it before it starts anything. It does not
// recompute Pi, which NewJob sets.
func (j Job) Check() error {
	switch {
	case j.Tasks < 2 || j.Tasks > MaxTasks:
		return fmt.Errorf("interleave: tasks = %d; want 2 … %d", j.Tasks, MaxTasks)
	case j.Events < 1:
		return fmt.Errorf("interleave: events = %d; want ≥ 1", j.Events)
	case j.Repeats < 1:
		return fmt.Errorf("interleave: repeats = %d; want ≥ 1", j.Repeats)
	case j.Between != Wait && j.Between != Compute:
		return fmt.Errorf("interleave: between = %q; want %q or %q", j.Between, Wait, Compute)
	case j.Gap < 0:
		return fmt.Errorf("interleave: gap = %v; want ≥ 0", j.Gap)
	case j.ComputeN < 2:
		return fmt.Errorf("interleave: compute_n = %d; want ≥ 2", j.ComputeN)
	}
	return nil
}

// Workload is "interleave", the workload's name in the matrix.
func (j Job) Workload() string { return "interleave" }

// Pause does what a task does between two events when Between = Compute, and
// returns the count, which the caller checks with CheckPause. (For Wait, the
// model waits Gap its own way.)
func (j Job) Pause() int { return primes.Count(2, j.ComputeN, nil) }

// CheckPause verifies a Compute pause's count.
func (j Job) CheckPause(got int) error {
	if got != j.Pi {
		return fmt.Errorf("interleave: a pause counted %d primes in [2, %d]; want %d", got, j.ComputeN, j.Pi)
	}
	return nil
}

// Letter is task t's letter in an order: 'A' for task 0.
func Letter(t int) byte { return byte('A' + t) }

// Log records one repeat's events in the order they reached it. It is not
// safe for concurrent use: a model that emits from several threads guards it
// (a mutex is the shared log's lock, as print's is in the article).
type Log struct {
	order []byte
	next  []int
	err   error
}

// NewLog returns an empty log for tasks tasks.
func NewLog(tasks int) *Log { return &Log{next: make([]int, tasks)} }

// Emit records task's event seq (0, 1, … in order per task). A task that
// skips or repeats an event makes the log's Order fail.
func (l *Log) Emit(task, seq int) {
	switch {
	case task < 0 || task >= len(l.next):
		l.err = fmt.Errorf("interleave: event from task %d of %d", task, len(l.next))
	case seq != l.next[task]:
		l.err = fmt.Errorf("interleave: task %c emitted event %d after %d", Letter(task), seq, l.next[task]-1)
	default:
		l.next[task]++
		l.order = append(l.order, Letter(task))
	}
}

// Order returns the repeat's order, e.g. "ABAB…", or the first error Emit
// found.
func (l *Log) Order() (string, error) { return string(l.order), l.err }

// Verify checks a whole execution's orders: Repeats of them, each holding
// every task's Events events.
func (j Job) Verify(orders []string) error {
	if len(orders) != j.Repeats {
		return fmt.Errorf("interleave: %d orders; want %d (one per repeat)", len(orders), j.Repeats)
	}
	for i, o := range orders {
		if len(o) != j.Tasks*j.Events {
			return fmt.Errorf("interleave: repeat %d: %d events; want %d", i+1, len(o), j.Tasks*j.Events)
		}
		for t := range j.Tasks {
			if n := strings.Count(o, string(Letter(t))); n != j.Events {
				return fmt.Errorf("interleave: repeat %d: task %c emitted %d events; want %d", i+1, Letter(t), n, j.Events)
			}
		}
	}
	return nil
}

// Distinct is the number of different orders among orders (1 = the same
// every time).
func Distinct(orders []string) int {
	seen := map[string]bool{}
	for _, o := range orders {
		seen[o] = true
	}
	return len(seen)
}

// LongestRun is the most consecutive events of one task in any of orders:
// Events when a task ran all its events before another emitted any, 1 when
// tasks strictly alternated.
func LongestRun(orders []string) int {
	best := 0
	for _, o := range orders {
		run := 0
		for i := range len(o) {
			if i > 0 && o[i] == o[i-1] {
				run++
			} else {
				run = 1
			}
			best = max(best, run)
		}
	}
	return best
}

// RawPrefix starts the line on which a benchmark writes a cell's orders,
// followed by the cell's name and its Counts: benchfmt skips a line that
// starts with '#', and the lab keeps it in bench.txt after the cell's result.
const RawPrefix = "# orders"

// Counts returns each distinct order with how many times it occurred, in
// the order of first occurrence, as "ORDER×N" (the raw record kept with a
// run's results).
func Counts(orders []string) []string {
	n := map[string]int{}
	var first []string
	for _, o := range orders {
		if n[o] == 0 {
			first = append(first, o)
		}
		n[o]++
	}
	out := make([]string, len(first))
	for i, o := range first {
		out[i] = fmt.Sprintf("%s×%d", o, n[o])
	}
	return out
}
