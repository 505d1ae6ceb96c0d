// Package process is the process model: every worker is a separate OS
// process, and work and data reach it through OS pipes, so every byte is
// copied through the kernel.
//
// A worker is the running binary re-executed (os.Executable) with the
// environment variable LAB_PROCESS_WORKER set to its role; WorkerMain, which
// the binary must call first thing in TestMain or main, turns such a process
// into a worker. The parent talks to a worker in small binary frames over two
// pipes (fd 3 parent → worker, fd 4 worker → parent); the worker's stdout and
// stderr are the parent's stderr, so a crashing worker's message is visible.
//
//   - primes.Job: one worker per range; Run sends each its range.
//   - sleep.Job: Concurrency workers; Run hands out the tasks as workers
//     finish them, and each task blocks its worker's thread in nanosleep and
//     reports when its wait began and ended (Result.Waits).
//   - *pipeline.Job: one process per stage, each stage's output pipe the next
//     one's input; the parent writes the source side and reads the sink side.
//   - echo.Job, warm (the default): a pre-forked server, min(Connections,
//     MaxWorkers) workers each blocking in accept on the one listening
//     socket (Job.Listener, passed to each), serving one connection at a
//     time to its end and accepting again, and reporting each connection it
//     served; Run ends when Connections have been served since it began.
//   - echo.Job, cold (Model.Cold): a forking server, an acceptor in this
//     process starting one worker process per accepted connection (the
//     socket passed to it), which serves it, reports and exits.
//   - interleave.Job: one worker per task, each writing its events to one
//     shared pipe, whose order of arrival this process logs (interleave.go).
//   - spawn.Job: Workers workers, each handed one empty task per Run; a cold
//     cell times their spawning (spawn.go).
//   - hold.Job: Workers workers, each sending its result whole through a
//     pipe of its own to this process, which holds or digests it (hold.go).
//   - convoy.Job: one I/O worker making timed waits beside CPUWorkers
//     workers computing chunks (convoy.go).
//
// Start spawns the workers and waits until each has said hello, so a warm Run
// pays no start-up; if its context ends first, it fails naming the workers
// that were not ready. A worker's reply to a job (in every role but the
// pipeline's stages and the cold echo server's) carries only what the Run
// needs (value, pid, tid, the wait's span); its CPU time and peak RSS are
// reported only when CollectUsage asks, outside the caller's timed region
// (within it a worker only notes its CPU time, one getrusage, when its first
// job after a collection starts). A pipeline stage still reports its usage
// with every Run, after the Run's last payload: one report per stage per Run,
// ~12 µs of CPU, measured, against Runs of tens of milliseconds.
//
// Workers can never outlive the lab: they die with the thread that forked
// them (Pdeathsig), exit when their pipe from the parent ends, and Close, a
// failed Run and a cancelled Run or Start kill and reap them.
//
// Environment: LAB_PROCESS_WORKER (set by the parent on its workers) makes
// WorkerMain serve; LAB_PROCESS_FAULTS=1 (set only by this package's tests)
// lets workers obey the test-only fault jobs.
//
// Linux only: it relies on Pdeathsig, gettid, F_SETPIPE_SZ and /proc.
package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/convoy"
	"concurrency-lab/experiments/workloads/echo"
	"concurrency-lab/experiments/workloads/hold"
	"concurrency-lab/experiments/workloads/interleave"
	"concurrency-lab/experiments/workloads/pipeline"
	"concurrency-lab/experiments/workloads/primes"
	"concurrency-lab/experiments/workloads/sleep"
	spawnjob "concurrency-lab/experiments/workloads/spawn"
)

// MaxWorkers is the most worker processes one Start may spawn. Each worker is
// a whole Go process, a few MB resident (3.5 MB measured for a primes worker,
// more under the race detector), so a thousand of them already take
// gigabytes; more than this is refused rather than left to exhaust memory or
// the process table.
const MaxWorkers = 1024

// closeGrace is how long Close lets workers exit on their own after their
// input pipes end before it kills them. A healthy worker exits in
// milliseconds.
const closeGrace = 2 * time.Second

