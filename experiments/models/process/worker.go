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
	"concurrency-lab/experiments/internal/osthread"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
)

const (
	// envWorker marks a process as a worker and names its role (one of the
	// role constants below). The parent sets it on the workers it starts;
	// WorkerMain reads it. A process that has it set must not start workers
	// itself.
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

// inheritedAll returns the files the parent passed as fds 3, 4, …, one per
// name (see inherited).
func inheritedAll(names ...string) ([]*os.File, error) {
	files := make([]*os.File, len(names))
	for i, name := range names {
		f, err := inherited(3+i, name)
		if err != nil {
			return nil, err
		}
		files[i] = f
	}
	return files, nil
}

// roleWorker is the worker's side of every role that the parent drives with
// requests on fd 3, one at a time, each answered on fd 4 (replies) before
// the next is sent: the pool, interleave, spawn, hold and convoy workers
// (serve). It answers the parent's usage requests (kAsk) itself
// (usageSinceAsk). The stages and the echo workers use its parts.
type roleWorker struct {
	replies  *os.File       // fd 4
	pid, tid uint64         // set by hello
	usage    *usageSinceAsk // opened by hello
}

// newRoleWorker returns the worker for the files the parent passed as fds
// 3, 4, …, one per name (see inherited): fd 4 is its replies.
func newRoleWorker(names ...string) (*roleWorker, []*os.File, error) {
	files, err := inheritedAll(names...)
	if err != nil {
		return nil, nil, err
	}
	return &roleWorker{replies: files[1]}, files, nil
}

// first reads the frame the parent wrote before the worker started (its
// start frame, or configuration, as what says) from r, and checks that it
// is of kind k with n values; its error is the worker's to return.
func (w *roleWorker) first(r io.Reader, k kind, n int, what string) (frame, error) {
	f, err := readFrame(r)
	if err == nil {
		err = f.want(k, n)
	}
	if err != nil {
		return frame{}, w.fail(fmt.Errorf("reading %s: %w", what, err))
	}
	return f, nil
}

// fail reports err to the parent (kFail), best effort: the error also goes
// to stderr. It returns err.
func (w *roleWorker) fail(err error) error {
	writeText(w.replies, kFail, err.Error())
	return err
}

// hello opens the worker's usage account, which starts its first peak, and
// says hello (kHello: pid, tid). Its error is the worker's to return.
func (w *roleWorker) hello() error {
	u, err := openUsage()
	if err != nil {
		return w.fail(err)
	}
	w.usage = u
	w.pid, w.tid = uint64(os.Getpid()), uint64(unix.Gettid())
	if err := writeFrame(w.replies, kHello, w.pid, w.tid); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	return nil
}

// serve reads the parent's requests from r until the parent closes the pipe
// (Close, or the parent died), and then returns nil. It answers kAsk itself;
// every other request is a job: serve notes that a job starts
// (usageSinceAsk.jobStarts) and hands it to job, whose error it returns as
// it is, except io.EOF, which says that the parent closed the pipe during
// the job: then serve returns nil. what names a request in errors ("a
// job").
func (w *roleWorker) serve(r io.Reader, what string, job func(frame) error) error {
	for {
		f, err := readFrame(r)
		if errors.Is(err, io.EOF) {
			return nil // the parent closed the pipe: Close, or the parent died
		}
		if err != nil {
			return w.fail(fmt.Errorf("reading %s: %w", what, err))
		}
		if f.kind == kAsk {
			if err := w.usage.answer(f, w.replies); err != nil {
				return w.fail(err)
			}
			continue
		}
		w.usage.jobStarts()
		if err := job(f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// close closes the usage account, if hello opened it.
func (w *roleWorker) close() {
	if w.usage != nil {
		w.usage.close()
	}
}

// usageSinceAsk is a worker's account of its usage between two of the
// parent's asks (kAsk): the CPU time from the start of its first job after
// the previous ask (or its hello) to this ask, and its peak RSS since the
// previous ask (or its hello). Counting CPU from the first job rather than
// from the previous report leaves out what the process does between its
// hello and its first job (its runtime settling after start-up: ~0.26 ms of
// CPU, measured, about twice what a whole sleep job costs a pool worker) and
// what answering the previous ask cost (~0.09 ms), so that a collection's
// CPU is the Runs' own. That takes one getrusage (~0.5 µs) per worker per
// collection, at its first job; the /proc read (~7 µs) is done only for
// kAsk.
type usageSinceAsk struct {
	m        *osmeter.Meter
	cpu0     uint64 // CPU time at the first job since the last ask
	counting bool   // a job has started since the last ask
}

// openUsage opens the meter and starts the first peak; call it just before
// the hello.
func openUsage() (*usageSinceAsk, error) {
	m, err := osmeter.OpenMeter()
	if err != nil {
		return nil, err
	}
	if err := m.ResetPeak(); err != nil {
		m.Close()
		return nil, err
	}
	return &usageSinceAsk{m: m}, nil
}

// jobStarts notes the CPU time if this is the first job since the last ask.
func (u *usageSinceAsk) jobStarts() {
	if !u.counting {
		u.cpu0, u.counting = cpuTime(), true
	}
}

// answer checks that f is an ask (kAsk, no values) and answers it (report).
func (u *usageSinceAsk) answer(f frame, replies io.Writer) error {
	if err := f.want(kAsk, 0); err != nil {
		return err
	}
	return u.report(replies)
}

// report answers an ask on replies (kUsage: CPU ns, peak RSS bytes) and
// starts the next peak.
func (u *usageSinceAsk) report(replies io.Writer) error {
	var used uint64
	if u.counting {
		used = max(cpuTime(), u.cpu0) - u.cpu0
		u.counting = false
	}
	peak, err := peakRSS(u.m)
	if err != nil {
		return err
	}
	if err := u.m.ResetPeak(); err != nil {
		return err
	}
	if err := writeFrame(replies, kUsage, used, peak); err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	return nil
}

func (u *usageSinceAsk) close() { u.m.Close() }

// servePool reads its start frame (kPool) from fd 3, says hello on fd 4, then
// runs jobs from fd 3 one at a time and replies to each on fd 4, until the
// parent closes fd 3. A reply carries only what the Run needs. The worker's
// usage is reported when the parent asks (kAsk), after the Run: see
// usageSinceAsk.
func servePool(faults bool) error {
	w, files, err := newRoleWorker("jobs", "replies")
	if err != nil {
		return err
	}
	defer w.close()
	r := bufio.NewReader(files[0])
	f, err := w.first(r, kPool, 1, "the start frame")
	if err != nil {
		return err
	}
	switch k := kind(f.vals[0]); {
	case k == 0:
	case !faults:
		return w.fail(fmt.Errorf("test-only fault %v refused: %s is not 1", k, envFaults))
	case k == kHangStart:
		misbehave(kHang)
	default:
		return w.fail(fmt.Errorf("unknown start fault %v", k))
	}
	clock := newClock()
	// The peak of a Run is counted from here, or from the last kAsk.
	if err := w.hello(); err != nil {
		return err
	}
	return w.serve(r, "a job", func(f frame) error {
		var reply []uint64
		switch f.kind {
		case kPrimes:
			if err := f.want(kPrimes, 2); err != nil {
				return w.fail(err)
			}
			reply = []uint64{uint64(primes.Count(int(f.vals[0]), int(f.vals[1]), nil)), w.pid, w.tid}
		case kSleep:
			if err := f.want(kSleep, 1); err != nil {
				return w.fail(err)
			}
			start := clock.Now()
			if err := osthread.Nanosleep(time.Duration(f.vals[0])); err != nil {
				return w.fail(err)
			}
			end := clock.Now()
			reply = []uint64{1, w.pid, w.tid, uint64(start), uint64(end)}
		case kCrash, kHang:
			if !faults {
				return w.fail(fmt.Errorf("test-only job %v refused: %s is not 1", f.kind, envFaults))
			}
			misbehave(f.kind)
		default:
			return w.fail(fmt.Errorf("unknown job %v", f.kind))
		}
		if err := writeFrame(w.replies, kDone, reply...); err != nil {
			return fmt.Errorf("reply: %w", err)
		}
		return nil
	})
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
// (so, as in usageSinceAsk, not what the process did after its hello or for
// its previous report), and the peak RSS since the previous report.
func serveStage(faults bool) error {
	files, err := inheritedAll("configuration", "control", "payloads in", "payloads out")
	if err != nil {
		return err
	}
	config, ctl, in, out := files[0], files[1], files[2], files[3]
	w := &roleWorker{replies: ctl}
	fail := w.fail
	f, err := w.first(config, kStage, 4, "the configuration")
	if err != nil {
		return err
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
			_ = osthread.Nanosleep(time.Hour)
		}
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
