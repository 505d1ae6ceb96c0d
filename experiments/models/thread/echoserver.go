package thread

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"concurrency-lab/experiments/model"
	"concurrency-lab/experiments/workloads/echo"
)

// The echo workload on threads: a TCP server with a thread per connection and
// blocking sockets, as a pthread server or CPython's socketserver builds it.
// Every socket call is a plain system call on a locked OS thread (accept4,
// read, sendto, close through golang.org/x/sys/unix), never Go's net
// package, whose netpoller would park goroutines instead of blocking threads
// and make this the goroutine model.
//
//   - warm (a pre-threaded server): Start creates min(Connections,
//     MaxThreads) threads that each block in accept() on the shared listening
//     socket; the kernel hands every connection to one waiting thread, which
//     serves it to EOF, closes it and accepts again.
//   - cold (socketserver.ThreadingTCPServer): Start creates one acceptor
//     thread; for every connection it accepts, it creates a new thread that
//     serves the connection and ends. At most MaxThreads of them are alive at
//     once: the acceptor waits for one to end before it accepts more.
//
// Either way the threads accept for as long as the Exec is open; every closed
// connection goes on a tally, and Run returns once it has taken Connections
// of them (extra connections belong to the next Run).
//
// With the GIL (thread-gil) a thread holds the emulated GIL while it runs
// its "Python" code (the loop, the bookkeeping, handling the bytes) and
// releases it around every socket call (accept, read, send, close), as
// CPython's socket module does (Py_BEGIN_ALLOW_THREADS); the cold acceptor,
// like threading.Thread.start(), waits with the GIL released until the new
// thread has started (which takes the GIL).
//
// Both variants lend Ps (see lendPs): here every thread of thread-gil blocks
// in system calls too, and a thread in accept or read keeps its P until the
// runtime's monitor takes it back.

// echoBuffer is the most a thread reads at once.
const echoBuffer = 64 << 10

// echoExec is a started echo server.
type echoExec struct {
	name string
	job  echo.Job
	cold bool
	lfd  int // a dup of the caller's listening socket, closed by Close
	pid  int
	gil  *GIL // nil without the GIL

	givePsBack func()

	// warm: the pool, each thread's GIL handle, and how many pool threads
	// reached their first accept (Start waits for all of them).
	ts      *threads
	gs      []*GILThread
	arrived atomic.Int64
	up      chan struct{}

	// cold: the acceptor, the connection threads and the cap on them.
	acceptorDone chan struct{}
	handlers     sync.WaitGroup
	slots        chan struct{} // one token per live connection thread
	stop         chan struct{} // closed by abort
	// The threads that ended, oldest first, from exitHead on not yet
	// seen gone (see prune), under tidMu.
	tidMu    sync.Mutex
	exited   []int
	exitHead int

	// Buffers of echoBuffer bytes, mmapped: a thread's buffer costs memory
	// only for the pages that data was read into, as a C thread's stack
	// buffer does (a Go slice would be zeroed, so touched, when reused).
	// A warm pool maps one region for all its threads' buffers (region);
	// cold connection threads take buffers from a free list.
	region []byte
	bufMu  sync.Mutex
	bufs   [][]byte // free
	nbufs  int      // mapped

	// The connections being served, so that abort can shut them down.
	connMu  sync.Mutex
	conns   map[int]struct{}
	stopped atomic.Bool // set under connMu, once

	// The tally: connections closed and not yet counted by a Run, and the
	// first failure.
	tallyMu sync.Mutex
	served  []connID
	bad     error
	need    int           // how many served connections Run waits for; MaxInt when none
	poke    chan struct{} // capacity 1: need was met, or a failure

	failed    error // a Run failed; only Run reads and writes it
	closeOnce sync.Once
	closeErr  error
}

// connID is who served one connection.
type connID struct{ pid, tid int }

