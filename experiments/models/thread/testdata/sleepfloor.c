/*
 * sleepfloor: the floor for the sleep workload's warm cells, in plain C.
 *
 *   sleepfloor THREADS SLEEP_MS
 *
 * creates THREADS POSIX threads, waits until every one of them is parked at a
 * barrier (the warm start: creation is not timed), then releases them all at
 * once; each thread nanosleeps SLEEP_MS (decimals allowed) and reports back.
 * It prints one line,
 *
 *   threads=N sleep_ns=D slept=K elapsed_ns=E
 *
 * where K is the number of threads whose nanosleep completed and whose own
 * CLOCK_MONOTONIC readings around it are at least D apart, and E is the time
 * from the release (just before the main thread's arrival at the barrier,
 * which is the last one) to the main thread learning that the last thread
 * has finished its sleep: what the thread model's warm Run is timed for.
 * Joining the threads happens after E is taken. The exit status is 0 only if
 * K = N.
 *
 * C11 and POSIX threads, nothing else: cc -std=c11 -O2 -pthread.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_barrier_t release;
static int64_t sleep_ns;
static atomic_int arrived;   /* threads about to wait at the barrier */
static atomic_int remaining; /* threads that have not finished their sleep */
static char *slept;          /* slept[i] = 1: thread i slept at least sleep_ns */

/* The last thread to finish wakes the main thread. */
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int done;

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *worker(void *arg) {
	size_t i = (size_t)(uintptr_t)arg;
	atomic_fetch_add(&arrived, 1);
	int rc = pthread_barrier_wait(&release);
	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
		fprintf(stderr, "sleepfloor: thread %zu: pthread_barrier_wait: %s\n", i, strerror(rc));
		exit(2);
	}
	struct timespec ts = {.tv_sec = sleep_ns / 1000000000, .tv_nsec = sleep_ns % 1000000000};
	struct timespec rem;
	int64_t t0 = now_ns();
	/* A signal ends nanosleep early with EINTR; sleep what remains. */
	while (nanosleep(&ts, &rem) != 0) {
		if (errno != EINTR) {
			fprintf(stderr, "sleepfloor: thread %zu: nanosleep: %s\n", i, strerror(errno));
			exit(2);
		}
		ts = rem;
	}
	slept[i] = now_ns() - t0 >= sleep_ns;
	if (atomic_fetch_sub(&remaining, 1) == 1) {
		pthread_mutex_lock(&done_mu);
		done = 1;
		pthread_cond_signal(&done_cv);
		pthread_mutex_unlock(&done_mu);
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: sleepfloor THREADS SLEEP_MS\n");
		return 2;
	}
	char *end;
	long n = strtol(argv[1], &end, 10);
	if (*end != '\0' || n < 1 || n > 1000000) {
		fprintf(stderr, "sleepfloor: THREADS = %s; want 1 to 1000000\n", argv[1]);
		return 2;
	}
	double ms = strtod(argv[2], &end);
	if (*end != '\0' || !(ms >= 0 && ms <= 3600e3)) {
		fprintf(stderr, "sleepfloor: SLEEP_MS = %s; want 0 to 3600000\n", argv[2]);
		return 2;
	}
	sleep_ns = (int64_t)(ms * 1e6 + 0.5);

	slept = calloc((size_t)n, 1);
	pthread_t *tids = calloc((size_t)n, sizeof *tids);
	if (slept == NULL || tids == NULL) {
		fprintf(stderr, "sleepfloor: out of memory\n");
		return 2;
	}
	atomic_store(&remaining, (int)n);
	int rc = pthread_barrier_init(&release, NULL, (unsigned)n + 1);
	if (rc != 0) {
		fprintf(stderr, "sleepfloor: pthread_barrier_init: %s\n", strerror(rc));
		return 2;
	}
	for (long i = 0; i < n; i++) {
		rc = pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)i);
		if (rc != 0) {
			fprintf(stderr, "sleepfloor: creating thread %ld of %ld: %s\n", i + 1, n, strerror(rc));
			return 2;
		}
	}
	/*
	 * Warm start: wait until every thread has reached the barrier, then give
	 * the last ones time to block in it (a futex wait), so that the release
	 * wakes parked threads, as the Go model's Run does.
	 */
	while (atomic_load(&arrived) < n) {
		struct timespec ms1 = {.tv_sec = 0, .tv_nsec = 1000000};
		nanosleep(&ms1, NULL);
	}
	struct timespec settle = {.tv_sec = 0, .tv_nsec = 20000000};
	nanosleep(&settle, NULL);

	int64_t start = now_ns();
	rc = pthread_barrier_wait(&release);
	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) {
		fprintf(stderr, "sleepfloor: main: pthread_barrier_wait: %s\n", strerror(rc));
		return 2;
	}
	pthread_mutex_lock(&done_mu);
	while (!done) {
		pthread_cond_wait(&done_cv, &done_mu);
	}
	pthread_mutex_unlock(&done_mu);
	int64_t elapsed = now_ns() - start;

	long ok = 0;
	for (long i = 0; i < n; i++) {
		pthread_join(tids[i], NULL);
		ok += slept[i];
	}
	printf("threads=%ld sleep_ns=%lld slept=%ld elapsed_ns=%lld\n", n, (long long)sleep_ns, ok, (long long)elapsed);
	return ok == n ? 0 : 1;
}
