package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"concurrency-lab/experiments/workloads/sleep"
)

// envTestLab makes TestWorkersDieWithTheLab play the lab in a subprocess.
const envTestLab = "LAB_PROCESS_TEST_LAB"

// Killing the lab with SIGKILL runs none of its code, yet its workers die
// too: the kernel sends them their Pdeathsig.
func TestWorkersDieWithTheLab(t *testing.T) {
	if os.Getenv(envTestLab) == "1" {
		playLab()
		return
	}
	lab := exec.Command(os.Args[0], "-test.run=^TestWorkersDieWithTheLab$")
	lab.Env = append(os.Environ(), envTestLab+"=1")
	lab.Stderr = os.Stderr
	out, err := lab.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Start(); err != nil {
		t.Fatal(err)
	}
	defer lab.Wait()
	defer lab.Process.Kill()
	var pids []int
	for sc := bufio.NewScanner(out); pids == nil && sc.Scan(); {
		if rest, ok := strings.CutPrefix(sc.Text(), "workers:"); ok {
			for _, f := range strings.Fields(rest) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("lab said %q: %v", sc.Text(), err)
				}
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) != 3 {
		t.Fatalf("the lab reported workers %v; want 3", pids)
	}
	lab.Process.Kill()
	lab.Wait()
	// The workers are no longer our children, so wait by looking: a liveness
	// bound, not a speed threshold.
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		alive := aliveOf(pids)
		if len(alive) == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("workers %v still alive 20 s after their lab was killed", alive)
		}
	}
}

// playLab starts three workers sleeping for an hour, says who they are, and
// waits to be killed.
func playLab() {
	x, err := Model{}.Start(context.Background(), must(sleep.NewJob(3, 3, time.Hour)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print("workers:")
	for _, p := range groupOf(x).procs {
		fmt.Print(" ", p.pid)
	}
	fmt.Println()
	x.Run(context.Background()) // an hour: until killed
	os.Exit(1)
}

// aliveOf returns the pids that are running: neither gone nor zombies
// (whoever inherited a dead worker may be slow to reap it, or never do).
func aliveOf(pids []int) []int {
	var alive []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		s := string(b)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && f[0] == "Z" {
			continue
		}
		alive = append(alive, pid)
	}
	return alive
}
