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
//	model=process     one OS process per worker (primes, sleep) or per stage,
//	                  source and sink (pipeline), joined by pipes
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
// A result's keys (lists are comma-separated; every key present, empty
// lists as "-"):
//
//	elapsed_ns   wall time of the timed region (CLOCK_MONOTONIC): the work
//	             only when warm; creating the workers, the work and joining
//	             them when cold
//	cpu_ns       user+system CPU time the driver and every worker used in
//	             the timed region (getrusage: the driver's own delta, the
//	             reaped children's delta when cold, the workers' own deltas,
//	             reported by them, when warm)
//	peak_rss_b   the driver's peak resident set (VmHWM) plus the sum of the
//	             peaks of the worker processes of this run, in bytes
//	pids         the distinct process ids that ran the work (a prime range, a
//	             sleep task, a pipeline source, stage or sink, an echo
//	             connection)
//	tids         the distinct OS thread ids (gettid) that ran the work
//	counts       primes: the count of each range, in order
//	slept        sleep: tasks that completed their wait
//	spans        sleep: for every task, START:END of its wait, CLOCK_MONOTONIC
//	             nanoseconds, as the waiting code read the clock
//	received     pipeline: payloads the sink checked and accepted
//	served       echo: connections accepted, echoed until EOF and closed
//
// Keys a workload does not produce are "-" (counts, spans) or 0. A driver
// never outlives its reader: workers stop when their command pipe or the
// driver's stdin reaches EOF.
package runtimes
