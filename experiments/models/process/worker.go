package process

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/internal/osmeter"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

const (
	// envWorker marks a process as a worker and names its role, rolePool or
	// roleStage. The parent sets it on the workers it starts; WorkerMain
	// reads it. A process that has it set must not start workers itself.
	envWorker = "LAB_PROCESS_WORKER"
	// envFaults = "1" lets a worker honour the test-only fault jobs (kCrash,
	// kHang). Tests set it; without it a worker refuses them and fails.
	envFaults = "LAB_PROCESS_FAULTS"

	rolePool  = "pool"  // fd 3: jobs from the parent, fd 4: replies
	roleStage = "stage" // fd 3: configuration, fd 4: control replies, fd 5: payloads in, fd 6: payloads out
	roleEcho  = "echo"  // fd 3: requests from the parent (kAsk), fd 4: replies, fd 5: the listening socket
	roleConn  = "conn"  // fd 3: one accepted connection, fd 4: replies
	// The roles of the interleave, spawn, hold and convoy workers: their
	// files are documented where they are served (interleave.go, spawn.go,
	// hold.go, convoy.go).
	roleInterleave = "interleave"
	roleSpawn      = "spawn"
	roleHold       = "hold"
	roleConvoy     = "convoy"
)

// WorkerMain turns this process into a worker if the parent that started it
// asked for one, and returns at once otherwise. Every binary that uses the
// process model must call it first thing in TestMain (or main), before flags
// are parsed, because the model's workers are that binary re-executed with
// LAB_PROCESS_WORKER set. In a worker it serves the parent and ends the
// process with os.Exit: status 0 once its input from the parent ends, 1 on an
// error, neighbourStatus (4) for a stage whose neighbour died, crashStatus
// (3) for a test-only crash.
func WorkerMain() {
	role := os.Getenv(envWorker)
	if role == "" {
		return
	}
	// One OS thread does all of a worker's work, in blocking system calls,
	// so that the gettid it reports is the thread that did the work.
	runtime.LockOSThread()
	faults := os.Getenv(envFaults) == "1"
	var err error
	switch role {
	case rolePool:
		err = servePool(faults)
	case roleStage:
		err = serveStage(faults)
	case roleEcho:
		err = serveEcho()
	case roleConn:
		err = serveConn()
	case roleInterleave:
		err = serveInterleave()
	case roleSpawn:
		err = serveSpawn()
	case roleHold:
		err = serveHold()
	case roleConvoy:
		err = serveConvoy()
	default:
		err = fmt.Errorf("%s = %q; want one of %q", envWorker, role, []string{rolePool, roleStage, roleEcho, roleConn, roleInterleave, roleSpawn, roleHold, roleConvoy})
	}
	exitWorker(role, err)
}

// exitWorker ends a worker: status 0 for a nil err; otherwise it reports err
// on stderr and exits with neighbourStatus for a lost neighbour, 1 for any
// other error.
func exitWorker(role string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "process: worker (pid %d, %s): %v\n", os.Getpid(), role, err)
		if errors.As(err, new(lostNeighbour)) {
			os.Exit(neighbourStatus)
		}
		os.Exit(1)
	}
	os.Exit(0)
}

// neighbourStatus is the exit status of a stage that ends because a
// neighbour did: its input ended inside a payload, or its output's reader is
// gone. The parent uses it to tell the stage that failed from the stages
// that followed it down.
const neighbourStatus = 4

// lostNeighbour is a stage's read or write failing because the process at
// the other end of the pipe has gone.
type lostNeighbour struct{ err error }

func (e lostNeighbour) Error() string { return e.err.Error() }
func (e lostNeighbour) Unwrap() error { return e.err }

// neighbourGone marks err as a lost neighbour if it is one.
func neighbourGone(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, unix.EPIPE) {
		return lostNeighbour{err}
	}
	return err
}

