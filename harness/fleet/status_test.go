package fleet

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What Slurm 22.05 printed on a one-node cluster (scripts/slurm-local.sh),
// shortened to the fields read: a job array of two tasks, task 2 failed
// with exit 3, then a not yet split pending array.
const scontrolDone = `JobId=4 ArrayJobId=3 ArrayTaskId=2 JobName=lab-test UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0 RunTime=00:00:02 TimeLimit=00:05:00 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm Command=/tmp/x/job.sh WorkDir=/tmp/x
JobId=3 ArrayJobId=3 ArrayTaskId=1 JobName=lab-test UserId=root(0) JobState=COMPLETED Reason=None Dependency=(null) ExitCode=0:0 RunTime=00:00:02 TimeLimit=00:05:00 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm Command=/tmp/x/job.sh WorkDir=/tmp/x
`

const scontrolPending = `JobId=9 ArrayJobId=9 ArrayTaskId=1-2 JobName=lab-cls JobState=PENDING Reason=None ExitCode=0:0 RunTime=00:00:00 ReqNodeList=(null) ExcNodeList=(null) NodeList=(null)
`

func scriptedSlurm(t *testing.T, answers map[string]func(args []string) (string, error)) Slurm {
	t.Helper()
	return Slurm{
		LookPath: func(name string) (string, error) {
			if answers[name] == nil {
				return "", exec.ErrNotFound
			}
			return "/fake/" + name, nil
		},
		Command: func(_ context.Context, name string, args ...string) ([]byte, error) {
			out, err := answers[name](args)
			return []byte(out), err
		},
	}
}

func TestTasks(t *testing.T) {
	sl := scriptedSlurm(t, map[string]func([]string) (string, error){
		"scontrol": func(args []string) (string, error) {
			switch args[len(args)-1] {
			case "3":
				return scontrolDone, nil
			case "9":
				return scontrolPending, nil
			}
			return "", errors.New("slurm_load_jobs error: Invalid job id specified")
		},
		"sacct": func(args []string) (string, error) {
			if slices.Contains(args, "--jobs=5") {
				return "5_1|COMPLETED|n1|00:01:02|0:0\n5_2|CANCELLED by 0|n2|00:00:40|0:15\n", nil
			}
			return "", errors.New("Slurm accounting storage is disabled")
		},
	})
	got, err := sl.Tasks(t.Context(), []string{"9", "3", "5", "77"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Task{
		{Job: "3", Task: "1", State: "COMPLETED", Node: "vm", Elapsed: "00:00:02", ExitCode: "0:0", Reason: "None"},
		{Job: "3", Task: "2", State: "FAILED", Node: "vm", Elapsed: "00:00:02", ExitCode: "3:0", Reason: "NonZeroExitCode"},
		{Job: "5", Task: "1", State: "COMPLETED", Node: "n1", Elapsed: "00:01:02", ExitCode: "0:0"},
		{Job: "5", Task: "2", State: "CANCELLED", Node: "n2", Elapsed: "00:00:40", ExitCode: "0:15"},
		{Job: "9", Task: "1-2", State: "PENDING", Node: "(null)", Elapsed: "00:00:00", ExitCode: "0:0", Reason: "None"},
		{Job: "77", State: "UNKNOWN", Reason: "neither scontrol nor sacct knows the job any more"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	var active []bool
	for _, t := range got {
		active = append(active, t.Active())
	}
	if diff := cmp.Diff([]bool{false, false, false, false, true, false}, active); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
	if s := got[1].String(); s != "FAILED on vm after 00:00:02 (exit 3:0) (NonZeroExitCode)" {
		t.Errorf("String() = %q", s)
	}
	c := Class{Jobs: []string{"3"}, Parts: [][]string{{"a"}, {"b"}}}
	if m := TasksOf(c, got); len(m) != 2 || m["2"].State != "FAILED" || m["1"].State != "COMPLETED" {
		t.Errorf("TasksOf: %v", m)
	}
	n := Class{Jobs: []string{"5", "3"}, Nodes: []string{"n1", "n2"}}
	if m := TasksOf(n, got); m["n1"].Job != "5" || m["n2"].Job != "3" {
		t.Errorf("TasksOf each-node: %v", m)
	}
}

func TestSbatch(t *testing.T) {
	var gotArgs []string
	sl := scriptedSlurm(t, map[string]func([]string) (string, error){
		"sbatch": func(args []string) (string, error) {
			gotArgs = args
			if strings.Contains(strings.Join(args, " "), "nosuch") {
				return "", fmt.Errorf("exit status 1: sbatch: error: Batch job submission failed: Invalid partition name specified")
			}
			return "12;lab-local\n", nil
		},
	})
	id, err := sl.Sbatch(t.Context(), "/s/cls.sbatch", "--nodelist=n1")
	if err != nil || id != "12" {
		t.Fatalf("Sbatch = %q, %v; want 12", id, err)
	}
	if diff := cmp.Diff([]string{"--parsable", "--nodelist=n1", "/s/cls.sbatch"}, gotArgs); diff != "" {
		t.Errorf("sbatch args (-want +got):\n%s", diff)
	}
	_, err = sl.Sbatch(t.Context(), "/s/nosuch.sbatch")
	if err == nil || !strings.Contains(err.Error(), "sbatch refused the job") || !strings.Contains(err.Error(), "Invalid partition name") {
		t.Errorf("refused: %v; want sbatch's reason", err)
	}
	_, err = fakeSlurm(t, nil).Sbatch(t.Context(), "/s/x.sbatch")
	if !errors.Is(err, ErrNoSlurm) || !strings.Contains(err.Error(), "sbatch not found on PATH") {
		t.Errorf("without sbatch: %v", err)
	}
}

func TestNodes(t *testing.T) {
	// Drained, down and unresponsive nodes would hold their job pending.
	sl := fakeSlurm(t, map[string]string{"sinfo": "n2|fast,big|alloc\nn1|fast|idle\nn3|slow|idle\nn1|fast|idle\nn4|fast|drain\nn5|fast|idle*\nn6|fast|down\nn7|fast|mix\n"})
	got, err := sl.Nodes(t.Context(), "lab", "fast")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"n1", "n2", "n7"}, got); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	if all, _ := sl.Nodes(t.Context(), "lab", ""); len(all) != 4 {
		t.Errorf("without a constraint: %v; want every usable node once", all)
	}
	if _, err := fakeSlurm(t, map[string]string{"sinfo": "n4|fast|drain\n"}).Nodes(t.Context(), "lab", "fast"); err == nil || !strings.Contains(err.Error(), "n4 (drain)") {
		t.Errorf("only a drained node: %v; want it named", err)
	}
	if _, err := sl.Nodes(t.Context(), "lab", "fast&big"); err == nil {
		t.Error("a constraint expression was accepted")
	}
	if _, err := sl.Nodes(t.Context(), "lab", "gpu"); err == nil || !strings.Contains(err.Error(), `feature "gpu"`) {
		t.Errorf("no node with the feature: %v", err)
	}
}
