/* kind_batch.c - the `batch` kind: each item evaluated exactly as an evaluate
 * job is (eval_run with the item's request: the same sandbox path,
 * protections and verdict), --batch-slots items at once, each slot on a
 * sandbox pool of its own (batch_run.h). With --batch-share (the default)
 * idle workers help: the items are claimed a few at a time through Redis by
 * this worker and by them (batch_q.h, batch_help.h).
 *
 * Each finished item is one fenced write, once: iteration n (the item's
 * index) with its id, verdict, report and the worker that ran it, an `item`
 * event, and the job's items_done and items_passed. A later attempt (the
 * worker died, the job was released) reads the iterations already written
 * and runs only the items without one. A cancelled job stops between
 * items, its helpers too. */
#include "batch_run.h"
#include "batch_share.h"
#include "clock.h"
#include "kinds.h"
#include "log.h"
#include "result_trim.h"
#include "worker.h"

#include <json-c/json.h>
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
	size_t next;          /* the batch's own list: the next index to look at */
	int share;            /* items claimed through Redis, shared with helpers */
	long claim_ms;        /* a claim's length */
	long long renewed_ms; /* when the claims were last extended */
	long left;            /* items not recorded at the last claim */
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

/* ---- running the items ----------------------------------------------------
 * On slot threads (batch_run.h); the hooks below run on the main thread. The
 * items to run come from the batch's own list (sharing off), or from claims
 * in Redis shared with idle workers that help (batch_q.h): then the owner
 * claims a few at a time like any helper, and once nothing is left to
 * claim waits for the items others hold (an expired claim, its holder gone,
 * is claimed again), reads back what they recorded and assembles the result. */

static int record_once(batch *b, size_t n, eval_outcome *out, int *already, lr_err *err)
{
	lr_jobctx *ctx = b->ctx;
	int rc;

	/* Redis away, busy or refusing writes: try again while the attempt may
	 * still be ours (as the context's own writes do). */
	for (int tries = 0;; tries++) {
		lr_q_trouble t;
		int c;

		rc = wk_bs_record(lr_jobctx_q(ctx), lr_jobctx_config(ctx), lr_jobctx_id(ctx),
		                  lr_jobctx_attempt(ctx), n, &b->s->items[n], out, already, err);
		t = lr_q_classify(rc, err);
		if (t != LR_Q_CONN && t != LR_Q_BUSY && t != LR_Q_OOM)
			return rc;
		c = lr_jobctx_check(ctx, NULL);
		if (c == LR_ESTALE || (c == LR_ECANCELED && lr_jobctx_cancelled(ctx)))
			return rc;
		log_warn("job %s: %s; retrying the item's record", lr_jobctx_id(ctx), err->msg);
		lr_sleep_ms(lr_backoff_ms(tries, 50, 1000));
	}
}

/* Record item n's outcome once and keep it (taking its strings); as
 * wk_spec_eval, a cancelled or reclaimed job records nothing more. An item
 * another worker recorded first is read back at the end. */
static int b_settle(void *arg, size_t n, eval_outcome *out, lr_err *err)
{
	batch *b = arg;
	item_state *st = &b->st[n];
	int already = 0;
	int rc = lr_jobctx_check(b->ctx, err);

	if (rc == LR_ESTALE || (rc == LR_ECANCELED && lr_jobctx_cancelled(b->ctx)))
		return rc;
	rc = record_once(b, n, out, &already, err);
	wk_bs_count("owner", rc, already);
	if (rc == 0 && !already && !st->done) {
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

/* The next items of the batch's own list not done and not handed out. */
static void feed_local(batch *b, size_t *idx, size_t max, size_t *n, int *end)
{
	while (*n < max && b->next < b->s->nitems) {
		if (!b->st[b->next].done)
			idx[(*n)++] = b->next;
		b->next++;
	}
	*end = b->next >= b->s->nitems;
}

/* Items the todo list does not have (a hand on the keys took them out) and
 * nobody recorded: this worker runs them from its own list. */
static int orphans(batch *b, lr_err *err)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
	         "%zu items were neither recorded nor in the todo list; this worker runs them",
	         b->s->nitems - b->done);
	log_warn("job %s: %s", lr_jobctx_id(b->ctx), msg);
	b->share = 0;
	b->next = 0;
	return lr_jobctx_event(b->ctx, "batch_data", msg, err);
}

/* This worker's claims on the batch's items. */
static lr_bq_claimer claimer(const batch *b)
{
	lr_jobctx *ctx = b->ctx;

	return (lr_bq_claimer){lr_jobctx_q(ctx),       lr_jobctx_id(ctx),
	                       lr_jobctx_attempt(ctx), lr_jobctx_config(ctx)->name,
	                       b->s->nitems,           b->claim_ms};
}

static int b_feed(void *arg, const size_t *held, size_t nheld, size_t *idx, size_t max, size_t *n,
                  int *end, lr_err *err)
{
	batch *b = arg;
	lr_jobctx *ctx = b->ctx;
	lr_bq_claimer cl;
	lr_bq_claimed c;
	int rc;

	*n = 0;
	*end = 0;
	if (!b->share) {
		feed_local(b, idx, max, n, end);
		return 0;
	}
	cl = claimer(b);
	rc = lr_bq_claim(&cl, held, nheld, max, &c, err);
	if (rc < 0)
		return rc;
	b->renewed_ms = lr_now_ms();
	b->left = c.left;
	wk_bs_fixed(lr_jobctx_id(ctx), c.fixed);
	for (size_t i = 0; i < c.n && i < max; i++)
		idx[(*n)++] = c.idx[i];
	if (*n > 0 || nheld > 0 || c.left > 0)
		return 0; /* running, or others hold the rest */
	/* Nothing left to claim and nothing running here: read back what the
	 * others recorded. */
	rc = load_done(b, err);
	if (rc == 0 && b->done < b->s->nitems)
		rc = orphans(b, err);
	if (rc == 0 && b->done < b->s->nitems)
		feed_local(b, idx, max, n, end);
	*end = b->done >= b->s->nitems || *end;
	return rc;
}