// inherited returns the file the parent passed as fd, in blocking mode: the
// worker's thread then waits inside read and write, as a process does, rather
// than parking a goroutine in the Go netpoller.
func inherited(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		return nil, fmt.Errorf("fd %d (%s) was not passed: %w", fd, name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// servePool reads its start frame (kPool) from fd 3, says hello on fd 4, then
// runs jobs from fd 3 one at a time and replies to each on fd 4, until the
// parent closes fd 3. A reply carries only what the Run needs. The worker's
// usage is reported when the parent asks (kAsk), after the Run: the CPU time
// from the start of the first job after the previous ask (or the hello) to
// the arrival of this ask, and the peak RSS since the previous ask (or the
// hello). Counting CPU from the first job rather than from the previous
// report leaves out what the process does between its hello and its first
// job (its runtime settling after start-up: ~0.26 ms of CPU, measured, about
// twice what a whole sleep job costs it) and what answering the previous ask
// cost (~0.09 ms), so that a collection's CPU is the Runs' own. That takes
// one getrusage (~0.5 µs) per worker per collection, at its first job; the
// /proc read (~7 µs) is done only for kAsk.
func servePool(faults bool) error {
	jobs, err := inherited(3, "jobs")
	if err != nil {
		return err
	}
	replies, err := inherited(4, "replies")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		writeText(replies, kFail, err.Error()) // best effort: the error also goes to stderr
		return err
	}
	r := bufio.NewReader(jobs)
	f, err := readFrame(r)
	if err == nil {
		err = f.want(kPool, 1)
	}
	if err != nil {
		return fail(fmt.Errorf("reading the start frame: %w", err))
	}
	switch k := kind(f.vals[0]); {
	case k == 0:
	case !faults:
		return fail(fmt.Errorf("test-only fault %v refused: %s is not 1", k, envFaults))
	case k == kHangStart:
		misbehave(kHang)
	default:
		return fail(fmt.Errorf("unknown start fault %v", k))
	}
	m, err := osmeter.OpenMeter()
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	clock := newClock()
	pid, tid := uint64(os.Getpid()), uint64(unix.Gettid())
	// The peak of a Run is counted from here, or from the last kAsk.
	if err := m.ResetPeak(); err != nil {
		return fail(err)
	}
	if err := writeFrame(replies, kHello, pid, tid); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	var cpu0 uint64   // CPU time at the start of the first job since the last ask
	counting := false // a job has started since the last ask
	for {
		f, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return nil // the parent closed the pipe: Close, or the parent died
		}
		if err != nil {
			return fail(fmt.Errorf("reading a job: %w", err))
		}
		if f.kind != kAsk && !counting {
			cpu0, counting = cpuTime(), true
		}
		var reply []uint64
		switch f.kind {
		case kPrimes:
			if err := f.want(kPrimes, 2); err != nil {
				return fail(err)
			}
			reply = []uint64{uint64(primes.Count(int(f.vals[0]), int(f.vals[1]), nil)), pid, tid}
		case kSleep:
			if err := f.want(kSleep, 1); err != nil {
				return fail(err)
			}
			start := clock.Now()
			nanosleep(time.Duration(f.vals[0]))
			end := clock.Now()
			reply = []uint64{1, pid, tid, uint64(start), uint64(end)}
		case kAsk:
			if err := f.want(kAsk, 0); err != nil {
				return fail(err)
			}
			var used uint64
			if counting {
				used = max(cpuTime(), cpu0) - cpu0
				counting = false
			}
			peak, err := peakRSS(m)
			if err != nil {
				return fail(err)
			}
			if err := m.ResetPeak(); err != nil {
				return fail(err)
			}
			if err := writeFrame(replies, kUsage, used, peak); err != nil {
				return fmt.Errorf("usage: %w", err)
			}
			continue
		case kCrash, kHang:
			if !faults {
				return fail(fmt.Errorf("test-only job %v refused: %s is not 1", f.kind, envFaults))
			}
			misbehave(f.kind)
		default:
			return fail(fmt.Errorf("unknown job %v", f.kind))
		}
		if err := writeFrame(replies, kDone, reply...); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
	}
}

// newClock anchors the sleep.Clock that a worker brackets its waits with.
// sleep.NewClock reads Go's clock and then the kernel's, and its error is the
// time between the two readings: nanoseconds, unless the thread is preempted
// in between, as it may be while hundreds of workers start at once on a
// couple of cores. The error only ever makes the clock read late, so the best
// of a few anchors is the one that reads earliest.
func newClock() sleep.Clock {
	best := sleep.NewClock()
	for range 4 {
		if c := sleep.NewClock(); c.Now() < best.Now() {
			best = c
		}
	}
	return best
}