// startEcho starts the echo server on j.Listener: the warm pool, or the cold
// acceptor. It returns once every thread it made is about to accept.
func (m Model) startEcho(ctx context.Context, j echo.Job) (model.Exec, error) {
	name := m.Name()
	if j.Connections < 1 {
		return nil, fmt.Errorf("%s: echo job of %d connections; want ≥ 1", name, j.Connections)
	}
	if j.Listener == nil {
		return nil, fmt.Errorf("%s: echo job without a listening socket", name)
	}
	lfd, err := dupListener(j)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	x := &echoExec{
		name: name, job: j, cold: m.Cold, lfd: lfd, pid: unix.Getpid(),
		givePsBack: func() {},
		conns:      map[int]struct{}{},
		need:       math.MaxInt,
		poke:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if m.GIL {
		x.gil = NewGIL(m.interval())
	}
	n := min(j.Connections, MaxThreads)
	if err := checkTaskRoom(n + 1); err != nil {
		unix.Close(lfd)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if m.Cold {
		err = x.startCold(ctx, n)
	} else {
		err = x.startWarm(ctx, n)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: start: %w", name, err), x.Close())
	}
	return x, nil
}

// dupListener returns a close-on-exec duplicate of j's listening socket, in
// blocking mode.
func dupListener(j echo.Job) (int, error) {
	rc, err := j.Listener.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("listening socket: %w", err)
	}
	lfd := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		lfd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("listening socket: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("dup of the listening socket: %w", dupErr)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(lfd)
		return -1, fmt.Errorf("listening socket: %s: %w", what, err)
	}
	if on, err := unix.GetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
		return fail("SO_ACCEPTCONN", err)
	} else if on == 0 {
		return fail("SO_ACCEPTCONN", errors.New("not listening"))
	}
	// It is given blocking; make sure (the flag is the socket's, shared
	// with the caller's descriptor, and the socket is this cell's alone).
	if err := unix.SetNonblock(lfd, false); err != nil {
		return fail("clearing O_NONBLOCK", err)
	}
	return lfd, nil
}

