#!/usr/bin/env python3
"""CPython driver of the concurrency lab (see ../protocol.go for the protocol).

    python3 driver.py workload=<w> model=<m> start=<warm|cold> [key=value ...]
    python3 driver.py --identity

It runs the article's workloads with the article's tools -- multiprocessing,
threading, asyncio (or uvloop) -- and answers "run" on stdin with one
"result key=value ..." line on stdout. Standard library only (uvloop when
event_loop=uvloop).

Layout: the units of work (the functions a worker, thread or task runs) come
first, at the top level of the module, because start_method=spawn and
forkserver re-import this module in every worker process and look them up by
name; then the three models (thread, loop, process), each cold and warm, with
the interleave workload's repeats (RepeatModel) and the blocking workload's
executor (BlockingLoopModel) on top of them; then the echo workload's servers (Echo*Model: socketserver, accept() pools,
asyncio streams; see its section); then argument parsing and the command
loop, under `if __name__ == "__main__"`.
The module imports only what a process worker needs: spawned workers pay for
every top-level import (asyncio and uvloop are imported for model=loop only).
"""

import errno
import os
import sys
import time
import threading
import queue
import resource
import selectors
import socket
import struct
import zlib
import multiprocessing
import multiprocessing.connection

asyncio = None  # imported by model=loop only (see the module's docstring)

_mono = time.monotonic_ns  # CLOCK_MONOTONIC on Linux, like the protocol's clock


# --------------------------------------------------------------------------
# Measurement helpers


def _cpu_ns(who=resource.RUSAGE_SELF):
    """user+system CPU time of `who`, ns (getrusage has µs resolution)."""
    ru = resource.getrusage(who)
    return (round(ru.ru_utime * 1e6) + round(ru.ru_stime * 1e6)) * 1000


