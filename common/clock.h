/* clock.h - time for the whole tree: a monotonic now, the wall clock, sleeping
 * and retry delays with jitter.
 *
 * Durations and deadlines use the monotonic clock (never steps back, unlike
 * the wall clock); only stored timestamps use lr_realtime_ms(). */
#ifndef LLMREPL_CLOCK_H
#define LLMREPL_CLOCK_H

#include <pthread.h>
#include <time.h>

/* Monotonic time since an arbitrary start: nanoseconds, milliseconds, and
 * seconds with a fraction (for deadlines and figures in seconds). */
long long lr_now_ns(void);
long long lr_now_ms(void);
double lr_now_s(void);

/* The monotonic time ms milliseconds from now, as pthread_cond_timedwait
 * takes it for a condition variable on CLOCK_MONOTONIC. */
struct timespec lr_mono_after(long ms);
/* Initialise a condition variable whose timed waits run on CLOCK_MONOTONIC
 * (so a step of the wall clock neither ends nor stretches a wait). */
void lr_cond_init_mono(pthread_cond_t *cv);

/* Wall-clock milliseconds since the Unix epoch. */
long long lr_realtime_ms(void);

/* Sleep ms milliseconds (<= 0 returns at once). A signal ends the sleep early,
 * so a loop sees its stop flag at once; returns the milliseconds left (0 when
 * the whole time was slept). To sleep through signals:
 *   while ((ms = lr_sleep_ms(ms)) > 0) ; */
long lr_sleep_ms(long ms);

/* The delay before retry `attempt` (0 for the first retry): base_ms doubled
 * per attempt, capped at cap_ms, with equal jitter (half fixed, half random),
 * so a herd of processes retrying at once spreads out. Thread-safe; the
 * random part needs spread, not cryptographic quality. */
long lr_backoff_ms(int attempt, long base_ms, long cap_ms);

/* A random fraction in [0, 1), in steps of 1/10000, for jitter computed
 * elsewhere (the queue's scripts); the same generator as lr_backoff_ms. */
double lr_jitter(void);

#endif