// startWarm creates the pool of n threads and waits until each is about to
// accept.
func (x *echoExec) startWarm(ctx context.Context, n int) error {
	// As startBase: Ps first, so that the threads' creation does not queue
	// behind the runtime's monitor.
	lent, giveBack := lendPs(n)
	x.givePsBack = giveBack
	ts, err := startThreads(ctx, n, lent, x.gil != nil)
	if err != nil {
		return fmt.Errorf("starting %d threads: %w", n, err)
	}
	x.ts = ts
	if lent >= psForcedGC {
		collectGarbage()
	}
	x.gs = make([]*GILThread, n)
	if x.gil != nil {
		for i := range x.gs {
			x.gs[i] = x.gil.NewThread()
		}
	}
	x.region, err = unix.Mmap(-1, 0, n*echoBuffer, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("mmap of %d buffers of %d bytes: %w", n, echoBuffer, err)
	}
	x.up = make(chan struct{})
	ts.release(x.poolThread)
	select {
	case <-x.up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startCold creates the acceptor thread and waits until it is about to
// accept. n is the most connection threads alive at once.
func (x *echoExec) startCold(ctx context.Context, n int) error {
	lent, giveBack := lendPs(n + 1)
	x.givePsBack = giveBack
	raiseThreadLimit(n + 1 + lent)
	if lent >= psForcedGC {
		collectGarbage()
	}
	x.slots = make(chan struct{}, n)
	x.acceptorDone = make(chan struct{})
	ready := make(chan struct{})
	spawn(func() { x.acceptor(ready) })
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run waits until Connections connections have been served and closed since
// the last Run, and reports the threads that served them.
func (x *echoExec) Run(ctx context.Context) (model.Result, error) {
	if x.failed != nil {
		return model.Result{}, fmt.Errorf("%s: echo: an earlier run failed (%v); close this exec", x.name, x.failed)
	}
	fail := func(err error) (model.Result, error) {
		// The load generator's connections are in an unknown state: the
		// server stops, and the Exec cannot run again.
		x.abort()
		x.failed = err
		return model.Result{}, fmt.Errorf("%s: echo: %w", x.name, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	// The tally pokes Run once it holds what Run waits for, not at every
	// connection.
	want := x.job.Connections
	var ids model.IDs
	var took []connID
	for got := 0; ; {
		x.tallyMu.Lock()
		bad := x.bad
		k := min(want-got, len(x.served))
		took = append(took[:0], x.served[:k]...)
		x.served = x.served[k:]
		if len(x.served) == 0 {
			x.served = nil // let the backing array go
		}
		got += k
		x.need = want - got
		if got == want || bad != nil {
			x.need = math.MaxInt
		}
		x.tallyMu.Unlock()
		if bad != nil {
			return fail(bad)
		}
		for _, c := range took {
			ids.Add(c.pid, c.tid)
		}
		if got == want {
			break
		}
		select {
		case <-x.poke:
		case <-ctx.Done():
			x.tallyMu.Lock()
			x.need = math.MaxInt
			x.tallyMu.Unlock()
			return fail(ctx.Err())
		}
	}
	res := model.Result{Served: want}
	ids.Fill(&res.Usage)
	return res, nil
}

// GIL returns the Exec's GIL, nil without one.
func (x *echoExec) GIL() *GIL { return x.gil }

// Close stops accepting, shuts down the connections still open, and waits
// until every thread the Exec created is gone. It restores GOMAXPROCS.
func (x *echoExec) Close() error {
	x.closeOnce.Do(func() {
		x.abort()
		var errs []error
		if x.ts != nil {
			errs = append(errs, x.ts.close())
		}
		if x.acceptorDone != nil {
			<-x.acceptorDone
			x.handlers.Wait()
			x.tidMu.Lock()
			tids := x.exited[x.exitHead:]
			x.tidMu.Unlock()
			errs = append(errs, waitGone(tids))
		}
		// After the threads: they need Ps to end.
		x.givePsBack()
		x.bufMu.Lock()
		for _, b := range x.bufs {
			if err := unix.Munmap(b); err != nil {
				errs = append(errs, fmt.Errorf("munmap: %w", err))
			}
		}
		if len(x.bufs) != x.nbufs {
			errs = append(errs, fmt.Errorf("%d of %d buffers not returned", x.nbufs-len(x.bufs), x.nbufs))
		}
		x.bufs, x.nbufs = nil, 0
		x.bufMu.Unlock()
		if x.region != nil {
			if err := unix.Munmap(x.region); err != nil {
				errs = append(errs, fmt.Errorf("munmap: %w", err))
			}
			x.region = nil
		}
		if err := unix.Close(x.lfd); err != nil {
			errs = append(errs, fmt.Errorf("closing the dup of the listening socket: %w", err))
		}
		if err := errors.Join(errs...); err != nil {
			x.closeErr = fmt.Errorf("%s: close: %w", x.name, err)
		}
	})
	return x.closeErr
}

// abort stops the server: shutdown(SHUT_RD) of the listening socket wakes
// every thread blocked in accept (Linux returns EINVAL, then and from every
// later accept), and shutdown of every open connection wakes its thread in
// read or send. The caller's descriptor is not closed. Safe to call more than
// once and from any thread.
func (x *echoExec) abort() {
	x.connMu.Lock()
	defer x.connMu.Unlock()
	if x.stopped.Load() {
		return
	}
	x.stopped.Store(true)
	unix.Shutdown(x.lfd, unix.SHUT_RD)
	for fd := range x.conns {
		unix.Shutdown(fd, unix.SHUT_RDWR)
	}
	close(x.stop)
}

// fail records a thread's failure, which fails the Run, and stops the
// server. A failure after the server was stopped is a consequence of the
// stop, not news.
func (x *echoExec) fail(err error) {
	if x.stopped.Load() {
		return
	}
	x.tallyMu.Lock()
	if x.bad == nil {
		x.bad = err
	}
	x.tallyMu.Unlock()
	x.signal()
	x.abort()
}

// tally records a connection served to EOF and closed.
func (x *echoExec) tally(pid, tid int) {
	x.tallyMu.Lock()
	x.served = append(x.served, connID{pid, tid})
	enough := len(x.served) >= x.need
	x.tallyMu.Unlock()
	if enough {
		x.signal()
	}
}

func (x *echoExec) signal() {
	select {
	case x.poke <- struct{}{}:
	default:
	}
}

// register adds an accepted connection to those abort shuts down; false if
// the server is stopping (the caller closes the connection).
func (x *echoExec) register(cfd int) bool {
	x.connMu.Lock()
	defer x.connMu.Unlock()
	if x.stopped.Load() {
		return false
	}
	x.conns[cfd] = struct{}{}
	return true
}

// unregister removes a connection before it is closed, so that abort never
// shuts down a descriptor number that has been reused.
func (x *echoExec) unregister(cfd int) {
	x.connMu.Lock()
	delete(x.conns, cfd)
	x.connMu.Unlock()
}

// takeBuf returns a free buffer, mapping a new one if there is none.
func (x *echoExec) takeBuf() ([]byte, error) {
	x.bufMu.Lock()
	defer x.bufMu.Unlock()
	if n := len(x.bufs); n > 0 {
		b := x.bufs[n-1]
		x.bufs = x.bufs[:n-1]
		return b, nil
	}
	b, err := unix.Mmap(-1, 0, echoBuffer, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap of a %d-byte buffer: %w", echoBuffer, err)
	}
	x.nbufs++
	return b, nil
}

func (x *echoExec) putBuf(b []byte) {
	x.bufMu.Lock()
	x.bufs = append(x.bufs, b)
	x.bufMu.Unlock()
}

// poolThread is the whole life of warm pool thread i: accept, serve to EOF,
// close, again, until the server stops.
func (x *echoExec) poolThread(i int) {
	lo, hi := i*echoBuffer, (i+1)*echoBuffer
	w := &worker{x: x, g: x.gs[i], pid: unix.Getpid(), tid: unix.Gettid(), buf: x.region[lo:hi:hi]}
	announce := func() {
		if x.arrived.Add(1) == int64(len(x.gs)) {
			close(x.up)
		}
	}
	w.g.Acquire()
	for {
		cfd, ok := w.accept(announce)
		announce = nil
		if !ok {
			return // without the GIL
		}
		if !x.register(cfd) {
			w.g.Release()
			unix.Close(cfd)
			return
		}
		if !w.handle(cfd) {
			return // without the GIL
		}
	}
}

// acceptor is the cold server's accepting thread: for every connection it
// starts a thread that serves it, until the server stops.
func (x *echoExec) acceptor(ready chan<- struct{}) {
	defer close(x.acceptorDone)
	w := &worker{x: x, g: x.newGILThread(), pid: unix.Getpid(), tid: unix.Gettid()}
	defer x.exit(w.tid)
	g := w.g
	g.Acquire()
	announce := func() { close(ready) }
	for {
		if !x.takeSlot(g) {
			if announce != nil {
				announce()
			}
			return // without the GIL
		}
		cfd, ok := w.accept(announce)
		announce = nil
		if !ok {
			<-x.slots
			return // without the GIL
		}
		if !x.register(cfd) {
			<-x.slots
			g.Release()
			unix.Close(cfd)
			return
		}
		var started chan struct{}
		if g != nil {
			started = make(chan struct{})
		}
		x.handlers.Add(1)
		spawn(func() { x.handler(cfd, started) })
		if started != nil {
			// threading.Thread.start() waits for the thread to run.
			g.BeginBlocking()
			<-started
			g.EndBlocking()
		}
		x.prune()
	}
}

// takeSlot takes one of the slots for connection threads, waiting (with the
// GIL released) while all are taken; false if the server stops first. On
// false the thread no longer holds the GIL.
func (x *echoExec) takeSlot(g *GILThread) bool {
	select {
	case x.slots <- struct{}{}:
		return true
	default:
	}
	g.BeginBlocking()
	select {
	case x.slots <- struct{}{}:
		g.EndBlocking()
		return true
	case <-x.stop:
		g.abandonBlocking()
		return false
	}
}

// handler is the life of a cold connection thread: serve cfd to EOF, close
// it, end.
func (x *echoExec) handler(cfd int, started chan struct{}) {
	defer x.handlers.Done()
	w := &worker{x: x, g: x.newGILThread(), pid: unix.Getpid(), tid: unix.Gettid()}
	defer x.exit(w.tid)
	defer func() { <-x.slots }()
	w.g.Acquire()
	if started != nil {
		close(started)
	}
	buf, err := x.takeBuf()
	if err != nil {
		x.unregister(cfd)
		unix.Close(cfd)
		w.g.Release()
		x.fail(fmt.Errorf("thread %d: %w", w.tid, err))
		return
	}
	defer x.putBuf(buf)
	w.buf = buf
	if w.handle(cfd) {
		w.g.Release()
	}
}

func (x *echoExec) newGILThread() *GILThread {
	if x.gil == nil {
		return nil
	}
	return x.gil.NewThread()
}

// exit records that the calling thread (cold) is about to end.
func (x *echoExec) exit(tid int) {
	x.tidMu.Lock()
	x.exited = append(x.exited, tid)
	x.tidMu.Unlock()
}

// prune drops from the ended threads the oldest that the kernel has
// removed, two at most per call (the acceptor calls it once per connection,
// so the list stays short). Close must check only threads that may still
// exist: thread IDs are recycled (pid_max can be 32768), and an old ID may
// by then name another live thread of this process.
func (x *echoExec) prune() {
	x.tidMu.Lock()
	defer x.tidMu.Unlock()
	for k := 0; k < 2 && x.exitHead < len(x.exited); k++ {
		if !errors.Is(unix.Tgkill(x.pid, x.exited[x.exitHead], 0), unix.ESRCH) {
			break
		}
		x.exitHead++
	}
	if x.exitHead >= 64 && 2*x.exitHead >= len(x.exited) {
		n := copy(x.exited, x.exited[x.exitHead:])
		x.exited, x.exitHead = x.exited[:n], 0
	}
}

// worker is one serving thread's state.
type worker struct {
	x        *echoExec
	g        *GILThread // nil without the GIL
	pid, tid int
	buf      []byte
}

// accept waits in accept4 on the listening socket, with the GIL released,
// and returns the connection with the GIL held. announce, if not nil, is
// called just before the first accept. ok false: the server stopped or the
// accept failed (reported); the thread no longer holds the GIL and must
// end.
func (w *worker) accept(announce func()) (cfd int, ok bool) {
	w.g.BeginBlocking()
	if announce != nil {
		announce()
	}
	for {
		r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(w.x.lfd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
			w.g.EndBlocking()
			return int(r), true
		case unix.EINTR, unix.ECONNABORTED, unix.EPROTO:
			continue // the next connection
		}
		w.g.abandonBlocking()
		w.x.fail(fmt.Errorf("thread %d: accept: %w", w.tid, errno))
		return -1, false
	}
}

// handle serves the registered connection cfd until the client closes its
// side, closes it and tallies it. It is called and returns true with the
// GIL held; false: the connection failed (reported), the thread no longer
// holds the GIL and must end.
func (w *worker) handle(cfd int) bool {
	x := w.x
	err := w.serve(cfd)
	x.unregister(cfd)
	if err != nil {
		unix.Close(cfd)
		x.fail(fmt.Errorf("thread %d: connection: %w", w.tid, err))
		return false
	}
	w.g.BeginBlocking()
	if err := unix.Close(cfd); err != nil {
		w.g.abandonBlocking()
		x.fail(fmt.Errorf("thread %d: close: %w", w.tid, err))
		return false
	}
	w.g.EndBlocking()
	x.tally(w.pid, w.tid)
	return true
}

// serve echoes cfd until EOF: read what has arrived (up to the buffer), send
// it all back. Called with the GIL held, it returns nil with the GIL held,
// or an error without it.
func (w *worker) serve(cfd int) error {
	for {
		w.g.BeginBlocking()
		n, err := readSome(cfd, w.buf)
		if err != nil {
			w.g.abandonBlocking()
			return fmt.Errorf("read: %w", err)
		}
		w.g.EndBlocking()
		if n == 0 {
			return nil
		}
		for data := w.buf[:n]; len(data) > 0; {
			w.g.BeginBlocking()
			k, err := send(cfd, data)
			if err != nil {
				w.g.abandonBlocking()
				return fmt.Errorf("send: %w", err)
			}
			w.g.EndBlocking()
			data = data[k:]
		}
		w.g.Check()
	}
}

// readSome is read(2) on a blocking socket, restarted after a signal.
func readSome(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// send is send(2) with MSG_NOSIGNAL (a reset peer is EPIPE, not SIGPIPE),
// restarted after a signal. A blocking send returns short only when a signal
// interrupts it after some bytes went out.
func send(fd int, p []byte) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// checkTaskRoom refuses to start n more threads when the kernel would not
// let the system have them: the tasks alive (every process's threads, from
// /proc/loadavg) plus n plus threadHeadroom must stay below pid_max (thread
// IDs are PIDs; the kernel reserves the first 300 after a wrap) and
// threads-max. The Go runtime cannot survive a failed thread creation (clone
// fails with EAGAIN: "fatal error: newosproc" ends the whole process), so a
// job that cannot fit is refused here with an error instead. Other processes
// may start threads after this check; it is a guard, not a reservation.
// Where /proc is unreadable it lets everything through.
func checkTaskRoom(n int) error {
	readInt := func(path string) int {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return v
	}
	pidMax, threadsMax := readInt("/proc/sys/kernel/pid_max"), readInt("/proc/sys/kernel/threads-max")
	b, err := os.ReadFile("/proc/loadavg") // "0.00 0.01 0.05 1/123 4567": running/total tasks
	if err != nil || pidMax <= 0 || threadsMax <= 0 {
		return nil
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return nil
	}
	_, total, ok := strings.Cut(f[3], "/")
	alive, err := strconv.Atoi(total)
	if !ok || err != nil {
		return nil
	}
	limit := min(pidMax-300, threadsMax)
	if alive+n+threadHeadroom > limit {
		return fmt.Errorf("%d threads wanted with %d tasks already alive on the system: over the kernel's limit of %d (pid_max %d, threads-max %d)", n, alive, limit, pidMax, threadsMax)
	}
	return nil
}