// Model is the process model. The zero value is ready to use.
type Model struct {
	// Cold selects the echo server of a cold cell (start=cold): an
	// acceptor in this process that starts one worker process per
	// connection (the equivalent of socketserver.ForkingTCPServer), rather
	// than a warm cell's pre-forked pool of workers blocking in accept.
	// Other workloads ignore it: their cold cells time the same Start as
	// warm ones.
	Cold bool

	exe   string // worker executable; "" means os.Executable (tests point it elsewhere)
	fault fault  // test only: a fault to inject; the zero value injects none
}

// fault makes worker (pool) or stage number at crash or hang (kind kCrash or
// kHang) in the middle of its first job of Run number run, counted from 0, or
// hang before its hello (kind kHangStart; run is ignored).
type fault struct {
	kind    kind
	at, run int
}

// Name returns "process".
func (Model) Name() string { return "process" }

// Start spawns the worker processes for w and waits until every one is ready.
// It refuses more than MaxWorkers workers. If it fails, no process it started
// is left.
func (m Model) Start(ctx context.Context, w model.Work) (model.Exec, error) {
	if role := os.Getenv(envWorker); role != "" {
		// A worker that was not diverted by WorkerMain would otherwise start
		// workers of its own, and they theirs.
		return nil, fmt.Errorf("process: this process is a worker (%s=%s) that did not divert to WorkerMain; call process.WorkerMain first thing in TestMain or main", envWorker, role)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("process: start: %w", err)
	}
	exe := m.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("process: finding the worker executable: %w", err)
		}
	}
	capped := func(n int, what string) error {
		if n > MaxWorkers {
			return fmt.Errorf("process: %d %s exceed the cap of %d worker processes: each is a whole Go process of a few MB resident, so %d would take gigabytes", n, what, MaxWorkers, n)
		}
		return nil
	}
	switch w := w.(type) {
	case interleave.Job:
		return m.startInterleave(ctx, exe, w)
	case spawnjob.Job:
		if err := capped(w.Workers, "spawn workers"); err != nil {
			return nil, err
		}
		return m.startSpawn(ctx, exe, w)
	case hold.Job:
		if err := capped(w.Workers, "hold workers"); err != nil {
			return nil, err
		}
		return m.startHold(ctx, exe, w)
	case convoy.Job:
		return m.startConvoy(ctx, exe, w)
	case primes.Job:
		if err := capped(len(w.Ranges), "primes workers"); err != nil {
			return nil, err
		}
		return startPool(ctx, exe, m.fault, len(w.Ranges), len(w.Ranges), false, func(i int) (kind, []uint64) {
			return kPrimes, []uint64{uint64(w.Ranges[i].Lo), uint64(w.Ranges[i].Hi)}
		}, func(r *model.Result, vals []int) { r.Counts = vals })
	case sleep.Job:
		if err := capped(w.Concurrency, "sleep workers"); err != nil {
			return nil, err
		}
		return startPool(ctx, exe, m.fault, w.Concurrency, w.Tasks, true, func(int) (kind, []uint64) {
			return kSleep, []uint64{uint64(w.D)}
		}, func(r *model.Result, vals []int) {
			for _, v := range vals {
				r.Slept += v
			}
		})
	case *pipeline.Job:
		if err := capped(w.Stages, "pipeline stages"); err != nil {
			return nil, err
		}
		return startChain(ctx, exe, m.fault, w)
	case echo.Job:
		// Neither server is capped by Connections: the pool has at most
		// MaxWorkers workers, each serving connection after connection,
		// and the cold server runs at most MaxWorkers at once.
		if m.Cold {
			return startForked(ctx, exe, w)
		}
		return startEchoPool(ctx, exe, w)
	}
	return nil, fmt.Errorf("process: unsupported work %T", w)
}

