#include "clock.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>

long long lr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long lr_now_ms(void)
{
	return lr_now_ns() / 1000000LL;
}

double lr_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec lr_mono_after(long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void lr_cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

long long lr_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}

long lr_sleep_ms(long ms)
{
	struct timespec ts, left = {0, 0};

	if (ms <= 0)
		return 0;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	if (nanosleep(&ts, &left) == 0)
		return 0;
	ms = (long)left.tv_sec * 1000 + left.tv_nsec / 1000000L;
	return ms > 0 ? ms : 1; /* interrupted: never report "done" early */
}

static uint64_t rng_next(void)
{
	static _Thread_local uint64_t s;

	if (!s) {
		s = (uint64_t)lr_now_ns() * 1000003u ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)&s;
		if (!s)
			s = 88172645463325252ULL;
	}
	/* xorshift64* */
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 2685821657736338717ULL;
}

long lr_backoff_ms(int attempt, long base_ms, long cap_ms)
{
	long d = base_ms > 0 ? base_ms : 1;

	if (cap_ms < d)
		cap_ms = d;
	for (int i = 0; i < attempt && d < cap_ms; i++)
		d = d > cap_ms / 2 ? cap_ms : d * 2;
	if (d > cap_ms)
		d = cap_ms;
	return d / 2 + (long)(rng_next() % (uint64_t)(d / 2 + 1));
}

double lr_jitter(void)
{
	return (double)(rng_next() % 10000) / 10000.0;
}
