/*
 * driver.c: the native driver of the concurrency lab, the operating system's
 * floor that every Go and CPython figure is compared with. It speaks the
 * driver protocol of ../protocol.go (the package comment there is the
 * contract): one invocation per sample, commands "run" / "quit" / EOF on
 * stdin, one reply line per command on stdout ("ready", "result k=v ...",
 * "error <message>"), diagnostics on stderr.
 *
 * Build (the Go side compiles it with exactly these flags):
 *
 *	cc -std=c11 -O2 -pthread -Wall -Wextra -Werror -D_GNU_SOURCE -o driver driver.c
 *
 * C11 + POSIX + Linux (epoll, timerfd, futex, prctl, F_SETPIPE_SZ, gettid via
 * syscall(SYS_gettid)); nothing beyond libc and pthread.
 *
 * Models:
 *   process  fork() one process per worker (primes, sleep) or per pipeline
 *            node (source, each stage, sink), joined by pipes; results come
 *            back over a result pipe per worker.
 *   thread   one pthread per worker / node; pipeline nodes are joined by
 *            bounded queues (mutex + condvars) of buffer pointers.
 *   loop     the driver's main thread: an epoll + timerfd reactor driving a
 *            min-heap of deadlines (sleep), and a round-robin scheduler of
 *            cooperative tasks joined by in-memory ring queues (pipeline).
 *
 * start=cold: the timed region creates the workers, does the work and joins
 * them (waitpid / pthread_join; for the loop: creating and closing the
 * reactor and the tasks' state). start=warm: every worker is created and
 * waiting before "ready"; each run releases them (a byte on each process's
 * command pipe; a futex generation counter for threads) and the timed region
 * ends when the last result is in.
 *
 * workload=echo (a TCP echo server on the listening socket inherited as
 * descriptor 3) is organised differently: see its section below.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Configuration                                                      */

enum { W_PRIMES, W_SLEEP, W_PIPELINE, W_ECHO };
enum { M_PROCESS, M_THREAD, M_LOOP };


/* self_peak_rss is this process's peak resident set (VmHWM), in bytes.
 * Not getrusage's ru_maxrss: Linux carries that across execve, so a driver
 * would report the peak of the process that launched it. */
static int64_t self_peak_rss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int64_t kb = -1;
	if (f) {
		while (fgets(line, sizeof line, f))
			if (sscanf(line, "VmHWM: %" SCNd64 " kB", &kb) == 1)
				break;
		fclose(f);
	}
	if (kb < 0) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		kb = ru.ru_maxrss;
	}
	return kb * 1024;
}

static int workload = -1, model = -1, warm = -1;

/* primes */
static int nranges;
static long *range_lo, *range_hi;
static long *counts; /* one per range */

/* sleep */
static long tasks, conc, sleep_ns;
typedef struct {
	int64_t start, end;
} span_t;
static span_t *spans; /* one per task, indexed by task */

/* pipeline */
static long stages, messages, payload_bytes;
static unsigned char *pattern; /* pattern[j] = 7*j mod 256, payload_bytes + 256 bytes */
static long received;          /* payloads the sink accepted in the last run */

/* echo (payload_bytes above; requests, payload_bytes and think_ns only tell
 * what the load generator will do) */
static long connections, requests, think_ns;
static long served; /* connections the last run accepted, echoed to EOF and closed */

/* Workers: nranges (primes), conc (sleep) or stages + 2 (pipeline). */
static int nunits;
typedef struct {
	int pid, tid;
} idpair_t;
static idpair_t *ids; /* (pid, tid) recorded by each unit of work */

static pid_t driver_pid;
static int is_child; /* set in forked workers: they never write to stdout */

/* Child processes alive, so that an error can kill and reap them. */
static pid_t *live;

/* echo, model=process: every child alive, as a bitmap indexed by pid (the
 * servers forked per connection come and go by the thousand). */
static uint64_t *pidmap;
static long pidmap_words;
static void kill_children(void);

/* ------------------------------------------------------------------ */
/* Errors and small helpers                                           */

static pthread_mutex_t die_mu = PTHREAD_MUTEX_INITIALIZER;

/* die reports "error <message>" (one line) and exits 1, after killing and
 * reaping every worker process. Safe to call from any thread of the driver;
 * in a forked worker it writes to stderr and exits 1 instead. */
static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (is_child) {
		fprintf(stderr, "driver worker %d: %s\n", (int)getpid(), msg);
		_exit(1);
	}
	pthread_mutex_lock(&die_mu); /* never unlocked: the first error wins */
	if (live) {
		for (int i = 0; i < nunits; i++)
			if (live[i] > 0)
				kill(live[i], SIGKILL);
		for (int i = 0; i < nunits; i++)
			if (live[i] > 0)
				while (waitpid(live[i], NULL, 0) < 0 && errno == EINTR)
					;
	}
	if (pidmap)
		kill_children();
	printf("error %s\n", msg);
	fflush(stdout);
	_exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int gettid_(void) { return (int)syscall(SYS_gettid); }

static inline void record_id(int w)
{
	ids[w].pid = (int)getpid();
	ids[w].tid = gettid_();
}

static int64_t tv_ns(struct timeval tv) { return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000; }
static int64_t ru_cpu_ns(const struct rusage *ru) { return tv_ns(ru->ru_utime) + tv_ns(ru->ru_stime); }

static struct rusage self_usage(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		die("getrusage: %s", strerror(errno));
	return ru;
}

/* read_full reads n bytes unless EOF comes first; it returns how many it
 * read, or -1 on an error. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* write_full writes all n bytes; 0 on success, -1 on an error (EPIPE when the
 * reader is gone: SIGPIPE is ignored). */
static int write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t r = write(fd, (const char *)buf + put, n - put);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		put += (size_t)r;
	}
	return 0;
}

static void say(const char *line)
{
	fputs(line, stdout);
	fputc('\n', stdout);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("stdout: %s", strerror(errno)); /* the reader is gone */
}

/* ------------------------------------------------------------------ */
/* The work itself                                                    */

/* count_primes is the article's trial division: every j in [2, i), stopping
 * at the first divisor. No square-root bound: the divisions are the workload.
 * The count is the result, so the compiler cannot drop the loops. */
static long count_primes(long lo, long hi)
{
	long count = 0;
	if (lo < 2)
		lo = 2;
	for (long i = lo; i <= hi; i++) {
		int prime = 1;
		for (long j = 2; j < i; j++) {
			if (i % j == 0) {
				prime = 0;
				break;
			}
		}
		count += prime;
	}
	return count;
}

/* Number of sleep tasks of worker w: tasks w, w+C, w+2C, ... < M. */
static long tasks_of(long w) { return w < tasks ? (tasks - 1 - w) / conc + 1 : 0; }

/* sleep_for blocks the calling thread for sleep_ns (nanosleep, resumed with
 * the remaining time when a signal interrupts it). */
static void sleep_for(void)
{
	struct timespec req = {.tv_sec = sleep_ns / 1000000000, .tv_nsec = sleep_ns % 1000000000}, rem;
	while (nanosleep(&req, &rem) != 0) {
		if (errno != EINTR)
			die("nanosleep: %s", strerror(errno));
		req = rem;
	}
}

/* sleep_worker runs worker w's tasks one after another, each bracketed by
 * CLOCK_MONOTONIC readings; out[j] is the span of its j-th task. */
static void sleep_worker(long w, span_t *out)
{
	long j = 0;
	for (long t = w; t < tasks; t += conc, j++) {
		out[j].start = now_ns();
		sleep_for();
		out[j].end = now_ns();
	}
}

/* Pipeline payloads. Payload k's byte i is (7i + k) mod 256. Since 7 is odd,
 * 7·183 ≡ 1 (mod 256), so that payload equals pattern[m .. m+B) with
 * m = 183·k mod 256 (pattern[j] = 7j mod 256, B + 256 bytes long, built
 * outside any timed region): the source fills a buffer with one memcpy, and
 * the sink checks every byte of payload k after S stages, i.e. byte i =
 * (7i + k + S) mod 256, with one memcmp against pattern + 183·(k+S) mod 256. */
static inline const unsigned char *expected(long k)
{
	return pattern + ((183 * (k & 255)) & 255);
}

static inline void fill(unsigned char *buf, long k) { memcpy(buf, expected(k), (size_t)payload_bytes); }

static inline int check(const unsigned char *buf, long k)
{
	return memcmp(buf, expected(k + stages), (size_t)payload_bytes) == 0;
}

/* stage_add1 is one stage's work: add 1 to every byte, 8 bytes at a time
 * without carries crossing bytes (the Go workload's SWAR add), then the
 * tail byte by byte. */
static void stage_add1(unsigned char *b)
{
	const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL, hi1 = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	size_t n = (size_t)payload_bytes, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, b + i, 8);
		x = ((x & lo7) + ones) ^ (x & hi1);
		memcpy(b + i, &x, 8);
	}
	for (; i < n; i++)
		b[i]++;
}

/* Buffers an in-memory pipeline needs at most: a full queue between every
 * pair of neighbours plus one held by every node (pipeline.InFlight), or one
 * per message if there are fewer messages. */
#define QUEUE_DEPTH 16
static long pipeline_buffers(void)
{
	long inflight = (stages + 1) * QUEUE_DEPTH + stages + 2;
	return messages < inflight ? messages : inflight;
}

/* touch makes a fresh buffer's pages resident (warm set-up, outside the
 * timed region). */
static void touch(unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i += 4096)
		b[i] = 0;
	if (n)
		b[n - 1] = 0;
}

/* An in-memory pipeline's buffers (thread, loop) are slices of one anonymous
 * mapping, each 64-byte aligned. It is mapped when the workers are created
 * (inside the timed region when cold, touched before "ready" when warm) and
 * unmapped when they are joined, so that every cold run gets fresh pages
 * from the kernel, as the first one does, whatever malloc would recycle. */
typedef struct {
	unsigned char *base;
	size_t len;
	long n;
	unsigned char **buf;
} pool_t;

static void pool_open(pool_t *p, long n)
{
	size_t stride = ((size_t)payload_bytes + 63) & ~(size_t)63;
	p->n = n;
	p->len = stride * (size_t)n;
	p->base = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->base == MAP_FAILED)
		die("mmap of %ld buffers of %ld bytes: %s", n, payload_bytes, strerror(errno));
	if (warm)
		touch(p->base, p->len);
	p->buf = xcalloc((size_t)n, sizeof *p->buf);
	for (long i = 0; i < n; i++)
		p->buf[i] = p->base + (size_t)i * stride;
}

