/* batch_run.c - a batch's items on slot threads (see batch_run.h). */
#include "batch_run.h"

#include "eval_group.h"
#include "log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct finished {
	size_t n;
	int rc;
	eval_outcome out;
	lr_err err;
} finished;

typedef struct par {
	const lr_job_spec *items;
	size_t nitems;
	const sbx_config *sc;
	const br_hooks *h;
	pthread_mutex_t mu;
	pthread_cond_t work; /* slots wait for items */
	pthread_cond_t done; /* the main thread waits for outcomes */
	size_t cap;          /* items handed out and not settled, at most */
	size_t group;        /* items a slot takes at once (one sandbox run) */
	size_t *ready;       /* handed out, not started: ready[0..nready) */
	size_t nready;
	size_t *held; /* handed out, not settled (the main thread's) */
	size_t nheld;
	int stop;    /* take no more items */
	int ended;   /* no more will come */
	int running; /* slot threads not yet ended */
	int busy;    /* slot threads running a group */
	/* A slot that would take fewer than a group asks (asked++) and waits
	 * until the main thread has settled what came back before the ask and
	 * fed again (fed = the asks it answered). */
	unsigned long asked, fed;
	finished *q; /* outcomes not yet settled */
	size_t qn;
	finished *got; /* the main thread's copy of q */
} par;

typedef struct slot {
	par *p;
	sbx_pool *pool;
	pthread_t th;
} slot;

/* The extra slots' pools (slot i > 0 uses kept[i]), started by the first
 * batch that needs them and kept for later batches: a pool's start (its
 * interpreter importing the harness and the tools) is not paid per job.
 * Only the worker's main thread touches them. */
#define KEPT_MAX 64
static sbx_pool *kept[KEPT_MAX];

void br_stop(void)
{
	for (int i = 0; i < KEPT_MAX; i++) {
		sbx_pool_free(kept[i]);
		kept[i] = NULL;
	}
}

static int slot_stop(void *arg, lr_err *err)
{
	const par *p = arg;

	return p->h->stop(p->h->arg) ? lr_err_set(err, LR_ECANCELED, "stopping") : 0;
}

/* Items a slot takes now (batch_run.h). (Shared among all the slots, each
 * slot's share shrank with what the ones before it took: eight items ran
 * as 4, 2, 1 and 1, the last two each a sandbox run of its own.) */
size_t br_share(size_t nready, int running, int busy, size_t group)
{
	int free_slots = running - busy;
	size_t n = (size_t)(free_slots > 1 ? free_slots : 1);
	size_t k = (nready + n - 1) / n;

	return k < group ? k : group;
}

static size_t share(const par *p)
{
	return br_share(p->nready, p->running, p->busy, p->group);
}

/* The next items to run, in ns: share() of those ready; 0 when the slot
 * should end. A slot that would take less than a group while more items
 * may come first has the main thread settle and feed (a short chunk runs
 * alone or in a small group, which costs a sandbox run per few items). */
static size_t take(par *p, size_t *ns)
{
	size_t k = 0;
	int fed_since = 0; /* asked for a feed during this call */

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->nready == 0 && !p->ended && !p->h->stop(p->h->arg))
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop || p->nready == 0 || p->h->stop(p->h->arg))
			break; /* stopping, or ended with nothing left */
		if (!fed_since && !p->ended && share(p) < p->group) {
			unsigned long ask = ++p->asked;

			fed_since = 1;
			pthread_cond_signal(&p->done);
			while (!p->stop && p->fed < ask && !p->h->stop(p->h->arg))
				pthread_cond_wait(&p->work, &p->mu);
			continue; /* another slot may have taken what was ready */
		}
		k = share(p);
		memcpy(ns, p->ready, k * sizeof(*ns));
		p->nready -= k;
		memmove(p->ready, p->ready + k, p->nready * sizeof(*p->ready));
		p->busy++;
		break;
	}
	pthread_mutex_unlock(&p->mu);
	return k;
}

/* A slot's items: each as eval_run evaluates it, several in one sandbox run
 * when they can share one (eval_group.h). */