// forker starts every worker process, from one goroutine locked to its OS
// thread for the life of the process. Linux sends a child its Pdeathsig when
// the *thread* that forked it exits, not when the process does, and the Go
// runtime does end threads: it discards the thread of a goroutine that exits
// while locked to it, as any code that pins goroutines to threads may do. A
// worker forked from such a thread would be killed mid-run. Forking from a
// thread that never exits makes Pdeathsig mean "when the lab dies". This is
// the package's only global state; the kernel's rule forces it.
var forker struct {
	once sync.Once
	reqs chan forkReq
}

type forkReq struct {
	cmd  *exec.Cmd
	done chan error
}

// spawn starts cmd from the forker's thread.
func spawn(cmd *exec.Cmd) error {
	forker.once.Do(func() {
		forker.reqs = make(chan forkReq)
		go func() {
			runtime.LockOSThread() // never unlocked, and the goroutine never returns: see forker
			for r := range forker.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	forker.reqs <- forkReq{cmd, done}
	return <-done
}

// proc is one worker process, seen from the parent.
type proc struct {
	name  string // "worker 2", "stage 0"
	cmd   *exec.Cmd
	pid   int
	ready bool // it has said hello; only Start touches it

	// Set by the reader goroutine before it reports the exit.
	status  error  // cmd.Wait's result
	reason  string // the worker's kFail text, if it sent one
	exitSeq int64  // 1 for the group's first worker to be reaped, 2 for the next, ...
}

// workerError is a worker process that failed: it died with work in hand,
// exited before it was ready, or broke the protocol.
type workerError struct {
	name   string
	pid    int
	what   string // "died mid-job", "exited before it was ready", ...
	status error  // how it ended (nil: exit status 0, or still running)
	reason string // the worker's own account, or a hint
}

func (e *workerError) Error() string {
	msg := fmt.Sprintf("process: %s (pid %d) %s", e.name, e.pid, e.what)
	if e.status != nil {
		msg += ": " + e.status.Error()
	}
	if e.reason != "" {
		msg += ": " + e.reason
	}
	return msg
}

func (e *workerError) Unwrap() error { return e.status }

// nsDuration converts a CPU time in ns.
func nsDuration(ns uint64) time.Duration { return time.Duration(ns) }

func (p *proc) fail(what string) *workerError {
	return &workerError{name: p.name, pid: p.pid, what: what, status: p.status, reason: p.reason}
}

// broke is the failure of a worker that sent what the protocol does not
// allow; err says what.
func (p *proc) broke(err error) *workerError {
	return &workerError{name: p.name, pid: p.pid, what: "broke the protocol", reason: err.Error()}
}

// event is a frame from a worker, or the news that it has exited and been
// reaped.
type event struct {
	w      int // index into group.procs
	f      frame
	exited bool
}

// group is a set of worker processes and the goroutines that read their
// replies. One reader per worker forwards frames to events, then reaps the
// worker when its pipe ends. The parent's pipe ends are non-blocking (Go's
// netpoller), so a thousand idle readers cost no threads.
type group struct {
	procs   []*proc
	files   []*os.File // the parent's ends of the workers' pipes, closed by Close
	events  chan event
	quit    chan struct{} // closed when nobody reads events any more
	quitted sync.Once
	readers sync.WaitGroup
	killed  atomic.Bool  // we sent SIGKILL: "signal: killed" is our doing
	exits   atomic.Int64 // workers reaped so far
	failed  error        // why the Exec became unusable; only Run and Close touch it
	closed  bool
}

func newGroup(n int) *group {
	// Each worker has at most a hello, a reply and its exit pending; the
	// quit channel keeps a surplus from blocking a reader for good.
	return &group{events: make(chan event, 3*n+1), quit: make(chan struct{})}
}

// start spawns one worker with files as fds 3, 4, ... and reads its replies
// from ctl. It closes the child's ends of the pipes in any case, and ctl if
// the worker does not start.
func (g *group) start(name, exe, role string, files []*os.File, ctl *os.File) error {
	cmd := workerCmd(exe, workerEnv(role), files)
	err := spawn(cmd)
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		ctl.Close()
		return err
	}
	p := &proc{name: name, cmd: cmd, pid: cmd.Process.Pid}
	i := len(g.procs)
	g.procs = append(g.procs, p)
	g.readers.Go(func() { g.read(i, p, ctl) })
	return nil
}

// roleStart says how startRole starts the workers of a role.
type roleStart struct {
	role string // the workers' role (envWorker)
	n    int    // how many
	// name is worker i's name in errors; nil means "<role> worker i".
	name func(i int) string
	// first, if not nil, writes worker i's start frame on its fd 3 before
	// the worker starts; the frame waits in the pipe until the worker
	// reads it.
	first func(i int, cmd *os.File) error
	// outs is how many more pipes run from each worker to the parent,
	// after fd 4; the parent's read ends are startRole's outs[i].
	outs int
	// extra, if not nil, gives worker i more files, passed after the outs
	// pipes and closed in this process once the worker has them. Its error
	// is returned as it is, so it should name the worker.
	extra func(i int) ([]*os.File, error)
}

// startRole spawns the s.n workers of role s.role and waits for their
// hellos. Worker i gets fd 3, a pipe from the parent (cmds[i]), on which
// s.first writes its start frame, if any; fd 4, a pipe for its replies,
// read by the group; then s.outs more pipes from it to the parent (the
// parent's read ends are outs[i]); then the files s.extra gives it. The
// parent's ends are the group's files, which its close closes. If
// startRole fails, no worker it started is left.
func startRole(ctx context.Context, exe string, s roleStart) (g *group, cmds []*os.File, outs [][]*os.File, err error) {
	g = newGroup(s.n)
	cmds = make([]*os.File, 0, s.n)
	outs = make([][]*os.File, 0, s.n)
	fail := func(err error) (*group, []*os.File, [][]*os.File, error) {
		g.abort(err)
		g.close()
		return nil, nil, nil, err
	}
	for i := range s.n {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("process: start: %w", err))
		}
		name := fmt.Sprintf("%s worker %d", s.role, i)
		if s.name != nil {
			name = s.name(i)
		}
		// The child's ends, passed as fds 3, 4, 5, …, and closed by
		// g.start once the child has them.
		var child []*os.File
		closeChild := func() {
			for _, f := range child {
				f.Close()
			}
		}
		cmdR, cmdW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("process: %s: %w", name, err))
		}
		g.files = append(g.files, cmdW)
		child = append(child, cmdR)
		if s.first != nil {
			if err := s.first(i, cmdW); err != nil {
				closeChild()
				return fail(fmt.Errorf("process: %s: start frame: %w", name, err))
			}
		}
		repR, repW, err := os.Pipe()
		if err != nil {
			closeChild()
			return fail(fmt.Errorf("process: %s: %w", name, err))
		}
		child = append(child, repW)
		var mine []*os.File
		for range s.outs {
			r, w, err := os.Pipe()
			if err != nil {
				closeChild()
				repR.Close()
				return fail(fmt.Errorf("process: %s: %w", name, err))
			}
			g.files = append(g.files, r)
			mine = append(mine, r)
			child = append(child, w)
		}
		if s.extra != nil {
			more, err := s.extra(i)
			if err != nil {
				closeChild()
				repR.Close()
				return fail(err)
			}
			child = append(child, more...)
		}
		if err := g.start(name, exe, s.role, child, repR); err != nil {
			return fail(fmt.Errorf("process: starting %s: %w", name, err))
		}
		cmds = append(cmds, cmdW)
		outs = append(outs, mine)
	}
	if err := g.waitReady(ctx); err != nil {
		return fail(err)
	}
	return g, cmds, outs, nil
}

