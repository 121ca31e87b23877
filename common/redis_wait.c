/* redis_wait.c - a daemon's first connection, waited for (see redis.h). */
#include "redis.h"

#include "clock.h"
#include "log.h"

#include <string.h>

#define WAIT_FIRST_MS  100
#define WAIT_MAX_MS    2000
#define WAIT_REPEAT_MS 10000

/* The pause before the next try, cut to the time that is left. */
static long pause_ms(int tries, double wait_s, long long start)
{
	long ms = lr_backoff_ms(tries, WAIT_FIRST_MS, WAIT_MAX_MS);
	long long left;

	if (wait_s < 0)
		return ms;
	left = start + (long long)(wait_s * 1000) - lr_now_ms();
	return left < ms ? (long)(left > 0 ? left : 0) : ms;
}

int lr_redis_open_wait(lr_redis **out, const lr_redis_opts *opts, const char *what,
                       const volatile sig_atomic_t *stop, lr_err *err)
{
	long long start = lr_now_ms();
	double wait_s = opts->start_wait_s;
	lr_log_repeat rl;
	int tries = 0;
	int rc;

	memset(&rl, 0, sizeof(rl));
	for (;;) {
		long ms;

		if (stop != NULL && *stop)
			return lr_err_set(err, LR_ECANCELED, "stopped while waiting for redis (%s)",
			                  what);
		rc = lr_redis_open(out, opts, err);
		if (rc != LR_EIO)
			break;
		ms = pause_ms(tries++, wait_s, start);
		if (wait_s >= 0 && ms <= 0) {
			char msg[LR_ERR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			return lr_err_set(err, LR_EIO, "%.400s (%s; gave up after %.1f s)", msg,
			                  what, (double)(lr_now_ms() - start) / 1000.0);
		}
		lr_log_repeated(&rl, LR_LOG_WARN, WAIT_REPEAT_MS, "%s (%s); waiting for it",
		                err->msg, what);
		lr_sleep_ms(ms);
	}
	if (rc == 0 && lr_log_repeat_end(&rl))
		log_info("redis at %s reachable after %.1f s (%s)", lr_redis_where(*out),
		         (double)(lr_now_ms() - start) / 1000.0, what);
	return rc;
}
