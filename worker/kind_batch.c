/* kind_batch.c - the `batch` kind: each item evaluated exactly as an evaluate
 * job is (eval_run with the item's request: the same sandbox path,
 * protections and verdict), --batch-slots items at once, each slot on a
 * sandbox pool of its own (the first is the worker's, the others are started
 * by the first batch and kept for later ones; with one slot the items run
 * one after another).
 *
 * Each finished item is one fenced write: iteration n (the item's index) with
 * its id, verdict and report, an `item` event, and the job's items_done and
 * items_passed. A later attempt (the worker died, the job was released) reads
 * the iterations already written and runs only the items without one. A
 * cancelled job stops between items. */
#include "eval_group.h"
#include "kind_model.h"
#include "kinds.h"
#include "log.h"
#include "result_trim.h"
#include "worker.h"

#include <json-c/json.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item_state {
	int done;
	int passed;
	char *report;  /* the report JSON */
	char *summary; /* one line */
	char *error;   /* NULL or "" when none */
} item_state;

typedef struct batch {
	lr_jobctx *ctx;
	const lr_job_spec *s;
	item_state *st;
	size_t done, passed;
} batch;

static void batch_free(batch *b)
{
	for (size_t i = 0; b->st && i < b->s->nitems; i++) {
		free(b->st[i].report);
		free(b->st[i].summary);
		free(b->st[i].error);
	}
	free(b->st);
}

static char *dup_elem(const redisReply *rep, size_t i)
{
	const char *v = lr_reply_elem_str(rep, i);

	return v ? strdup(v) : NULL;
}

/* Iteration n as an earlier attempt wrote it, if it is item n's. */
static int load_one(batch *b, long n, lr_err *err)
{
	const lr_job_spec *it = &b->s->items[n];
	item_state *st = &b->st[n];
	redisReply *rep = NULL;
	char key[LR_KEY_MAX], sub[32];
	const char *id;
	int rc;

	snprintf(sub, sizeof(sub), "it:%ld", n);
	lr_key_job_sub(lr_jobctx_q(b->ctx)->k, key, lr_jobctx_id(b->ctx), sub);
	rc = lr_redis_cmd(lr_jobctx_q(b->ctx)->r, &rep, err,
	                  "HMGET %s item passed report summary error", key);
	if (rc < 0)
		return rc;
	id = lr_reply_elem_str(rep, 0);
	if (id != NULL && strcmp(id, it->item_id) == 0 && lr_reply_elem_str(rep, 2) != NULL) {
		const char *p = lr_reply_elem_str(rep, 1);

		st->done = 1;
		st->passed = p != NULL && strcmp(p, "1") == 0;
		st->report = dup_elem(rep, 2);
		st->summary = dup_elem(rep, 3);
		st->error = dup_elem(rep, 4);
		b->done++;
		b->passed += (size_t)st->passed;
	}
	freeReplyObject(rep);
	return 0;
}

static int load_done(batch *b, lr_err *err)
{
	redisReply *rep = NULL;
	char key[LR_KEY_MAX];
	int rc;

	lr_key_job_sub(lr_jobctx_q(b->ctx)->k, key, lr_jobctx_id(b->ctx), "its");
	rc = lr_redis_cmd(lr_jobctx_q(b->ctx)->r, &rep, err, "SMEMBERS %s", key);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && rc == 0; i++) {
		const char *v = lr_reply_elem_str(rep, i);
		char *end;
		long n = v ? strtol(v, &end, 10) : -1;

		if (v != NULL && *end == '\0' && n >= 0 && (size_t)n < b->s->nitems &&
		    !b->st[n].done)
			rc = load_one(b, n, err);
	}
	freeReplyObject(rep);
	return rc;
}

