package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScript(t *testing.T) {
	s := newSubmission(t, 3)
	s.Options.Only, s.Options.Smoke, s.Options.Reps = "it's/model=(thread|loop)", true, 4
	c := s.Classes[0]
	script := s.Script(c)
	for _, want := range []string{
		"#SBATCH --array=1-3\n", "#SBATCH --nodes=1\n", "#SBATCH --exclusive\n", "#SBATCH --partition=lab\n",
		"#SBATCH --constraint=fast\n", "#SBATCH --time=" + SlurmDuration(c.TimeLimit) + "\n",
		"#SBATCH --output=" + filepath.Join(s.dir, LogsDir, "cls-%A_%a.out") + "\n",
		"exec " + filepath.Join(s.dir, BinDir, LabBinary) + " run", "--prebuilt " + filepath.Join(s.dir, BinDir),
		"--hardware cls", "--shard \"$part\"/3", "--run-id " + s.ID + "-shard\"$part\"of3", "--seed 42",
		`--only 'it'\''s/model=(thread|loop)'`, "--smoke", "--reps 4",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "--account") || strings.Contains(script, "--cells") {
		t.Errorf("script has an account or cells file it was not given:\n%s", script)
	}
	// bash reads it, and the task's lab run line is what bash makes of it.
	path := filepath.Join(t.TempDir(), "s.sbatch")
	if err := os.WriteFile(path, []byte(strings.Replace(script, "exec ", "printf '%s\\n' ", 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", path)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	args := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !containsSeq(args, "--shard", "2/3") || !containsSeq(args, "--run-id", s.ID+"-shard2of3") || !containsSeq(args, "--only", "it's/model=(thread|loop)") {
		t.Errorf("the task runs %q", args)
	}
	// Outside a job array the script stops before running anything.
	if out, err := exec.Command("bash", path).CombinedOutput(); err == nil || !strings.Contains(string(out), "not a Slurm job array task") {
		t.Errorf("outside Slurm: %v, %s", err, out)
	}
}

func TestScriptEachNode(t *testing.T) {
	s := newSubmission(t, 1, "n1", "n2")
	script := s.Script(s.Classes[0])
	if strings.Contains(script, "--array") || strings.Contains(script, "--shard") || !strings.Contains(script, `--run-id `+s.ID+`-"$node"`) {
		t.Errorf("each-node script:\n%s", script)
	}
}

func containsSeq(s []string, a, b string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return true
		}
	}
	return false
}

func TestTimeLimit(t *testing.T) {
	for _, tc := range []struct {
		est, max, want time.Duration
		err            bool
	}{
		{time.Minute, 0, 12 * time.Minute, false},
		{time.Hour, 90 * time.Minute, 90 * time.Minute, false},
		{2 * time.Hour, 90 * time.Minute, 0, true},
		{10 * time.Second, 0, 10 * time.Minute, false},
	} {
		got, err := TimeLimit(tc.est, tc.max)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("TimeLimit(%v, %v) = %v, %v; want %v (error %t)", tc.est, tc.max, got, err, tc.want, tc.err)
		}
	}
	for d, want := range map[time.Duration]string{
		12 * time.Minute: "0-00:12:00", 26*time.Hour + 3*time.Second: "1-02:00:03",
	} {
		if got := SlurmDuration(d); got != want {
			t.Errorf("SlurmDuration(%v) = %s; want %s", d, got, want)
		}
	}
}