static void *slot_main(void *arg)
{
	slot *sl = arg;
	par *p = sl->p;
	eval_request reqs[EVAL_GROUP_MAX];
	eval_outcome outs[EVAL_GROUP_MAX];
	lr_err errs[EVAL_GROUP_MAX];
	int rcs[EVAL_GROUP_MAX];
	size_t ns[EVAL_GROUP_MAX], k;

	while ((k = take(p, ns)) > 0) {
		for (size_t i = 0; i < k; i++) {
			const lr_job_spec *it = &p->items[ns[i]];

			eval_request_from_spec(&reqs[i], it, it->code);
			reqs[i].stop = slot_stop;
			reqs[i].stop_arg = p;
		}
		eval_run_group(outs, rcs, errs, sl->pool, p->sc, reqs, k, NULL);
		pthread_mutex_lock(&p->mu);
		p->busy--;
		for (size_t i = 0; i < k; i++)
			p->q[p->qn++] =
			    (finished){.n = ns[i], .rc = rcs[i], .out = outs[i], .err = errs[i]};
		pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_lock(&p->mu);
	p->running--;
	pthread_cond_signal(&p->done);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void forget(par *p, size_t n)
{
	for (size_t i = 0; i < p->nheld; i++)
		if (p->held[i] == n) {
			p->held[i] = p->held[--p->nheld];
			return;
		}
}

/* Ask for more items while there is room; hand them to the slots. The
 * slots' asks up to seen are answered by this feed. */
static int refill(par *p, unsigned long seen, lr_err *err)
{
	size_t room = p->cap - p->nheld, n = 0;
	size_t *more = p->held + p->nheld;
	int end = 0, rc = 0;

	if (!p->ended && !p->stop && room > 0)
		rc = p->h->feed(p->h->arg, p->held, p->nheld, more, room, &n, &end, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&p->mu);
	if (seen > p->fed)
		p->fed = seen;
	for (size_t i = 0; i < n && i < room; i++)
		if (more[i] < p->nitems) {
			p->ready[p->nready++] = more[i];
			p->held[p->nheld++] = more[i];
		}
	p->ended = p->ended || end;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void wait_done(par *p)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&p->done, &p->mu, &ts);
}

static void halt(par *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

/* Settle outcomes as they come, feed and tick, until the slots have ended
 * and nothing is left to settle. */
static int collect(par *p, lr_err *err)
{
	int rc = refill(p, 0, err);

	while (rc == 0) {
		size_t k;
		int alive, t, idle = 0;
		unsigned long seen;

		pthread_mutex_lock(&p->mu);
		if (p->qn == 0 && p->running > 0 && p->asked == p->fed) {
			/* Nothing here to wait for: the rest is others' to record. */
			if (p->h->idle != NULL && p->nheld == 0 && !p->ended && !p->stop)
				idle = 1;
			else
				wait_done(p);
		}
		seen = p->asked; /* asked after queueing what they ran */
		k = p->qn;
		memcpy(p->got, p->q, k * sizeof(*p->got));
		p->qn = 0;
		alive = p->running;
		pthread_mutex_unlock(&p->mu);
		if (idle && (rc = p->h->idle(p->h->arg, err)) < 0)
			break;
		for (size_t i = 0; i < k; i++) {
			forget(p, p->got[i].n);
			if (rc == 0 && p->got[i].rc < 0) {
				*err = p->got[i].err;
				rc = p->got[i].rc;
			} else if (rc == 0)
				rc = p->h->settle(p->h->arg, p->got[i].n, &p->got[i].out, err);
			eval_outcome_free(&p->got[i].out);
		}
		if (rc < 0 || (alive == 0 && k == 0))
			break;
		t = p->h->tick(p->h->arg, p->held, p->nheld, err);
		if (t < 0)
			rc = t;
		else if (t > 0)
			halt(p);
		else
			rc = refill(p, seen, err);
	}
	return rc;
}

/* Slot i's pool: the worker's for 0, a kept one for the others (NULL
 * when the worker runs cold); -1 when it did not start. */
static int slot_pool(par *p, long i, sbx_pool *own, sbx_pool **pool)
{
	char msg[256];

	*pool = own;
	if (i == 0 || own == NULL)
		return 0;
	/* Started on this thread, the worker's main one, which lives as long as
	 * the worker: a pool's server dies with the thread that started it. */
	if (kept[i] == NULL && sbx_pool_start(&kept[i], p->sc, msg, sizeof(msg)) < 0) {
		log_warn("batch: an extra sandbox pool did not start: %s", msg);
		kept[i] = NULL;
		return -1;
	}
	*pool = kept[i];
	return 0;
}

static long start_slots(par *p, slot *sl, long nslots, sbx_pool *own)
{
	long started = 0;

	for (long i = 0; i < nslots && i < KEPT_MAX; i++) {
		sl[i].p = p;
		if (slot_pool(p, i, own, &sl[i].pool) < 0)
			break;
		pthread_mutex_lock(&p->mu);
		p->running++;
		pthread_mutex_unlock(&p->mu);
		if (pthread_create(&sl[i].th, NULL, slot_main, &sl[i]) != 0) {
			pthread_mutex_lock(&p->mu);
			p->running--;
			pthread_mutex_unlock(&p->mu);
			break;
		}
		started++;
	}
	return started;
}

int br_run(const lr_job_spec *items, size_t nitems, long nslots, size_t group, sbx_pool *own,
           const sbx_config *sc, const br_hooks *h, lr_err *err)
{
	par p = {.items = items, .nitems = nitems, .sc = sc, .h = h};
	slot *sl;
	long started;
	int rc;

	if (nslots < 1)
		nslots = 1;
	/* No more than a third of an even share of the batch per group: each
	 * slot reports progress at least three times, and a worker that stops
	 * gives back what is not in its slots' runs (a run ends whole). */
	if (group > nitems / (size_t)nslots / 3)
		group = nitems / (size_t)nslots / 3;
	p.group = group < 1 ? 1 : group > EVAL_GROUP_MAX ? EVAL_GROUP_MAX : group;
	p.cap = (p.group + 1) * (size_t)nslots;
	sl = calloc((size_t)nslots, sizeof(*sl));
	p.ready = calloc(p.cap, sizeof(*p.ready));
	p.held = calloc(p.cap, sizeof(*p.held));
	p.q = calloc(p.cap, sizeof(*p.q));
	p.got = calloc(p.cap, sizeof(*p.got));
	if (sl == NULL || p.ready == NULL || p.held == NULL || p.q == NULL || p.got == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	started = start_slots(&p, sl, nslots, own);
	rc = started > 0 ? collect(&p, err) : lr_err_set(err, LR_EUNAVAIL, "no batch slot started");
	halt(&p);
	for (long i = 0; i < started; i++)
		pthread_join(sl[i].th, NULL);
	for (size_t i = 0; i < p.qn; i++) /* what came back after the end */
		eval_outcome_free(&p.q[i].out);
	pthread_cond_destroy(&p.done);
	pthread_cond_destroy(&p.work);
	pthread_mutex_destroy(&p.mu);
out:
	free(p.ready);
	free(p.held);
	free(p.q);
	free(p.got);
	free(sl);
	return rc;
}