/* One fenced write: the item's iteration, its event, the running counts. */
static int record(batch *b, size_t n, const eval_outcome *out, lr_err *err)
{
	static const char *const f[] = {"item",  "passed",       "report",     "summary",
	                                "error", "tests_passed", "tests_total"};
	static const char *const ef[] = {"n", "id", "passed", "summary"};
	static const char *const sf[] = {"items_done", "items_passed"};
	const lr_job_spec *it = &b->s->items[n];
	char num[24], tp[24], tt[24], done[24], passed[24];
	const char *v[7], *ev[4], *sv[2];
	lr_jobctx_extra x = {"item", 4, ef, ev, 2, sf, sv};

	snprintf(num, sizeof(num), "%zu", n);
	snprintf(tp, sizeof(tp), "%d", out->tests_passed);
	snprintf(tt, sizeof(tt), "%d", out->tests_total);
	snprintf(done, sizeof(done), "%zu", b->done + 1);
	snprintf(passed, sizeof(passed), "%zu", b->passed + (out->passed ? 1 : 0));
	v[0] = it->item_id;
	v[1] = out->passed ? "1" : "0";
	v[2] = out->result_json ? out->result_json : "{}";
	v[3] = out->summary ? out->summary : "";
	v[4] = out->error ? out->error : "";
	v[5] = tp;
	v[6] = tt;
	ev[0] = num;
	ev[1] = it->item_id;
	ev[2] = v[1];
	ev[3] = v[3];
	sv[0] = done;
	sv[1] = passed;
	return lr_jobctx_iteration_with(b->ctx, (long)n, 7, f, v, NULL, &x, err);
}

/* Record item n's outcome and keep it (taking its strings). Its report is
 * compacted to the worker's --result-max-kb first (result_trim.h), so the
 * batch's result, which lists every item, is bounded by items x that. */
static int keep(batch *b, size_t n, eval_outcome *out, lr_err *err)
{
	item_state *st = &b->st[n];
	long kb = lr_jobctx_config(b->ctx)->result_max_kb;
	int rc;

	if (out->result_json != NULL &&
	    wk_result_trim(&out->result_json,
	                   kb > 0 ? (size_t)kb * 1024 : (size_t)WK_RESULT_MAX_DEFAULT, NULL) < 0)
		log_warn("batch item %zu: out of memory compacting its report", n);
	rc = record(b, n, out, err);

	if (rc == 0) {
		st->done = 1;
		st->passed = out->passed;
		st->report = out->result_json;
		st->summary = out->summary;
		st->error = out->error;
		out->result_json = out->summary = out->error = NULL;
		b->done++;
		b->passed += (size_t)st->passed;
	}
	return rc;
}

static int run_item(batch *b, size_t n, lr_err *err)
{
	const lr_job_spec *it = &b->s->items[n];
	eval_outcome out = {0};
	int rc = wk_spec_eval(&out, b->ctx, it, it->code, err);

	if (rc == 0)
		rc = keep(b, n, &out, err);
	eval_outcome_free(&out);
	return rc;
}

static int run_sequential(batch *b, lr_err *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < b->s->nitems; i++) {
		if (b->st[i].done)
			continue;
		/* Stop between items: cancelled, shutting down, or the lease lost. */
		rc = lr_jobctx_check(b->ctx, err);
		if (rc == 0)
			rc = run_item(b, i, err);
	}
	return rc;
}

/* ---- several items at once ------------------------------------------------
 * Slot threads each evaluate items on a sandbox pool of their own (the first
 * on the worker's) through eval_run, the path wk_spec_eval takes; the main
 * thread records each outcome as it comes back (the context and its Redis
 * connection stay on the main thread) and stops the slots between items when
 * the job is cancelled, the lease is lost or the worker stops. */

typedef struct finished {
	size_t n;
	int rc;
	eval_outcome out;
	lr_err err;
} finished;

typedef struct par {
	batch *b;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next; /* the next index a slot looks at */
	int stop;    /* take no more items */
	int running; /* slot threads not yet ended */
	finished *q; /* outcomes not yet recorded */
	size_t qn;
	finished *got; /* the main thread's copy of q */
} par;

typedef struct slot {
	par *p;
	sbx_pool *pool;
	size_t group; /* items taken at once */
	pthread_t th;
} slot;

/* The extra slots' pools (slot i > 0 uses kept[i]), started by the first
 * batch that needs them and kept for later batches: a pool's start (its
 * interpreter importing the harness and the tools) is not paid per job.
 * Only the worker's job thread touches them. */