def _hwm_bytes():
    """This process's peak resident set (VmHWM), in bytes.

    VmHWM rather than getrusage's ru_maxrss: the kernel carries ru_maxrss
    across execve (a process exec'd from a vfork, as Go's os/exec and
    multiprocessing's spawn do, reports its parent's peak); VmHWM is the
    peak of this process's own memory. ru_maxrss is the fallback off Linux.
    """
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_hwm():
    """Reset this process's VmHWM to its current RSS (Linux, clear_refs 5),
    so that a run's peak is the run's, not the driver's start-up's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _oneline(text):
    return " ".join(str(text).split()) or "unknown error"


def _errmsg(exc):
    return _oneline("%s: %s" % (type(exc).__name__, exc))


class DriverError(Exception):
    """An error to report as "error <message>" (then exit 1)."""


# --------------------------------------------------------------------------
# Units of work. Each records the process and OS thread that ran it
# (os.getpid(), threading.get_native_id() = gettid) and returns
# (pid, tid, ...). The sync ones serve model=thread and model=process, the
# async ones model=loop.


def count_primes(lo, hi):
    """The article's trial division, with locals (as in the article's
    functions): every j in [2, i), stop at the first divisor."""
    primes = 0
    for i in range(lo, hi + 1):
        for j in range(2, i):
            if i % j == 0:
                break
        else:
            primes += 1
    return primes


def unit_primes(lo, hi):
    pid, tid = os.getpid(), threading.get_native_id()
    return pid, tid, count_primes(lo, hi)


def unit_sleep(w, c, m, d):
    """Worker w of c: the tasks t = w, w+c, ... < m, one after another, each
    waiting d seconds; returns the START and END of every wait, read just
    before and just after it."""
    pid, tid = os.getpid(), threading.get_native_id()
    n = len(range(w, m, c))
    starts = [0] * n
    ends = [0] * n
    mono, sleep = _mono, time.sleep
    for j in range(n):
        starts[j] = mono()
        sleep(d)
        ends[j] = mono()
    return pid, tid, starts, ends


async def aunit_primes(lo, hi):
    # CPU-bound code in a coroutine runs to its end without yielding: the
    # event loop runs the ranges one after another, as in the article.
    return unit_primes(lo, hi)


async def aunit_sleep(w, c, m, d):
    pid, tid = os.getpid(), threading.get_native_id()
    n = len(range(w, m, c))
    starts = [0] * n
    ends = [0] * n
    mono, sleep = _mono, asyncio.sleep
    for j in range(n):
        starts[j] = mono()
        await sleep(d)
        ends[j] = mono()
    return pid, tid, starts, ends


# Pipeline payloads. Payload k's byte i is (7i + k) mod 256. As 7 * 183 = 1
# (mod 256), 7i + s = 7(i + 183s) (mod 256): a payload shifted by s is the
# slice [o, o+B) of the pattern (7j) mod 256, j = 0, 1, ..., with
# o = 183s mod 256. Sources copy their payloads out of one pattern (memcpy
# speed) and sinks compare against it in place (bytes.startswith: memcmp,
# exact, no copy; 20 µs a MiB here, where zlib.crc32 takes 200 µs).

_INV7 = 183
_PLUS1 = bytes(range(1, 256)) + b"\x00"  # a stage: bytes.translate, C speed
_PATTERNS = {}


def _pattern(nbytes):
    """(7j) mod 256 for j in [0, nbytes + 256), cached (a forked worker
    inherits the driver's; a spawned one builds its own, once)."""
    pat = _PATTERNS.get(nbytes)
    if pat is None:
        pat = bytes((7 * j) & 255 for j in range(256)) * (nbytes // 256 + 2)
        _PATTERNS[nbytes] = pat
    return pat


def _bad_payload(k, p, b):
    return ValueError("pipeline sink: payload %d (%d bytes, want %d) is wrong" % (k, len(p), b))


# model=thread: queue.Queue(maxsize=16) between threads, payloads by reference.


def unit_source_q(q, m, b):
    pid, tid = os.getpid(), threading.get_native_id()
    pat, put = _pattern(b), q.put
    for k in range(m):
        o = (_INV7 * k) & 255
        put(pat[o:o + b])  # a new bytes object per payload: one copy
    return pid, tid, 0


def unit_stage_q(qin, qout, m):
    pid, tid = os.getpid(), threading.get_native_id()
    get, put, table = qin.get, qout.put, _PLUS1
    for _ in range(m):
        put(get().translate(table))
    return pid, tid, 0


def unit_sink_q(q, m, b, s):
    pid, tid = os.getpid(), threading.get_native_id()
    pat, get = _pattern(b), q.get
    received = 0
    for k in range(m):
        p = get()
        if len(p) != b or not pat.startswith(p, (_INV7 * (k + s)) & 255):
            raise _bad_payload(k, p, b)
        received += 1
    return pid, tid, received


# model=loop: asyncio.Queue(maxsize=16) between tasks of one event loop.


async def aunit_source(q, m, b):
    pid, tid = os.getpid(), threading.get_native_id()
    pat, put = _pattern(b), q.put
    for k in range(m):
        o = (_INV7 * k) & 255
        await put(pat[o:o + b])
    return pid, tid, 0


async def aunit_stage(qin, qout, m):
    pid, tid = os.getpid(), threading.get_native_id()
    get, put, table = qin.get, qout.put, _PLUS1
    for _ in range(m):
        await put((await get()).translate(table))
    return pid, tid, 0


async def aunit_sink(q, m, b, s):
    pid, tid = os.getpid(), threading.get_native_id()
    pat, get = _pattern(b), q.get
    received = 0
    for k in range(m):
        p = await get()
        if len(p) != b or not pat.startswith(p, (_INV7 * (k + s)) & 255):
            raise _bad_payload(k, p, b)
        received += 1
    return pid, tid, received


# model=process: multiprocessing Pipes (Connection.send_bytes/recv_bytes).


def unit_source_c(conn, m, b):
    pid, tid = os.getpid(), threading.get_native_id()
    pat, send = _pattern(b), conn.send_bytes
    for k in range(m):
        # send_bytes(buf, offset, size) writes the slice straight from the
        # pattern: the write into the pipe is this source's one copy, as
        # the slice is the thread and loop sources' one copy.
        send(pat, (_INV7 * k) & 255, b)
    return pid, tid, 0


def unit_stage_c(cin, cout, m):
    pid, tid = os.getpid(), threading.get_native_id()
    recv, send, table = cin.recv_bytes, cout.send_bytes, _PLUS1
    for _ in range(m):
        send(recv().translate(table))
    return pid, tid, 0


def unit_sink_c(cin, m, b, s):
    pid, tid = os.getpid(), threading.get_native_id()
    pat, recv = _pattern(b), cin.recv_bytes
    received = 0
    for k in range(m):
        p = recv()
        if len(p) != b or not pat.startswith(p, (_INV7 * (k + s)) & 255):
            raise _bad_payload(k, p, b)
        received += 1
    return pid, tid, received


# --------------------------------------------------------------------------
# The workloads of the article's other lessons: interleave, blocking, spawn,
# hold, convoy.


def _pi(n):
    """The number of primes in [2, n] by a sieve: what the trial division of
    an interleave pause or a convoy chunk must count, found another way."""
    if n < 2:
        return 0
    sieve = bytearray([1]) * (n + 1)
    sieve[0] = sieve[1] = 0
    for i in range(2, int(n ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytes(len(range(i * i, n + 1, i)))
    return sum(sieve)


def _bad_count(what, got, n, want):
    return ValueError("%s counted %d primes in [2, %d]; want %d" % (what, got, n, want))


# interleave: the article's two-task program. Task t emits its events 0, 1,
# ... in order, pausing between two (a sleep, or a count of primes); an event
# is a (task, seq) record appended to one shared log, whose order is the
# measurement. Threads append under a lock (print's lock, in the article),
# tasks of one loop need none, processes write 4-byte records to one pipe
# (writes of at most PIPE_BUF bytes are atomic: records never mix).

_REC = struct.Struct("<HH")  # (task, seq) of a process's event


def count_checked(what, n, pi):
    """Count the primes in [2, n] with the article's loop and check the
    count: an interleave pause of between = "compute", a convoy chunk."""
    got = count_primes(2, n)
    if got != pi:
        raise _bad_count(what, got, n, pi)


def unit_interleave(lock, log, t, events, between, gap, n, pi):
    for seq in range(events):
        if seq:
            if between == "wait":
                time.sleep(gap)
            else:
                count_checked("interleave: a pause", n, pi)
        with lock:
            log.append((t, seq))
    return os.getpid(), threading.get_native_id()


async def aunit_interleave(log, t, events, between, gap, n, pi):
    for seq in range(events):
        if seq:
            if between == "wait":
                await asyncio.sleep(gap)
            else:
                count_checked("interleave: a pause", n, pi)  # no await: nothing else runs
        log.append((t, seq))
    return os.getpid(), threading.get_native_id()


def unit_interleave_p(logc, t, events, between, gap, n, pi):
    fd, pack, write = logc.fileno(), _REC.pack, os.write
    for seq in range(events):
        if seq:
            if between == "wait":
                time.sleep(gap)
            else:
                count_checked("interleave: a pause", n, pi)
        write(fd, pack(t, seq))
    return os.getpid(), threading.get_native_id()


# blocking (model=loop only): a task makes a blocking call, on the loop's
# thread (executor None: the article's mistake) or handed to a thread pool
# (run_in_executor), then waits asynchronously.


def unit_block(d):
    """The blocking call as a pool thread runs it: who ran it, then the call."""
    pid, tid = os.getpid(), threading.get_native_id()
    time.sleep(d)
    return pid, tid


async def aunit_blocking(executor, block, wait):
    pid, tid = os.getpid(), threading.get_native_id()
    if executor is None:
        time.sleep(block)  # blocks the loop: no other task runs meanwhile
        ran = None
    else:
        ran = await asyncio.get_running_loop().run_in_executor(executor, unit_block, block)
    await asyncio.sleep(wait)
    return pid, tid, ran


# spawn: a worker that does nothing but say who it is.


def unit_spawn():
    return os.getpid(), threading.get_native_id()


async def aunit_spawn():
    return unit_spawn()


# hold: worker w's result is the little-endian word ((w+1) * 0x9E3779B97F4A7C15)
# mod 2**64 repeated to nbytes (the last copy cut short); consuming it is its
# CRC-32 (zlib's: IEEE), the result dropped. With results=one-at-a-time (the
# article's fix) a worker returns only its index w, and the consumer makes
# result w itself as each index arrives (consume_hold_one), digests it and
# drops it before it takes the next.

_U64 = (1 << 64) - 1


def hold_result(w, nbytes):
    """Worker w's result: a new bytes object, every byte written."""
    word = struct.pack("<Q", ((w + 1) * 0x9E3779B97F4A7C15) & _U64)
    if nbytes % 8:
        return (word * (nbytes // 8 + 1))[:nbytes]
    return word * (nbytes // 8)


def unit_hold(w, nbytes):
    return os.getpid(), threading.get_native_id(), hold_result(w, nbytes)


async def aunit_hold(w, nbytes):
    return unit_hold(w, nbytes)


def unit_hold_index(w, nbytes):
    """one-at-a-time: what the result is made from, its index, only."""
    return os.getpid(), threading.get_native_id(), w


async def aunit_hold_index(w, nbytes):
    return unit_hold_index(w, nbytes)


def consume_hold(out):
    """(pid, tid, result) -> (pid, tid, digest): the result is dropped."""
    return out[0], out[1], zlib.crc32(out[2])


def consume_hold_one(nbytes):
    """one-at-a-time's consumer: (pid, tid, w) -> (pid, tid, digest), result
    w made here, by the consumer, and dropped before the next."""
    def consume(out):
        return out[0], out[1], zlib.crc32(hold_result(out[2], nbytes))
    return consume


# convoy: one I/O worker (the last unit) makes ops blocking waits of io
# seconds, each timed from before the call until it runs again, beside CPU
# workers that count the primes in [2, n] chunk after chunk. stop is a
# one-element counter the I/O worker increments when done: a CPU worker stops
# after the chunk during which it changed from what it read at its start (a
# counter, not a flag, so that a warm pool needs no reset between runs);
# begun is a semaphore each CPU worker releases as it begins its first
# chunk, which the I/O worker takes once per CPU worker before its first
# wait. On one loop, the I/O task is created after the CPU tasks (each has
# run a chunk when it starts) and a CPU task yields after every chunk.


def unit_convoy_io(stop, begun, cpus, ops, io):
    pid, tid = os.getpid(), threading.get_native_id()
    for _ in range(cpus):
        begun.acquire()
    lats = [0] * ops
    mono, sleep = _mono, time.sleep
    t0 = s = mono()
    for k in range(ops):
        sleep(io)
        e = mono()  # once this thread runs again (under a GIL: holds it)
        lats[k] = e - s
        s = e
    stop[0] += 1
    return pid, tid, lats, t0, s


def unit_convoy_cpu(stop, begun, n, pi):
    pid, tid = os.getpid(), threading.get_native_id()
    gen = stop[0]
    begun.release()
    chunks = 0
    while True:
        count_checked("convoy: a chunk", n, pi)
        chunks += 1
        if stop[0] != gen:
            return pid, tid, chunks


async def aunit_convoy_io(stop, begun, cpus, ops, io):
    pid, tid = os.getpid(), threading.get_native_id()
    lats = [0] * ops
    mono, sleep = _mono, asyncio.sleep
    t0 = s = mono()
    for k in range(ops):
        await sleep(io)
        e = mono()
        lats[k] = e - s
        s = e
    stop[0] += 1
    return pid, tid, lats, t0, s


async def aunit_convoy_cpu(stop, begun, n, pi):
    pid, tid = os.getpid(), threading.get_native_id()
    gen = stop[0]
    chunks = 0
    while True:
        count_checked("convoy: a chunk", n, pi)
        chunks += 1
        if stop[0] != gen:
            return pid, tid, chunks
        await asyncio.sleep(0)


# --------------------------------------------------------------------------
# Process workers' main functions (top level: spawn and forkserver pickle
# them by name).


def _close_fds(fds):
    # With start_method=fork a worker inherits every descriptor the driver
    # holds when it forks: the command pipes of the workers started before
    # it, the pipeline's other pipes. A copy of another worker's command pipe
    # would keep that worker from seeing EOF when the driver dies, a copy of
    # a pipeline pipe would hide a dead neighbour: close them. (spawn and
    # forkserver workers inherit only what they are passed.)
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _proc_once(close_fds, res, fn, args):
    """A cold worker: run one unit, reply, exit."""
    _close_fds(close_fds)
    try:
        try:
            out = fn(*args)
        except Exception as e:
            res.send(("err", _errmsg(e)))
            return
        # Own CPU (used with forkserver only, whose workers are not our
        # children) and own peak RSS, read after the work.
        res.send(("ok", out, _cpu_ns(), _hwm_bytes()))
    except (OSError, EOFError):
        pass  # the driver is gone


def _proc_serve(close_fds, cmd, res, fn, static):
    """A warm worker: say hello, then run the unit for every job on `cmd`;
    exit at EOF (the driver closed it, or died) or None."""
    _close_fds(close_fds)
    try:
        res.send(("hello", os.getpid()))
        while True:
            try:
                job = cmd.recv()
            except EOFError:
                return
            if job is None:
                return
            if job == "stats":  # asked for after the timed region
                res.send(_hwm_bytes())
                continue
            c0 = _cpu_ns()  # ~0.5 µs, inside the region
            try:
                out = fn(*static, *job)
            except Exception as e:
                res.send(("err", _errmsg(e)))
                continue
            res.send(("ok", out, _cpu_ns() - c0))
    except (OSError, EOFError):
        return  # the driver is gone


# --------------------------------------------------------------------------
# Thread workers' main functions.


def _thread_once(i, fn, args, res):
    try:
        res.put((i, True, fn(*args)))
    except BaseException as e:
        res.put((i, False, _errmsg(e)))


def _thread_serve(i, fn, static, cmd, res):
    res.put((i, True, None))  # hello
    get = cmd.get
    while True:
        job = get()
        if job is None:
            return
        try:
            res.put((i, True, fn(*static, *job)))
        except BaseException as e:
            res.put((i, False, _errmsg(e)))


def _thread_collect(res, n, consume=None):
    """Every worker's output, each passed through consume (if any) as it
    arrives."""
    out = [None] * n
    for _ in range(n):
        i, ok, val = res.get()
        if not ok:
            raise DriverError("worker %d: %s" % (i, val))
        out[i] = val if consume is None else consume(val)
    return out


# --------------------------------------------------------------------------
# The plan: the units of one workload, and what their results mean.


class Plan:
    def __init__(self, cfg):
        self.workload = w = cfg["workload"]
        # consume: applied to each unit's output as it arrives (hold's
        # release and one-at-a-time); finish: to all the outputs once every
        # unit is done, still inside the timed region (hold's hold).
        self.consume = self.finish = None
        if w == "primes":
            self.args = list(cfg["ranges"])
            self.fn = {"thread": [unit_primes] * len(self.args),
                       "process": [unit_primes] * len(self.args),
                       "loop": [aunit_primes] * len(self.args)}
        elif w == "echo":
            # The echo models (Echo*Model) serve connections, not units.
            self.connections = cfg["connections"]
            self.args, self.fn = [], {}
        elif w == "sleep":
            m, c, d = cfg["tasks"], cfg["concurrency"], cfg["sleep_ns"] / 1e9
            self.m, self.c = m, c
            self.args = [(i, c, m, d) for i in range(c)]
            self.fn = {"thread": [unit_sleep] * c, "process": [unit_sleep] * c,
                       "loop": [aunit_sleep] * c}
        elif w == "interleave":
            t, e = cfg["tasks"], cfg["events"]
            self.tasks, self.events, self.repeats = t, e, cfg["repeats"]
            pi = _pi(cfg["compute_n"])
            self.args = [(i, e, cfg["between"], cfg["gap_ns"] / 1e9, cfg["compute_n"], pi) for i in range(t)]
            self.fn = {"thread": [unit_interleave] * t, "process": [unit_interleave_p] * t,
                       "loop": [aunit_interleave] * t}
            # The shared log: (task, seq) records in arrival order.
            self.lock, self.log = threading.Lock(), []
            self.log_r = self.log_w = self.reader = None  # model=process: a pipe
        elif w == "blocking":
            m, block, wait = cfg["tasks"], cfg["block_ns"] / 1e9, cfg["wait_ns"] / 1e9
            self.args = [(block, wait)] * m
            self.fn = {"loop": [aunit_blocking] * m}
            self.executor = None  # BlockingLoopModel's pool, for offload=pool
        elif w == "spawn":
            self.args = [()] * cfg["workers"]
            self.fn = {"thread": [unit_spawn] * len(self.args), "process": [unit_spawn] * len(self.args),
                       "loop": [aunit_spawn] * len(self.args)}
        elif w == "hold":
            wk, b = cfg["workers"], cfg["result_bytes"]
            self.args = [(i, b) for i in range(wk)]
            self.fn = {"thread": [unit_hold] * wk, "process": [unit_hold] * wk, "loop": [aunit_hold] * wk}
            if cfg["results"] == "release":
                self.consume = consume_hold
            elif cfg["results"] == "one-at-a-time":
                # The workers return their indexes; the consumer (the main
                # thread, the parent, on the loop the code that awaits each
                # unit, as for release) makes each result as its index
                # arrives: one result alive at a time.
                self.fn = {"thread": [unit_hold_index] * wk, "process": [unit_hold_index] * wk,
                           "loop": [aunit_hold_index] * wk}
                self.consume = consume_hold_one(b)
            else:
                self.finish = lambda outs: [consume_hold(o) for o in outs]
        elif w == "convoy":
            c, n = cfg["cpu_workers"], cfg["chunk_n"]
            # The CPU workers first, the I/O worker last (see the units).
            self.args = [(n, _pi(n))] * c + [(c, cfg["ops"], cfg["io_ns"] / 1e9)]
            self.fn = {"thread": [unit_convoy_cpu] * c + [unit_convoy_io],
                       "process": [unit_convoy_cpu] * c + [unit_convoy_io],
                       "loop": [aunit_convoy_cpu] * c + [aunit_convoy_io]}
        else:
            s, m, b = cfg["stages"], cfg["messages"], cfg["payload_bytes"]
            self.s = s
            # Node 0 is the source, 1..s the stages, s+1 the sink.
            self.args = [(m, b)] + [(m,)] * s + [(m, b, s)]
            self.fn = {"thread": [unit_source_q] + [unit_stage_q] * s + [unit_sink_q],
                       "process": [unit_source_c] + [unit_stage_c] * s + [unit_sink_c],
                       "loop": [aunit_source] + [aunit_stage] * s + [aunit_sink]}
            _pattern(b)  # before "ready": inherited by forked workers
        self.n = len(self.args)
        # Warm runs hand out the work downstream first (sink, stages, source)
        # so that no payload waits for a node's command.
        self.order = list(range(self.n))
        if w == "pipeline":
            self.order.reverse()

    def links(self, make, kind, ctx=None):
        """What the units share, passed before their arguments: a pipeline
        node's channels (in, out), made by make(); interleave's log; the
        blocking tasks' executor; convoy's stop counter and begun semaphore.
        kind is the model; ctx its multiprocessing context (process)."""
        w = self.workload
        if w == "pipeline":
            chans = [make() for _ in range(self.s + 1)]
            return [(chans[0][1],)] + [(chans[i - 1][0], chans[i][1]) for i in range(1, self.s + 1)] + [(chans[self.s][0],)]
        if w == "interleave":
            shared = {"thread": (self.lock, self.log), "loop": (self.log,), "process": (self.log_w,)}[kind]
        elif w == "blocking":
            shared = (self.executor,)
        elif w == "convoy":
            if kind == "process":
                shared = (ctx.RawArray("q", 1), ctx.Semaphore(0))  # shared memory, a POSIX semaphore
            else:
                shared = ([0], threading.Semaphore(0) if kind == "thread" else None)
        else:
            shared = ()
        return [shared] * self.n

    def fns(self, kind):
        """The units of model kind; on a loop, each consumes its own output
        (consume) as it returns."""
        fns = self.fn[kind]
        if kind == "loop" and self.consume is not None:
            fns = [_consuming(f, self.consume) for f in fns]
        return fns

    def done(self, outs):
        """The outputs, once every unit is done (inside the timed region)."""
        return outs if self.finish is None else self.finish(outs)

    def take_log(self):
        """interleave: the repeat's (task, seq) records, in arrival order,
        and an empty log for the next (outside the timed region)."""
        if self.reader is not None:
            return self.reader.take(self.tasks * self.events)
        with self.lock:
            recs = self.log[:]
            del self.log[:]
        return recs

    def collect(self, outs):
        """Result fields from the units' outputs (outside the timed region).
        "elapsed", when set, replaces the model's measurement (convoy: the
        I/O worker's own)."""
        f = {"counts": None, "slept": 0, "spans": None, "received": 0, "served": 0,
             "orders": None, "done": 0, "digest": 0, "latencies": None, "chunks": 0, "elapsed": None}
        if self.workload == "interleave":
            ids, repeats = outs  # RepeatModel's
            f["pids"], f["tids"] = {o[0] for o in ids}, {o[1] for o in ids}
            f["orders"] = [self._order(r, recs) for r, recs in enumerate(repeats)]
            return f
        pids = {o[0] for o in outs}
        tids = {o[1] for o in outs}
        f["pids"], f["tids"] = pids, tids
        if self.workload in ("spawn", "hold", "blocking"):
            f["done"] = len(outs)  # every unit returned: ran, consumed, both steps done
            if self.workload == "hold":
                f["digest"] = sum(o[2] for o in outs) & _U64
            elif self.workload == "blocking":
                for o in outs:  # the pool threads that made the blocking calls
                    if o[2] is not None:
                        pids.add(o[2][0])
                        tids.add(o[2][1])
        elif self.workload == "convoy":
            io = outs[-1]
            f["latencies"], f["elapsed"] = io[2], io[4] - io[3]
            f["chunks"] = sum(o[2] for o in outs[:-1])
        elif self.workload == "echo":
            # outs: (pid, tid) of every connection served (and closed).
            f["served"] = len(outs)
            if f["served"] != self.connections:
                raise DriverError("echo: served %d connections of %d" % (f["served"], self.connections))
        elif self.workload == "primes":
            f["counts"] = [o[2] for o in outs]
        elif self.workload == "sleep":
            spans = [None] * self.m
            c = self.c
            for w, o in enumerate(outs):
                starts, ends = o[2], o[3]
                for j in range(len(starts)):
                    spans[w + j * c] = (starts[j], ends[j])
            if any(sp is None for sp in spans):
                raise DriverError("sleep: some tasks recorded no span")
            f["spans"] = spans
            f["slept"] = len(spans)
        else:
            f["received"] = outs[-1][2]
            if f["received"] != self.args[-1][0]:
                raise DriverError("pipeline: the sink accepted %d payloads of %d" % (f["received"], self.args[-1][0]))
        return f

    def _order(self, r, recs):
        """A repeat's order: its tasks' letters in arrival order, each task's
        events checked to arrive in sequence (interleave.Log)."""
        nxt = [0] * self.tasks
        for t, seq in recs:
            if t >= self.tasks or seq != nxt[t]:
                raise DriverError("interleave: repeat %d: task %d's event %d arrived after %d of its events" % (r + 1, t, seq, nxt[t] if t < self.tasks else 0))
            nxt[t] += 1
        if len(recs) != self.tasks * self.events:
            raise DriverError("interleave: repeat %d: %d events logged; want %d" % (r + 1, len(recs), self.tasks * self.events))
        return "".join(chr(65 + t) for t, _ in recs)


def _consuming(fn, consume):
    async def unit(*args):
        return consume(await fn(*args))
    return unit


# --------------------------------------------------------------------------
# model=thread: threading.Thread, one per worker or pipeline node.


class ThreadModel:
    def __init__(self, plan, warm):
        self.plan, self.warm = plan, warm
        self.threads = []

    def _links(self):
        return self.plan.links(lambda: (lambda q: (q, q))(queue.Queue(maxsize=16)), "thread")

    def setup(self):
        if not self.warm:
            return
        p = self.plan
        links = self._links()
        # SimpleQueue (C) for commands and replies: the cheapest hand-off the
        # standard library has; each worker waits on its own, so that every
        # worker runs exactly its share. Measured cost of that choice: a run
        # wakes all C threads at once and they all queue for the GIL, whose
        # waiters each wake every switch interval (5 ms); from a few thousand
        # threads on, this convoy dominates (10 000 x 100 ms sleeps: 9-20 s
        # on 2 CPUs, where a cold run, which starts threads one by one, takes
        # about 1.2 s). That is CPython's behaviour, kept as measured.
        self.res = queue.SimpleQueue()
        self.cmds = [queue.SimpleQueue() for _ in range(p.n)]
        fns = p.fn["thread"]
        for i in range(p.n):
            t = threading.Thread(target=_thread_serve, args=(i, fns[i], links[i], self.cmds[i], self.res), daemon=True)
            t.start()
            self.threads.append(t)
        _thread_collect(self.res, p.n)  # every hello: all are up and waiting

    def run(self):
        p = self.plan
        fns = p.fn["thread"]
        if self.warm:
            cmds, args, res = self.cmds, p.args, self.res
            c0 = _cpu_ns()
            t0 = _mono()
            for i in p.order:
                cmds[i].put(args[i])
            outs = p.done(_thread_collect(res, p.n, p.consume))
            t1 = _mono()
            c1 = _cpu_ns()
        else:
            c0 = _cpu_ns()
            t0 = _mono()
            links = self._links()
            res = queue.SimpleQueue()
            # Daemon threads only so that an error exit never waits for them.
            threads = [threading.Thread(target=_thread_once, args=(i, fns[i], links[i] + p.args[i], res), daemon=True)
                       for i in range(p.n)]
            for t in threads:
                t.start()
            outs = _thread_collect(res, p.n, p.consume)
            for t in threads:
                t.join()
            outs = p.done(outs)
            t1 = _mono()
            c1 = _cpu_ns()
        return t1 - t0, c1 - c0, outs, 0

    def stop(self):
        for q in getattr(self, "cmds", ()):
            q.put(None)
        for t in self.threads:
            t.join(10)


# --------------------------------------------------------------------------
# model=loop: one thread running an asyncio (or uvloop) event loop, one task
# per worker or pipeline node.


class _Countdown:
    __slots__ = ("left", "fut")

    def __init__(self, n, fut):
        self.left, self.fut = n, fut

    def tick(self):
        self.left -= 1
        if self.left == 0 and not self.fut.done():
            self.fut.set_result(None)

    def fail(self, msg):
        if not self.fut.done():
            self.fut.set_exception(DriverError(msg))


async def _loop_serve(i, fn, static, cmd, hello):
    hello.tick()
    while True:
        item = await cmd.get()
        if item is None:
            return
        job, done, outs = item
        try:
            outs[i] = await fn(*static, *job)
        except Exception as e:
            done.fail("worker %d: %s" % (i, _errmsg(e)))
            continue
        done.tick()


class _MiniRunner:
    """asyncio.Runner for Pythons before 3.11."""

    def __init__(self, loop_factory=None):
        self._factory = loop_factory or asyncio.new_event_loop
        self._loop = None

    def run(self, coro):
        if self._loop is None:
            self._loop = self._factory()
        return self._loop.run_until_complete(coro)

    def close(self):
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            tasks = asyncio.all_tasks(loop)
            for t in tasks:
                t.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LoopModel:
    def __init__(self, plan, warm, event_loop):
        global asyncio
        import asyncio as _asyncio
        asyncio = _asyncio
        self.plan, self.warm = plan, warm
        if event_loop == "uvloop":
            import uvloop  # checked at start
            # uvloop 0.17 has no uvloop.run: its loop, through asyncio's
            # Runner, exactly as asyncio's own default loop is.
            self.factory = uvloop.new_event_loop
        else:
            self.factory = None  # asyncio's default loop (asyncio.run's)
        self.Runner = getattr(asyncio, "Runner", _MiniRunner)
        self.runner = None

    def _links(self):
        return self.plan.links(lambda: (lambda q: (q, q))(asyncio.Queue(maxsize=16)), "loop")

    async def _start(self):
        p = self.plan
        loop = asyncio.get_running_loop()
        links = self._links()
        hello = _Countdown(p.n, loop.create_future())
        self.cmds = [asyncio.Queue() for _ in range(p.n)]
        fns = p.fns("loop")
        self.tasks = [asyncio.create_task(_loop_serve(i, fns[i], links[i], self.cmds[i], hello)) for i in range(p.n)]
        await hello.fut  # every task has run up to its first wait

    async def _warm_run(self):
        p = self.plan
        cmds, args = self.cmds, p.args
        outs = [None] * p.n
        done = _Countdown(p.n, asyncio.get_running_loop().create_future())
        c0 = _cpu_ns()
        t0 = _mono()
        for i in p.order:
            cmds[i].put_nowait((args[i], done, outs))
        await done.fut
        outs = p.done(outs)
        t1 = _mono()
        c1 = _cpu_ns()
        return t1 - t0, c1 - c0, outs

    async def _cold_main(self):
        p = self.plan
        links = self._links()
        fns = p.fns("loop")
        return p.done(await asyncio.gather(*[fns[i](*links[i], *p.args[i]) for i in range(p.n)]))

    async def _stop(self):
        for q in self.cmds:
            q.put_nowait(None)
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def setup(self):
        if self.warm:
            # The loop and its tasks live across runs: between runs the loop
            # is stopped with every task suspended on its command queue; a run
            # runs the loop until the work is done. The timed region is
            # measured inside the loop, from handing out the work.
            self.runner = self.Runner(loop_factory=self.factory)
            self.runner.run(self._start())

    def run(self):
        if self.warm:
            elapsed, cpu, outs = self.runner.run(self._warm_run())
            return elapsed, cpu, outs, 0
        c0 = _cpu_ns()
        t0 = _mono()
        # asyncio.run's work: create the loop, run, cancel leftovers, close.
        with self.Runner(loop_factory=self.factory) as runner:
            outs = runner.run(self._cold_main())
        t1 = _mono()
        c1 = _cpu_ns()
        return t1 - t0, c1 - c0, outs, 0

    def stop(self):
        if self.runner is not None:
            self.runner.run(self._stop())
            self.runner.close()
            self.runner = None


# --------------------------------------------------------------------------
# model=process: multiprocessing, one process per worker or pipeline node.

_PROCS = []       # live worker processes (killed on an error exit)
_HELD_FDS = set()  # driver-held pipe ends a forked worker must close


def _recv_reply(i, conn):
    try:
        msg = conn.recv()
    except EOFError:
        raise DriverError("worker %d exited without a result" % i) from None
    if msg[0] != "ok":
        raise DriverError("worker %d: %s" % (i, msg[1]))
    return msg


def _collect_conns(conns, any_order, consume=None):
    """Every worker's reply. Independent workers (primes, sleep) are read in
    order: one blocking read each, the cheapest. Pipeline nodes depend on
    each other -- a failing sink leaves its upstream blocked -- so their
    replies are taken as they come, to fail at the first error; so are
    outputs to consume as they arrive (hold's release and one-at-a-time),
    consume replacing each reply's output."""
    out = [None] * len(conns)
    if not any_order:
        for i, c in enumerate(conns):
            out[i] = _recv_reply(i, c)
        return out
    pending = {c: i for i, c in enumerate(conns)}
    while pending:
        for c in multiprocessing.connection.wait(list(pending)):
            i = pending.pop(c)
            msg = _recv_reply(i, c)
            if consume is not None:
                msg = (msg[0], consume(msg[1])) + msg[2:]
            out[i] = msg
    return out


def _fds(objs):
    """The descriptors of the pipe ends among objs (a unit's links may also
    be shared memory or semaphores, which hold none)."""
    return [o.fileno() for o in objs if isinstance(o, multiprocessing.connection.Connection)]


class ProcessModel:
    def __init__(self, plan, warm, start_method):
        self.plan, self.warm, self.method = plan, warm, start_method
        self.ctx = multiprocessing.get_context(start_method)
        self.fork = start_method == "fork"

    def _links(self):
        links = self.plan.links(lambda: self.ctx.Pipe(duplex=False), "process", self.ctx)
        if self.plan.workload == "pipeline":  # each node's own: the others close them
            for l in links:
                _HELD_FDS.update(_fds(l))
        return links

    def _start(self, target, own, mine, args):
        """Start a worker given the pipe ends `own`; `mine` are the driver's
        ends of the worker's own pipes (a forked worker must not hold them)."""
        close = ()
        if self.fork:
            close = sorted(_HELD_FDS.difference(_fds(own)).union(_fds(mine)))
        p = self.ctx.Process(target=target, args=(close,) + args, daemon=True)
        p.start()
        _PROCS.append(p)
        return p

    def _release(self, conns):
        """The driver's copies of a pipeline node's channels, once the node
        has its own (other workloads' links are shared by every unit)."""
        if self.plan.workload != "pipeline":
            return
        for c in conns:
            _HELD_FDS.discard(c.fileno())
            c.close()

    def setup(self):
        # multiprocessing's helper processes are the runtime's, not the
        # workers': start them now, or the first cold run would pay for them.
        if self.method == "forkserver":
            from multiprocessing import forkserver
            forkserver.ensure_running()  # also starts the resource tracker
        elif self.method == "spawn":
            from multiprocessing import resource_tracker
            resource_tracker.ensure_running()
        if not self.warm:
            return
        p = self.plan
        links = self._links()
        fns = p.fn["process"]
        self.cmds, self.results, self.procs = [], [], []
        for i in range(p.n):
            cmd_r, cmd_w = self.ctx.Pipe(duplex=False)
            res_r, res_w = self.ctx.Pipe(duplex=False)
            own = (cmd_r, res_w) + links[i]
            self.procs.append(self._start(_proc_serve, own, (cmd_w, res_r), (cmd_r, res_w, fns[i], links[i])))
            cmd_r.close()
            res_w.close()
            self._release(links[i])
            _HELD_FDS.add(cmd_w.fileno())
            self.cmds.append(cmd_w)
            self.results.append(res_r)
        for i, r in enumerate(self.results):  # every hello
            try:
                r.recv()
            except EOFError:
                raise DriverError("worker %d exited at start" % i) from None

    def run(self):
        p = self.plan
        any_order = p.workload == "pipeline" or p.consume is not None
        if self.warm:
            cmds, args = self.cmds, p.args
            c0 = _cpu_ns()
            t0 = _mono()
            for i in p.order:
                cmds[i].send(args[i])
            replies = _collect_conns(self.results, any_order, p.consume)
            outs = p.done([r[1] for r in replies])
            t1 = _mono()
            c1 = _cpu_ns()
            # Each worker's own CPU time over its work, reported with its reply.
            cpu = c1 - c0 + sum(r[2] for r in replies)
            # Peaks, asked for after the timed region: the pool's workers.
            for c in cmds:
                c.send("stats")
            rss = 0
            for i, r in enumerate(self.results):
                try:
                    rss += r.recv()
                except EOFError:
                    raise DriverError("worker %d exited" % i) from None
            return t1 - t0, cpu, outs, rss
        fns = p.fn["process"]
        c0 = _cpu_ns()
        k0 = _cpu_ns(resource.RUSAGE_CHILDREN)
        t0 = _mono()
        links = self._links()
        procs, results = [], []
        for i in range(p.n):
            res_r, res_w = self.ctx.Pipe(duplex=False)
            procs.append(self._start(_proc_once, (res_w,) + links[i], (res_r,), (res_w, fns[i], links[i] + p.args[i])))
            res_w.close()  # before the next fork: only the worker holds it
            self._release(links[i])
            results.append(res_r)
        replies = _collect_conns(results, any_order, p.consume)
        for pr in procs:
            pr.join()  # reaps it: its CPU time joins RUSAGE_CHILDREN
        outs = p.done([r[1] for r in replies])
        t1 = _mono()
        c1 = _cpu_ns()
        k1 = _cpu_ns(resource.RUSAGE_CHILDREN)
        for r in results:
            r.close()
        del _PROCS[:]
        if self.method == "forkserver":
            # forkserver's workers are the server's children, not ours: count
            # the CPU time each reported at the end of its work instead.
            cpu = c1 - c0 + sum(r[2] for r in replies)
        else:
            cpu = c1 - c0 + k1 - k0
        return t1 - t0, cpu, outs, sum(r[3] for r in replies)

    def stop(self):
        if not self.warm:
            return
        for c in self.cmds:
            _HELD_FDS.discard(c.fileno())
            c.close()  # EOF: the worker exits
        deadline = time.monotonic() + 10
        for pr in self.procs:
            pr.join(max(0.0, deadline - time.monotonic()))
        for pr in self.procs:
            if pr.exitcode is None:
                pr.kill()
                pr.join(1)
        del _PROCS[:]


# --------------------------------------------------------------------------
# workload=interleave: the model's run, once per repeat. A warm model's
# workers are up before "ready" and each repeat hands every one its task, in
# task order, in one go (commands, then wait: nothing between the hand-offs);
# a cold model creates them in the repeat and joins them. The timed region is
# the repeats' (their sum); reading each repeat's log and checking its order
# are not in it.


class _LogReader:
    """The process model's log: a thread of the driver reads the pipe the
    workers write their records to, as they come (the pipe never fills), in
    the order the kernel took the writes."""

    def __init__(self, fd):
        self.fd = fd
        self.cond = threading.Condition()
        self.buf = bytearray()
        self.eof = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                b = os.read(self.fd, 65536)
            except OSError:
                b = b""
            with self.cond:
                if not b:
                    self.eof = True
                else:
                    self.buf += b
                self.cond.notify()
            if not b:
                return

    def take(self, n):
        """The next n records, once they are in."""
        size = n * _REC.size
        with self.cond:
            while len(self.buf) < size and not self.eof:
                if not self.cond.wait(30):
                    raise DriverError("interleave: %d of %d log records arrived" % (len(self.buf) // _REC.size, n))
            if len(self.buf) < size:
                raise DriverError("interleave: the log pipe closed after %d of %d records" % (len(self.buf) // _REC.size, n))
            recs = list(_REC.iter_unpack(bytes(self.buf[:size])))
            del self.buf[:size]
        return recs


class RepeatModel:
    def __init__(self, plan, inner, ctx=None):
        self.plan, self.inner, self.ctx = plan, inner, ctx

    def setup(self):
        p = self.plan
        if self.ctx is not None:
            # One pipe for every repeat's workers: the driver keeps its write
            # end (each cold repeat's workers get it), forked workers close
            # its read end.
            p.log_r, p.log_w = self.ctx.Pipe(duplex=False)
            _HELD_FDS.add(p.log_r.fileno())
            p.reader = _LogReader(p.log_r.fileno())
        self.inner.setup()

    def run(self):
        p = self.plan
        elapsed = cpu = rss = 0
        ids, logs = [], []
        for _ in range(p.repeats):
            e, c, outs, w = self.inner.run()
            elapsed += e
            cpu += c
            rss = max(rss, w)  # a repeat's workers; each repeat's in turn
            ids.extend(outs)
            logs.append(p.take_log())
        return elapsed, cpu, (ids, logs), rss

    def stop(self):
        self.inner.stop()
        p = self.plan
        if p.log_w is not None:
            p.log_w.close()  # with the workers gone: EOF ends the reader
            p.reader.thread.join(5)
            _HELD_FDS.discard(p.log_r.fileno())
            p.log_r.close()


# --------------------------------------------------------------------------
# workload=blocking (model=loop): the loop model, with a
# concurrent.futures.ThreadPoolExecutor(max_workers=pool) for offload=pool.
# Warm: the pool's threads are started before "ready" (pool jobs that wait
# for each other, so that none can be reused for the next: the executor
# makes a thread per job) and live across runs. Cold: the executor is made
# in the run, makes its threads as run_in_executor hands it calls, and the
# run ends with its shutdown (the threads joined).


class BlockingLoopModel(LoopModel):
    def __init__(self, plan, warm, event_loop, offload, pool):
        super().__init__(plan, warm, event_loop)
        self.offload, self.pool = offload == "pool", pool
        if self.offload:
            import concurrent.futures
            self.Executor = concurrent.futures.ThreadPoolExecutor

    def setup(self):
        if self.warm and self.offload:
            import concurrent.futures
            ex = self.plan.executor = self.Executor(max_workers=self.pool)
            gate = threading.Barrier(self.pool)
            futs = [ex.submit(gate.wait, 30) for _ in range(self.pool)]
            for f in concurrent.futures.as_completed(futs):
                f.result()  # BrokenBarrierError if the pool did not start
        super().setup()

    async def _cold_main(self):
        if not self.offload:
            return await super()._cold_main()
        self.plan.executor = self.Executor(max_workers=self.pool)
        try:
            return await super()._cold_main()
        finally:
            self.plan.executor.shutdown(wait=True)
            self.plan.executor = None

    def stop(self):
        super().stop()
        if self.plan.executor is not None:
            self.plan.executor.shutdown(wait=True)
            self.plan.executor = None


# --------------------------------------------------------------------------
# workload=echo: a TCP echo server on the listening socket the driver
# inherits as file descriptor 3 (bound, listening, blocking). Each run
# serves exactly N connections: it echoes whatever each one sends, as it
# arrives, until the client closes its side, then closes the connection.
# The servers are the standard library's, written as its users write them:
#
#   thread  cold: socketserver.ThreadingTCPServer (a thread per connection),
#                 handle_request() N times, server_close() joins the threads
#           warm: min(N, 20000) threads, each blocking in accept() on the
#                 shared socket, serving a connection to EOF, accepting again
#   process cold: socketserver.ForkingTCPServer (a fork per connection);
#                 spawn and forkserver: a multiprocessing.Process per
#                 connection, the accepted socket passed to it
#           warm: min(N, 1024) multiprocessing workers, each blocking in
#                 accept() on the shared socket, reporting every connection
#                 it served over its pipe
#   loop    asyncio.start_server(sock=...) with a streams handler (read,
#           write, drain until EOF); warm: the server is up before "ready";
#           cold: the event loop and the server are made inside the run
#
# The driver never closes descriptor 3: every server works on a dup of it
# (the dup is the server's to close). Stopping wakes threads and workers
# blocked in accept() with shutdown(SHUT_RD) on the listening socket (the
# caller makes a fresh one for every driver; Linux then fails accept() with
# EINVAL). Warm servers keep accepting between runs: a run ends when N
# connections have been served since the previous run ended (extra ones would
# count for the next run). A quit or EOF on stdin during a run ends the run
# at once (its connections are cut) and the driver exits 0 without a result.

LISTEN_FD = 3
ECHO_BUF = 65536          # a read takes whatever has arrived, up to this
ECHO_THREAD_CAP = 20000   # the lab's cap on a pool of threads (matrix: thread)
ECHO_PROCESS_CAP = 1024   # ... and of processes (matrix: process)


class _Quit(Exception):
    """quit or EOF on stdin during a run: stop, no result."""


def _listener():
    """A dup of the inherited listening socket, checked: ours to close."""
    try:
        fd = os.dup(LISTEN_FD)
    except OSError as e:
        raise DriverError("workload=echo: no listening socket as file descriptor %d: %s" % (LISTEN_FD, _errmsg(e)))
    try:
        s = socket.socket(fileno=fd)
    except OSError as e:
        os.close(fd)
        raise DriverError("workload=echo: file descriptor %d is not a socket: %s" % (LISTEN_FD, _errmsg(e)))
    if s.type != socket.SOCK_STREAM or not s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        s.close()
        raise DriverError("workload=echo: file descriptor %d is not a listening TCP socket" % LISTEN_FD)
    return s


def _shut(sock):
    """shutdown(SHUT_RD) on a listening socket: every accept() blocked on it,
    in any thread or process, fails with EINVAL; poll() reports it ready."""
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def _somaxconn():
    """The backlog asyncio and uvloop re-listen() with: the kernel's largest,
    as the listening socket was made (their default, 100, would overflow
    under the load generator's 256 simultaneous dials)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(1, int(f.read()))
    except (OSError, ValueError):
        return socket.SOMAXCONN


def _raise_nofile():
    """Raise the soft limit on open descriptors to the hard one (as Go's
    runtime does at start, so that Go and CPython servers meet the same
    limit): a server holds one per open connection. Returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _fds_in_use():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 64


def _echo_sock(conn):
    """Echo what the (blocking) socket conn sends, as it arrives, until EOF."""
    recv, sendall = conn.recv, conn.sendall
    while True:
        data = recv(ECHO_BUF)
        if not data:
            return
        sendall(data)


def _echo_record():
    """A served connection, as the process that served it reports it:
    pid, tid, its own CPU time and peak RSS so far."""
    return b"%d %d %d %d" % (os.getpid(), threading.get_native_id(), _cpu_ns(), _hwm_bytes())


# Process workers' main functions (top level: spawn and forkserver pickle
# them by name).


def _echo_proc_once(conn, res):
    """A cold worker of start_method=spawn|forkserver: serve the connection
    it was handed, report it, exit."""
    try:
        try:
            with conn:
                _echo_sock(conn)
        except Exception as e:
            res.send_bytes(("E connection: " + _errmsg(e)).encode())
            return
        res.send_bytes(_echo_record())
    except OSError:
        pass  # the driver is gone


def _echo_proc_watch(cmd, send):
    """A warm worker's second thread: answer "stats", and end the worker at
    None or EOF on its command pipe (the driver stops, or is gone), even
    while its main thread is blocked in accept() or inside a connection."""
    try:
        while True:
            job = cmd.recv()
            if job is None:
                break
            if job == "stats":
                send(("stats", _hwm_bytes()))
    except (EOFError, OSError):
        pass
    os._exit(0)


def _echo_proc_serve(close_fds, cmd, res, lsock):
    """A warm worker: accept on the shared listening socket, serve the
    connection to EOF, report it (pid, tid, own CPU so far), accept again."""
    _close_fds(close_fds)
    pid, tid = os.getpid(), threading.get_native_id()
    lock = threading.Lock()

    def send(msg):  # the watcher answers "stats" on the same pipe
        with lock:
            res.send(msg)

    try:
        send(("hello", pid, _cpu_ns()))
        threading.Thread(target=_echo_proc_watch, args=(cmd, send), daemon=True).start()
        accept = lsock.accept
        while True:
            try:
                conn, _ = accept()
            except OSError as e:
                if e.errno != errno.EINVAL:  # EINVAL: the driver stops
                    send(("err", "accept: " + _errmsg(e)))
                break
            try:
                with conn:
                    _echo_sock(conn)
            except Exception as e:
                send(("err", "connection: " + _errmsg(e)))
                continue
            send(("conn", pid, tid, _cpu_ns()))
    except (OSError, EOFError):
        pass  # the driver is gone
    os._exit(0)


def _echo_drain(res, tally):
    """A cold process run's reader thread: the children's reports, as they
    come (a full pipe would block them)."""
    while True:
        try:
            b = res.recv_bytes()
        except (EOFError, OSError):
            return
        if b.startswith(b"E "):
            tally.fail(b[2:].decode("utf-8", "replace"))
        else:
            tally.served(tuple(int(x) for x in b.split()))


class _EchoTally:
    """The connections served in this process's threads (or reported by its
    children), and how a run waits for N of them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.recs = []         # (pid, tid, ...) per served connection, unclaimed
        self.want = 0          # the running run's N; 0 between runs
        self.done = threading.Event()
        self.error = None
        self.quit = False
        self.stopping = False
        self.active = set()    # sockets being served (cut by abort)
        self.wake = None       # cold: unblocks the acceptor

    def served(self, rec):
        with self.lock:
            self.recs.append(rec)
            if self.want and len(self.recs) >= self.want:
                self.done.set()

    def fail(self, msg):
        with self.lock:
            if self.error is None:
                self.error = msg
        self.done.set()
        if self.wake is not None:
            self.wake()

    def abort(self):
        self.quit = True
        self.done.set()
        for _ in range(3):  # the set may change under us (free threading)
            try:
                conns = list(self.active)
                break
            except RuntimeError:
                conns = []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.wake is not None:
            self.wake()

    def wait(self, n):
        """Block until n connections are served since the last claim, or a
        failure or quit; claim and return them."""
        with self.lock:
            self.want = n
            if len(self.recs) >= n:  # served before the run began
                self.done.set()
        while True:
            self.done.wait()
            with self.lock:
                if self.quit or self.error is not None or len(self.recs) >= n:
                    self.want = 0
                    self.done.clear()
                    break
                self.done.clear()
        return self.claim(n)

    def claim(self, n):
        if self.quit:
            raise _Quit()
        with self.lock:
            if self.error is not None:
                raise DriverError(self.error)
            if len(self.recs) < n:
                raise DriverError("echo: served %d connections of %d" % (len(self.recs), n))
            out = self.recs[:n]
            del self.recs[:n]
        return out


def _echo_thread_worker(lsock, tally, hello):
    """A warm thread: accept, serve to EOF, count, accept again."""
    pid, tid = os.getpid(), threading.get_native_id()
    accept, active = lsock.accept, tally.active
    hello.put(tid)
    while True:
        try:
            conn, _ = accept()
        except OSError as e:
            if not tally.stopping:
                tally.fail("accept: " + _errmsg(e))
            return
        active.add(conn)
        try:
            _echo_sock(conn)
        except Exception as e:
            tally.fail("connection: " + _errmsg(e))
            continue
        finally:
            active.discard(conn)
            conn.close()
        tally.served((pid, tid))


_SOCKETSERVERS = None


def _socketservers():
    """socketserver's servers, adapted to a socket that is already
    listening (imported on first use: spawned workers never need it)."""
    global _SOCKETSERVERS
    if _SOCKETSERVERS is not None:
        return _SOCKETSERVERS
    import socketserver

    class ThreadHandler(socketserver.BaseRequestHandler):
        def handle(self):
            conn, tally = self.request, self.server.tally
            tally.active.add(conn)
            try:
                _echo_sock(conn)
            finally:
                tally.active.discard(conn)
            tally.served((os.getpid(), threading.get_native_id()))

    class ForkHandler(socketserver.BaseRequestHandler):
        def handle(self):  # in the child
            _echo_sock(self.request)
            self.server.res.send_bytes(_echo_record())

    class Inherited:
        """Serve on the inherited socket: constructed without binding or
        listening (bind_and_activate=False), its own socket replaced by a
        dup of ours, which server_close() closes. accepted counts the
        connections handed to process_request (one handle_request each)."""
        timeout = None  # handle_request blocks until a connection comes

        def __init__(self, lsock, handler, tally):
            super().__init__(lsock.getsockname(), handler, bind_and_activate=False)
            self.socket.close()
            self.socket = lsock
            self.tally = tally
            self.accepted = 0

        def process_request(self, request, client_address):
            self.accepted += 1
            super().process_request(request, client_address)

    class ThreadingServer(Inherited, socketserver.ThreadingTCPServer):
        # daemon_threads = False, block_on_close = True (the defaults):
        # server_close() joins every connection's thread.
        def handle_error(self, request, client_address):
            self.tally.fail("connection: " + _errmsg(sys.exc_info()[1]))

    class ForkingServer(Inherited, socketserver.ForkingTCPServer):
        # block_on_close = True: server_close() waits for every child.
        def __init__(self, lsock, handler, tally, res):
            super().__init__(lsock, handler, tally)
            self.res, self.parent = res, os.getpid()
            self.active_children = set()
            _FORKED.append(self.active_children)

        def handle_error(self, request, client_address):
            msg = "connection: " + _errmsg(sys.exc_info()[1])
            if os.getpid() == self.parent:  # e.g. fork failed
                self.tally.fail(msg)
                return
            try:
                self.res.send_bytes(("E " + msg).encode())
            except OSError:
                pass

    _SOCKETSERVERS = (ThreadingServer, ThreadHandler, ForkingServer, ForkHandler)
    return _SOCKETSERVERS


_FORKED = []  # ForkingTCPServer children's pid sets (killed on an error exit)


class EchoThreadModel:
    def __init__(self, cfg):
        self.n, self.warm = cfg["connections"], cfg["start"] == "warm"
        self.lock = threading.Lock()
        self.quit = False
        self.tally = None
        self.threads = []

    def setup(self):
        self.lsock = _listener()
        self.lsock.setblocking(True)
        nofile = _raise_nofile()
        if not self.warm:
            _socketservers()  # the import, outside the timed region
            return
        # Linux's accept() takes the descriptor of the connection it waits
        # for before it blocks: a thread blocked in accept() holds one, as
        # a thread serving a connection does. min(N, 20000) threads need as
        # many descriptors; past the limit (RLIMIT_NOFILE, often 20000 or
        # less) the pool is cut to what the limit leaves (32 spare for the
        # driver's own files), or the last threads' accept() would fail with
        # EMFILE at once.
        self.pool = min(self.n, ECHO_THREAD_CAP, max(1, nofile - _fds_in_use() - 32))
        self.tally = t = _EchoTally()
        hello = queue.SimpleQueue()
        for _ in range(self.pool):
            th = threading.Thread(target=_echo_thread_worker, args=(self.lsock, t, hello), daemon=True)
            th.start()
            self.threads.append(th)
        for _ in self.threads:
            hello.get()  # every thread is about to block in accept()

    def run(self):
        n = self.n
        if self.warm:
            if self.quit:
                raise _Quit()
            c0 = _cpu_ns()
            t0 = _mono()
            outs = self.tally.wait(n)
            t1 = _mono()
            c1 = _cpu_ns()
            return t1 - t0, c1 - c0, outs, 0
        ThreadingServer, ThreadHandler = _socketservers()[:2]
        tally = _EchoTally()
        with self.lock:
            if self.quit:
                raise _Quit()
            self.tally = tally
        c0 = _cpu_ns()
        t0 = _mono()
        srv = ThreadingServer(socket.socket(fileno=os.dup(LISTEN_FD)), ThreadHandler, tally)
        tally.wake = lambda: _shut(srv.socket)
        if tally.quit:
            tally.wake()
        while srv.accepted < n and tally.error is None and not tally.quit:
            srv.handle_request()
        if tally.error is not None and not tally.quit:
            raise DriverError(tally.error)  # at once: the exit ends the threads
        srv.server_close()  # joins every connection's thread
        t1 = _mono()
        c1 = _cpu_ns()
        self.tally = None
        return t1 - t0, c1 - c0, tally.claim(n), 0

    def abort(self):
        with self.lock:
            self.quit = True
            t = self.tally
        if t is not None:
            t.abort()

    def stop(self):
        if self.warm:
            # The pool's threads are daemon threads blocked in accept(): the
            # driver's exit ends them, and nothing else holds them. Waking
            # them (shutdown) to join them would cost a GIL convoy: 20 000
            # threads leave one GIL hand-off at a time, ~35 s here.
            self.tally.stopping = True
            return
        self.lsock.close()


class EchoProcessModel:
    def __init__(self, cfg):
        self.n, self.warm = cfg["connections"], cfg["start"] == "warm"
        self.method = cfg["start_method"]
        self.ctx = multiprocessing.get_context(self.method)
        self.fork = self.method == "fork"
        self.lock = threading.Lock()
        self.quit = False
        self.tally = None
        self.wake_w = None

    def setup(self):
        self.lsock = _listener()
        self.lsock.setblocking(True)
        _raise_nofile()  # inherited by the workers
        if self.method == "forkserver":
            from multiprocessing import forkserver
            forkserver.ensure_running()
        elif self.method == "spawn":
            from multiprocessing import resource_tracker
            resource_tracker.ensure_running()
        if not self.warm:
            if self.fork:
                _socketservers()
            return
        ctx = self.ctx
        self.wake_r, self.wake_w = os.pipe()
        _HELD_FDS.update((self.wake_r, self.wake_w))
        self.cmds, self.results, self.procs = [], [], []
        for i in range(min(self.n, ECHO_PROCESS_CAP)):
            cmd_r, cmd_w = ctx.Pipe(duplex=False)
            res_r, res_w = ctx.Pipe(duplex=False)
            close = ()
            if self.fork:  # another worker's pipes would hide its death
                close = sorted(_HELD_FDS.union((cmd_w.fileno(), res_r.fileno())))
            p = ctx.Process(target=_echo_proc_serve, args=(close, cmd_r, res_w, self.lsock), daemon=True)
            p.start()
            _PROCS.append(p)
            self.procs.append(p)
            cmd_r.close()
            res_w.close()
            _HELD_FDS.update((cmd_w.fileno(), res_r.fileno()))
            self.cmds.append(cmd_w)
            self.results.append(res_r)
        self.cpu = [0] * len(self.procs)  # each worker's CPU time, as last reported
        self.recs = []                    # served connections, unclaimed
        for i, r in enumerate(self.results):
            msg = self._recv(i)
            if msg[0] != "hello":
                raise DriverError("worker %d: said %r at start" % (i, msg[0]))
            self.cpu[i] = msg[2]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.wake_r, selectors.EVENT_READ, -1)
        for i, r in enumerate(self.results):
            self.sel.register(r, selectors.EVENT_READ, i)

    def _recv(self, i):
        try:
            msg = self.results[i].recv()
        except EOFError:
            raise DriverError("worker %d exited" % i) from None
        if msg[0] == "conn":
            self.recs.append((msg[1], msg[2]))
            self.cpu[i] = msg[3]
        elif msg[0] == "err":
            raise DriverError("worker %d: %s" % (i, msg[1]))
        return msg

    def run(self):
        if self.warm:
            return self._run_warm()
        if self.fork:
            return self._run_cold_fork()
        return self._run_cold_mp()

    def _run_warm(self):
        n, recs, select, recv = self.n, self.recs, self.sel.select, self._recv
        if self.quit:
            raise _Quit()
        cpu0 = sum(self.cpu)
        c0 = _cpu_ns()
        t0 = _mono()
        while len(recs) < n:
            for key, _ in select():
                if key.data < 0:
                    raise _Quit()
                recv(key.data)
                if len(recs) >= n:
                    break
        t1 = _mono()
        c1 = _cpu_ns()
        # The workers' CPU time: what each reported with its last connection
        # of this run, less what it had reported before it.
        cpu = c1 - c0 + sum(self.cpu) - cpu0
        outs = recs[:n]
        del recs[:n]
        # Peaks, asked for after the timed region: the pool's workers.
        for c in self.cmds:
            c.send("stats")
        rss = 0
        for i in range(len(self.results)):
            while True:
                msg = recv(i)
                if msg[0] == "stats":
                    rss += msg[1]
                    break
        return t1 - t0, cpu, outs, rss

    def _begin_cold(self):
        tally = _EchoTally()
        with self.lock:
            if self.quit:
                raise _Quit()
            self.tally = tally
        return tally

    def _end_cold(self, tally, n):
        self.tally = None
        outs = tally.claim(n)
        return [o[:2] for o in outs], sum(o[2] for o in outs), sum(o[3] for o in outs)

    def _run_cold_fork(self):
        ForkingServer, ForkHandler = _socketservers()[2:]
        n = self.n
        tally = self._begin_cold()
        c0 = _cpu_ns()
        k0 = _cpu_ns(resource.RUSAGE_CHILDREN)
        t0 = _mono()
        res_r, res_w = self.ctx.Pipe(duplex=False)
        reader = threading.Thread(target=_echo_drain, args=(res_r, tally), daemon=True)
        reader.start()
        srv = ForkingServer(socket.socket(fileno=os.dup(LISTEN_FD)), ForkHandler, tally, res_w)
        tally.wake = lambda: _shut(srv.socket)
        if tally.quit:
            tally.wake()
        while srv.accepted < n and tally.error is None and not tally.quit:
            srv.handle_request()
        if tally.error is not None and not tally.quit:
            raise DriverError(tally.error)  # _die kills the children
        if tally.quit:
            for pid in list(srv.active_children):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        srv.server_close()  # waits for (reaps) every child
        res_w.close()
        reader.join()       # EOF: every child's report is in
        t1 = _mono()
        c1 = _cpu_ns()
        k1 = _cpu_ns(resource.RUSAGE_CHILDREN)
        res_r.close()
        _FORKED.remove(srv.active_children)
        outs, _, rss = self._end_cold(tally, n)
        return t1 - t0, c1 - c0 + k1 - k0, outs, rss

    def _run_cold_mp(self):
        # spawn and forkserver: socketserver only forks; its acceptor loop,
        # with a multiprocessing.Process per connection, which is handed the
        # accepted socket (multiprocessing.reduction passes the descriptor).
        n, ctx = self.n, self.ctx
        tally = self._begin_cold()
        c0 = _cpu_ns()
        k0 = _cpu_ns(resource.RUSAGE_CHILDREN)
        t0 = _mono()
        res_r, res_w = ctx.Pipe(duplex=False)
        reader = threading.Thread(target=_echo_drain, args=(res_r, tally), daemon=True)
        reader.start()
        lsock = socket.socket(fileno=os.dup(LISTEN_FD))
        tally.wake = lambda: _shut(lsock)
        if tally.quit:
            tally.wake()
        procs = []
        while len(procs) < n and tally.error is None and not tally.quit:
            try:
                conn, _ = lsock.accept()
            except OSError as e:
                if tally.error is not None or tally.quit:
                    break
                raise DriverError("accept: " + _errmsg(e))
            with conn:  # closed once the child has its own
                p = ctx.Process(target=_echo_proc_once, args=(conn, res_w), daemon=True)
                p.start()
            procs.append(p)
            _PROCS.append(p)
        if tally.error is not None and not tally.quit:
            raise DriverError(tally.error)  # _die kills the children
        if tally.quit:
            for p in procs:
                p.kill()
        for p in procs:
            p.join()  # reaps it: its CPU time joins RUSAGE_CHILDREN
        res_w.close()
        reader.join()
        t1 = _mono()
        c1 = _cpu_ns()
        k1 = _cpu_ns(resource.RUSAGE_CHILDREN)
        lsock.close()
        res_r.close()
        del _PROCS[:]
        outs, cpu_reported, rss = self._end_cold(tally, n)
        if self.method == "forkserver":
            # the forkserver's children, not ours: their own reports
            return t1 - t0, c1 - c0 + cpu_reported, outs, rss
        return t1 - t0, c1 - c0 + k1 - k0, outs, rss

    def abort(self):
        with self.lock:
            self.quit = True
            t = self.tally
        if self.wake_w is not None:
            try:
                os.write(self.wake_w, b"q")
            except OSError:
                pass
        if t is not None:
            t.abort()
            for p in list(_PROCS):
                try:
                    p.kill()
                except Exception:
                    pass
            for s in list(_FORKED):
                for pid in list(s):
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass

    def stop(self):
        if self.warm:
            for c in self.cmds:
                _HELD_FDS.discard(c.fileno())
                c.close()  # EOF: the worker exits, even from inside accept()
            _shut(self.lsock)
            deadline = time.monotonic() + 10
            for pr in self.procs:
                pr.join(max(0.0, deadline - time.monotonic()))
            for pr in self.procs:
                if pr.exitcode is None:
                    pr.kill()
                    pr.join(1)
            del _PROCS[:]
        self.lsock.close()


class EchoLoopModel:
    def __init__(self, cfg):
        global asyncio
        import asyncio as _asyncio
        asyncio = _asyncio
        self.n, self.warm = cfg["connections"], cfg["start"] == "warm"
        if cfg["event_loop"] == "uvloop":
            import uvloop  # checked at start
            self.factory = uvloop.new_event_loop
        else:
            self.factory = None
        self.Runner = getattr(asyncio, "Runner", _MiniRunner)
        self.runner = None
        self.backlog = _somaxconn()
        self.lock = threading.Lock()
        self.quit = False
        self.loop = None     # the loop a run is on (for abort, from stdin's thread)
        self.fut = None      # the running run's: done at N served
        self.recs = []
        self.error = None
        self.active = set()  # the writers of the connections being served

    async def _serve(self, reader, writer):
        pid, tid = os.getpid(), threading.get_native_id()
        active = self.active
        active.add(writer)
        try:
            read, write, drain = reader.read, writer.write, writer.drain
            while True:
                data = await read(ECHO_BUF)
                if not data:
                    break
                write(data)
                await drain()
            writer.close()
            await writer.wait_closed()
        except Exception as e:
            writer.close()
            self._fail("connection: " + _errmsg(e))
            return
        finally:
            active.discard(writer)
        recs = self.recs
        recs.append((pid, tid))
        fut = self.fut
        if fut is not None and len(recs) >= self.n and not fut.done():
            fut.set_result(None)

    def _fail(self, msg):
        if self.error is None:
            self.error = msg
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_exception(DriverError(msg))

    def _abort_in_loop(self):
        for w in list(self.active):
            w.transport.abort()
        fut = self.fut
        if fut is not None and not fut.done():
            fut.set_exception(_Quit())

    def abort(self):
        with self.lock:
            self.quit = True
            loop = self.loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._abort_in_loop)
            except RuntimeError:
                pass  # closed

    async def _wait(self, t0, c0):
        # The run's future, after the clocks were read: done at once if
        # enough connections were served before the run began (warm).
        fut = self.fut = asyncio.get_running_loop().create_future()
        if self.quit:  # abort's callback may have run before fut existed
            fut.set_exception(_Quit())
        elif self.error is not None:
            fut.set_exception(DriverError(self.error))
        elif len(self.recs) >= self.n:
            fut.set_result(None)
        try:
            await fut
        finally:
            self.fut = None
        t1 = _mono()
        c1 = _cpu_ns()
        outs = self.recs[:self.n]
        del self.recs[:self.n]
        return t1 - t0, c1 - c0, outs

    async def _start(self):
        with self.lock:
            self.loop = asyncio.get_running_loop()
        self.server = await asyncio.start_server(self._serve, sock=self.lsock, backlog=self.backlog)

    async def _run_warm(self):
        c0 = _cpu_ns()
        t0 = _mono()
        return await self._wait(t0, c0)

    async def _cold_main(self, t0, c0):
        with self.lock:
            if self.quit:
                raise _Quit()
            self.loop = asyncio.get_running_loop()
        lsock = socket.socket(fileno=os.dup(LISTEN_FD))  # the server closes it
        server = await asyncio.start_server(self._serve, sock=lsock, backlog=self.backlog)
        try:
            return await self._wait(t0, c0)
        finally:
            server.close()
            for w in list(self.active):  # none, unless the run failed
                w.transport.abort()
            await server.wait_closed()

    def setup(self):
        self.lsock = _listener()
        _raise_nofile()
        if self.warm:
            # The loop and the server live across runs: between runs the loop
            # is stopped (connections wait in the backlog); a run runs it
            # until N connections are served.
            self.runner = self.Runner(loop_factory=self.factory)
            self.runner.run(self._start())
        else:
            self.lsock.close()  # checked; each run makes its own dup

    def run(self):
        if self.quit:
            raise _Quit()
        if self.warm:
            elapsed, cpu, outs = self.runner.run(self._run_warm())
            return elapsed, cpu, outs, 0
        self.recs, self.error = [], None
        c0 = _cpu_ns()
        t0 = _mono()
        try:
            with self.Runner(loop_factory=self.factory) as runner:
                _, cpu, outs = runner.run(self._cold_main(t0, c0))
        finally:
            with self.lock:
                self.loop = None
        # The timed region ends with the loop closed.
        t1 = _mono()
        c1 = _cpu_ns()
        return t1 - t0, c1 - c0, outs, 0

    async def _stop(self):
        self.server.close()
        for w in list(self.active):
            w.transport.abort()
        await self.server.wait_closed()

    def stop(self):
        if self.runner is not None:
            self.runner.run(self._stop())
            self.runner.close()
            self.runner = None
        with self.lock:
            self.loop = None


class _StdinLines:
    """stdin's lines, read by a thread of its own (workload=echo): a quit or
    EOF that comes while a run waits for connections that may never come
    ends the run at once (on_quit), instead of when the caller kills the
    driver. It reads descriptor 0 with os.read, never sys.stdin, whose lock
    a forked child would inherit held."""

    def __init__(self, on_quit):
        self.q = queue.SimpleQueue()
        self.on_quit = on_quit
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(0, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while True:
                line, nl, rest = buf.partition(b"\n")
                if not nl:
                    break
                buf = rest
                self._line(line)
        if buf:
            self._line(buf)
        self.on_quit()
        self.q.put("")  # EOF

    def _line(self, line):
        text = line.decode("utf-8", "replace")
        if text.strip() == "quit":
            self.on_quit()
        self.q.put(text + "\n")

    def readline(self):
        return self.q.get()


# --------------------------------------------------------------------------
# Arguments


class ArgError(Exception):
    pass


_WORKLOAD_KEYS = {
    "primes": ("ranges",),
    "sleep": ("tasks", "concurrency", "sleep_ns"),
    "pipeline": ("stages", "messages", "payload_bytes"),
    "echo": ("connections", "requests", "payload_bytes", "think_ns"),
    "interleave": ("tasks", "events", "repeats", "between", "gap_ns", "compute_n"),
    "blocking": ("tasks", "block_ns", "wait_ns", "offload", "pool"),
    "spawn": ("workers",),
    "hold": ("workers", "result_bytes", "results"),
    "convoy": ("ops", "io_ns", "cpu_workers", "chunk_n"),
}
_KEYS = {"workload", "model", "start", "start_method", "event_loop"}.union(*_WORKLOAD_KEYS.values())


def _uint(key, s, lo, hi=None):
    if not s.isascii() or not s.isdigit():
        raise ArgError("%s=%s: want a decimal integer" % (key, s))
    v = int(s)
    if v < lo:
        raise ArgError("%s=%s: want at least %d" % (key, s, lo))
    if hi is not None and v > hi:
        raise ArgError("%s=%s: want at most %d" % (key, s, hi))
    return v


def _oneof(key, s, allowed):
    if s not in allowed:
        raise ArgError("%s=%s: want one of %s" % (key, s, "|".join(allowed)))
    return s


def parse_args(argv):
    kv = {}
    for a in argv:
        k, eq, v = a.partition("=")
        if not eq:
            raise ArgError("argument %r: want key=value" % a)
        if k not in _KEYS:
            raise ArgError("unknown key %r" % k)
        if k in kv:
            raise ArgError("key %r given twice" % k)
        kv[k] = v
    for k in ("workload", "model", "start"):
        if k not in kv:
            raise ArgError("missing key %r" % k)
    choices = {"workload": tuple(_WORKLOAD_KEYS), "model": ("process", "thread", "loop"),
               "start": ("warm", "cold"), "start_method": ("fork", "spawn", "forkserver"),
               "event_loop": ("asyncio", "uvloop")}
    for k, allowed in choices.items():
        if k in kv and kv[k] not in allowed:
            raise ArgError("%s=%s: want one of %s" % (k, kv[k], "|".join(allowed)))
    cfg = {"workload": kv["workload"], "model": kv["model"], "start": kv["start"]}
    w = cfg["workload"]
    for k in kv:
        if k in _KEYS - {"workload", "model", "start", "start_method", "event_loop"} and k not in _WORKLOAD_KEYS[w]:
            raise ArgError("key %r does not apply to workload=%s" % (k, w))
    for k in _WORKLOAD_KEYS[w]:
        if k not in kv:
            raise ArgError("workload=%s needs key %r" % (w, k))
    if "start_method" in kv and cfg["model"] != "process":
        raise ArgError("start_method applies to model=process only")
    if "event_loop" in kv and cfg["model"] != "loop":
        raise ArgError("event_loop applies to model=loop only")
    cfg["start_method"] = kv.get("start_method", "fork")
    cfg["event_loop"] = kv.get("event_loop", "asyncio")
    if w == "primes":
        ranges = []
        for r in kv["ranges"].split(","):
            lo, dash, hi = r.partition("-")
            if not dash:
                raise ArgError("ranges: %r: want LO-HI" % r)
            lo, hi = _uint("ranges", lo, 2), _uint("ranges", hi, 2)
            if hi < lo:
                raise ArgError("ranges: %r: HI < LO" % r)
            ranges.append((lo, hi))
        cfg["ranges"] = ranges
    elif w == "sleep":
        cfg["tasks"] = _uint("tasks", kv["tasks"], 1)
        cfg["concurrency"] = _uint("concurrency", kv["concurrency"], 1)
        cfg["sleep_ns"] = _uint("sleep_ns", kv["sleep_ns"], 0)
        if cfg["concurrency"] > cfg["tasks"]:
            raise ArgError("concurrency=%d > tasks=%d" % (cfg["concurrency"], cfg["tasks"]))
    elif w == "echo":
        # requests, payload_bytes and think_ns describe the load the
        # generator makes; the server only echoes.
        cfg["connections"] = _uint("connections", kv["connections"], 1)
        cfg["requests"] = _uint("requests", kv["requests"], 1)
        cfg["payload_bytes"] = _uint("payload_bytes", kv["payload_bytes"], 1)
        cfg["think_ns"] = _uint("think_ns", kv["think_ns"], 0)
    elif w == "interleave":
        cfg["tasks"] = _uint("tasks", kv["tasks"], 2, 26)  # one letter each
        cfg["events"] = _uint("events", kv["events"], 1, 65535)  # a record's seq: 16 bits
        cfg["repeats"] = _uint("repeats", kv["repeats"], 1)
        cfg["between"] = _oneof("between", kv["between"], ("wait", "compute"))
        cfg["gap_ns"] = _uint("gap_ns", kv["gap_ns"], 0)
        cfg["compute_n"] = _uint("compute_n", kv["compute_n"], 2)
    elif w == "blocking":
        if cfg["model"] != "loop":
            raise ArgError("workload=blocking runs on model=loop only")
        cfg["tasks"] = _uint("tasks", kv["tasks"], 1)
        cfg["block_ns"] = _uint("block_ns", kv["block_ns"], 0)
        cfg["wait_ns"] = _uint("wait_ns", kv["wait_ns"], 0)
        cfg["offload"] = _oneof("offload", kv["offload"], ("none", "pool"))
        cfg["pool"] = _uint("pool", kv["pool"], 0) or cfg["tasks"]  # 0: a thread per task
    elif w == "spawn":
        cfg["workers"] = _uint("workers", kv["workers"], 1)
    elif w == "hold":
        cfg["workers"] = _uint("workers", kv["workers"], 1)
        cfg["result_bytes"] = _uint("result_bytes", kv["result_bytes"], 8)
        cfg["results"] = _oneof("results", kv["results"], ("hold", "release", "one-at-a-time"))
    elif w == "convoy":
        cfg["ops"] = _uint("ops", kv["ops"], 1)
        cfg["io_ns"] = _uint("io_ns", kv["io_ns"], 1)
        cfg["cpu_workers"] = _uint("cpu_workers", kv["cpu_workers"], 0)
        cfg["chunk_n"] = _uint("chunk_n", kv["chunk_n"], 2)
    else:
        cfg["stages"] = _uint("stages", kv["stages"], 0)
        cfg["messages"] = _uint("messages", kv["messages"], 1)
        cfg["payload_bytes"] = _uint("payload_bytes", kv["payload_bytes"], 1)
    return cfg


# --------------------------------------------------------------------------
# Identity, output, the command loop


def identity():
    import json
    import sysconfig
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if is_gil_enabled is not None:
        gil = bool(is_gil_enabled())
    elif not free_threaded:
        gil = True
    else:
        gil = None
    try:
        import uvloop
        uv, uv_err = str(uvloop.__version__), ""
    except Exception as e:
        uv, uv_err = "", _errmsg(e)
    return json.dumps({
        "executable": sys.executable,
        "version": _oneline(sys.version),
        "implementation": sys.implementation.name,
        "gil_enabled": gil,
        "free_threaded_build": free_threaded,
        "config_args": sysconfig.get_config_var("CONFIG_ARGS") or "",
        "cflags": sysconfig.get_config_var("CFLAGS") or "",
        "uvloop": uv,
        "uvloop_error": uv_err,
        "default_start_method": multiprocessing.get_context().get_start_method(),
        "start_methods": multiprocessing.get_all_start_methods(),
    })


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()  # also: a forked worker must find no buffered output


def _join(values):
    return ",".join(str(v) for v in values) if values else "-"


def format_result(elapsed, cpu, peak, f):
    spans = f["spans"]
    return " ".join([
        "result",
        "elapsed_ns=%d" % elapsed,
        "cpu_ns=%d" % cpu,
        "peak_rss_b=%d" % peak,
        "pids=" + _join(sorted(f["pids"])),
        "tids=" + _join(sorted(f["tids"])),
        "counts=" + (_join(f["counts"]) if f["counts"] is not None else "-"),
        "slept=%d" % f["slept"],
        "spans=" + (",".join("%d:%d" % s for s in spans) if spans else "-"),
        "received=%d" % f["received"],
        "served=%d" % f["served"],
        "orders=" + _join(f["orders"]),
        "done=%d" % f["done"],
        "digest=%d" % f["digest"],
        "latencies=" + _join(f["latencies"]),
        "chunks=%d" % f["chunks"],
    ])


def _die(msg):
    """error <msg>, exit 1: kill the workers first (never leave them behind)."""
    for p in _PROCS:
        try:
            p.kill()
        except Exception:
            pass
    for s in _FORKED:  # ForkingTCPServer's children
        for pid in list(s):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    try:
        _emit("error " + _oneline(msg))
    except Exception:
        pass
    for p in _PROCS:
        try:
            p.join(1)
        except Exception:
            pass
    os._exit(1)  # no interpreter shutdown: threads may be blocked for good


def main(argv):
    if argv == ["--identity"]:
        print(identity(), flush=True)
        return 0
    try:
        cfg = parse_args(argv)
    except ArgError as e:
        _die(e)
    if cfg["model"] == "loop" and cfg["event_loop"] == "uvloop":
        try:
            import uvloop  # noqa: F401
        except Exception as e:
            _die("uvloop: %s" % _errmsg(e))
    try:
        plan = Plan(cfg)
        warm = cfg["start"] == "warm"
        echo = cfg["workload"] == "echo"
        if echo:
            model = {"thread": EchoThreadModel, "loop": EchoLoopModel,
                     "process": EchoProcessModel}[cfg["model"]](cfg)
        elif cfg["workload"] == "blocking":
            model = BlockingLoopModel(plan, warm, cfg["event_loop"], cfg["offload"], cfg["pool"])
        elif cfg["model"] == "thread":
            model = ThreadModel(plan, warm)
        elif cfg["model"] == "loop":
            model = LoopModel(plan, warm, cfg["event_loop"])
        else:
            model = ProcessModel(plan, warm, cfg["start_method"])
        if cfg["workload"] == "interleave":
            model = RepeatModel(plan, model, getattr(model, "ctx", None))
        model.setup()
        _emit("ready")
        readline = sys.stdin.readline
        if echo:
            # A run waits for connections, not for its own workers: stdin is
            # watched during it (see _StdinLines).
            readline = _StdinLines(model.abort).readline
        while True:
            line = readline()
            if not line:
                break  # EOF
            cmd = line.strip()
            if cmd == "run":
                _reset_hwm()
                try:
                    elapsed, cpu, outs, workers_rss = model.run()
                except _Quit:
                    break  # quit or EOF during the run: stop, no result
                fields = plan.collect(outs)
                if fields["elapsed"] is not None:
                    elapsed = fields["elapsed"]
                _emit(format_result(elapsed, cpu, _hwm_bytes() + workers_rss, fields))
            elif cmd == "quit":
                break
            elif cmd:
                raise DriverError("unknown command %r" % cmd)
        model.stop()
    except DriverError as e:
        _die(e)
    except BaseException as e:
        _die(_errmsg(e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
