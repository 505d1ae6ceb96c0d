package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/matrix"
	"concurrency-lab/experiments/runtimes"
	"concurrency-lab/harness/rundir"
)

// runSample takes one sample of cell i in a benchmark process of its own, the
// pos-th of the round's total. A fresh process per sample means that nothing
// an earlier cell left behind — heap the runtime kept, threads it parked,
// its peak RSS, warmed caches of its own — is part of this cell's figures:
// every sample starts from the same clean process, and the process-to-
// process variation is part of every cell's spread. The cost is one exec of
// the benchmark binary and its start-up per sample, outside the timed region.
func (s *state) runSample(ctx context.Context, round, pos, total, i int) error {
	c := s.cells[i].cell
	budget := s.o.slack // process start and the binary's own overhead
	if budget == 0 {
		budget = time.Minute
	}
	// Each execution (warm-ups, the sample) has the cell's timeout, and so
	// has a warm Start.
	budget += time.Duration(c.Warmup+2) * c.Timeout
	cellsFile := filepath.Join(s.dir, ".sample-cell.json")
	if err := rundir.WriteJSON(cellsFile, []matrix.Cell{c}); err != nil {
		return err
	}
	defer os.Remove(cellsFile)
	cells := []int{i}

	rctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmd := exec.Command(s.o.Binary, "-test.run=^$", "-test.bench=^BenchmarkLab$",
		"-test.benchtime="+c.Benchtime, "-test.timeout=0")
	cmd.Env = append(os.Environ(), "LAB_CELLS="+cellsFile)
	if s.o.RuntimesFile != "" {
		cmd.Env = append(cmd.Env, runtimes.Env+"="+s.o.RuntimesFile)
	}
	if d := s.o.Declared; d != nil && len(d.Affinity) > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(len(d.Affinity)))
	}
	// Own process group: a terminal's Ctrl-C reaches the lab, which stops
	// the benchmark itself and keeps what it measured. Pdeathsig: the
	// benchmark dies with the lab, whatever kills the lab.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	p := &parse{s: s, round: round, before: pos, total: total}
	var wg sync.WaitGroup
	wg.Go(func() { p.stdout(stdout) })
	wg.Go(func() { p.stderr(stderr) })

	waitErr := make(chan error, 1)
	started := make(chan error, 1)
	go func() {
		// Start and wait on one locked thread: Pdeathsig fires when the
		// forking *thread* exits, and the affinity mask set on it is
		// inherited by the child and every thread it makes.
		runtime.LockOSThread()
		if d := s.o.Declared; d != nil && len(d.Affinity) > 0 {
			var set unix.CPUSet
			for _, c := range d.Affinity {
				set.Set(c)
			}
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				started <- fmt.Errorf("runner: pin to CPUs %v: %w", d.Affinity, err)
				return // the thread keeps the mask, so it exits with the goroutine
			}
		}
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("runner: start %s: %w", s.o.Binary, err)
			return
		}
		started <- nil
		// Wait closes the pipes: read them to the end first.
		wg.Wait()
		waitErr <- cmd.Wait()
		// Exit still locked: the runtime discards this thread and its mask.
	}()
	if err := <-started; err != nil {
		stdout.Close()
		stderr.Close()
		return err
	}
	var werr error
	killed := false
	select {
	case werr = <-waitErr:
	case <-rctx.Done():
		killed = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr = <-waitErr
	}
	// Whatever the sample started and did not reap in its process group (a
	// grandchild) is ended now rather than left to run into the next
	// sample. The process model's workers, in groups of their own, die
	// with the benchmark process (Pdeathsig).
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	p.settle(cells, werr, killed, ctx.Err() != nil)
	return nil
}