// workers is the parent's side of a group whose workers it drives through
// one pipe each (their fd 3), one request at a time, and whose usage it
// collects by asking them (kAsk; usageSinceAsk answers): the pool, the echo
// pool and the interleave, spawn, hold and convoy workers.
type workers struct {
	g    *group
	cmds []*os.File // parent → worker i (its fd 3), the group's files: closing them ends the workers
	owed []bool     // worker i has worked (been sent a job; an echo worker: served a connection) since its usage was last collected
}

func newWorkers(g *group, cmds []*os.File) workers {
	return workers{g: g, cmds: cmds, owed: make([]bool, len(cmds))}
}

// send sends worker w the frame k with vals, and notes that it owes a usage
// report. A worker that cannot take it is gone: send stops the group and
// returns (as the group's failure) that the worker "died before it could
// <what>", with its exit status, known once it is reaped.
func (ws *workers) send(w int, what string, k kind, vals ...uint64) error {
	ws.owed[w] = true
	if err := writeFrame(ws.cmds[w], k, vals...); err != nil {
		ws.g.stop()
		return ws.g.abort(ws.g.procs[w].fail("died before it could " + what))
	}
	return nil
}

// CollectUsage asks every worker that has been sent work since the last
// collection for its usage, and returns the CPU time they used and the sum
// of their peak RSS over the Runs since then (see usageSinceAsk: a worker
// counts its CPU from its first job after the previous collection, and
// resets its peak when it answers). With no such worker it returns zeros.
// It implements model.UsageCollector; call it between Runs, never during
// one. If a worker fails to answer, the Exec becomes unusable, as after a
// failed Run.
func (ws *workers) CollectUsage(ctx context.Context) (time.Duration, int64, error) {
	return ws.collectUsage(ctx, nil)
}

