package process

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/echo"
)

var (
	_ model.UsageCollector = (*echoPool)(nil)
	_ model.UsageCollector = (*forked)(nil)
)

var errNoListener = errors.New("process: echo: the job has no listening socket (Job.Listener is nil)")

// dupListener duplicates the caller's listening socket, close-on-exec, so
// that the model can hand it on or close it without touching the caller's
// descriptor. Both share one open socket (and its O_NONBLOCK flag).
func dupListener(ln *os.File) (int, error) {
	if ln == nil {
		return -1, errNoListener
	}
	fd, err := dupFD(ln, "the listening socket")
	if err != nil {
		return -1, fmt.Errorf("process: echo: %w", err)
	}
	return fd, nil
}

// echoPool is a warm echo server: a pre-forked pool of min(Connections,
// MaxWorkers) worker processes, each blocking in accept on the one listening
// socket, each serving the connection the kernel hands it to its end, then
// accepting again (serveEcho). Workers accept for as long as they live; the
// parent counts the connections they report served, and a Run ends when
// Connections more have been served since it began. A connection served
// between Runs (none is, when the load generator makes exactly Connections
// per Run) counts for the next Run.
type echoPool struct {
	workers         // cmds: parent → worker i, kAsk only; closing them ends the workers
	conns   int     // connections per Run
	early   []event // served reports that arrived during CollectUsage, for the next Run
}