static void pool_close(pool_t *p)
{
	munmap(p->base, p->len);
	free(p->buf);
}

/* ------------------------------------------------------------------ */
/* model=process                                                      */

/* A worker's reply on its result pipe: this header, then nspans spans. Its
 * size is a multiple of 8, so the spans that follow stay aligned. */
typedef struct {
	int32_t pid, tid;
	int32_t err, nspans;
	int64_t cpu_ns; /* warm: the worker's own getrusage delta over the run */
	int64_t rss_b;  /* warm: the worker's ru_maxrss in bytes */
	int64_t value;  /* primes: the count; pipeline sink: payloads accepted */
	char msg[160];  /* err != 0: why */
} wrec_t;

static pid_t *wpid;      /* worker processes */
static int *wcmd;        /* warm: write end of each worker's command pipe */
static int *wres;        /* read end of each worker's result pipe */
static int (*dpipe)[2];  /* pipeline: data pipe k joins node k to node k+1 */
static span_t *spanbuf;  /* scratch for one worker's spans */
static int devnull = -1; /* the workers' stdin */

enum { ERR_NEIGHBOUR = 1, ERR_OWN = 2 };

static void child_err(wrec_t *rec, int sev, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void child_err(wrec_t *rec, int sev, const char *fmt, ...)
{
	if (rec->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rec->msg, sizeof rec->msg, fmt, ap);
	va_end(ap);
	rec->err = sev;
}

/* proc_pipeline_node runs pipeline node k (0 = source, 1..S = stages,
 * S+1 = sink) over its data pipes, moving whole payloads (partial reads and
 * writes are looped over). */
static void proc_pipeline_node(int k, int in, int out, unsigned char *buf, wrec_t *rec)
{
	size_t n = (size_t)payload_bytes;
	if (k == 0) {
		for (long m = 0; m < messages; m++) {
			fill(buf, m);
			if (write_full(out, buf, n) != 0) {
				child_err(rec, errno == EPIPE ? ERR_NEIGHBOUR : ERR_OWN, "pipeline source: write payload %ld: %s", m, strerror(errno));
				return;
			}
		}
	} else if (k <= stages) {
		for (long m = 0; m < messages; m++) {
			ssize_t r = read_full(in, buf, n);
			if (r != (ssize_t)n) {
				child_err(rec, r < 0 ? ERR_OWN : ERR_NEIGHBOUR, "pipeline stage %d: payload %ld: %s", k, m, r < 0 ? strerror(errno) : "upstream closed its pipe");
				return;
			}
			stage_add1(buf);
			if (write_full(out, buf, n) != 0) {
				child_err(rec, errno == EPIPE ? ERR_NEIGHBOUR : ERR_OWN, "pipeline stage %d: write payload %ld: %s", k, m, strerror(errno));
				return;
			}
		}
	} else {
		for (long m = 0; m < messages; m++) {
			ssize_t r = read_full(in, buf, n);
			if (r != (ssize_t)n) {
				child_err(rec, r < 0 ? ERR_OWN : ERR_NEIGHBOUR, "pipeline sink: payload %ld: %s", m, r < 0 ? strerror(errno) : "upstream closed its pipe");
				return;
			}
			if (!check(buf, m)) {
				child_err(rec, ERR_OWN, "pipeline sink: payload %ld is wrong (a stage skipped, reordered or corrupted it)", m);
				return;
			}
			rec->value++;
		}
	}
}

/* keep_only closes every descriptor of a new worker but 0, 1, 2 and keep[]:
 * without this a worker would hold other workers' pipe ends, and they would
 * never see EOF. */
static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void keep_only(int *keep, int n)
{
	qsort(keep, (size_t)n, sizeof *keep, cmp_int);
	unsigned lo = 3;
	for (int i = 0; i <= n; i++) {
		unsigned hi = i < n ? (unsigned)keep[i] : ~0U; /* close [lo, hi) */
		if (i < n && keep[i] < 3)
			continue;
		if (hi > lo) {
			int done = 0;
#ifdef SYS_close_range
			done = syscall(SYS_close_range, lo, hi - 1, 0) == 0;
#endif
			if (!done) {
				struct rlimit rl;
				unsigned max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (unsigned)rl.rlim_cur : 65536;
				for (unsigned fd = lo; fd < hi && fd < max; fd++)
					close((int)fd);
			}
		}
		if (i < n)
			lo = (unsigned)keep[i] + 1;
	}
}

/* child_main is a worker process. cmd is its command pipe (warm; -1 when
 * cold), res its result pipe, in/out its data pipes (pipeline; -1 if none). */
static _Noreturn void child_main(int w, int cmd, int res, int in, int out)
{
	size_t nsp = workload == W_SLEEP ? (size_t)tasks_of(w) : 0;
	size_t len = sizeof(wrec_t) + nsp * sizeof(span_t);
	unsigned char *reply = xmalloc(len);
	wrec_t *rec = (wrec_t *)reply;
	span_t *sp = (span_t *)(reply + sizeof(wrec_t));
	unsigned char *buf = workload == W_PIPELINE ? xmalloc((size_t)payload_bytes) : NULL;

	if (warm) {
		if (buf)
			touch(buf, (size_t)payload_bytes);
		touch(reply, len);
		if (write_full(res, "h", 1) != 0)
			_exit(1);
	}
	for (;;) {
		struct rusage ru0, ru1;
		if (warm) {
			char c;
			ssize_t r;
			while ((r = read(cmd, &c, 1)) < 0 && errno == EINTR)
				;
			if (r <= 0)
				_exit(0); /* EOF on the command pipe: the driver is done */
			getrusage(RUSAGE_SELF, &ru0);
		}
		memset(rec, 0, sizeof *rec);
		rec->pid = (int32_t)getpid();
		rec->tid = (int32_t)gettid_();
		rec->nspans = (int32_t)nsp;
		switch (workload) {
		case W_PRIMES:
			rec->value = count_primes(range_lo[w], range_hi[w]);
			break;
		case W_SLEEP:
			sleep_worker(w, sp);
			break;
		case W_PIPELINE:
			proc_pipeline_node(w, in, out, buf, rec);
			break;
		}
		if (warm) {
			getrusage(RUSAGE_SELF, &ru1);
			rec->cpu_ns = ru_cpu_ns(&ru1) - ru_cpu_ns(&ru0);
			rec->rss_b = (int64_t)ru1.ru_maxrss * 1024;
		}
		if (write_full(res, reply, len) != 0)
			_exit(1); /* the driver is gone */
		if (rec->err || !warm)
			_exit(rec->err ? 1 : 0);
	}
}

/* Pipe buffers of the pipeline's data pipes are raised to 1 MiB (the default
 * /proc/sys/fs/pipe-max-size, the most an unprivileged process may ask for)
 * when the kernel allows it: with the default 64 KiB the writer sleeps every
 * time the pipe fills, and the lab measures process IPC at its best. A
 * refusal (EPERM past the per-user pipe quota) is not an error: the pipe
 * keeps its default size. */
#define PIPE_SIZE (1 << 20)

static void open_data_pipes(void)
{
	for (long k = 0; k <= stages; k++) {
		if (pipe(dpipe[k]) != 0)
			die("pipe: %s", strerror(errno));
		(void)fcntl(dpipe[k][1], F_SETPIPE_SZ, PIPE_SIZE);
	}
}

static void close_data_pipes(void)
{
	for (long k = 0; k <= stages; k++) {
		close(dpipe[k][0]);
		close(dpipe[k][1]);
	}
}

/* spawn forks worker w, with its result pipe (and command pipe when warm). */
static void spawn(int w)
{
	int res[2], cmd[2] = {-1, -1};
	if (pipe(res) != 0)
		die("pipe: %s", strerror(errno));
	if (warm && pipe(cmd) != 0)
		die("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		is_child = 1;
		/* Die with the driver, even when it is killed with SIGKILL. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != driver_pid)
			_exit(1);
		dup2(2, 1); /* a worker never writes the driver's stdout */
		dup2(devnull, 0);
		int in = -1, out = -1;
		if (workload == W_PIPELINE) {
			if (w >= 1)
				in = dpipe[w - 1][0];
			if (w <= stages)
				out = dpipe[w][1];
		}
		int keep[4], n = 0;
		keep[n++] = res[1];
		if (cmd[0] >= 0)
			keep[n++] = cmd[0];
		if (in >= 0)
			keep[n++] = in;
		if (out >= 0)
			keep[n++] = out;
		keep_only(keep, n);
		child_main(w, cmd[0], res[1], in, out);
	}
	live[w] = wpid[w] = pid;
	close(res[1]);
	wres[w] = res[0];
	if (warm) {
		close(cmd[0]);
		wcmd[w] = cmd[1];
	}
}

/* worker_died describes a worker whose result pipe ended early (it is
 * reaped here). */
static void worker_died(int w, char *why, size_t n)
{
	int st = 0;
	pid_t pid = wpid[w];
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	live[w] = 0;
	if (WIFSIGNALED(st))
		snprintf(why, n, "worker %d (pid %d) was killed by signal %d", w, (int)pid, WTERMSIG(st));
	else
		snprintf(why, n, "worker %d (pid %d) exited with status %d before replying", w, (int)pid, WEXITSTATUS(st));
}

/* collect reads worker w's reply; it adds the worker's reported usage to
 * *cpu and *rss (meaningful when warm). It returns 0, or the severity of the
 * worker's failure, described in why: ERR_NEIGHBOUR when a pipeline node only
 * saw a neighbour go away, ERR_OWN for anything else (a wrong payload, a
 * worker that died), so that the run reports the cause, not its echoes. */
static int collect(int w, int64_t *cpu, int64_t *rss, char *why, size_t whyn)
{
	wrec_t rec;
	ssize_t r = read_full(wres[w], &rec, sizeof rec);
	if (r < 0)
		die("worker %d: read: %s", w, strerror(errno));
	if (r != (ssize_t)sizeof rec) {
		worker_died(w, why, whyn);
		return ERR_OWN;
	}
	if (rec.nspans > 0) {
		size_t n = (size_t)rec.nspans * sizeof(span_t);
		if (rec.nspans != tasks_of(w))
			die("worker %d: sent %d spans; want %ld", w, (int)rec.nspans, tasks_of(w));
		r = read_full(wres[w], spanbuf, n);
		if (r != (ssize_t)n) {
			worker_died(w, why, whyn);
			return ERR_OWN;
		}
		for (long j = 0; j < rec.nspans; j++)
			spans[w + j * conc] = spanbuf[j];
	}
	if (rec.err) {
		rec.msg[sizeof rec.msg - 1] = 0;
		snprintf(why, whyn, "worker %d: %s", w, rec.msg);
		return rec.err;
	}
	ids[w].pid = rec.pid;
	ids[w].tid = rec.tid;
	if (workload == W_PRIMES)
		counts[w] = rec.value;
	if (workload == W_PIPELINE && w == stages + 1)
		received = rec.value;
	*cpu += rec.cpu_ns;
	*rss += rec.rss_b;
	return 0;
}

/* collect_all reads every worker's reply, then fails the run with its most
 * telling error, if any. */
static void collect_all(int64_t *cpu, int64_t *rss)
{
	char why[256], worst_why[256] = "";
	int worst = 0;
	for (int w = 0; w < nunits; w++) {
		int e = collect(w, cpu, rss, why, sizeof why);
		if (e > worst) {
			worst = e;
			memcpy(worst_why, why, sizeof why);
		}
	}
	if (worst)
		die("%s", worst_why);
}

static void process_start(void)
{
	if (!warm)
		return;
	if (workload == W_PIPELINE)
		open_data_pipes();
	for (int w = 0; w < nunits; w++)
		spawn(w);
	if (workload == W_PIPELINE)
		close_data_pipes();
	for (int w = 0; w < nunits; w++) {
		char c;
		ssize_t r = read_full(wres[w], &c, 1);
		if (r != 1 || c != 'h') {
			char why[256];
			worker_died(w, why, sizeof why);
			die("%s", why);
		}
	}
}

static void process_run(int64_t *elapsed, int64_t *cpu, int64_t *rss)
{
	int64_t child_cpu = 0, child_rss = 0;
	struct rusage ru0 = self_usage();
	int64_t t0 = now_ns();
	if (warm) {
		for (int w = 0; w < nunits; w++)
			if (write_full(wcmd[w], "r", 1) != 0) {
				char why[256];
				if (errno != EPIPE)
					die("worker %d (pid %d): command pipe: %s", w, (int)wpid[w], strerror(errno));
				worker_died(w, why, sizeof why); /* EPIPE: it is gone */
				die("%s", why);
			}
		collect_all(&child_cpu, &child_rss);
	} else {
		if (workload == W_PIPELINE)
			open_data_pipes();
		for (int w = 0; w < nunits; w++)
			spawn(w);
		if (workload == W_PIPELINE)
			close_data_pipes();
		int64_t ignore = 0;
		collect_all(&ignore, &ignore);
		for (int w = 0; w < nunits; w++)
			close(wres[w]);
		for (int w = 0; w < nunits; w++) {
			int st;
			struct rusage ru;
			while (wait4(wpid[w], &st, 0, &ru) < 0)
				if (errno != EINTR)
					die("wait4: %s", strerror(errno));
			live[w] = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				die("worker %d (pid %d) ended with status 0x%x", w, (int)wpid[w], st);
			child_cpu += ru_cpu_ns(&ru);
			child_rss += (int64_t)ru.ru_maxrss * 1024;
		}
	}
	int64_t t1 = now_ns();
	struct rusage ru1 = self_usage();
	*elapsed = t1 - t0;
	*cpu = ru_cpu_ns(&ru1) - ru_cpu_ns(&ru0) + child_cpu;
	*rss = self_peak_rss() + child_rss;
}

static void process_stop(void)
{
	if (!warm)
		return;
	for (int w = 0; w < nunits; w++)
		close(wcmd[w]); /* EOF: each worker exits */
	for (int w = 0; w < nunits; w++) {
		while (waitpid(wpid[w], NULL, 0) < 0 && errno == EINTR)
			;
		live[w] = 0;
		close(wres[w]);
	}
}

/* ------------------------------------------------------------------ */
/* model=thread                                                       */

static pthread_t *threads;
static pthread_attr_t tattr;
static atomic_int t_up, t_gen, t_remaining, t_stop;

static void futex_wait(atomic_int *a, int v)
{
	syscall(SYS_futex, (int *)a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(atomic_int *a, int n)
{
	syscall(SYS_futex, (int *)a, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* A bounded queue of buffer pointers (shared memory: payloads are not
 * copied between nodes). */
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	unsigned char **ring;
	int cap, head, n;
} bq_t;

static bq_t *tq;         /* tq[k] joins node k to node k+1, k = 0..S */
static bq_t tfree;       /* buffers back from the sink to the source */
static pool_t tpool;
static long tnbuf;
static pthread_mutex_t terr_mu = PTHREAD_MUTEX_INITIALIZER;
static char terr[256]; /* the sink's first complaint */

static void bq_init(bq_t *q, int cap)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	q->ring = xcalloc((size_t)cap, sizeof *q->ring);
	q->cap = cap;
	q->head = q->n = 0;
}

static void bq_destroy(bq_t *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	free(q->ring);
}

static void bq_put(bq_t *q, unsigned char *b)
{
	pthread_mutex_lock(&q->mu);
	while (q->n == q->cap)
		pthread_cond_wait(&q->not_full, &q->mu);
	q->ring[(q->head + q->n) % q->cap] = b;
	q->n++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

static unsigned char *bq_get(bq_t *q)
{
	pthread_mutex_lock(&q->mu);
	while (q->n == 0)
		pthread_cond_wait(&q->not_empty, &q->mu);
	unsigned char *b = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->mu);
	return b;
}

/* thread_pipeline_open makes the queues and the recycled buffers (a free
 * list: no malloc per message). */
static void thread_pipeline_open(void)
{
	tnbuf = pipeline_buffers();
	tq = xcalloc((size_t)stages + 1, sizeof *tq);
	for (long k = 0; k <= stages; k++)
		bq_init(&tq[k], QUEUE_DEPTH);
	bq_init(&tfree, (int)tnbuf);
	pool_open(&tpool, tnbuf);
	for (long i = 0; i < tnbuf; i++)
		bq_put(&tfree, tpool.buf[i]);
}

static void thread_pipeline_close(void)
{
	pool_close(&tpool);
	for (long k = 0; k <= stages; k++)
		bq_destroy(&tq[k]);
	bq_destroy(&tfree);
	free(tq);
}

static void thread_pipeline_node(int k)
{
	if (k == 0) {
		for (long m = 0; m < messages; m++) {
			unsigned char *b = bq_get(&tfree);
			fill(b, m);
			bq_put(&tq[0], b);
		}
	} else if (k <= stages) {
		for (long m = 0; m < messages; m++) {
			unsigned char *b = bq_get(&tq[k - 1]);
			stage_add1(b);
			bq_put(&tq[k], b);
		}
	} else {
		/* After a wrong payload the sink keeps draining (without
		 * counting), so that no node is left blocked. */
		long ok = 0;
		int bad = 0;
		for (long m = 0; m < messages; m++) {
			unsigned char *b = bq_get(&tq[stages]);
			if (!bad) {
				if (check(b, m)) {
					ok++;
				} else {
					bad = 1;
					pthread_mutex_lock(&terr_mu);
					if (!terr[0])
						snprintf(terr, sizeof terr, "pipeline sink: payload %ld is wrong (a stage skipped, reordered or corrupted it)", m);
					pthread_mutex_unlock(&terr_mu);
				}
			}
			bq_put(&tfree, b);
		}
		received = ok;
	}
}

static void thread_unit(int w)
{
	record_id(w);
	switch (workload) {
	case W_PRIMES:
		counts[w] = count_primes(range_lo[w], range_hi[w]);
		break;
	case W_SLEEP: {
		/* Spans go straight into the shared array: worker w owns
		 * tasks w, w+C, ... */
		for (long t = w; t < tasks; t += conc) {
			spans[t].start = now_ns();
			sleep_for();
			spans[t].end = now_ns();
		}
		break;
	}
	case W_PIPELINE:
		thread_pipeline_node(w);
		break;
	}
}

static void *thread_main(void *arg)
{
	int w = (int)(intptr_t)arg;
	if (!warm) {
		thread_unit(w);
		return NULL;
	}
	/* Warm: report up, then wait for each release of the generation
	 * counter (a futex: one FUTEX_WAKE releases every worker). */
	int seen = 0;
	if (atomic_fetch_add(&t_up, 1) + 1 == nunits)
		futex_wake(&t_up, 1);
	for (;;) {
		int g;
		while ((g = atomic_load(&t_gen)) == seen)
			futex_wait(&t_gen, seen);
		seen = g;
		if (atomic_load(&t_stop))
			return NULL;
		thread_unit(w);
		if (atomic_fetch_sub(&t_remaining, 1) == 1)
			futex_wake(&t_remaining, 1);
	}
}

static void thread_create_all(void)
{
	for (int w = 0; w < nunits; w++) {
		int e = pthread_create(&threads[w], &tattr, thread_main, (void *)(intptr_t)w);
		if (e != 0)
			die("pthread_create (worker %d of %d): %s", w, nunits, strerror(e));
	}
}

static void thread_join_all(void)
{
	for (int w = 0; w < nunits; w++) {
		int e = pthread_join(threads[w], NULL);
		if (e != 0)
			die("pthread_join: %s", strerror(e));
	}
}

static void thread_init(void)
{
	threads = xcalloc((size_t)nunits, sizeof *threads);
	pthread_attr_init(&tattr);
	/* Small stacks (64 KiB, or the system's minimum if larger): the
	 * workers need little stack, and the sleep workload may run 10 000 or
	 * more threads, whose default 8 MiB stacks would reserve 80 GB of
	 * address space. */
	size_t ss = 64 * 1024;
	if (ss < (size_t)PTHREAD_STACK_MIN)
		ss = (size_t)PTHREAD_STACK_MIN;
	int e = pthread_attr_setstacksize(&tattr, ss);
	if (e != 0)
		die("pthread_attr_setstacksize: %s", strerror(e));
}

static void thread_start(void)
{
	if (!warm)
		return;
	if (workload == W_PIPELINE)
		thread_pipeline_open();
	thread_create_all();
	int u;
	while ((u = atomic_load(&t_up)) != nunits)
		futex_wait(&t_up, u);
}

static void thread_run(int64_t *elapsed, int64_t *cpu, int64_t *rss)
{
	struct rusage ru0 = self_usage();
	int64_t t0 = now_ns();
	if (warm) {
		atomic_store(&t_remaining, nunits);
		atomic_fetch_add(&t_gen, 1);
		futex_wake(&t_gen, INT_MAX);
		int r;
		while ((r = atomic_load(&t_remaining)) != 0)
			futex_wait(&t_remaining, r);
	} else {
		if (workload == W_PIPELINE)
			thread_pipeline_open();
		thread_create_all();
		thread_join_all();
		if (workload == W_PIPELINE)
			thread_pipeline_close();
	}
	int64_t t1 = now_ns();
	struct rusage ru1 = self_usage();
	*elapsed = t1 - t0;
	*cpu = ru_cpu_ns(&ru1) - ru_cpu_ns(&ru0);
	*rss = self_peak_rss();
	pthread_mutex_lock(&terr_mu);
	if (terr[0])
		die("%s", terr);
	pthread_mutex_unlock(&terr_mu);
}

static void thread_stop(void)
{
	if (!warm)
		return;
	atomic_store(&t_stop, 1);
	atomic_fetch_add(&t_gen, 1);
	futex_wake(&t_gen, INT_MAX);
	thread_join_all();
	if (workload == W_PIPELINE)
		thread_pipeline_close();
}

/* ------------------------------------------------------------------ */
/* model=loop: one thread (the driver's), a reactor and cooperative tasks */

typedef struct {
	int64_t deadline;
	long task;
} timer_t_;

static int lep = -1, ltfd = -1; /* epoll instance and its one timerfd */
static timer_t_ *heap;         /* min-heap of deadlines */
static long nheap;

static void loop_open(void)
{
	lep = epoll_create1(EPOLL_CLOEXEC);
	if (lep < 0)
		die("epoll_create1: %s", strerror(errno));
	ltfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ltfd < 0)
		die("timerfd_create: %s", strerror(errno));
	struct epoll_event ev = {.events = EPOLLIN, .data = {.fd = ltfd}};
	if (epoll_ctl(lep, EPOLL_CTL_ADD, ltfd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	if (workload == W_SLEEP)
		heap = xcalloc((size_t)conc, sizeof *heap);
}

static void loop_close(void)
{
	close(ltfd);
	close(lep);
	free(heap);
	heap = NULL;
}

static void heap_push(int64_t deadline, long task)
{
	long i = nheap++;
	while (i > 0) {
		long p = (i - 1) / 2;
		if (heap[p].deadline <= deadline)
			break;
		heap[i] = heap[p];
		i = p;
	}
	heap[i].deadline = deadline;
	heap[i].task = task;
}

static long heap_pop(void)
{
	long task = heap[0].task;
	timer_t_ last = heap[--nheap];
	long i = 0;
	for (;;) {
		long c = 2 * i + 1;
		if (c >= nheap)
			break;
		if (c + 1 < nheap && heap[c + 1].deadline < heap[c].deadline)
			c++;
		if (last.deadline <= heap[c].deadline)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (nheap > 0)
		heap[i] = last;
	return task;
}

/* A task starts its wait: it reads the clock and inserts its deadline. */
static void loop_sleep_start(long t)
{
	int64_t s = now_ns();
	spans[t].start = s;
	heap_push(s + sleep_ns, t);
}

static void loop_sleep(void)
{
	long pending = tasks;
	nheap = 0;
	for (long w = 0; w < conc; w++) {
		record_id((int)w); /* each worker's task chain, when it first runs */
		loop_sleep_start(w);
	}
	while (pending > 0) {
		/* Arm the one timerfd to the earliest deadline (absolute: a
		 * deadline already past fires at once). */
		struct itimerspec its = {.it_value = {.tv_sec = heap[0].deadline / 1000000000, .tv_nsec = heap[0].deadline % 1000000000}};
		if (timerfd_settime(ltfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
			die("timerfd_settime: %s", strerror(errno));
		struct epoll_event ev[4];
		int n = epoll_wait(lep, ev, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		uint64_t expirations;
		if (read(ltfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
			die("timerfd read: %s", strerror(errno));
		/* Resume every task whose deadline has passed; a worker with
		 * more tasks starts its next one. */
		int64_t now = now_ns();
		while (nheap > 0 && heap[0].deadline <= now) {
			long t = heap_pop();
			spans[t].end = now_ns();
			pending--;
			if (t + conc < tasks)
				loop_sleep_start(t + conc);
		}
	}
}

/* The loop's pipeline: source, stages and sink are cooperative tasks joined
 * by ring queues of depth 16; a round-robin scheduler runs each task until it
 * cannot make progress (its input empty or its output full), as a coroutine
 * runs until it awaits. */
typedef struct {
	unsigned char **ring;
	long cap, head, n;
} rq_t;

static rq_t *lq;   /* lq[k] joins node k to node k+1 */
static rq_t lfree; /* recycled buffers */
static pool_t lpool;
static long lnbuf;

static void rq_init(rq_t *q, long cap)
{
	q->ring = xcalloc((size_t)cap, sizeof *q->ring);
	q->cap = cap;
	q->head = q->n = 0;
}

static inline void rq_push(rq_t *q, unsigned char *b)
{
	q->ring[(q->head + q->n) % q->cap] = b;
	q->n++;
}

static inline unsigned char *rq_pop(rq_t *q)
{
	unsigned char *b = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return b;
}

static void loop_pipeline_open(void)
{
	lnbuf = pipeline_buffers();
	lq = xcalloc((size_t)stages + 1, sizeof *lq);
	for (long k = 0; k <= stages; k++)
		rq_init(&lq[k], QUEUE_DEPTH);
	rq_init(&lfree, lnbuf);
	pool_open(&lpool, lnbuf);
	for (long i = 0; i < lnbuf; i++)
		rq_push(&lfree, lpool.buf[i]);
}

static void loop_pipeline_close(void)
{
	pool_close(&lpool);
	for (long k = 0; k <= stages; k++)
		free(lq[k].ring);
	free(lq);
	free(lfree.ring);
}

typedef struct {
	int node;
	int started;
	long done; /* payloads this task has handled */
} ltask_t;

/* loop_step runs one task until it would block; it returns how many
 * payloads it moved. */
static long loop_step(ltask_t *t, int *bad)
{
	long moved = 0;
	int k = t->node;
	if (!t->started) {
		t->started = 1;
		record_id(k);
	}
	if (k == 0) {
		while (t->done < messages && lfree.n > 0 && lq[0].n < QUEUE_DEPTH) {
			unsigned char *b = rq_pop(&lfree);
			fill(b, t->done++);
			rq_push(&lq[0], b);
			moved++;
		}
	} else if (k <= stages) {
		while (lq[k - 1].n > 0 && lq[k].n < QUEUE_DEPTH) {
			unsigned char *b = rq_pop(&lq[k - 1]);
			stage_add1(b);
			rq_push(&lq[k], b);
			t->done++;
			moved++;
		}
	} else {
		while (lq[stages].n > 0) {
			unsigned char *b = rq_pop(&lq[stages]);
			if (!check(b, t->done)) {
				*bad = 1;
				return moved;
			}
			rq_push(&lfree, b);
			t->done++;
			moved++;
		}
	}
	return moved;
}

static void loop_pipeline(void)
{
	int n = (int)stages + 2, bad = 0;
	ltask_t *ts = xcalloc((size_t)n, sizeof *ts);
	for (int k = 0; k < n; k++)
		ts[k].node = k;
	ltask_t *sink = &ts[n - 1];
	while (sink->done < messages) {
		long moved = 0;
		for (int k = 0; k < n && !bad; k++)
			moved += loop_step(&ts[k], &bad);
		if (bad)
			die("pipeline sink: payload %ld is wrong (a stage skipped, reordered or corrupted it)", sink->done);
		if (moved == 0)
			die("pipeline loop: no task can make progress");
	}
	received = sink->done;
	free(ts);
}

static void loop_work(void)
{
	switch (workload) {
	case W_PRIMES:
		/* One task per range; none awaits, so they run one after
		 * another. */
		for (int w = 0; w < nranges; w++) {
			record_id(w);
			counts[w] = count_primes(range_lo[w], range_hi[w]);
		}
		break;
	case W_SLEEP:
		loop_sleep();
		break;
	case W_PIPELINE:
		loop_pipeline();
		break;
	}
}

static void loop_start(void)
{
	if (!warm)
		return;
	loop_open();
	if (workload == W_PIPELINE)
		loop_pipeline_open();
}

static void loop_run(int64_t *elapsed, int64_t *cpu, int64_t *rss)
{
	struct rusage ru0 = self_usage();
	int64_t t0 = now_ns();
	if (!warm) {
		loop_open();
		if (workload == W_PIPELINE)
			loop_pipeline_open();
	}
	loop_work();
	if (!warm) {
		if (workload == W_PIPELINE)
			loop_pipeline_close();
		loop_close();
	}
	int64_t t1 = now_ns();
	struct rusage ru1 = self_usage();
	*elapsed = t1 - t0;
	*cpu = ru_cpu_ns(&ru1) - ru_cpu_ns(&ru0);
	*rss = self_peak_rss();
}

static void loop_stop(void)
{
	if (!warm)
		return;
	if (workload == W_PIPELINE)
		loop_pipeline_close();
	loop_close();
}

/* ------------------------------------------------------------------ */
/* workload=echo: a TCP echo server on the inherited listening socket */

/*
 * The driver inherits a bound, listening TCP socket (blocking) as descriptor
 * 3 and never closes it. Every run serves exactly `connections` connections:
 * accept, echo every byte as it arrives (read up to 64 KiB, write it all
 * back) until the client's EOF, close. requests, payload_bytes and think_ns
 * only say what the load generator (outside the driver) will do.
 *
 *   thread   warm: a pool of min(N, 20000) threads created before "ready",
 *            each blocking in accept4() on descriptor 3 (the kernel hands
 *            each connection to one waiting thread), serving it to EOF and
 *            accepting again, for ever. A tally (under a mutex) counts the
 *            connections served since the start; a run ends when it has
 *            grown by N, so that a connection that comes early belongs to
 *            the next run. cold: the driver's thread accepts N connections
 *            and creates a thread for each; the run ends when all N are
 *            served and the threads joined.
 *   loop     the driver's thread: one epoll instance, the listening socket
 *            and the connections non-blocking, level-triggered; a short
 *            write parks the rest of the echo and waits for EPOLLOUT
 *            (nothing more is read from that connection until it is out).
 *            At most N accepts per run: the listener is disarmed after the
 *            N-th, and the run ends when those N are closed. warm: the epoll
 *            instance and the listener's registration are made before
 *            "ready"; cold: inside the run.
 *   process  warm: a pool of min(N, 1024) processes forked before "ready",
 *            each blocking in accept() on descriptor 3, and reporting every
 *            connection it served (pid, tid, its CPU time and peak RSS so
 *            far) on one pipe shared by all (a record is shorter than
 *            PIPE_BUF: written atomically); the driver counts them.
 *            cold: the driver accepts and forks one process per connection,
 *            which serves it, reports it and exits; the driver reaps them
 *            inside the run (wait4: their CPU time and peak RSS).
 *
 * A connection that fails (a client's reset, any error) is an error of the
 * run. A line on stdin during a run (stdin being a pipe or a socket) means
 * the reader gave up on the run: quit or EOF stops everything (workers
 * killed or left to exit with the driver) and exits 0 without answering;
 * any other line is a protocol error. At quit the warm thread pool is woken
 * by shutdown(3, SHUT_RD) (the caller makes a fresh socket per driver) and
 * joined; worker processes are killed and reaped.
 */
#define LISTEN_FD 3
#define ECHO_BUF (64 * 1024)
#define ECHO_THREAD_CAP 20000
#define ECHO_PROCESS_CAP 1024
#define ECHO_STACK (64 * 1024 + ECHO_BUF) /* a thread's buffer is on its stack */

static int stdin_watched;                /* fd 0 is a pipe or a socket: watched during a run */
static unsigned char echo_buf[ECHO_BUF]; /* the loop's buffer; every server process's own copy */

/* echo_serve echoes connection c until its EOF: 0, or -1 with why filled. */
static int echo_serve(int c, unsigned char *buf, char *why, size_t whyn)
{
	for (;;) {
		ssize_t r = read(c, buf, ECHO_BUF);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, whyn, "read: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			return 0;
		if (write_full(c, buf, (size_t)r) != 0) {
			snprintf(why, whyn, "write: %s", strerror(errno));
			return -1;
		}
	}
}

/* The children of model=process, as a bitmap indexed by pid. */
static void pidmap_init(void)
{
	long max = 4194304; /* PID_MAX_LIMIT on 64-bit Linux */
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	if (f) {
		long v;
		if (fscanf(f, "%ld", &v) == 1 && v > 0 && v < max)
			max = v;
		fclose(f);
	}
	pidmap_words = max / 64 + 1;
	pidmap = xcalloc((size_t)pidmap_words, sizeof *pidmap);
}

static void pid_set(pid_t p)
{
	if (p / 64 >= pidmap_words) {
		kill(p, SIGKILL);
		die("child pid %d is past /proc/sys/kernel/pid_max as read at start", (int)p);
	}
	pidmap[p / 64] |= 1ULL << (p % 64);
}

static void pid_clear(pid_t p)
{
	if (p / 64 < pidmap_words)
		pidmap[p / 64] &= ~(1ULL << (p % 64));
}

/* kill_children kills every child still alive and reaps it. */
static void kill_children(void)
{
	for (long i = 0; i < pidmap_words; i++)
		for (uint64_t m = pidmap[i]; m; m &= m - 1)
			kill((pid_t)(i * 64 + __builtin_ctzll(m)), SIGKILL);
	for (long i = 0; i < pidmap_words; i++) {
		for (uint64_t m = pidmap[i]; m; m &= m - 1) {
			pid_t p = (pid_t)(i * 64 + __builtin_ctzll(m));
			while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
				;
		}
		pidmap[i] = 0;
	}
}

/* stdin_during_run handles a line (or EOF) on stdin while a run is under
 * way: the reader has given up on the run. */
static _Noreturn void stdin_during_run(long done)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	if (n >= 0 && strcmp(line, "quit") != 0)
		die("command %.64s during a run (%ld of %ld connections served); want quit, EOF or nothing", line, done, connections);
	fprintf(stderr, "driver: %s during a run, after %ld of %ld connections served: stopping\n", n < 0 ? "EOF on stdin" : "quit", done, connections);
	if (pidmap)
		kill_children();
	fflush(stdout);
	_exit(0);
}

/* ---- model=thread ---- */

static pthread_mutex_t tally_mu = PTHREAD_MUTEX_INITIALIZER;
static long tally, tally_target; /* served since the start; the run ends at target */
static idpair_t *tally_ids;      /* connection g's server at g mod 2N */
static char tally_err[256];      /* a server thread's first error */
static int tally_efd = -1;       /* eventfd: the target is reached, or an error */
static atomic_int *tactive;      /* warm: the connection each worker serves, or -1 */
static int tpool_n;                /* warm: pool size */
static long taccepted;           /* cold: threads created this run */

static void tally_wake(void)
{
	uint64_t one = 1;
	while (write(tally_efd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

static void tally_add(int tid)
{
	pthread_mutex_lock(&tally_mu);
	idpair_t *slot = &tally_ids[tally % (2 * connections)];
	slot->pid = (int)driver_pid;
	slot->tid = tid;
	int wake = ++tally == tally_target;
	pthread_mutex_unlock(&tally_mu);
	if (wake)
		tally_wake();
}

static void tally_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tally_fail(const char *fmt, ...)
{
	char msg[sizeof tally_err];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&tally_mu);
	if (!tally_err[0])
		memcpy(tally_err, msg, sizeof msg);
	pthread_mutex_unlock(&tally_mu);
	tally_wake();
}

/* tally_check fails the run with a server thread's error; it stores how
 * many connections the run has had in *got and returns whether that is all. */
static int tally_check(long *got)
{
	char err[sizeof tally_err];
	pthread_mutex_lock(&tally_mu);
	memcpy(err, tally_err, sizeof err);
	int done = tally >= tally_target;
	*got = tally - (tally_target - connections);
	pthread_mutex_unlock(&tally_mu);
	if (err[0])
		die("%s", err);
	return done;
}

/* tally_poll waits for news: the eventfd, stdin, or (accepting) the
 * listening socket. */
static void tally_poll(int accepting)
{
	long got;
	struct pollfd pf[3] = {{.fd = tally_efd, .events = POLLIN}};
	int n = 1, si = -1;
	if (stdin_watched) {
		si = n;
		pf[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
	}
	if (accepting)
		pf[n++] = (struct pollfd){.fd = LISTEN_FD, .events = POLLIN};
	if (poll(pf, (nfds_t)n, -1) < 0) {
		if (errno == EINTR)
			return;
		die("poll: %s", strerror(errno));
	}
	if (pf[0].revents) {
		uint64_t v;
		if (read(tally_efd, &v, sizeof v) < 0 && errno != EAGAIN)
			die("eventfd: %s", strerror(errno));
	}
	if (si >= 0 && pf[si].revents) {
		tally_check(&got);
		stdin_during_run(got);
	}
}

/* echo_worker is a warm pool thread: accept, serve, again. */
static void *echo_worker(void *arg)
{
	int w = (int)(intptr_t)arg, tid = gettid_();
	unsigned char buf[ECHO_BUF];
	char why[160];
	if (atomic_fetch_add(&t_up, 1) + 1 == tpool_n)
		futex_wake(&t_up, 1);
	for (;;) {
		int c = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (atomic_load(&t_stop))
				return NULL; /* shutdown(3, SHUT_RD) at quit: EINVAL */
			if (errno == EINTR)
				continue;
			tally_fail("accept (server thread %d): %s", tid, strerror(errno));
			return NULL;
		}
		atomic_store(&tactive[w], c);
		if (atomic_load(&t_stop)) {
			atomic_store(&tactive[w], -1);
			close(c);
			return NULL;
		}
		int bad = echo_serve(c, buf, why, sizeof why);
		atomic_store(&tactive[w], -1);
		close(c);
		if (atomic_load(&t_stop))
			return NULL;
		if (bad)
			tally_fail("connection served by thread %d: %s", tid, why);
		else
			tally_add(tid);
	}
}

/* echo_conn_thread serves one connection (cold). */
static void *echo_conn_thread(void *arg)
{
	int c = (int)(intptr_t)arg, tid = gettid_();
	unsigned char buf[ECHO_BUF];
	char why[160];
	int bad = echo_serve(c, buf, why, sizeof why);
	close(c);
	if (bad)
		tally_fail("connection served by thread %d: %s", tid, why);
	else
		tally_add(tid);
	return NULL;
}

static void echo_thread_init(void)
{
	tally_ids = xcalloc((size_t)connections * 2, sizeof *tally_ids);
	tally_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (tally_efd < 0)
		die("eventfd: %s", strerror(errno));
	int e = pthread_attr_setstacksize(&tattr, ECHO_STACK);
	if (e != 0)
		die("pthread_attr_setstacksize: %s", strerror(e));
}

static void echo_thread_start(void)
{
	if (!warm)
		return;
	tpool_n = connections < ECHO_THREAD_CAP ? (int)connections : ECHO_THREAD_CAP;
	tactive = xcalloc((size_t)tpool_n, sizeof *tactive);
	for (int w = 0; w < tpool_n; w++)
		atomic_init(&tactive[w], -1);
	for (int w = 0; w < tpool_n; w++) {
		int e = pthread_create(&threads[w], &tattr, echo_worker, (void *)(intptr_t)w);
		if (e != 0)
			die("pthread_create (server thread %d of %d): %s", w, tpool_n, strerror(e));
	}
	int u;
	while ((u = atomic_load(&t_up)) != tpool_n)
		futex_wait(&t_up, u);
}

static void echo_thread_run(int64_t *elapsed, int64_t *cpu, int64_t *rss)
{
	long got = 0;
	struct rusage ru0 = self_usage();
	int64_t t0 = now_ns();
	pthread_mutex_lock(&tally_mu);
	tally_target += connections;
	pthread_mutex_unlock(&tally_mu);
	if (!warm) {
		/* The acceptor: the listening socket is non-blocking, so that
		 * the driver's thread can watch stdin and the threads' errors
		 * when no connection is waiting. */
		for (taccepted = 0; taccepted < connections;) {
			int c = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					die("accept: %s", strerror(errno));
				tally_check(&got);
				tally_poll(1);
				continue;
			}
			int e = pthread_create(&threads[taccepted], &tattr, echo_conn_thread, (void *)(intptr_t)c);
			if (e != 0)
				die("pthread_create (connection %ld of %ld): %s", taccepted + 1, connections, strerror(e));
			taccepted++;
		}
	}
	while (!tally_check(&got))
		tally_poll(0);
	if (!warm) {
		for (long i = 0; i < taccepted; i++) {
			int e = pthread_join(threads[i], NULL);
			if (e != 0)
				die("pthread_join: %s", strerror(e));
		}
	}
	int64_t t1 = now_ns();
	struct rusage ru1 = self_usage();
	*elapsed = t1 - t0;
	*cpu = ru_cpu_ns(&ru1) - ru_cpu_ns(&ru0);
	*rss = self_peak_rss();
	pthread_mutex_lock(&tally_mu);
	for (long k = 0; k < connections; k++)
		ids[k] = tally_ids[(tally_target - connections + k) % (2 * connections)];
	pthread_mutex_unlock(&tally_mu);
	served = connections;
}

static void echo_thread_stop(void)
{
	if (!warm)
		return;
	atomic_store(&t_stop, 1);
	/* Wake every thread blocked in accept (it fails with EINVAL) and
	 * every one inside a connection (its read returns 0 or fails). */
	shutdown(LISTEN_FD, SHUT_RD);
	for (int w = 0; w < tpool_n; w++) {
		int c = atomic_load(&tactive[w]);
		if (c >= 0)
			shutdown(c, SHUT_RDWR);
	}
	for (int w = 0; w < tpool_n; w++) {
		int e = pthread_join(threads[w], NULL);
		if (e != 0)
			die("pthread_join: %s", strerror(e));
	}
}

/* ---- model=loop ---- */

typedef struct {
	unsigned char *pend; /* the rest of an echo a short write left */
	size_t off, len;
} lconn_t;

static lconn_t *lconn; /* indexed by descriptor */
static int lconn_n;
static int eep = -1;   /* the epoll instance */
static int elsn_on;    /* the listener is armed */
static long eaccepted; /* accepted this run */

static void eep_ctl(int op, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data = {.fd = fd}};
	if (epoll_ctl(eep, op, fd, &ev) != 0)
		die("epoll_ctl(%d, fd %d): %s", op, fd, strerror(errno));
}

static void echo_loop_open(void)
{
	eep = epoll_create1(EPOLL_CLOEXEC);
	if (eep < 0)
		die("epoll_create1: %s", strerror(errno));
	eep_ctl(EPOLL_CTL_ADD, LISTEN_FD, EPOLLIN);
	elsn_on = 1;
	if (stdin_watched)
		eep_ctl(EPOLL_CTL_ADD, 0, EPOLLIN);
}

static void echo_loop_accept(void)
{
	while (eaccepted < connections) {
		int c = accept4(LISTEN_FD, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			die("accept: %s", strerror(errno));
		}
		if (c >= lconn_n)
			die("accept: descriptor %d is past RLIMIT_NOFILE (%d)", c, lconn_n);
		eep_ctl(EPOLL_CTL_ADD, c, EPOLLIN);
		eaccepted++;
	}
	/* The run's last connection: leave the rest in the backlog. */
	eep_ctl(EPOLL_CTL_MOD, LISTEN_FD, 0);
	elsn_on = 0;
}

/* echo_loop_conn handles an event of connection c; *done counts the
 * connections served. */
static void echo_loop_conn(int c, long *done, idpair_t me)
{
	lconn_t *k = &lconn[c];
	if (k->len) { /* writable again: finish the parked echo first */
		ssize_t w = write(c, k->pend + k->off, k->len - k->off);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			die("connection (loop): write: %s", strerror(errno));
		}
		k->off += (size_t)w;
		if (k->off == k->len) {
			free(k->pend);
			k->pend = NULL;
			k->off = k->len = 0;
			eep_ctl(EPOLL_CTL_MOD, c, EPOLLIN);
		}
		return;
	}
	for (;;) {
		ssize_t r = read(c, echo_buf, ECHO_BUF);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			die("connection (loop): read: %s", strerror(errno));
		}
		if (r == 0) {
			close(c); /* and out of the epoll set */
			ids[*done] = me;
			++*done;
			return;
		}
		size_t put = 0;
		while (put < (size_t)r) {
			ssize_t w = write(c, echo_buf + put, (size_t)r - put);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				die("connection (loop): write: %s", strerror(errno));
			}
			put += (size_t)w;
		}
		if (put < (size_t)r) {
			k->len = (size_t)r - put;
			k->off = 0;
			k->pend = xmalloc(k->len);
			memcpy(k->pend, echo_buf + put, k->len);
			eep_ctl(EPOLL_CTL_MOD, c, EPOLLOUT);
			return;
		}
		if (r < ECHO_BUF)
			return; /* drained; level-triggered: more data comes back as an event */
	}
}

static void echo_loop_init(void)
{
	struct rlimit rl;
	lconn_n = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1 << 24) ? (int)rl.rlim_cur : 1 << 20;
	lconn = xcalloc((size_t)lconn_n, sizeof *lconn);
}

static void echo_loop_run(int64_t *elapsed, int64_t *cpu, int64_t *rss)
{
	struct epoll_event ev[256];
	long done = 0;
	struct rusage ru0 = self_usage();
	int64_t t0 = now_ns();
	idpair_t me = {(int)driver_pid, gettid_()};
	if (!warm)
		echo_loop_open();
	else if (!elsn_on) {
		eep_ctl(EPOLL_CTL_MOD, LISTEN_FD, EPOLLIN);
		elsn_on = 1;
	}
	eaccepted = 0;
	while (done < connections) {
		int n = epoll_wait(eep, ev, (int)(sizeof ev / sizeof ev[0]), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == LISTEN_FD)
				echo_loop_accept();
			else if (fd == 0)
				stdin_during_run(done);
			else
				echo_loop_conn(fd, &done, me);
		}
	}
	if (!warm) {
		close(eep);
		eep = -1;
	}
	int64_t t1 = now_ns();
	struct rusage ru1 = self_usage();
	*elapsed = t1 - t0;
	*cpu = ru_cpu_ns(&ru1) - ru_cpu_ns(&ru0);
	*rss = self_peak_rss();
	served = done;
}

/* ---- model=process ---- */

enum { REC_HELLO = 1, REC_SERVED, REC_ERROR };

/* A server process's report. */
typedef struct {
	int32_t kind;
	int32_t w;      /* warm: the pool worker; cold: -1 */
	int32_t pid, tid;
	int64_t cpu_ns; /* warm: the worker's own user+system time so far */
	int64_t rss_b;  /* warm: its ru_maxrss, bytes */
	char msg[200];  /* REC_ERROR: why */
} erec_t;

_Static_assert(sizeof(erec_t) <= PIPE_BUF, "a report must be written atomically");

#define RBUF_RECS 256

static int rep_r = -1, rep_w = -1; /* the report pipe */
static int sig_fd = -1;            /* signalfd: SIGCHLD */
static unsigned char *rbuf;        /* reports read but not yet taken */
static size_t rlen, rcap;
static int starting;               /* warm: waiting for the pool's hellos */
static long hellos, run_served;
static int ppool; /* warm pool */
static int64_t *pcpu, *pcpu0, *prss;
static long paccepted, preaped; /* cold */
static int64_t preaped_cpu, preaped_rss;

static void rec_send(erec_t *r, int kind, int w, int usage)
{
	r->kind = kind;
	r->w = w;
	r->pid = (int32_t)getpid();
	r->tid = (int32_t)gettid_();
	r->cpu_ns = r->rss_b = 0;
	if (usage) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		r->cpu_ns = ru_cpu_ns(&ru);
		r->rss_b = (int64_t)ru.ru_maxrss * 1024;
	}
	if (write_full(rep_w, r, sizeof *r) != 0)
		_exit(1); /* the driver is gone */
}

static void echo_child_setup(void)
{
	is_child = 1;
	/* Die with the driver, even when it is killed with SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != driver_pid)
		_exit(1);
	dup2(2, 1); /* a server never holds the driver's stdout */
}

/* echo_pool_worker is a warm server process. */
static _Noreturn void echo_pool_worker(int w)
{
	erec_t rec;
	char why[160];
	memset(&rec, 0, sizeof rec);
	dup2(devnull, 0);
	int keep[2] = {LISTEN_FD, rep_w};
	keep_only(keep, 2);
	rec_send(&rec, REC_HELLO, w, 1);
	for (;;) {
		int c = accept(LISTEN_FD, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			snprintf(rec.msg, sizeof rec.msg, "accept (server process %d): %s", (int)getpid(), strerror(errno));
			rec_send(&rec, REC_ERROR, w, 0);
			_exit(1);
		}
		int bad = echo_serve(c, echo_buf, why, sizeof why);
		close(c);
		if (bad) {
			snprintf(rec.msg, sizeof rec.msg, "connection served by process %d: %s", (int)getpid(), why);
			rec_send(&rec, REC_ERROR, w, 0);
		} else {
			rec_send(&rec, REC_SERVED, w, 1);
		}
	}
}

/* echo_conn_child is a cold server process: one connection, then exit. */
static _Noreturn void echo_conn_child(int c)
{
	erec_t rec;
	char why[160];
	echo_child_setup();
	memset(&rec, 0, sizeof rec);
	int bad = echo_serve(c, echo_buf, why, sizeof why);
	close(c);
	if (bad)
		snprintf(rec.msg, sizeof rec.msg, "connection served by process %d: %s", (int)getpid(), why);
	rec_send(&rec, bad ? REC_ERROR : REC_SERVED, -1, 0);
	_exit(bad ? 1 : 0);
}

/* take_records takes the reports read so far: hellos; errors, which fail
 * the run; served connections while the run wants more (later ones wait
 * in rbuf for the next run). */
static void take_records(void)
{
	size_t off = 0, keep = 0;
	for (; off + sizeof(erec_t) <= rlen; off += sizeof(erec_t)) {
		erec_t r;
		memcpy(&r, rbuf + off, sizeof r);
		if (r.kind == REC_ERROR) {
			r.msg[sizeof r.msg - 1] = 0;
			die("%s", r.msg);
		}
		if (r.kind == REC_SERVED && (starting || run_served >= connections)) {
			memmove(rbuf + keep, rbuf + off, sizeof r);
			keep += sizeof r;
			continue;
		}
		if (r.kind == REC_SERVED) {
			ids[run_served].pid = r.pid;
			ids[run_served].tid = r.tid;
			run_served++;
		} else if (r.kind == REC_HELLO) {
			hellos++;
		} else {
			die("a server process sent a report of kind %d", (int)r.kind);
		}
		if (r.w >= 0 && r.w < ppool) {
			pcpu[r.w] = r.cpu_ns;
			prss[r.w] = r.rss_b;
		}
	}
	memmove(rbuf + keep, rbuf + off, rlen - off);
	rlen = keep + (rlen - off);
}

/* read_records reads the report pipe (non-blocking) until it is empty, or
 * (all = 0) the run or the start has what it waits for. */
static void read_records(int all)
{
	for (;;) {
		if (!all && (starting ? hellos >= ppool : run_served >= connections))
			return;
		if (rlen + sizeof(erec_t) > rcap) { /* full of the next run's reports */
			rcap *= 2;
			rbuf = realloc(rbuf, rcap);
			if (!rbuf)
				die("out of memory (%zu bytes of reports)", rcap);
		}
		ssize_t r = read(rep_r, rbuf + rlen, rcap - rlen);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			die("report pipe: read: %s", strerror(errno));
		}
		if (r == 0)
			die("every server process is gone (their report pipe is closed)");
		rlen += (size_t)r;
		take_records();
	}
}

/* reap reaps the children that ended: the cold run's servers; a warm pool
 * worker's end, or a cold server's failure, fails the run. */
static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(sig_fd, &si, sizeof si) > 0)
		;
	for (;;) {
		int st;
		struct rusage ru;
		pid_t p = wait4(-1, &st, WNOHANG, &ru);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return;
			die("wait4: %s", strerror(errno));
		}
		if (p == 0)
			return;
		pid_clear(p);
		if (warm || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			read_records(1); /* its last words, if it had any */
			if (WIFSIGNALED(st))
				die("server process %d was killed by signal %d", (int)p, WTERMSIG(st));
			die("server process %d exited with status %d", (int)p, WEXITSTATUS(st));
		}
		preaped++;
		preaped_cpu += ru_cpu_ns(&ru);
		preaped_rss += (int64_t)ru.ru_maxrss * 1024;
	}
}

