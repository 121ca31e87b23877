/* batch_q.c - a batch job's shared items: the calls of batch_lua.c's
 * scripts and their replies. */
#include "batch_q.h"

#include "batch_lua.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arguments: fixed strings and numbers formatted into nums. */
typedef struct args {
	const char **v;
	size_t *len;
	char (*nums)[24];
	size_t n, cap, nnum;
} args;

static int args_init(args *a, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->v = calloc(cap, sizeof(*a->v));
	a->len = calloc(cap, sizeof(*a->len));
	a->nums = calloc(cap, sizeof(*a->nums));
	a->cap = cap;
	return a->v && a->len && a->nums ? 0 : LR_ENOMEM;
}

static void args_free(args *a)
{
	free(a->v);
	free(a->len);
	free(a->nums);
}

static void arg_str(args *a, const char *s)
{
	if (a->n < a->cap) {
		a->v[a->n] = s ? s : "";
		a->len[a->n++] = s ? strlen(s) : 0;
	}
}

static void arg_num(args *a, long long x)
{
	if (a->nnum < a->cap) {
		snprintf(a->nums[a->nnum], sizeof(a->nums[0]), "%lld", x);
		arg_str(a, a->nums[a->nnum++]);
	}
}

static void arg_head(args *a, const lr_q *q, const char *id, long attempt)
{
	arg_str(a, q->k->prefix);
	arg_str(a, id);
	arg_num(a, attempt);
}

/* Run s; a {'stale', state, attempt[, why]} reply is LR_ESTALE. */
static int run(lr_q *q, const lr_script *s, args *a, const char *id, redisReply **rep, lr_err *err)
{
	const char *tag;
	int rc = lr_redis_eval(q->r, rep, s, 0, (int)a->n, a->v, a->len, err);

	args_free(a);
	if (rc < 0)
		return rc;
	tag = lr_reply_elem_str(*rep, 0);
	if (tag == NULL)
		return lr_err_set(err, LR_EPROTO, "%s: unexpected reply from redis", s->name);
	if (strcmp(tag, "stale") == 0) {
		const char *st = lr_reply_elem_str(*rep, 1), *at = lr_reply_elem_str(*rep, 2);

		return lr_err_set(err, LR_ESTALE, "%s refused: job %s is %.16s at attempt %.24s",
		                  s->name, id, st ? st : "?", at ? at : "?");
	}
	return 0;
}

static void copy_str(char *dst, size_t n, const char *src)
{
	if (dst != NULL && n > 0)
		snprintf(dst, n, "%s", src ? src : "");
}

static long long elem_int(const redisReply *rep, size_t i)
{
	const redisReply *e = i < rep->elements ? rep->element[i] : NULL;

	if (e == NULL)
		return -1;
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	return lr_reply_is_str(e) ? strtoll(e->str, NULL, 10) : -1;
}