// startEchoPool starts the pool's workers, each given its own descriptor of
// the listening socket as fd 5.
func startEchoPool(ctx context.Context, exe string, j echo.Job) (*echoPool, error) {
	if j.Listener == nil {
		return nil, errNoListener
	}
	g, reqs, _, err := startRole(ctx, exe, roleStart{
		role: roleEcho,
		n:    min(j.Connections, MaxWorkers),
		extra: func(int) ([]*os.File, error) {
			lfd, err := dupListener(j.Listener)
			if err != nil {
				return nil, err
			}
			return []*os.File{os.NewFile(uintptr(lfd), "echo listener")}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	return &echoPool{workers: newWorkers(g, reqs), conns: j.Connections}, nil
}

// Run waits until the workers have served Connections connections since it
// began, and records the pid and tid that served each. A worker that fails
// (a connection reset by its client, say: the worker gives up and exits)
// fails the Run, and the end of ctx ends it; either way every worker is
// killed, which closes the connections they held, and the Exec is no longer
// usable. It reads no usage: CollectUsage does, after the Run.
func (p *echoPool) Run(ctx context.Context) (model.Result, error) {
	if err := p.g.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	var ids model.IDs
	served := 0
	take := func(ev event) error {
		w, pr := ev.w, p.g.procs[ev.w]
		if ev.exited {
			what := "died"
			if pr.reason != "" {
				what = "gave up"
			}
			return p.g.abort(pr.fail(what))
		}
		if err := ev.f.want(kServed, 2); err != nil {
			return p.g.abort(pr.broke(err))
		}
		ids.Add(int(ev.f.vals[0]), int(ev.f.vals[1]))
		p.owed[w] = true
		served++
		return nil
	}
	for served < p.conns && len(p.early) > 0 {
		ev := p.early[0]
		p.early = p.early[1:]
		if err := take(ev); err != nil {
			return model.Result{}, err
		}
	}
	for served < p.conns {
		select {
		case ev := <-p.g.events:
			if err := take(ev); err != nil {
				return model.Result{}, err
			}
		case <-ctx.Done():
			return model.Result{}, p.g.abort(fmt.Errorf("process: echo run: %d of %d connections served: %w", served, p.conns, ctx.Err()))
		}
	}
	res := model.Result{Served: served}
	ids.Fill(&res.Usage)
	return res, nil
}

// CollectUsage asks every worker that has served a connection since the last
// collection for its usage, as the pool's CollectUsage does: the CPU time
// from its first connection after the previous collection to the ask, and
// its peak RSS since the previous collection, summed over those workers.
func (p *echoPool) CollectUsage(ctx context.Context) (time.Duration, int64, error) {
	return p.collectUsage(ctx, func(ev event) bool {
		if ev.f.kind != kServed {
			return false
		}
		p.early = append(p.early, ev) // a connection outside any Run: the next one's
		return true
	})
}

// Close closes the workers' request pipes, which ends them wherever their
// serving threads are (in accept, most likely), and reaps them. The caller's
// listening socket stays open and listening: each worker closed only its own
// descriptor of it.
func (p *echoPool) Close() error { return p.g.close() }

// forked is a cold echo server, the equivalent of Python's
// socketserver.ForkingTCPServer: an acceptor in this process accepts each
// connection and starts a worker process for it alone, passing it the
// accepted socket (serveConn); the worker serves it to its end and exits, and
// the parent reaps it. At most MaxWorkers such workers live at once; the
// acceptor waits for one to exit before it accepts more (ForkingTCPServer
// caps its children too, at 40 by default).
//
// A worker is this binary re-executed, as every worker of this model is: Go
// cannot fork without exec. So each connection pays an exec and a Go
// runtime's start-up, not just a fork as ForkingTCPServer's children do.
//
// The acceptor is a goroutine waiting in poll on the listening socket and an
// eventfd, then accepting, as socketserver's serve_forever waits in a
// selector; Close wakes it through the eventfd. It must not shut the
// listening socket down to wake it: the caller may start another server on
// the same socket (measure gives a cold cell's executions one socket per
// sample), and shutting a listening socket down on Linux also gives up its
// ephemeral port.
type forked struct {
	exe     string
	env     []string
	conns   int // connections per Run
	lfd     int // our duplicate of the listening socket
	wake    int // eventfd: written once to stop the acceptor
	reports chan connReport
	stop    chan struct{} // closed to stop the acceptor
	quit    chan struct{} // closed when nobody reads reports any more
	slots   chan struct{} // one token per live worker
	done    chan struct{} // closed when the acceptor has returned
	stopped sync.Once
	quitted sync.Once
	readers sync.WaitGroup // one per worker: reads its report, reaps it

	mu   sync.Mutex
	live map[int]*exec.Cmd // running workers, by pid

	// Only Run, CollectUsage and Close touch these.
	cpu    time.Duration // the reaped workers' CPU since the last collection
	peak   int64         // the sum of their peak RSS
	failed error
	closed bool
}

// connReport is what the parent learns of one connection's worker once it
// has reaped it, or an error of the acceptor.
type connReport struct {
	pid, tid int
	cpu      time.Duration // the kernel's count, from its start to its exit
	peak     int64         // its peak RSS, as it reported it
	err      error
}

func startForked(ctx context.Context, exe string, j echo.Job) (*forked, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("process: start: %w", err)
	}
	lfd, err := dupListener(j.Listener)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(lfd)
		return nil, fmt.Errorf("process: echo: eventfd: %w", err)
	}
	f := &forked{
		exe:     exe,
		env:     workerEnv(roleConn),
		conns:   j.Connections,
		lfd:     lfd,
		wake:    wake,
		reports: make(chan connReport, min(j.Connections, MaxWorkers)+1),
		stop:    make(chan struct{}),
		quit:    make(chan struct{}),
		slots:   make(chan struct{}, MaxWorkers),
		done:    make(chan struct{}),
		live:    map[int]*exec.Cmd{},
	}
	go f.accept()
	return f, nil
}

// report hands r to Run, unless nobody will read it.
func (f *forked) report(r connReport) {
	select {
	case f.reports <- r:
	case <-f.quit:
	}
}

// accept is the acceptor: it accepts connections and starts a worker for
// each, until it is stopped or fails (then it reports why).
func (f *forked) accept() {
	defer close(f.done)
	fds := []unix.PollFd{{Fd: int32(f.lfd), Events: unix.POLLIN}, {Fd: int32(f.wake), Events: unix.POLLIN}}
	for n := 0; ; n++ {
		select {
		case f.slots <- struct{}{}:
		case <-f.stop:
			return
		}
		cfd, err := f.next(fds)
		if err == nil && cfd >= 0 {
			err = f.fork(n, cfd)
		}
		if err != nil || cfd < 0 {
			<-f.slots
			if err != nil {
				f.report(connReport{err: err})
			}
			return
		}
	}
}

// next waits for the next connection and accepts it; it returns -1 and no
// error when woken to stop.
func (f *forked) next(fds []unix.PollFd) (int, error) {
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return -1, fmt.Errorf("process: echo acceptor: poll: %w", err)
		}
		if fds[1].Revents != 0 {
			return -1, nil
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			return -1, fmt.Errorf("process: echo acceptor: the listening socket failed (poll events %#x)", fds[0].Revents)
		}
		fd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(f.lfd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
			return int(fd), nil
		case unix.EINTR, unix.ECONNABORTED, unix.EAGAIN: // EAGAIN: a non-blocking socket, and nothing after all
			continue
		}
		return -1, fmt.Errorf("process: echo acceptor: accept: %w", errno)
	}
}

// fork starts worker n for the accepted connection cfd, which it closes in
// this process.
func (f *forked) fork(n, cfd int) error {
	conn := os.NewFile(uintptr(cfd), "echo connection")
	repR, repW, err := os.Pipe()
	if err != nil {
		conn.Close()
		return fmt.Errorf("process: connection worker %d: %w", n, err)
	}
	cmd := workerCmd(f.exe, f.env, []*os.File{conn, repW})
	err = spawn(cmd)
	conn.Close()
	repW.Close()
	if err != nil {
		repR.Close()
		return fmt.Errorf("process: starting connection worker %d: %w", n, err)
	}
	f.mu.Lock()
	f.live[cmd.Process.Pid] = cmd
	f.mu.Unlock()
	f.readers.Go(func() { f.reap(fmt.Sprintf("connection worker %d", n), cmd, repR) })
	return nil
}

