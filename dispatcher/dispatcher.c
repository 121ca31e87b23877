/* dispatcher.c - the dispatcher's round: intake, then upkeep. */
#include "dispatcher.h"

#include "clock.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

int disp_open(disp **out, const disp_config *cfg, const volatile sig_atomic_t *stop, lr_err *err)
{
	disp *d;
	int rc;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	d->cfg = *cfg;
	d->q.k = &d->cfg.keys;
	rc = lr_redis_open_wait(&d->q.r, &cfg->redis, "the job queue", stop, err);
	if (rc < 0) {
		free(d);
		return rc;
	}
	lr_redis_stop_on(d->q.r, cfg->stop_fd); /* a stop ends the intake's blocking read */
	*out = d;
	return 0;
}

void disp_close(disp *d)
{
	if (d == NULL)
		return;
	lr_redis_close(d->q.r);
	free(d);
}

int disp_step(disp *d, lr_err *err)
{
	long n = 0;
	int rc;

	rc = 0;
	if (!d->groups_ok) {
		rc = lr_q_ensure_groups(&d->q, err);
		if (rc == 0)
			rc = disp_recover_own(d, err);
		d->groups_ok = rc == 0;
	}
	if (rc == 0)
		rc = disp_intake(d, 1, &n, err);
	if (rc == 0)
		rc = disp_upkeep(d, lr_now_ms(), err);
	if (rc < 0 && lr_q_err_nogroup(err)) {
		/* Redis lost its data (restarted without persistence): start over. */
		log_warn("consumer groups are gone; creating them again");
		d->groups_ok = 0;
		lr_err_clear(err);
		return 0;
	}
	if (rc == LR_EIO)
		d->groups_ok = 0; /* check again once Redis is back */
	if (lr_q_classify(rc, err) == LR_Q_OOM || lr_q_classify(rc, err) == LR_Q_BUSY)
		d->hold_reclaim_until_ms = lr_now_ms() + 2 * d->cfg.lease_ms;
	if (rc < 0 && rc != LR_EIO && lr_q_classify(rc, err) != LR_Q_BUSY) {
		/* A shared key of the wrong type or a broken counter: put it right
		 * now rather than at the next repair round. */
		lr_err why;

		lr_err_clear(&why);
		if (disp_repair(d, 1, &why) < 0)
			log_debug("repair: %s", why.msg);
		d->groups_ok = 0;
	}
	return rc;
}