/* Between outcomes: cancelled or reclaimed ends the run; a stopping worker
 * records the items in flight and takes no more; the claims on the items
 * handed out are extended every third of their length. */
static int b_tick(void *arg, const size_t *held, size_t nheld, lr_err *err)
{
	batch *b = arg;
	lr_jobctx *ctx = b->ctx;
	lr_bq_claimer cl;
	lr_bq_claimed c;
	int rc = lr_jobctx_check(ctx, err);

	if (rc == LR_ECANCELED && !lr_jobctx_cancelled(ctx))
		return 1;
	if (rc < 0 || !b->share || lr_now_ms() - b->renewed_ms < b->claim_ms / 3)
		return rc;
	cl = claimer(b);
	rc = lr_bq_claim(&cl, held, nheld, 0, &c, err);
	if (rc == 0) {
		b->renewed_ms = lr_now_ms();
		wk_bs_fixed(lr_jobctx_id(ctx), c.fixed);
	}
	/* Redis away for a moment: the claims last a while yet. */
	return rc == LR_ESTALE ? rc : 0;
}

/* Nothing runs here and others hold the rest: wait for the next record
 * of the job's items (each adds an `item` event), at most 200 ms, instead
 * of asking again only after 200 ms (a batch's end waited up to that long
 * for the helpers' last record). */
static int b_idle(void *arg, lr_err *err)
{
	batch *b = arg;

	/* Redis away for a moment, or the keys not what they should be: wait as
	 * before (no loop of calls), and the next claim says what holds. */
	if (lr_bq_wait_record(lr_jobctx_q(b->ctx), lr_jobctx_id(b->ctx), b->left, 200, err) < 0)
		lr_sleep_ms(200);
	return 0;
}

static int b_stop(void *arg)
{
	const batch *b = arg;

	return lr_jobctx_should_stop(b->ctx);
}

static int run_items(batch *b, lr_err *err)
{
	const wk_config *cfg = lr_jobctx_config(b->ctx);
	size_t left = b->s->nitems - b->done;
	long slots = cfg->batch_slots < (long)left ? cfg->batch_slots : (long)left;
	br_hooks h = {b, b_feed, b_settle, b_tick, b_stop, b->share ? b_idle : NULL};
	int rc;

	if (left == 0)
		return 0;
	rc = br_run(b->s->items, b->s->nitems, slots, (size_t)cfg->batch_group,
	            lr_jobctx_pool(b->ctx), lr_jobctx_sbx_config(b->ctx), &h, err);
	if (rc == 0 && b->share)
		rc = load_done(b, err);
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

/* Open the attempt: the items not done wait to be claimed (by this worker
 * and, with --batch-share, by idle ones), the counts are set. */
static int open_items(batch *b, lr_err *err)
{
	lr_jobctx *ctx = b->ctx;
	size_t *todo = malloc((b->s->nitems ? b->s->nitems : 1) * sizeof(*todo));
	lr_bq_opening o = {.nitems = b->s->nitems,
	                   .done = b->done,
	                   .passed = b->passed,
	                   .todo = todo,
	                   .share = b->share};
	int rc;

	if (todo == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	for (size_t i = 0; i < b->s->nitems; i++)
		if (!b->st[i].done)
			todo[o.ntodo++] = i;
	rc = lr_jobctx_aux_key(ctx, "todo", err);
	if (rc == 0)
		rc = lr_jobctx_aux_key(ctx, "claims", err);
	if (rc == 0)
		rc = lr_bq_open(lr_jobctx_q(ctx), lr_jobctx_id(ctx), lr_jobctx_attempt(ctx), &o,
		                err);
	free(todo);
	wk_bs_fixed(lr_jobctx_id(ctx), o.fixed);
	b->share = b->share && o.opened;
	return rc;
}

static int start(batch *b, lr_err *err)
{
	char msg[128];
	int rc;

	rc = load_done(b, err);
	if (rc == 0)
		rc = open_items(b, err);
	if (rc == 0 && b->done > 0) {
		snprintf(msg, sizeof(msg), "resuming: %zu of %zu items already done", b->done,
		         b->s->nitems);
		rc = lr_jobctx_event(b->ctx, "progress", msg, err);
	}
	return rc;
}

int wk_kind_batch(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	const wk_config *cfg = lr_jobctx_config(ctx);
	batch b = {.ctx = ctx,
	           .s = lr_jobctx_spec(ctx),
	           .share = cfg->batch_share != 0,
	           .claim_ms = wk_bs_claim_ms(cfg)};
	int rc;

	b.st = calloc(b.s->nitems ? b.s->nitems : 1, sizeof(*b.st));
	if (b.st == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	rc = start(&b, err);
	if (rc == 0)
		rc = run_items(&b, err);
	if (rc == 0)
		rc = fill_result(&b, res, err);
	batch_free(&b);
	return rc;
}