// reap reads a worker's report, reaps it and hands the outcome to Run.
func (f *forked) reap(name string, cmd *exec.Cmd, ctl *os.File) {
	pid := cmd.Process.Pid
	r := bufio.NewReader(ctl)
	var rep connReport
	var reason string
	got := false
	for {
		fr, err := readFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, os.ErrClosed) {
				reason = fmt.Sprintf("bad frame: %v", err)
				cmd.Process.Kill()
			}
			break
		}
		switch {
		case fr.kind == kFail:
			reason = fr.text
		case !got && fr.want(kServed, 3) == nil:
			got = true
			rep.pid, rep.tid, rep.peak = int(fr.vals[0]), int(fr.vals[1]), int64(fr.vals[2])
		default:
			reason = fmt.Sprintf("broke the protocol: an unexpected frame %v with %d values", fr.kind, len(fr.vals))
			cmd.Process.Kill()
		}
	}
	ctl.Close()
	status := cmd.Wait()
	f.mu.Lock()
	delete(f.live, pid)
	f.mu.Unlock()
	<-f.slots
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			rep.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	switch {
	case status != nil || reason != "":
		rep.err = &workerError{name: name, pid: pid, what: "failed to serve its connection", status: status, reason: reason}
	case !got:
		rep.err = &workerError{name: name, pid: pid, what: "exited without reporting its connection served"}
	}
	f.report(rep)
}

// Run waits until Connections connections have been served since it began
// (each worker is reaped before it counts), and records the pid and tid that
// served each. A worker that fails (a connection reset by its client, say)
// fails the Run, and so does the end of ctx; either way the acceptor is
// stopped and every worker killed, and the Exec is no longer usable. The
// workers' CPU time and peak RSS are CollectUsage's to report.
func (f *forked) Run(ctx context.Context) (model.Result, error) {
	if err := f.usable(ctx, "run"); err != nil {
		return model.Result{}, err
	}
	var ids model.IDs
	served := 0
	for served < f.conns {
		select {
		case r := <-f.reports:
			if r.err != nil {
				return model.Result{}, f.abort(r.err)
			}
			ids.Add(r.pid, r.tid)
			f.cpu += r.cpu
			f.peak += r.peak
			served++
		case <-ctx.Done():
			return model.Result{}, f.abort(fmt.Errorf("process: echo run: %d of %d connections served: %w", served, f.conns, ctx.Err()))
		}
	}
	res := model.Result{Served: served}
	ids.Fill(&res.Usage)
	return res, nil
}

// CollectUsage returns the CPU time (the kernel's count, start-up and exit
// included, read when each was reaped) and the sum of the peak RSS of the
// workers the Runs since the last collection reaped. It asks no process
// anything: those workers are gone.
func (f *forked) CollectUsage(ctx context.Context) (time.Duration, int64, error) {
	if err := f.usable(ctx, "collecting usage"); err != nil {
		return 0, 0, err
	}
	cpu, peak := f.cpu, f.peak
	f.cpu, f.peak = 0, 0
	return cpu, peak, nil
}

func (f *forked) usable(ctx context.Context, op string) error {
	switch {
	case f.closed:
		return fmt.Errorf("process: %s after Close", op)
	case f.failed != nil:
		return fmt.Errorf("process: %s: an earlier run failed: %w", op, f.failed)
	case ctx.Err() != nil:
		return f.abort(fmt.Errorf("process: %s: %w", op, ctx.Err()))
	}
	return nil
}

// shutdown stops the acceptor, kills every worker still running and reaps
// them all.
func (f *forked) shutdown() {
	f.quitted.Do(func() { close(f.quit) })
	f.stopped.Do(func() {
		close(f.stop)
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(f.wake, one[:])
	})
	<-f.done
	// The acceptor has returned: no worker can start any more.
	f.mu.Lock()
	for _, cmd := range f.live {
		cmd.Process.Kill()
	}
	f.mu.Unlock()
	f.readers.Wait()
}

func (f *forked) abort(err error) error {
	f.shutdown()
	f.failed = err
	return err
}

// Close stops the acceptor, kills any worker still serving (after a good Run
// there is none: Run counts a connection only once its worker is reaped) and
// reaps them. The caller's listening socket stays open and listening.
func (f *forked) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.shutdown()
	unix.Close(f.lfd)
	unix.Close(f.wake)
	return nil
}