#define KEPT_MAX 64
static sbx_pool *kept[KEPT_MAX];

void wk_kind_batch_stop(void)
{
	for (int i = 0; i < KEPT_MAX; i++) {
		sbx_pool_free(kept[i]);
		kept[i] = NULL;
	}
}

static int slot_stop(void *ctx, lr_err *err)
{
	return lr_jobctx_should_stop(ctx) ? lr_err_set(err, LR_ECANCELED, "stopping") : 0;
}

/* Up to max items no earlier attempt recorded, in ns; how many (0: none
 * is left). */
static size_t take(par *p, size_t *ns, size_t max)
{
	const batch *b = p->b;
	size_t k = 0;

	pthread_mutex_lock(&p->mu);
	while (k < max && !p->stop && !lr_jobctx_should_stop(b->ctx)) {
		while (p->next < b->s->nitems && b->st[p->next].done)
			p->next++;
		if (p->next >= b->s->nitems)
			break;
		ns[k++] = p->next++;
	}
	pthread_mutex_unlock(&p->mu);
	return k;
}

/* A slot's items at once: each as eval_run would evaluate it, several in
 * one sandbox run when they can share one (eval_group.h). */
static void *slot_main(void *arg)
{
	slot *sl = arg;
	par *p = sl->p;
	eval_request reqs[EVAL_GROUP_MAX];
	finished d[EVAL_GROUP_MAX];
	eval_outcome outs[EVAL_GROUP_MAX];
	lr_err errs[EVAL_GROUP_MAX];
	int rcs[EVAL_GROUP_MAX];
	size_t ns[EVAL_GROUP_MAX], k;

	while ((k = take(p, ns, sl->group)) > 0) {
		for (size_t i = 0; i < k; i++) {
			const lr_job_spec *it = &p->b->s->items[ns[i]];

			eval_request_from_spec(&reqs[i], it, it->code);
			reqs[i].stop = slot_stop;
			reqs[i].stop_arg = p->b->ctx;
		}
		eval_run_group(outs, rcs, errs, sl->pool, lr_jobctx_sbx_config(p->b->ctx), reqs, k,
		               NULL);
		pthread_mutex_lock(&p->mu);
		for (size_t i = 0; i < k; i++) {
			d[i] = (finished){.n = ns[i], .rc = rcs[i], .out = outs[i], .err = errs[i]};
			p->q[p->qn++] = d[i];
			if (rcs[i] < 0)
				p->stop = 1;
		}
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_lock(&p->mu);
	p->running--;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Record one outcome on the main thread; as wk_spec_eval, a cancelled or
 * reclaimed job records nothing more. */
static int settle(batch *b, finished *d, lr_err *err)
{
	int rc = d->rc;

	if (rc < 0) {
		*err = d->err;
		return rc;
	}
	rc = lr_jobctx_check(b->ctx, err);
	if (rc == LR_ESTALE || (rc == LR_ECANCELED && lr_jobctx_cancelled(b->ctx)))
		return rc;
	return keep(b, d->n, &d->out, err);
}

/* Wait for outcomes and record them until every slot has ended. */
static int collect(par *p, lr_err *err)
{
	batch *b = p->b;
	finished *got = p->got;
	int draining = 0;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (p->running > 0 || p->qn > 0) {
		size_t k;

		if (p->qn == 0) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		k = p->qn;
		memcpy(got, p->q, k * sizeof(*got));
		p->qn = 0;
		pthread_mutex_unlock(&p->mu);
		for (size_t i = 0; i < k; i++) {
			if (rc == 0)
				rc = settle(b, &got[i], err);
			eval_outcome_free(&got[i].out);
		}
		if (rc == 0 && k == 0) {
			int c = lr_jobctx_check(b->ctx, err);

			/* A stopping worker still records the items in flight. */
			if (c == LR_ECANCELED && !lr_jobctx_cancelled(b->ctx))
				draining = 1;
			else
				rc = c;
		}
		pthread_mutex_lock(&p->mu);
		if (rc < 0 || draining)
			p->stop = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Items a slot takes at once: --batch-group, but no more than half an
 * even share of what is left, so that every slot gets work and reports
 * progress (and a stopping worker gives work back) more than once. */
static size_t group_size(const batch *b, long nslots)
{
	size_t left = b->s->nitems - b->done;
	size_t share = left / (size_t)(nslots > 0 ? nslots : 1) / 2;
	long g = lr_jobctx_config(b->ctx)->batch_group;
	size_t want = g > 1 ? (size_t)g : 1;

	if (want > EVAL_GROUP_MAX)
		want = EVAL_GROUP_MAX;
	return want < share ? want : (share > 1 ? share : 1);
}

static int run_parallel(batch *b, long nslots, lr_err *err)
{
	par p = {.b = b};
	slot *sl = calloc((size_t)nslots, sizeof(*sl));
	long started = 0;
	int rc;

	p.q = calloc(b->s->nitems, sizeof(*p.q));
	p.got = calloc(b->s->nitems, sizeof(*p.got));
	if (sl == NULL || p.q == NULL || p.got == NULL) {
		free(sl);
		free(p.q);
		free(p.got);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	for (long i = 0; i < nslots && i < KEPT_MAX; i++) {
		sl[i].p = &p;
		sl[i].group = group_size(b, nslots);
		sl[i].pool = lr_jobctx_pool(b->ctx);
		if (i > 0 && sl[i].pool != NULL) {
			char msg[256];

			/* Started on this thread, the job's, which lives as long as
			 * the worker: a pool's server dies with the thread that
			 * started it. A slot whose pool does not start is left out. */
			if (kept[i] == NULL &&
			    sbx_pool_start(&kept[i], lr_jobctx_sbx_config(b->ctx), msg,
			                   sizeof(msg)) < 0) {
				log_warn("batch: an extra sandbox pool did not start: %s", msg);
				kept[i] = NULL;
				break;
			}
			sl[i].pool = kept[i];
		}
		pthread_mutex_lock(&p.mu);
		p.running++;
		pthread_mutex_unlock(&p.mu);
		if (pthread_create(&sl[i].th, NULL, slot_main, &sl[i]) != 0) {
			pthread_mutex_lock(&p.mu);
			p.running--;
			pthread_mutex_unlock(&p.mu);
			break;
		}
		started++;
	}
	rc = started > 0 ? collect(&p, err) : lr_err_set(err, LR_EUNAVAIL, "no batch slot started");
	for (long i = 0; i < started; i++)
		pthread_join(sl[i].th, NULL);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	free(p.q);
	free(p.got);
	free(sl);
	/* Items left undone because the worker is stopping: give the job back. */
	if (rc == 0 && b->done < b->s->nitems) {
		rc = lr_jobctx_check(b->ctx, err);
		if (rc == 0)
			rc = lr_err_set(err, LR_EINTERNAL, "batch: %zu items were not run",
			                b->s->nitems - b->done);
	}
	return rc;
}

static json_object *item_json(const lr_job_spec *it, const item_state *st, int full)
{
	json_object *o = json_object_new_object();
	json_object *rep = full && st->report ? json_tokener_parse(st->report) : NULL;

	if (o == NULL) {
		json_object_put(rep);
		return NULL;
	}
	json_object_object_add(o, "id", json_object_new_string(it->item_id));
	json_object_object_add(o, "passed", json_object_new_boolean(st->passed));
	json_object_object_add(o, "summary",
	                       json_object_new_string(st->summary ? st->summary : ""));
	json_object_object_add(o, "error",
	                       st->error && *st->error ? json_object_new_string(st->error) : NULL);
	if (full)
		json_object_object_add(o, "report", rep);
	return o;
}

/* The result JSON (malloc'd): every item with its report when `full`, else
 * without (the reports stay in the items' iterations). */
static char *result_json(const batch *b, int full)
{
	const lr_job_spec *s = b->s;
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char *out = NULL;
	int rc = root && arr ? 0 : LR_ENOMEM;

	for (size_t i = 0; rc == 0 && i < s->nitems; i++) {
		json_object *o = item_json(&s->items[i], &b->st[i], full);

		if (o == NULL || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			rc = LR_ENOMEM;
		}
	}
	if (rc == 0) {
		json_object_object_add(root, "items_total",
		                       json_object_new_int64((int64_t)s->nitems));
		json_object_object_add(root, "items_passed",
		                       json_object_new_int64((int64_t)b->passed));
		if (!full)
			json_object_object_add(
			    root, "reports",
			    json_object_new_string(
			        "over the result cap: each item's report is the "
			        "field `report` of the job's iteration <index>"));
		json_object_object_add(root, "items", arr);
		arr = NULL;
		out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(arr);
	json_object_put(root);
	return out;
}

/* res: passed when every item passed; result {items_total, items_passed,
 * items: [{id, passed, summary, error, report}]}; the first failure. */
static int fill_result(batch *b, lr_job_result *res, lr_err *err)
{
	const lr_job_spec *s = b->s;
	const wk_config *cfg = lr_jobctx_config(b->ctx);
	size_t cap = cfg && cfg->result_max_kb > 0 ? (size_t)cfg->result_max_kb * 1024
	                                           : (size_t)WK_RESULT_MAX_DEFAULT;
	const item_state *first = NULL;
	const char *first_id = NULL;
	char line[600], num[32];
	int rc = 0;

	for (size_t i = 0; first == NULL && i < s->nitems; i++)
		if (!b->st[i].passed) {
			first = &b->st[i];
			first_id = s->items[i].item_id;
		}
	res->passed = b->passed == s->nitems;
	/* Over the cap the worker would compact the result, items and all:
	 * leave the reports out first, so that every item keeps its verdict. */
	res->result_json = result_json(b, 1);
	if (res->result_json != NULL && strlen(res->result_json) > cap) {
		free(res->result_json);
		res->result_json = result_json(b, 0);
	}
	snprintf(line, sizeof(line), "batch: %zu of %zu items passed", b->passed, s->nitems);
	res->summary = strdup(line);
	if (first != NULL) {
		snprintf(line, sizeof(line), "%zu of %zu items fail; first: %.64s: %.400s",
		         s->nitems - b->passed, s->nitems, first_id,
		         first->error && *first->error
		             ? first->error
		             : (first->summary ? first->summary : "failed"));
		res->error = strdup(line);
	}
	snprintf(num, sizeof(num), "%zu", s->nitems);
	if (rc == 0)
		rc = lr_job_result_field(res, "items_total", num);
	snprintf(num, sizeof(num), "%zu", b->passed);
	if (rc == 0)
		rc = lr_job_result_field(res, "items_passed", num);
	snprintf(num, sizeof(num), "%.4f", (double)b->passed / (double)s->nitems);
	if (rc == 0)
		rc = lr_job_result_field(res, "score", num);
	if (rc < 0 || res->result_json == NULL || res->summary == NULL ||
	    (first != NULL && res->error == NULL))
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	return 0;
}

static int start(batch *b, lr_err *err)
{
	char num[24], msg[128];
	int rc;

	rc = load_done(b, err);
	snprintf(num, sizeof(num), "%zu", b->s->nitems);
	if (rc == 0)
		rc = lr_jobctx_set(b->ctx, "items_total", num, err);
	if (rc == 0 && b->done > 0) {
		snprintf(msg, sizeof(msg), "resuming: %zu of %zu items already done", b->done,
		         b->s->nitems);
		rc = lr_jobctx_event(b->ctx, "progress", msg, err);
	}
	return rc;
}

int wk_kind_batch(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	batch b = {ctx, lr_jobctx_spec(ctx), NULL, 0, 0};
	int rc;

	b.st = calloc(b.s->nitems ? b.s->nitems : 1, sizeof(*b.st));
	if (b.st == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	rc = start(&b, err);
	if (rc == 0) {
		const wk_config *cfg = lr_jobctx_config(ctx);
		size_t left = b.s->nitems - b.done;
		long slots = cfg->batch_slots < (long)left ? cfg->batch_slots : (long)left;

		rc = slots > 1 ? run_parallel(&b, slots, err) : run_sequential(&b, err);
	}
	if (rc == 0)
		rc = fill_result(&b, res, err);
	batch_free(&b);
	return rc;
}
