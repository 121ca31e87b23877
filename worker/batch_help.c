/* batch_help.c - helping with another worker's batch job (batch_help.h). */
#include "batch_help.h"

#include "batch_run.h"
#include "batch_share.h"
#include "clock.h"
#include "log.h"
#include "wk_metrics.h"

#include <stdlib.h>
#include <string.h>

/* The spec of the batch helped last, kept for the next round (a batch's
 * spec is read and parsed once per helper, not once per claim). */
static struct {
	char id[LR_JOB_ID_MAX + 1];
	lr_job_spec spec;
	int ok;
} last;

void wk_batch_help_free(void)
{
	if (last.ok)
		lr_job_spec_free(&last.spec);
	memset(&last, 0, sizeof(last));
}

/* Items claimed per slot and round (grouped runs take several at once). */
#define HELP_PER_SLOT 8

typedef struct helper {
	lr_q *q;
	const wk_config *cfg;
	const volatile sig_atomic_t *stop;
	const char *id;
	long attempt;
	const lr_job_spec *s;
	long claim_ms;
	long long renewed_ms;
	int fed;
	volatile int over; /* the attempt is over: stop the evaluations */
	size_t claimed;
} helper;

static int spec_of(lr_q *q, const char *id, lr_err *err)
{
	redisReply *rep = NULL;
	char key[LR_KEY_MAX];
	int rc;

	if (last.ok && strcmp(last.id, id) == 0)
		return 0;
	wk_batch_help_free();
	lr_key_job(q->k, key, id);
	rc = lr_redis_cmd(q->r, &rep, err, "HGET %s spec", key);
	if (rc == 0 && rep->type != REDIS_REPLY_STRING)
		rc = lr_err_set(err, LR_ENOTFOUND, "batch job %s has no spec", id);
	if (rc == 0)
		rc = lr_job_spec_parse(&last.spec, rep->str, rep->len, NULL, err);
	if (rep)
		freeReplyObject(rep);
	if (rc == 0 && (last.spec.kind != LR_KIND_BATCH || last.spec.nitems == 0)) {
		lr_job_spec_free(&last.spec);
		rc = lr_err_set(err, LR_EINVAL, "job %s is not a batch job", id);
	}
	if (rc < 0)
		return rc;
	snprintf(last.id, sizeof(last.id), "%s", id);
	last.ok = 1;
	return 0;
}

/* The attempt helped is over (cancelled, reclaimed, finished): the fence
 * refused a write. The evaluations under way stop. */
static int over(helper *h, int rc, const lr_err *err)
{
	if (rc == LR_ESTALE && !h->over) {
		h->over = 1;
		log_info("batch job %s: %s; this worker stops helping", h->id, err->msg);
	}
	return rc;
}

static int claim(helper *h, const size_t *held, size_t nheld, size_t k, lr_bq_claimed *c,
                 lr_err *err)
{
	lr_bq_claimer cl = {h->q, h->id, h->attempt, h->cfg->name, h->s->nitems, h->claim_ms};
	int rc = lr_bq_claim(&cl, held, nheld, k, c, err);

	over(h, rc, err);
	if (rc == 0) {
		h->renewed_ms = lr_now_ms();
		wk_bs_fixed(h->id, c->fixed);
	}
	return rc;
}

/* One claim of a few items, then the end. */
static int h_feed(void *arg, const size_t *held, size_t nheld, size_t *idx, size_t max, size_t *n,
                  int *end, lr_err *err)
{
	helper *h = arg;
	lr_bq_claimed c;
	/* A few items per slot: a job that comes waits for one round at most. */
	size_t k = (size_t)h->cfg->batch_slots * HELP_PER_SLOT;
	int rc = 0;

	*n = 0;
	*end = 1;
	if (h->fed++)
		return 0;
	rc = claim(h, held, nheld, k < max ? k : max, &c, err);
	for (size_t i = 0; rc == 0 && i < c.n && i < max; i++)
		idx[(*n)++] = c.idx[i];
	h->claimed = *n;
	if (rc == 0 && c.n > 0)
		log_debug("helping batch job %s (attempt %ld): %zu items", h->id, h->attempt, c.n);
	return rc;
}

static int h_settle(void *arg, size_t n, eval_outcome *out, lr_err *err)
{
	helper *h = arg;
	int already = 0;
	int rc =
	    wk_bs_record(h->q, h->cfg, h->id, h->attempt, n, &h->s->items[n], out, &already, err);

	wk_bs_count("helper", rc, already);
	if (over(h, rc, err) == LR_ESTALE)
		return rc;
	if (rc < 0) /* the claim runs out and another worker runs the item */
		log_warn("batch job %s item %zu: not recorded: %s", h->id, n, err->msg);
	return 0;
}

static int h_tick(void *arg, const size_t *held, size_t nheld, lr_err *err)
{
	helper *h = arg;
	lr_bq_claimed c;

	if (*h->stop >= 2 || h->over)
		return lr_err_set(err, LR_ECANCELED, "stopping");
	/* The claims extended every third of their length, and at least every
	 * second: a cancelled batch is noticed by the refusal. */
	if (nheld == 0 ||
	    lr_now_ms() - h->renewed_ms < (h->claim_ms < 3000 ? h->claim_ms / 3 : 1000))
		return 0;
	return claim(h, held, nheld, 0, &c, err) == LR_ESTALE ? LR_ESTALE : 0;
}

static int h_stop(void *arg)
{
	const helper *h = arg;

	return h->over || *h->stop >= 2;
}

int wk_batch_help(lr_q *q, const wk_config *cfg, sbx_pool *pool, wk_hb *hb,
                  const volatile sig_atomic_t *stop, size_t *helped, lr_err *err)
{
	char id[LR_JOB_ID_MAX + 1];
	char owner[128];
	long attempt = 0;
	int found = 0;
	helper h;
	br_hooks hooks = {&h, h_feed, h_settle, h_tick, h_stop, NULL};
	lr_err e2;
	int rc;

	*helped = 0;
	rc = lr_bq_find(q, cfg->name, id, &attempt, owner, sizeof(owner), &found, err);
	if (rc < 0 || !found)
		return rc;
	rc = spec_of(q, id, err);
	if (rc == LR_ENOMEM || lr_q_classify(rc, err) == LR_Q_CONN)
		return rc;
	if (rc < 0) {
		log_warn("batch job %s: cannot help: %s", id, err->msg);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	h.q = q;
	h.cfg = cfg;
	h.stop = stop;
	h.id = last.id;
	h.attempt = attempt;
	h.s = &last.spec;
	h.claim_ms = wk_bs_claim_ms(cfg);
	lr_err_clear(&e2);
	/* Busy meanwhile: the presence record names the job and its owner. */
	wk_hb_helping(hb, h.id, attempt, *owner ? owner : "?");
	lr_metric_set(wk_m.busy, 1, NULL);
	rc = br_run(h.s->items, h.s->nitems, cfg->batch_slots, (size_t)cfg->batch_group, pool,
	            &cfg->sbx, &hooks, &e2);
	lr_metric_set(wk_m.busy, 0, NULL);
	wk_hb_helping(hb, NULL, 0, NULL);
	*helped = h.claimed;
	if (rc < 0 && rc != LR_ESTALE && rc != LR_ECANCELED) {
		*err = e2;
		return rc;
	}
	return 0;
}