int lr_bq_open(lr_q *q, const char *id, long attempt, lr_bq_opening *o, lr_err *err)
{
	redisReply *rep = NULL;
	args a;
	int rc = args_init(&a, 7 + o->ntodo);

	if (rc < 0) {
		args_free(&a);
		return lr_err_set(err, rc, "out of memory");
	}
	arg_head(&a, q, id, attempt);
	arg_num(&a, (long long)o->nitems);
	arg_num(&a, (long long)o->done);
	arg_num(&a, (long long)o->passed);
	arg_str(&a, o->share ? "1" : "0");
	for (size_t i = 0; i < o->ntodo; i++)
		arg_num(&a, (long long)o->todo[i]);
	o->opened = 0;
	o->fixed[0] = '\0';
	rc = run(q, &lr_lua_bq_open, &a, id, &rep, err);
	if (rc == 0) {
		o->opened = elem_int(rep, 1) == 1;
		copy_str(o->fixed, sizeof(o->fixed), lr_reply_elem_str(rep, 2));
	}
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int lr_bq_claim(const lr_bq_claimer *cl, const size_t *held, size_t nheld, size_t k,
                lr_bq_claimed *c, lr_err *err)
{
	redisReply *rep = NULL;
	args a;
	int rc = args_init(&a, 7 + nheld);

	memset(c, 0, sizeof(*c));
	c->left = -1;
	if (rc < 0) {
		args_free(&a);
		return lr_err_set(err, rc, "out of memory");
	}
	arg_head(&a, cl->q, cl->id, cl->attempt);
	arg_str(&a, cl->worker);
	arg_num(&a, (long long)cl->nitems);
	arg_num(&a, cl->claim_ms);
	arg_num(&a, (long long)(k < LR_BQ_CLAIM_MAX ? k : LR_BQ_CLAIM_MAX));
	for (size_t i = 0; i < nheld; i++)
		arg_num(&a, (long long)held[i]);
	rc = run(cl->q, &lr_lua_bq_claim, &a, cl->id, &rep, err);
	if (rc == 0 && (rep->type != REDIS_REPLY_ARRAY || rep->elements < 4))
		rc = lr_err_set(err, LR_EPROTO, "batch claim: unexpected reply from redis");
	if (rc == 0) {
		long long lost = elem_int(rep, 3);

		c->left = (long)elem_int(rep, 1);
		copy_str(c->fixed, sizeof(c->fixed), lr_reply_elem_str(rep, 2));
		c->lost = lost > 0 ? (size_t)lost : 0;
		for (size_t i = 4; i < rep->elements && c->n < LR_BQ_CLAIM_MAX; i++) {
			long long n = elem_int(rep, i);

			if (n >= 0 && (size_t)n < cl->nitems)
				c->idx[c->n++] = (size_t)n;
		}
	}
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int lr_bq_record(lr_q *q, const char *id, long attempt, const lr_bq_item *it, int *already,
                 char *by, size_t bysz, lr_err *err)
{
	redisReply *rep = NULL;
	args a;
	int rc = args_init(&a, 12);

	*already = 0;
	if (rc < 0) {
		args_free(&a);
		return lr_err_set(err, rc, "out of memory");
	}
	arg_head(&a, q, id, attempt);
	arg_num(&a, (long long)it->n);
	arg_str(&a, it->worker);
	arg_str(&a, it->item_id);
	arg_str(&a, it->passed ? "1" : "0");
	arg_str(&a, it->report ? it->report : "{}");
	arg_str(&a, it->summary);
	arg_str(&a, it->error);
	arg_num(&a, it->tests_passed);
	arg_num(&a, it->tests_total);
	rc = run(q, &lr_lua_bq_record, &a, id, &rep, err);
	if (rc == 0 && strcmp(lr_reply_elem_str(rep, 0), "already") == 0) {
		*already = 1;
		copy_str(by, bysz, lr_reply_elem_str(rep, 1));
	}
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int lr_bq_find(lr_q *q, const char *worker, char id[LR_JOB_ID_MAX + 1], long *attempt, char *owner,
               size_t ownersz, int *found, lr_err *err)
{
	redisReply *rep = NULL;
	args a;
	int rc = args_init(&a, 3);

	*found = 0;
	if (rc < 0) {
		args_free(&a);
		return lr_err_set(err, rc, "out of memory");
	}
	arg_str(&a, q->k->prefix);
	arg_str(&a, worker);
	arg_num(&a, 32);
	rc = run(q, &lr_lua_bq_find, &a, "-", &rep, err);
	if (rc == 0 && strcmp(lr_reply_elem_str(rep, 0), "ok") == 0) {
		const char *jid = lr_reply_elem_str(rep, 1);

		if (jid != NULL && lr_job_id_valid(jid) && elem_int(rep, 2) > 0) {
			snprintf(id, LR_JOB_ID_MAX + 1, "%s", jid);
			*attempt = (long)elem_int(rep, 2);
			snprintf(owner, ownersz, "%s",
			         lr_reply_elem_str(rep, 3) ? lr_reply_elem_str(rep, 3) : "");
			*found = 1;
		}
	}
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int lr_bq_wait_record(lr_q *q, const char *id, long left, long block_ms, lr_err *err)
{
	redisReply *rep = NULL;
	char ev[LR_KEY_MAX], todo[LR_KEY_MAX], last[64] = "0-0";
	int rc;

	lr_key_job_sub(q->k, ev, id, "events");
	lr_key_job_sub(q->k, todo, id, "todo");
	rc = lr_redis_cmd(q->r, &rep, err, "XREVRANGE %s + - COUNT 1", ev);
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements > 0)
		copy_str(last, sizeof(last), lr_reply_elem_str(rep->element[0], 0));
	if (rep != NULL)
		freeReplyObject(rep);
	if (rc < 0)
		return rc;
	rc = lr_redis_cmd(q->r, &rep, err, "ZCARD %s", todo);
	if (rc < 0)
		return rc;
	left = rep->type == REDIS_REPLY_INTEGER && rep->integer < left ? -1 : left;
	freeReplyObject(rep);
	if (left < 0)
		return 0; /* recorded since the claim */
	rc = lr_redis_cmd(q->r, &rep, err, "XREAD COUNT 1 BLOCK %ld STREAMS %s %s",
	                  lr_redis_block_ms(q->r, block_ms), ev, last);
	if (rc == 0)
		freeReplyObject(rep);
	return rc;
}
