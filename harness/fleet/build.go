package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"concurrency-lab/harness/hw"
	"concurrency-lab/harness/rundir"
)

// Names inside a submission's bin/ directory, the binaries every task of it
// runs.
const (
	BenchBinary = "experiments.test" // go test -c ./experiments
	LabBinary   = "lab"              // go build ./harness/cmd/lab
	BuildFile   = "build.json"
)

// Build says what the binaries of a bin/ directory were built from: the
// nodes that run them have neither the source tree nor a Go toolchain, so
// their runs record these instead of detecting them.
type Build struct {
	Commit    string    `json:"commit,omitempty"`
	Dirty     bool      `json:"dirty"`
	GoVersion string    `json:"go_version"`
	GOOS      string    `json:"goos"`
	GOARCH    string    `json:"goarch"`
	Host      string    `json:"host"` // the machine that built them
	Built     time.Time `json:"built"`
}

// Software is the build as a run records its software. GOMAXPROCS is the
// node's own, read where the run runs.
func (b Build) Software() hw.Software {
	return hw.Software{GoVersion: b.GoVersion, Commit: b.Commit, Dirty: b.Dirty, GOMAXPROCS: runtime.GOMAXPROCS(0)}
}

// ReadBuild reads dir/build.json and checks that the benchmark binary is
// there.
func ReadBuild(dir string) (Build, error) {
	var b Build
	path := filepath.Join(dir, BuildFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	if b.GoVersion == "" {
		return b, fmt.Errorf("%s: no go_version", path)
	}
	if _, err := os.Stat(filepath.Join(dir, BenchBinary)); err != nil {
		return b, err
	}
	return b, nil
}

// CompileBench builds the benchmark binary from the module at root into
// bin (go test -c), the binary lab run executes once per sample.
func CompileBench(ctx context.Context, root, bin string, out io.Writer) error {
	return goCmd(ctx, root, out, "test", "-c", "-o", bin, "./experiments")
}

// CompileLab builds the lab command from the module at root into bin.
func CompileLab(ctx context.Context, root, bin string, out io.Writer) error {
	return goCmd(ctx, root, out, "build", "-o", bin, "./harness/cmd/lab")
}

func goCmd(ctx context.Context, root string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", args[0], err)
	}
	return nil
}

// WriteBuild builds the benchmark binary and lab into dir, from the module
// at root, and records what they were built from in dir/build.json.
func WriteBuild(ctx context.Context, root, dir string, out io.Writer) (Build, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Build{}, err
	}
	if err := CompileBench(ctx, root, filepath.Join(dir, BenchBinary), out); err != nil {
		return Build{}, err
	}
	if err := CompileLab(ctx, root, filepath.Join(dir, LabBinary), out); err != nil {
		return Build{}, err
	}
	s := hw.DetectSoftware(ctx, root)
	host, _ := os.Hostname()
	b := Build{Commit: s.Commit, Dirty: s.Dirty, GoVersion: s.GoVersion, Host: host, Built: time.Now().UTC()}
	b.GOOS, b.GOARCH = goEnv(ctx, "GOOS"), goEnv(ctx, "GOARCH")
	return b, rundir.WriteJSON(filepath.Join(dir, BuildFile), b)
}

func goEnv(ctx context.Context, key string) string {
	out, err := exec.CommandContext(ctx, "go", "env", key).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// SlurmFromEnv reads the Slurm task a process runs in from its environment
// (getenv is os.Getenv); nil outside Slurm.
func SlurmFromEnv(getenv func(string) string) *rundir.SlurmTask {
	id := getenv("SLURM_JOB_ID")
	if id == "" {
		return nil
	}
	return &rundir.SlurmTask{JobID: id, ArrayJobID: getenv("SLURM_ARRAY_JOB_ID"),
		ArrayTaskID: getenv("SLURM_ARRAY_TASK_ID"), Node: getenv("SLURMD_NODENAME")}
}