/* proc_pump waits for news: reports, children's ends, stdin, and
 * (accepting) a connection. */
static void proc_pump(int accepting)
{
	struct pollfd pf[4] = {{.fd = rep_r, .events = POLLIN}, {.fd = sig_fd, .events = POLLIN}};
	int n = 2, si = -1;
	if (stdin_watched) {
		si = n;
		pf[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
	}
	if (accepting)
		pf[n++] = (struct pollfd){.fd = LISTEN_FD, .events = POLLIN};
	if (poll(pf, (nfds_t)n, -1) < 0) {
		if (errno == EINTR)
			return;
		die("poll: %s", strerror(errno));
	}
	if (pf[0].revents)
		read_records(0);
	if (pf[1].revents)
		reap();
	if (si >= 0 && pf[si].revents)
		stdin_during_run(run_served);
}

/* proc_accept accepts what is waiting (cold), forking a server for each. */
static void proc_accept(void)
{
	while (paccepted < connections) {
		int c = accept4(LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			die("accept: %s", strerror(errno));
		}
		pid_t p = fork();
		if (p < 0)
			die("fork (connection %ld of %ld): %s", paccepted + 1, connections, strerror(errno));
		if (p == 0)
			echo_conn_child(c);
		pid_set(p);
		close(c);
		paccepted++;
	}
}

static void echo_proc_init(void)
{
	pidmap_init();
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	rep_r = p[0];
	rep_w = p[1];
	if (fcntl(rep_r, F_SETFL, O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	(void)fcntl(rep_w, F_SETPIPE_SZ, PIPE_SIZE);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m, NULL);
	sig_fd = signalfd(-1, &m, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sig_fd < 0)
		die("signalfd: %s", strerror(errno));
	rcap = RBUF_RECS * sizeof(erec_t);
	rbuf = xmalloc(rcap);
}

static void echo_proc_start(void)
{
	if (!warm)
		return;
	ppool = connections < ECHO_PROCESS_CAP ? (int)connections : ECHO_PROCESS_CAP;
	pcpu = xcalloc((size_t)ppool, sizeof *pcpu);
	pcpu0 = xcalloc((size_t)ppool, sizeof *pcpu0);
	prss = xcalloc((size_t)ppool, sizeof *prss);
	for (int w = 0; w < ppool; w++) {
		pid_t p = fork();
		if (p < 0)
			die("fork (server process %d of %d): %s", w, ppool, strerror(errno));
		if (p == 0) {
			echo_child_setup();
			echo_pool_worker(w);
		}
		pid_set(p);
	}
	close(rep_w); /* the pool's own: EOF when every worker is gone */
	rep_w = -1;
	starting = 1;
	while (hellos < ppool)
		proc_pump(0);
	starting = 0;
}

static void echo_proc_run(int64_t *elapsed, int64_t *cpu, int64_t *rss)
{
	int64_t wcpu = 0, wrss = 0;
	if (warm)
		memcpy(pcpu0, pcpu, (size_t)ppool * sizeof *pcpu);
	struct rusage ru0 = self_usage();
	int64_t t0 = now_ns();
	run_served = 0;
	if (warm) {
		take_records(); /* the reports of connections that came early */
		while (run_served < connections)
			proc_pump(0);
	} else {
		paccepted = preaped = 0;
		preaped_cpu = preaped_rss = 0;
		proc_accept();
		while (preaped < connections) {
			proc_pump(paccepted < connections);
			if (paccepted < connections)
				proc_accept();
		}
		read_records(1); /* every server has ended: its report is in */
		if (run_served != connections)
			die("%ld connections accepted, %ld reported served", paccepted, run_served);
	}
	int64_t t1 = now_ns();
	struct rusage ru1 = self_usage();
	if (warm) {
		for (int w = 0; w < ppool; w++) {
			wcpu += pcpu[w] - pcpu0[w];
			wrss += prss[w];
		}
	} else {
		wcpu = preaped_cpu;
		wrss = preaped_rss;
	}
	*elapsed = t1 - t0;
	*cpu = ru_cpu_ns(&ru1) - ru_cpu_ns(&ru0) + wcpu;
	*rss = self_peak_rss() + wrss;
	served = run_served;
}

/* ---- the workload ---- */

static void echo_check_listener(void)
{
	int acc = 0;
	socklen_t len = sizeof acc;
	if (getsockopt(LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0)
		die("descriptor 3: %s; workload=echo inherits its listening socket as descriptor 3", strerror(errno));
	if (!acc)
		die("descriptor 3 is a socket that is not listening; workload=echo inherits a listening socket as descriptor 3");
}

static void echo_init(void)
{
	struct stat st;
	stdin_watched = fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	/* Pools block in accept(); a thread that must watch other things
	 * (the loop, a cold acceptor) polls a non-blocking socket. The flag
	 * is the open file's, shared with the caller's descriptor. */
	int fl = fcntl(LISTEN_FD, F_GETFL);
	int want = model == M_LOOP || !warm ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (fl < 0 || (want != fl && fcntl(LISTEN_FD, F_SETFL, want) != 0))
		die("descriptor 3: fcntl: %s", strerror(errno));
	switch (model) {
	case M_PROCESS:
		echo_proc_init();
		break;
	case M_THREAD:
		echo_thread_init();
		break;
	case M_LOOP:
		echo_loop_init();
		break;
	}
}

static void echo_start(void)
{
	switch (model) {
	case M_PROCESS:
		echo_proc_start();
		break;
	case M_THREAD:
		echo_thread_start();
		break;
	case M_LOOP:
		if (warm)
			echo_loop_open();
		break;
	}
}

static void echo_run(int64_t *elapsed, int64_t *cpu, int64_t *rss)
{
	switch (model) {
	case M_PROCESS:
		echo_proc_run(elapsed, cpu, rss);
		break;
	case M_THREAD:
		echo_thread_run(elapsed, cpu, rss);
		break;
	case M_LOOP:
		echo_loop_run(elapsed, cpu, rss);
		break;
	}
}

static void echo_stop(void)
{
	switch (model) {
	case M_PROCESS:
		kill_children(); /* the warm pool: idle in accept() */
		break;
	case M_THREAD:
		echo_thread_stop();
		break;
	case M_LOOP:
		if (eep >= 0)
			close(eep);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Arguments                                                          */

static const char *const known_keys[] = {"workload", "model", "start", "ranges", "tasks", "concurrency", "sleep_ns", "stages", "messages", "payload_bytes", "connections", "requests", "think_ns"};
enum { NKEYS = sizeof known_keys / sizeof known_keys[0] };

static long parse_num(const char *key, const char *s, long min, long max)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		die("%s=%s: want an integer in [%ld, %ld]", key, s, min, max);
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		die("%s=%s: want an integer in [%ld, %ld]", key, s, min, max);
	return v;
}

#define MAX_HI 1000000000000L /* primes: 10^12 is far past any run */
#define MAX_UNITS 1000000

static void parse_ranges(const char *s)
{
	if (!*s)
		die("ranges is empty; want LO-HI,LO-HI,...");
	int n = 1;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	if (n > MAX_UNITS)
		die("ranges: %d ranges; at most %d", n, MAX_UNITS);
	range_lo = xcalloc((size_t)n, sizeof *range_lo);
	range_hi = xcalloc((size_t)n, sizeof *range_hi);
	char *copy = strdup(s);
	if (!copy)
		die("out of memory");
	char *save = NULL, *tok;
	int i = 0;
	for (char *p = copy; (tok = strtok_r(p, ",", &save)); p = NULL) {
		char *dash = strchr(tok, '-'), *end;
		if (!dash || dash == tok || !isdigit((unsigned char)tok[0]) || !isdigit((unsigned char)dash[1]))
			die("ranges: %s: want LO-HI, integers in [0, %ld]", tok, MAX_HI);
		errno = 0;
		range_lo[i] = strtol(tok, &end, 10);
		if (errno || end != dash || range_lo[i] > MAX_HI)
			die("ranges: %s: want LO-HI, integers in [0, %ld]", tok, MAX_HI);
		range_hi[i] = strtol(dash + 1, &end, 10);
		if (errno || *end || range_hi[i] > MAX_HI)
			die("ranges: %s: want LO-HI, integers in [0, %ld]", tok, MAX_HI);
		if (range_lo[i] > range_hi[i])
			die("ranges: %ld-%ld: LO > HI", range_lo[i], range_hi[i]);
		i++;
	}
	if (i != n) /* an empty item: ",," or a leading or trailing comma */
		die("ranges=%s: an empty range; want LO-HI,LO-HI,...", s);
	free(copy);
	nranges = n;
}

static void parse_args(int argc, char **argv)
{
	const char *val[NKEYS] = {0};
	for (int a = 1; a < argc; a++) {
		char *eq = strchr(argv[a], '=');
		if (!eq)
			die("argument %s: want key=value", argv[a]);
		size_t klen = (size_t)(eq - argv[a]);
		int k;
		for (k = 0; k < NKEYS; k++)
			if (strlen(known_keys[k]) == klen && strncmp(argv[a], known_keys[k], klen) == 0)
				break;
		if (k == NKEYS)
			die("unknown key %.*s", (int)klen, argv[a]);
		if (val[k])
			die("key %s given twice", known_keys[k]);
		val[k] = eq + 1;
	}
	if (!val[0])
		die("missing key workload");
	if (!val[1])
		die("missing key model");
	if (!val[2])
		die("missing key start");
	if (!strcmp(val[0], "primes"))
		workload = W_PRIMES;
	else if (!strcmp(val[0], "sleep"))
		workload = W_SLEEP;
	else if (!strcmp(val[0], "pipeline"))
		workload = W_PIPELINE;
	else if (!strcmp(val[0], "echo"))
		workload = W_ECHO;
	else
		die("unknown workload %s; want primes, sleep, pipeline or echo", val[0]);
	if (!strcmp(val[1], "process"))
		model = M_PROCESS;
	else if (!strcmp(val[1], "thread"))
		model = M_THREAD;
	else if (!strcmp(val[1], "loop"))
		model = M_LOOP;
	else
		die("unknown model %s; want process, thread or loop", val[1]);
	if (!strcmp(val[2], "warm"))
		warm = 1;
	else if (!strcmp(val[2], "cold"))
		warm = 0;
	else
		die("unknown start %s; want warm or cold", val[2]);

	/* Each workload takes exactly its own keys. */
	static const int own[4][4] = {{3, -1, -1, -1}, {4, 5, 6, -1}, {7, 8, 9, -1}, {10, 11, 9, 12}};
	for (int k = 3; k < NKEYS; k++) {
		int mine = 0;
		for (int i = 0; i < 4; i++)
			mine |= own[workload][i] == k;
		if (val[k] && !mine)
			die("key %s does not apply to workload %s", known_keys[k], val[0]);
		if (!val[k] && mine)
			die("missing key %s for workload %s", known_keys[k], val[0]);
	}
	switch (workload) {
	case W_PRIMES:
		parse_ranges(val[3]);
		nunits = nranges;
		break;
	case W_SLEEP:
		tasks = parse_num("tasks", val[4], 1, 100000000);
		conc = parse_num("concurrency", val[5], 1, 100000000);
		sleep_ns = parse_num("sleep_ns", val[6], 0, 3600L * 1000000000L);
		if (conc > tasks)
			conc = tasks; /* as sleep.NewJob: no more workers than tasks */
		if (conc > MAX_UNITS)
			die("concurrency=%ld: at most %d workers", conc, MAX_UNITS);
		nunits = (int)conc;
		break;
	case W_PIPELINE:
		stages = parse_num("stages", val[7], 1, 10000);
		messages = parse_num("messages", val[8], 1, 1000000000000L);
		payload_bytes = parse_num("payload_bytes", val[9], 1, 1L << 30);
		nunits = (int)stages + 2;
		break;
	case W_ECHO:
		connections = parse_num("connections", val[10], 1, MAX_UNITS);
		requests = parse_num("requests", val[11], 1, 1000000000000L);
		payload_bytes = parse_num("payload_bytes", val[9], 1, 1L << 30);
		think_ns = parse_num("think_ns", val[12], 0, 3600L * 1000000000L);
		nunits = (int)connections; /* ids: one (pid, tid) per connection */
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Results                                                            */

static void print_ids(int pid)
{
	int *v = xmalloc((size_t)nunits * sizeof *v);
	for (int i = 0; i < nunits; i++)
		v[i] = pid ? ids[i].pid : ids[i].tid;
	qsort(v, (size_t)nunits, sizeof *v, cmp_int);
	for (int i = 0; i < nunits; i++)
		if (i == 0 || v[i] != v[i - 1])
			printf("%s%d", i ? "," : "", v[i]);
	free(v);
}

static void print_result(int64_t elapsed, int64_t cpu, int64_t rss)
{
	printf("result elapsed_ns=%" PRId64 " cpu_ns=%" PRId64 " peak_rss_b=%" PRId64 " pids=", elapsed, cpu, rss);
	print_ids(1);
	fputs(" tids=", stdout);
	print_ids(0);
	fputs(" counts=", stdout);
	if (workload == W_PRIMES)
		for (int i = 0; i < nranges; i++)
			printf("%s%ld", i ? "," : "", counts[i]);
	else
		fputs("-", stdout);
	long slept = 0;
	if (workload == W_SLEEP)
		for (long t = 0; t < tasks; t++)
			slept += spans[t].end != 0 && spans[t].end >= spans[t].start;
	printf(" slept=%ld spans=", slept);
	if (workload == W_SLEEP)
		for (long t = 0; t < tasks; t++)
			printf("%s%" PRId64 ":%" PRId64, t ? "," : "", spans[t].start, spans[t].end);
	else
		fputs("-", stdout);
	printf(" received=%ld", workload == W_PIPELINE ? received : 0L);
	printf(" served=%ld", workload == W_ECHO ? served : 0L);
	say("");
}

/* ------------------------------------------------------------------ */

static void start_workers(void)
{
	if (workload == W_ECHO) {
		echo_start();
		return;
	}
	switch (model) {
	case M_PROCESS:
		process_start();
		break;
	case M_THREAD:
		thread_start();
		break;
	case M_LOOP:
		loop_start();
		break;
	}
}

static void stop_workers(void)
{
	if (workload == W_ECHO) {
		echo_stop();
		return;
	}
	switch (model) {
	case M_PROCESS:
		process_stop();
		break;
	case M_THREAD:
		thread_stop();
		break;
	case M_LOOP:
		loop_stop();
		break;
	}
}

static void run_once(void)
{
	int64_t elapsed = 0, cpu = 0, rss = 0;
	/* Outside the timed region: clear the last run's results. */
	if (workload == W_SLEEP)
		memset(spans, 0, (size_t)tasks * sizeof *spans);
	if (workload == W_PRIMES)
		memset(counts, 0, (size_t)nranges * sizeof *counts);
	memset(ids, 0, (size_t)nunits * sizeof *ids);
	received = 0;
	served = 0;
	if (workload == W_ECHO)
		echo_run(&elapsed, &cpu, &rss);
	else if (model == M_PROCESS)
		process_run(&elapsed, &cpu, &rss);
	else if (model == M_THREAD)
		thread_run(&elapsed, &cpu, &rss);
	else
		loop_run(&elapsed, &cpu, &rss);
	/* Verification, also outside the timed region. */
	if (workload == W_ECHO && served != connections)
		die("echo: served %ld of %ld connections", served, connections);
	if (workload == W_PIPELINE && received != messages)
		die("pipeline: the sink accepted %ld of %ld payloads", received, messages);
	if (workload == W_SLEEP)
		for (long t = 0; t < tasks; t++)
			if (spans[t].end == 0 || spans[t].end < spans[t].start)
				die("sleep: task %ld did not complete its wait", t);
	print_result(elapsed, cpu, rss);
}

int main(int argc, char **argv)
{
	driver_pid = getpid();
	/* Make sure descriptors 0, 1 and 2 are open, so that no pipe of ours
	 * can land on them (a worker redirects its 0 and 1). */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(1);
	/* A reader that went away makes writes fail with EPIPE, reported as
	 * errors, instead of killing the driver (workers inherit this). */
	signal(SIGPIPE, SIG_IGN);

	parse_args(argc, argv);
	if (workload == W_ECHO)
		echo_check_listener(); /* before we open any descriptor */

	/* Room for many pipes (the process model keeps two per worker) and
	 * connections (echo). */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	/* Everything sized by the arguments is allocated here, outside any
	 * timed region. */
	ids = xcalloc((size_t)nunits, sizeof *ids);
	switch (workload) {
	case W_PRIMES:
		counts = xcalloc((size_t)nranges, sizeof *counts);
		break;
	case W_SLEEP:
		spans = xcalloc((size_t)tasks, sizeof *spans);
		break;
	case W_PIPELINE:
		pattern = xmalloc((size_t)payload_bytes + 256);
		for (long j = 0; j < payload_bytes + 256; j++)
			pattern[j] = (unsigned char)(7 * j);
		break;
	case W_ECHO:
		break;
	}
	switch (model) {
	case M_PROCESS:
		if (workload == W_ECHO) { /* its server processes: see echo_init */
			devnull = open("/dev/null", O_RDWR);
			if (devnull < 0)
				die("/dev/null: %s", strerror(errno));
			break;
		}
		live = xcalloc((size_t)nunits, sizeof *live);
		wpid = xcalloc((size_t)nunits, sizeof *wpid);
		wcmd = xcalloc((size_t)nunits, sizeof *wcmd);
		wres = xcalloc((size_t)nunits, sizeof *wres);
		if (workload == W_PIPELINE)
			dpipe = xcalloc((size_t)stages + 1, sizeof *dpipe);
		if (workload == W_SLEEP)
			spanbuf = xcalloc((size_t)tasks_of(0), sizeof *spanbuf);
		devnull = open("/dev/null", O_RDWR);
		if (devnull < 0)
			die("/dev/null: %s", strerror(errno));
		break;
	case M_THREAD:
		thread_init();
		break;
	case M_LOOP:
		break;
	}
	if (workload == W_ECHO)
		echo_init();

	start_workers();
	say("ready");

	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!strcmp(line, "run"))
			run_once();
		else if (!strcmp(line, "quit"))
			break;
		else
			die("unknown command %.64s; want run or quit", line);
	}
	free(line);
	stop_workers();
	return 0;
}
