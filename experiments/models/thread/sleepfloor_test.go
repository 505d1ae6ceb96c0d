package thread

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The C reference for the sleep workload's warm cells: testdata/sleepfloor.c,
// threads created first and released together from a barrier, each
// nanosleeping. It is the floor the thread model is compared with.

// buildSleepFloor compiles testdata/sleepfloor.c with cc into dir and returns
// the binary's path. It skips tb when there is no cc.
func buildSleepFloor(tb testing.TB, dir string) string {
	tb.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		tb.Skip("no C compiler (cc) on PATH")
	}
	bin := filepath.Join(dir, "sleepfloor")
	cmd := exec.Command(cc, "-std=c11", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror",
		"-o", bin, filepath.Join("testdata", "sleepfloor.c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	return bin
}

// floorRun is what one run of sleepfloor printed.
type floorRun struct {
	threads, slept int
	sleep, elapsed time.Duration
}

// runSleepFloor runs the C reference with threads threads sleeping d each.
func runSleepFloor(bin string, threads int, d time.Duration) (floorRun, error) {
	ms := strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64)
	cmd := exec.Command(bin, strconv.Itoa(threads), ms)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return floorRun{}, fmt.Errorf("%v: %w (output %q)", cmd, err, out)
	}
	var r floorRun
	fields := map[string]int64{}
	for _, f := range strings.Fields(string(out)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return floorRun{}, fmt.Errorf("sleepfloor printed %q: %v", out, err)
		}
		fields[k] = n
	}
	for _, k := range []string{"threads", "sleep_ns", "slept", "elapsed_ns"} {
		if _, ok := fields[k]; !ok {
			return floorRun{}, fmt.Errorf("sleepfloor printed %q: no %s", out, k)
		}
	}
	r.threads, r.slept = int(fields["threads"]), int(fields["slept"])
	r.sleep, r.elapsed = time.Duration(fields["sleep_ns"]), time.Duration(fields["elapsed_ns"])
	return r, nil
}

// TestSleepFloorC builds the C reference and checks that it runs and that
// every one of its threads slept.
func TestSleepFloorC(t *testing.T) {
	bin := buildSleepFloor(t, t.TempDir())
	const threads, d = 50, 20 * time.Millisecond
	r, err := runSleepFloor(bin, threads, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d C threads × %v: %v from release to the last wake-up", r.threads, r.sleep, r.elapsed)
	if r.threads != threads || r.sleep != d {
		t.Errorf("sleepfloor ran %d threads × %v; want %d × %v", r.threads, r.sleep, threads, d)
	}
	if r.slept != threads {
		t.Errorf("%d of %d threads completed their sleep", r.slept, threads)
	}
	// A physical lower bound, not a speed threshold.
	if r.elapsed < d {
		t.Errorf("the threads finished %v after the release, less than the %v each slept", r.elapsed, d)
	}
	if _, err := runSleepFloor(bin, 0, d); err == nil {
		t.Errorf("sleepfloor with 0 threads succeeded; want a usage error")
	}
}