// serveStage reads its configuration from fd 3, then transforms payloads from
// fd 5 to fd 6 until fd 5 ends, and reports its usage on fd 4 after every
// run's last payload: the CPU time from the run's first payload to its last
// (so, as in servePool, not what the process did after its hello or for its
// previous report), and the peak RSS since the previous report.
func serveStage(faults bool) error {
	var files [4]*os.File
	for i, name := range []string{"configuration", "control", "payloads in", "payloads out"} {
		f, err := inherited(3+i, name)
		if err != nil {
			return err
		}
		files[i] = f
	}
	config, ctl, in, out := files[0], files[1], files[2], files[3]
	fail := func(err error) error {
		writeText(ctl, kFail, err.Error())
		return err
	}
	f, err := readFrame(config)
	if err == nil {
		err = f.want(kStage, 4)
	}
	if err != nil {
		return fail(fmt.Errorf("reading the configuration: %w", err))
	}
	config.Close()
	size, messages := int(f.vals[0]), int(f.vals[1])
	faultKind, faultAt := kind(f.vals[2]), int(f.vals[3])*messages
	if size < 1 || messages < 1 {
		return fail(fmt.Errorf("configuration: %d-byte payloads, %d messages per run; want ≥ 1 each", size, messages))
	}
	if faultKind != 0 && !faults {
		return fail(fmt.Errorf("test-only fault %v refused: %s is not 1", faultKind, envFaults))
	}
	if faultKind == kHangStart {
		misbehave(kHang)
	}
	m, err := osmeter.OpenMeter()
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	buf := pipeline.NewBuffer(size)
	pid, tid := uint64(os.Getpid()), uint64(unix.Gettid())
	if err := writeFrame(ctl, kHello, pid, tid); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if err := m.ResetPeak(); err != nil {
		return fail(err)
	}
	var cpu0 uint64 // CPU time at the run's first payload
	for n := 0; ; n++ {
		if _, err := io.ReadFull(in, buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the pipeline is being closed
			}
			return fail(neighbourGone(fmt.Errorf("reading payload %d: %w", n, err)))
		}
		if n%messages == 0 {
			cpu0 = cpuTime()
		}
		if faultKind != 0 && n == faultAt {
			misbehave(faultKind)
		}
		pipeline.Stage(buf)
		if _, err := out.Write(buf); err != nil {
			return fail(neighbourGone(fmt.Errorf("writing payload %d: %w", n, err)))
		}
		if (n+1)%messages == 0 {
			used := max(cpuTime(), cpu0) - cpu0
			peak, err := peakRSS(m)
			if err != nil {
				return fail(err)
			}
			if err := writeFrame(ctl, kDone, uint64(messages), pid, tid, used, peak); err != nil {
				return fmt.Errorf("usage report: %w", err)
			}
			if err := m.ResetPeak(); err != nil {
				return fail(err)
			}
		}
	}
}

// misbehave carries out a test-only fault, kCrash or kHang: in the middle of
// a job, or (kHang, for a kHangStart) before the hello.
func misbehave(k kind) {
	switch k {
	case kCrash:
		fmt.Fprintf(os.Stderr, "process: worker (pid %d): crashing on purpose (test fault)\n", os.Getpid())
		os.Exit(crashStatus)
	case kHang:
		for { // a system call, not select{}: the runtime would call that a deadlock
			nanosleep(time.Hour)
		}
	}
}

// nanosleep blocks the calling thread for d in the kernel, resuming with the
// time left when a signal interrupts it.
func nanosleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		var left unix.Timespec
		if err := unix.Nanosleep(&ts, &left); err != unix.EINTR {
			return
		}
		ts = left
	}
}

// cpuTime is the user+system CPU time this process has used, in ns.
func cpuTime() uint64 {
	d, _ := osmeter.CPU(unix.RUSAGE_SELF)
	return uint64(d)
}

// peakRSS reads the worker's peak RSS through m for a reply frame. (getrusage's
// ru_maxrss cannot serve: it is a lifetime peak, and after a vfork-style exec
// it even includes the parent's.)
func peakRSS(m *osmeter.Meter) (uint64, error) {
	p, err := m.Peak()
	return uint64(p), err
}
