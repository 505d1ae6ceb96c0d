package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"concurrency-lab/harness/rundir"
)

// buildLab builds the lab command for an end-to-end test.
func buildLab(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end to end: builds and runs the benchmarks")
	}
	bin := filepath.Join(t.TempDir(), "lab")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

const repoRoot = "../../.."

// TestSmokeRun runs `lab run --smoke` on the repository's matrix, as README
// shows, and checks that benchstat, reading bench.txt, finds the same medians
// as summary.json.
func TestSmokeRun(t *testing.T) {
	lab := buildLab(t)
	out := t.TempDir()
	cmd := exec.Command(lab, "run", "--smoke", "--out", out)
	cmd.Dir = repoRoot
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("lab run --smoke: %v\n%s", err, stderr.String())
	}
	t.Logf("lab run --smoke took %v", time.Since(start).Round(time.Second))
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := lines[len(lines)-1]
	d, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Run.Complete || d.Run.Rounds != 6 {
		t.Errorf("smoke run: complete %v after %d rounds; want complete after 6", d.Run.Complete, d.Run.Rounds)
	}
	medians := map[string]float64{}
	for _, c := range d.Summary.Cells {
		m := c.Metrics["sec/op"]
		if c.Status != rundir.OK || len(m.Samples) != 6 || m.Stats.CILo == nil {
			t.Errorf("%s: status %s (%s), %d samples, CI %v; want ok, 6 samples and a CI", c.Name, c.Status, c.Error, len(m.Samples), m.Stats.CILo)
		}
		medians[c.Name] = m.Stats.Median
	}

	// benchstat's CSV: a header block per unit; rows "name,median,CI" …
	bs := exec.Command("go", "tool", "benchstat", "-format", "csv", filepath.Join(dir, rundir.BenchFile))
	csvOut, err := bs.Output()
	if err != nil {
		t.Fatalf("benchstat: %v", err)
	}
	seen := 0
	r := csv.NewReader(bytes.NewReader(csvOut))
	r.FieldsPerRecord = -1
	unit := ""
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		if len(rec) >= 2 && rec[0] == "" && rec[1] != "" {
			unit = rec[1] // the header row names the unit, e.g. "sec/op"
			continue
		}
		if unit != "sec/op" || len(rec) < 2 || !strings.HasPrefix(rec[0], "Lab/") {
			continue
		}
		name := regexp.MustCompile(`-\d+$`).ReplaceAllString(strings.TrimPrefix(rec[0], "Lab/"), "")
		got, err := strconv.ParseFloat(rec[1], 64)
		want, ok := medians[name]
		if err != nil || !ok {
			t.Errorf("benchstat row %q: %v (known cell: %v)", rec, err, ok)
			continue
		}
		// benchstat prints about four significant digits.
		if math.Abs(got-want) > 1e-3*math.Abs(want) {
			t.Errorf("%s: benchstat median %v, summary.json %v", name, got, want)
		}
		seen++
	}
	if seen != len(medians) {
		t.Errorf("benchstat showed %d sec/op medians; summary.json has %d cells\n%s", seen, len(medians), csvOut)
	}
}

// TestInterrupt sends SIGINT to `lab run` while a cell's worker processes
// wait: lab must exit 130, keep a readable run marked incomplete, and leave
// no process of the benchmark behind.
func TestInterrupt(t *testing.T) {
	lab := buildLab(t)
	tmp := t.TempDir()
	matrixFile := filepath.Join(tmp, "m.toml")
	os.WriteFile(matrixFile, []byte(`[defaults]
reps = 2
timeout = "2m"

[[experiments]]
name = "quick"
workload = "sleep"
models = ["goroutine"]
params = { tasks = [2], sleep_ms = [1] }

[[experiments]]
name = "nap"
workload = "sleep"
models = ["process"]
params = { tasks = [3], sleep_ms = [60000] }
`), 0o644)
	cmd := exec.Command(lab, "run", "--matrix", matrixFile, "--out", filepath.Join(tmp, "results"), "--seed", "3")
	cmd.Dir = repoRoot
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	binRe := regexp.MustCompile(`into (\S+experiments\.test)`)
	bin := ""
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		line := sc.Text()
		log = append(log, line)
		if m := binRe.FindStringSubmatch(line); m != nil {
			bin = m[1]
		}
		if strings.Contains(line, "lab: start") || strings.Contains(line, "· nap/") {
			if strings.Contains(line, "nap/") {
				break
			}
		}
	}
	if bin == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("lab never reached the nap cell:\n%s", strings.Join(log, "\n"))
	}
	// Let the nap cell's worker processes start and begin to sleep.
	deadline := time.Now().Add(20 * time.Second)
	for len(processesOf(bin)) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(processesOf(bin)); n < 4 {
		t.Errorf("%d processes of the benchmark binary before the interrupt; want the benchmark and its 3 workers", n)
	}
	cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for sc.Scan() {
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("lab run after SIGINT: %v; want exit status 130", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	d, rerr := rundir.Read(lines[len(lines)-1])
	if rerr != nil {
		t.Fatalf("the interrupted run does not read back: %v", rerr)
	}
	if d.Run.Complete {
		t.Error("the interrupted run is marked complete")
	}
	// No orphans: give the kernel a moment to deliver the death signals.
	for end := time.Now().Add(5 * time.Second); len(processesOf(bin)) > 0 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if left := processesOf(bin); len(left) > 0 {
		t.Errorf("processes of the benchmark binary left after the interrupt: %v", left)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// processesOf lists live processes whose command line starts with bin.
func processesOf(bin string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil || !bytes.HasPrefix(b, []byte(bin)) {
			continue
		}
		if st, err := os.ReadFile(d + "/stat"); err == nil {
			s := string(st)
			if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && f[0] == "Z" {
				continue // a zombie has ended; only its parent's wait is missing
			}
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		pids = append(pids, pid)
	}
	return pids
}