// collectUsage is CollectUsage; another frame that arrives meanwhile goes
// to other, which says whether it took it (nil: none is expected). A worker
// that dies, breaks the protocol or outlasts ctx makes the group unusable,
// as a failed Run does.
func (ws *workers) collectUsage(ctx context.Context, other func(event) bool) (time.Duration, int64, error) {
	g := ws.g
	if err := g.usable(ctx, "collecting usage"); err != nil {
		return 0, 0, err
	}
	asked := 0
	for w, o := range ws.owed {
		if !o {
			continue
		}
		if err := writeFrame(ws.cmds[w], kAsk); err != nil {
			g.stop()
			return 0, 0, g.abort(g.procs[w].fail("died before it could report its usage"))
		}
		asked++
	}
	var cpu time.Duration
	var peak int64
	for asked > 0 {
		select {
		case ev := <-g.events:
			w, pr := ev.w, g.procs[ev.w]
			if ev.exited {
				return 0, 0, g.abort(pr.fail("died before it reported its usage"))
			}
			if other != nil && other(ev) {
				continue
			}
			if err := ev.f.want(kUsage, 2); err != nil || !ws.owed[w] {
				if err == nil {
					err = fmt.Errorf("a usage report it was not asked for")
				}
				return 0, 0, g.abort(pr.broke(err))
			}
			cpu += nsDuration(ev.f.vals[0])
			peak += int64(ev.f.vals[1])
			ws.owed[w] = false
			asked--
		case <-ctx.Done():
			return 0, 0, g.abort(fmt.Errorf("process: collecting usage: %w", ctx.Err()))
		}
	}
	return cpu, peak, nil
}

// takeDone takes ev, during a Run that gives every worker one job, as
// worker ev.w's reply to it: kDone (pid, tid), which it adds to ids, and
// notes in replied. A worker that exits, replies twice or with another pid,
// or sends anything else fails the Run: takeDone returns the group's
// failure.
func (ws *workers) takeDone(ev event, replied []bool, ids *model.IDs) error {
	w, p := ev.w, ws.g.procs[ev.w]
	if ev.exited {
		return ws.g.abort(p.fail("died during the run"))
	}
	err := ev.f.want(kDone, 2)
	if err == nil && (replied[w] || ev.f.vals[0] != uint64(p.pid)) {
		err = fmt.Errorf("a second reply, or one from pid %d", ev.f.vals[0])
	}
	if err != nil {
		return ws.g.abort(p.broke(err))
	}
	replied[w] = true
	ids.Add(int(ev.f.vals[0]), int(ev.f.vals[1]))
	return nil
}

