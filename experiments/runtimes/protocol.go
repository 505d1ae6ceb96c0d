// Package runtimes runs the lab's workloads in runtimes other than Go: the
// article's own (CPython: multiprocessing, threading, asyncio, uvloop) and the
// operating system's floor (native C: fork, pthreads, epoll). Each is a
// driver program that speaks the protocol below; Model adapts a driver to
// model.Model, so that external cells are measured, verified and reported by
// the same code as the Go cells.
//
// # The driver protocol
//
// A driver is started once per sample, outside any timed region:
//
//	<driver> workload=<w> model=<m> start=<warm|cold> [key=value ...]
//
// (for CPython, <driver> is "<python> driver.py"). The keys:
//
//	workload=primes   ranges=LO-HI,LO-HI,...  one range per worker; a worker
//	                  counts the primes in [LO, HI] by the article's trial
//	                  division (every j in [2, i), stop at the first divisor)
//	workload=sleep    tasks=M concurrency=C sleep_ns=D: M tasks that each wait
//	                  D, at most C at once (C workers; task t is worker t mod C's)
//	workload=pipeline stages=S messages=M payload_bytes=B: a source emits M
//	                  payloads, payload k's byte i = (7·i + k) mod 256; each
//	                  of S stages adds 1 to every byte (mod 256); the sink
//	                  checks every payload: byte i = (7·i + k + S) mod 256, in
//	                  order (a checksum of the expected payload will do)
//	workload=echo     connections=N requests=R payload_bytes=B think_ns=T: the
//	                  driver inherits a listening TCP socket on 127.0.0.1 as
//	                  file descriptor 3 (blocking mode; set O_NONBLOCK on it if
//	                  the model needs it) and must not close it before quit.
//	                  Each run accepts exactly N connections on it, echoes
//	                  every byte each one sends, as it arrives, until the
//	                  client closes its side, then closes it; the run ends
//	                  when all N are closed. A load generator outside the
//	                  driver (same for every runtime) makes the N·R requests
//	                  of B bytes, T apart per connection, and checks every
//	                  echo; R, B and T tell the driver what to expect only.
//	workload=interleave tasks=T events=E repeats=R between=wait|compute
//	                  gap_ns=G compute_n=N: the article's two-task program.
//	                  T tasks (2…26; task t's letter is 'A'+t) each emit
//	                  events 0…E-1 in order to one shared log, pausing
//	                  between two: a wait of G (between=wait: the model's own
//	                  sleep) or a count of the primes in [2, N], checked
//	                  (between=compute). Run R times per run: a warm run
//	                  hands each pre-started worker its task, in task order,
//	                  in one go, every repeat; a cold run creates and joins
//	                  them in each repeat. elapsed_ns is the repeats' sum.
//	                  The log records the order the events arrived in,
//	                  nothing added: thread: a list under a lock; loop: a
//	                  list; process: 4-byte records written to one pipe
//	                  (atomic writes) that the driver reads in arrival order
//	workload=blocking tasks=M block_ns=B wait_ns=W offload=none|pool pool=P
//	                  (model=loop only): M tasks that each make a blocking
//	                  call of B, then wait W on the loop. offload=none: the
//	                  call blocks the loop's thread; offload=pool: a pool of
//	                  P threads (0: one per task) makes it while the task
//	                  awaits it (run_in_executor). Warm: the pool's threads
//	                  are up before "ready"; cold: the pool is created in the
//	                  run and joined at its end
//	workload=spawn    workers=W: W workers that only report who they are.
//	                  Cold: created, started and joined in the timed region;
//	                  warm: a pool of W made before "ready", each of which
//	                  runs exactly one of the W tasks per run
//	workload=hold     workers=W result_bytes=B
//	                  results=hold|release|one-at-a-time: worker w produces
//	                  B bytes, the little-endian 64-bit word
//	                  ((w+1)·0x9E3779B97F4A7C15) mod 2^64 repeated (the last
//	                  copy cut short), and hands it to the driver's thread
//	                  (process: through a pipe), which consumes it: its CRC-32
//	                  (IEEE, zlib's). hold: every result is kept until all W
//	                  are in, then consumed; release: each is consumed as it
//	                  arrives and dropped; one-at-a-time (the article's fix):
//	                  worker w hands over only its index w, and the consumer
//	                  (the driver's thread; loop: the code awaiting the task)
//	                  produces result w itself as each index arrives,
//	                  consumes it and drops it before the next, so only one
//	                  result is alive at a time
//	workload=convoy   ops=K io_ns=D cpu_workers=C chunk_n=N: one I/O worker
//	                  makes K blocking waits of D (loop: awaits of a timer)
//	                  and times each, from before the call until it runs
//	                  again; beside it, C CPU workers count the primes in
//	                  [2, N] chunk after chunk, each count checked, until it
//	                  is done (the chunk under way is finished). The I/O
//	                  worker starts once every CPU worker has begun its first
//	                  chunk (loop: after every CPU task ran one; a CPU task
//	                  yields after each chunk). elapsed_ns is the I/O
//	                  worker's own time, from before its first wait to after
//	                  its last, for either start
//	model=process     one OS process per worker (primes, sleep, interleave,
//	                  spawn, hold, convoy: the I/O worker and each CPU worker)
//	                  or per stage, source and sink (pipeline), joined by pipes
//	model=thread      one OS thread per worker or per stage, source and sink
//	model=loop        one thread: an event loop running one task per worker
//	                  or per stage (timers for sleep, in-memory queues of 16
//	                  payloads for the pipeline)
//	start=warm        workers are created before "ready" and reused by every
//	                  run; start=cold: each run creates them, and the timed
//	                  region includes their creation and their join
//
// CPython drivers also take start_method=fork|spawn|forkserver (process) and
// event_loop=asyncio|uvloop (loop). A driver refuses an unknown key or value
// with an error.
//
// The driver reads commands on stdin, one per line, and answers each on
// stdout, one line each; anything else it has to say goes to stderr.
//
//	(at start)  "ready" once it can run (warm: once every worker is up and
//	            waiting), or "error <message>" and exit status 1
//	run         execute the workload once; answer "result <key=value ...>",
//	            or "error <message>" (then exit 1)
//	quit or EOF stop every worker, wait for it, exit 0
//
// A result's keys (lists are comma-separated; empty lists as "-"). Every key
// is present, except that orders, done, digest, latencies and chunks, which
// came with the interleave, blocking, spawn, hold and convoy workloads, may
// be absent (the native driver, which runs none of them, does not print
// them); absent, they are "-" or 0:
//
//	elapsed_ns   wall time of the timed region (CLOCK_MONOTONIC): the work
//	             only when warm; creating the workers, the work and joining
//	             them when cold
//	cpu_ns       user+system CPU time the driver and every worker used in
//	             the timed region (convoy: in the whole run) (getrusage: the driver's own delta, the
//	             reaped children's delta when cold, the workers' own deltas,
//	             reported by them, when warm)
//	peak_rss_b   the driver's peak resident set (VmHWM) plus the sum of the
//	             peaks of the worker processes of this run, in bytes
//	pids         the distinct process ids that ran the work (a prime range, a
//	             sleep task, a pipeline source, stage or sink, an echo
//	             connection, an interleave task, a spawn worker, a hold
//	             result, a convoy worker; a blocking task and, offloaded,
//	             the pool thread that made its call)
//	tids         the distinct OS thread ids (gettid) that ran the work
//	counts       primes: the count of each range, in order
//	slept        sleep: tasks that completed their wait
//	spans        sleep: for every task, START:END of its wait, CLOCK_MONOTONIC
//	             nanoseconds, as the waiting code read the clock
//	received     pipeline: payloads the sink checked and accepted
//	served       echo: connections accepted, echoed until EOF and closed
//	orders       interleave: one order per repeat, the tasks' letters in
//	             the order their events reached the log (e.g. ABAB…)
//	done         blocking: tasks that completed both steps; spawn: workers
//	             that ran; hold: results consumed
//	digest       hold: the sum of the consumed results' CRC-32s, mod 2^64
//	latencies    convoy: the I/O worker's time for each operation, ns
//	chunks       convoy: the chunks the CPU workers completed and checked
//
// Keys a workload does not produce are "-" (counts, spans) or 0. A driver
// never outlives its reader: workers stop when their command pipe or the
// driver's stdin reaches EOF.
package runtimes