// dupFD duplicates f's descriptor, close-on-exec, and returns the new one;
// name says what f is in errors. It leaves f's mode alone: SyscallConn
// rather than Fd, which would switch a pollable file to blocking mode.
func dupFD(f *os.File, name string) (int, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("%s: %w", name, err)
	}
	fd, derr := -1, error(nil)
	if err := sc.Control(func(u uintptr) { fd, derr = unix.FcntlInt(u, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, fmt.Errorf("%s: %w", name, err)
	}
	if derr != nil {
		return -1, fmt.Errorf("duplicating %s: %w", name, derr)
	}
	return fd, nil
}

// dupFile duplicates f's descriptor, close-on-exec, as a file named name.
func dupFile(f *os.File, name string) (*os.File, error) {
	fd, err := dupFD(f, name)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// workerCmd is the command that starts a worker with environment env (see
// workerEnv) and files as fds 3, 4, ...; spawn starts it.
func workerCmd(exe string, env []string, files []*os.File) *exec.Cmd {
	return &exec.Cmd{
		Path: exe,
		// A binary that forgot WorkerMain runs no tests and exits, and Start
		// reports that it was never ready.
		Args:       []string{exe, "-test.run=^$", "-test.bench=^$"},
		Env:        env,
		Stdout:     os.Stderr,
		Stderr:     os.Stderr,
		ExtraFiles: files,
		SysProcAttr: &syscall.SysProcAttr{
			// Its own process group: a terminal's Ctrl-C reaches only the
			// lab, which then shuts the workers down.
			Setpgid: true,
			// Dies with the forker's thread, that is with the lab.
			Pdeathsig: syscall.SIGKILL,
		},
	}
}

// workerEnv is this process's environment plus the worker's role. In a
// binary built with -race, the race runtime sleeps atexit_sleep_ms (1 s by
// default) before exiting so that running goroutines can still report races;
// a worker has none, and the sleep would make every Close wait a second per
// stage of a pipeline (each stage exits when the one before it has). So
// workers get atexit_sleep_ms=0 unless GORACE already sets it. Other builds
// ignore GORACE.
func workerEnv(role string) []string {
	env := os.Environ()
	gorace := os.Getenv("GORACE")
	if !strings.Contains(gorace, "atexit_sleep_ms") {
		env = append(env, "GORACE="+strings.TrimSpace(gorace+" atexit_sleep_ms=0"))
	}
	return append(env, envWorker+"="+role)
}

func (g *group) read(i int, p *proc, ctl *os.File) {
	r := bufio.NewReader(ctl)
	for {
		f, err := readFrame(r)
		if err != nil {
			// EOF, even in mid-frame, is the worker's exit; anything else
			// is garbage on the pipe, and the worker cannot be trusted.
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, os.ErrClosed) {
				p.reason = fmt.Sprintf("bad frame: %v", err)
				g.killed.Store(true)
				p.cmd.Process.Kill()
			}
			break
		}
		if f.kind == kFail {
			p.reason = f.text
			continue
		}
		select {
		case g.events <- event{w: i, f: f}:
		case <-g.quit:
		}
	}
	ctl.Close()
	p.status = p.cmd.Wait()
	p.exitSeq = g.exits.Add(1)
	select {
	case g.events <- event{w: i, exited: true}:
	case <-g.quit:
	}
}

// waitReady waits for every worker's hello.
func (g *group) waitReady(ctx context.Context) error {
	for ready := 0; ready < len(g.procs); {
		select {
		case ev := <-g.events:
			p := g.procs[ev.w]
			if ev.exited {
				e := p.fail("exited before it was ready")
				if e.reason == "" {
					// A worker that gave no reason may only have followed
					// another out (a stage whose neighbour died sees its
					// pipe end): name the one that said why, if it does
					// so at once.
					if cause := g.causeOfExit(); cause != nil {
						return cause
					}
					e.reason = "does the binary call process.WorkerMain first thing in TestMain or main?"
					if e.status == nil {
						e.reason = "exit status 0: " + e.reason
					}
				}
				return e
			}
			err := ev.f.want(kHello, 2)
			if err == nil && ev.f.vals[0] != uint64(p.pid) {
				err = fmt.Errorf("its hello says pid %d", ev.f.vals[0])
			}
			if err != nil {
				return p.broke(err)
			}
			p.ready = true
			ready++
		case <-ctx.Done():
			return g.notReady(ctx.Err())
		}
	}
	return nil
}

// causeGrace is how long waitReady waits, after a worker exits without a
// reason, for another to exit with one.
const causeGrace = 100 * time.Millisecond

// causeOfExit returns the failure of a worker that exits, with its own
// account of why, within causeGrace; nil if none does.
func (g *group) causeOfExit() *workerError {
	timer := time.NewTimer(causeGrace)
	defer timer.Stop()
	for {
		select {
		case ev := <-g.events:
			if p := g.procs[ev.w]; ev.exited && p.reason != "" {
				return p.fail("exited before it was ready")
			}
		case <-timer.C:
			return nil
		}
	}
}

// notReady names the workers that have not said hello when the start's
// context ends: err says whether its deadline passed or it was cancelled.
func (g *group) notReady(err error) error {
	var late []*proc
	for len(g.events) > 0 { // hellos that arrived with the deadline
		if ev := <-g.events; !ev.exited && ev.f.kind == kHello {
			g.procs[ev.w].ready = true
		}
	}
	for _, p := range g.procs {
		if !p.ready {
			late = append(late, p)
		}
	}
	when := "before the start's deadline"
	if !errors.Is(err, context.DeadlineExceeded) {
		when = "when the start was cancelled"
	}
	switch len(late) {
	case 0:
		return fmt.Errorf("process: start: %w", err)
	case 1:
		p := late[0]
		return fmt.Errorf("process: %s (pid %d) did not become ready (no hello) %s: %w", p.name, p.pid, when, err)
	}
	var names []string
	for i, p := range late {
		if i == 8 {
			names = append(names, fmt.Sprintf("and %d more", len(late)-i))
			break
		}
		names = append(names, fmt.Sprintf("%s (pid %d)", p.name, p.pid))
	}
	return fmt.Errorf("process: %d of %d workers did not become ready (no hello) %s: %s: %w", len(late), len(g.procs), when, strings.Join(names, ", "), err)
}

// kill sends SIGKILL to every worker. It is safe to call at any time, from
// any goroutine, and more than once.
func (g *group) kill() {
	g.killed.Store(true)
	for _, p := range g.procs {
		p.cmd.Process.Kill() // fails only if the worker is already reaped
	}
}

// stop kills and reaps every worker.
func (g *group) stop() {
	g.kill()
	g.quitted.Do(func() { close(g.quit) })
	g.readers.Wait()
}

// abort stops every worker, marks the Exec unusable and returns err, which
// any later Run reports as its cause.
func (g *group) abort(err error) error {
	g.stop()
	g.failed = err
	return err
}

// usable reports whether op (a Run, a usage collection) may start.
func (g *group) usable(ctx context.Context, op string) error {
	switch {
	case g.closed:
		return fmt.Errorf("process: %s after Close", op)
	case g.failed != nil:
		return fmt.Errorf("process: %s: an earlier run failed: %w", op, g.failed)
	case ctx.Err() != nil:
		return g.abort(fmt.Errorf("process: %s: %w", op, ctx.Err()))
	}
	return nil
}

// close ends the workers' input pipes so that they exit, kills whatever is
// still running after closeGrace, and reaps everything. It reports a worker
// that exited abnormally on its own, unless a Run has already reported a
// failure.
func (g *group) close() error {
	if g.closed {
		return nil
	}
	g.closed = true
	for _, f := range g.files {
		f.Close()
	}
	g.quitted.Do(func() { close(g.quit) })
	t := time.AfterFunc(closeGrace, g.kill)
	g.readers.Wait()
	t.Stop()
	if g.failed != nil {
		return nil
	}
	for _, p := range g.procs {
		if p.status != nil && !g.killed.Load() {
			return p.fail("exited abnormally at Close")
		}
	}
	return nil
}
