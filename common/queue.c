/* queue.c - C side of the job protocol: argument lists for the scripts in
 * queue_lua.c and checks on what they answer. */
#include "queue.h"

#include "clock.h"
#include "log.h"
#include "queue_lua.h"
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void lr_q_policy_default(lr_q_policy *p)
{
	p->ttl_s = 86400;
	p->max_attempts = 3;
	p->backoff_ms = 1000;
	p->backoff_max_ms = 60000;
	p->events_max = 1000;
}

/* The one table of state names; the Lua scripts use the same words. */
static const char *const state_names[LR_QS_COUNT] = {
    [LR_QS_NONE] = "gone",         [LR_QS_QUEUED] = "queued",
    [LR_QS_RUNNING] = "running",   [LR_QS_RETRY_WAIT] = "retry_wait",
    [LR_QS_DONE] = "done",         [LR_QS_CANCELLED] = "cancelled",
    [LR_QS_REJECTED] = "rejected", [LR_QS_DEAD] = "dead",
};

const char *lr_q_state_name(lr_q_state s)
{
	return (unsigned)s < LR_QS_COUNT ? state_names[s] : "unknown";
}

lr_q_state lr_q_state_parse(const char *name)
{
	for (int i = 1; name != NULL && i < LR_QS_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return (lr_q_state)i;
	return LR_QS_NONE;
}

int lr_q_state_is_final(lr_q_state s)
{
	return s == LR_QS_DONE || s == LR_QS_CANCELLED || s == LR_QS_REJECTED || s == LR_QS_DEAD;
}

int lr_q_state_final(const char *name)
{
	return lr_q_state_is_final(lr_q_state_parse(name));
}

/* ---- argument lists ------------------------------------------------------ */

typedef struct argv_list {
	const char **v;
	size_t *len;
	char **owned; /* numbers formatted here */
	size_t n, cap, nowned, capowned;
	int oom;
} argv_list;

static void al_push(argv_list *a, const char *s, size_t len)
{
	if (a->oom)
		return;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		const char **v = realloc(a->v, cap * sizeof(*v));
		size_t *l;

		if (v == NULL) {
			a->oom = 1;
			return;
		}
		a->v = v;
		l = realloc(a->len, cap * sizeof(*l));
		if (l == NULL) {
			a->oom = 1;
			return;
		}
		a->len = l;
		a->cap = cap;
	}
	a->v[a->n] = s ? s : "";
	a->len[a->n] = s ? len : 0;
	a->n++;
}

static void al_str(argv_list *a, const char *s)
{
	al_push(a, s, s ? strlen(s) : 0);
}

static void al_long(argv_list *a, long v)
{
	char *s;

	if (a->oom)
		return;
	if (a->nowned == a->capowned) {
		size_t cap = a->capowned ? a->capowned * 2 : 8;
		char **o = realloc(a->owned, cap * sizeof(*o));

		if (o == NULL) {
			a->oom = 1;
			return;
		}
		a->owned = o;
		a->capowned = cap;
	}
	s = malloc(24);
	if (s == NULL) {
		a->oom = 1;
		return;
	}
	snprintf(s, 24, "%ld", v);
	a->owned[a->nowned++] = s;
	al_str(a, s);
}

static void al_free(argv_list *a)
{
	for (size_t i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->v);
	free(a->len);
	memset(a, 0, sizeof(*a));
}

static void al_policy(argv_list *a, const lr_q_policy *p)
{
	al_long(a, p->ttl_s);
	al_long(a, p->max_attempts);
	al_long(a, p->backoff_ms);
	al_long(a, p->backoff_max_ms);
	al_long(a, p->events_max);
}

/* The arguments every script about one attempt of a job starts with. */
static void al_attempt(argv_list *a, const lr_q *q, const char *id, long attempt)
{
	al_str(a, q->k->prefix);
	al_str(a, id);
	al_long(a, attempt);
}

/* field, value, ... for n pairs (no count before them). */
static void al_pairs(argv_list *a, size_t n, const char *const *fields, const char *const *values)
{
	for (size_t i = 0; i < n; i++) {
		al_str(a, fields[i]);
		al_str(a, values[i]);
	}
}

/* A finished attempt's arguments: the attempt's, then passed, result,
 * error and summary. */
static void al_result(argv_list *a, const lr_q *q, const char *id, long attempt,
                      const lr_q_result *res)
{
	al_attempt(a, q, id, attempt);
	al_str(a, res->passed ? "1" : "0");
	al_str(a, res->result ? res->result : "");
	al_str(a, res->error ? res->error : "");
	al_str(a, res->summary ? res->summary : "");
}

static int run(lr_redis *r, const lr_script *s, argv_list *a, redisReply **out, lr_err *err)
{
	if (a->oom)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (a->n > 100000)
		return lr_err_set(err, LR_ETOOBIG, "script %s: too many arguments", s->name);
	return lr_redis_eval(r, out, s, 0, (int)a->n, a->v, a->len, err);
}

/* The end of a call: the reply (may be NULL) and the arguments freed, rc
 * passed on. */
static int done(redisReply *rep, argv_list *a, int rc)
{
	if (rep)
		freeReplyObject(rep);
	al_free(a);
	return rc;
}

static void set_state(lr_q_state *dst, lr_q_state s)
{
	if (dst != NULL)
		*dst = s;
}

/* Interpret {'stale', state, attempt[, why]} and {'ok'}-like replies: *state
 * becomes the job's state when refused, `ok_state` (what the write made of
 * it) when not, or for replies naming a state ({'retry'}, {'dead'}) that one. */
static int fenced_reply(const redisReply *rep, const char *what, const char *id, long attempt,
                        lr_q_state ok_state, lr_q_state *state, long *cur_attempt, lr_err *err)
{
	const char *tag = lr_reply_elem_str(rep, 0);

	if (tag == NULL)
		return lr_err_set(err, LR_EPROTO, "%s: unexpected reply from redis", what);
	if (strcmp(tag, "stale") == 0) {
		const char *st = lr_reply_elem_str(rep, 1);
		const char *at = lr_reply_elem_str(rep, 2);

		const char *why = lr_reply_elem_str(rep, 3);

		set_state(state, lr_q_state_parse(st));
		if (cur_attempt != NULL)
			*cur_attempt = at ? strtol(at, NULL, 10) : 0;
		if (why != NULL) {
			log_warn("%s dead-lettered: %s", id, why);
			return lr_err_set(err, LR_ESTALE, "%s refused: %s (dead-lettered)", what,
			                  why);
		}
		return lr_err_set(
		    err, LR_ESTALE,
		    "%s refused: job %s is %.16s at attempt %.24s, not running attempt "
		    "%ld",
		    what, id, st ? st : "?", at ? at : "?", attempt);
	}
	if (strcmp(tag, "retry") == 0)
		ok_state = LR_QS_RETRY_WAIT;
	else if (lr_q_state_parse(tag) != LR_QS_NONE)
		ok_state = lr_q_state_parse(tag);
	set_state(state, ok_state);
	return 0;
}

/* ---- setup ------------------------------------------------------------ */

int lr_q_err_nogroup(const lr_err *err)
{
	return err != NULL && strstr(err->msg, "NOGROUP") != NULL;
}

/* Did Redis answer with an error starting with `what`? Messages are
 * "redis: <its answer>", for scripts "script <name>: redis: <its answer>". */
static int redis_said(const lr_err *err, const char *what)
{
	const char *m = strstr(err->msg, "redis: ");

	return m != NULL && strncmp(m + 7, what, strlen(what)) == 0;
}

lr_q_trouble lr_q_classify(int rc, const lr_err *err)
{
	if (rc >= 0)
		return LR_Q_OK;
	if (rc == LR_EIO)
		return LR_Q_CONN;
	if (rc == LR_ENOMEM || rc == LR_EINVAL || err == NULL)
		return LR_Q_LOCAL;
	if (rc == LR_ETOOBIG)
		return LR_Q_DATA; /* a reply over the limit: something holds a huge value */
	if (redis_said(err, "BUSY") || redis_said(err, "LOADING") ||
	    redis_said(err, "MASTERDOWN") || redis_said(err, "TRYAGAIN"))
		return LR_Q_BUSY;
	if (redis_said(err, "OOM") || redis_said(err, "READONLY") || redis_said(err, "MISCONF") ||
	    redis_said(err, "NOREPLICAS"))
		return LR_Q_OOM;
	if (lr_q_err_nogroup(err) || redis_said(err, "UNBLOCKED"))
		return LR_Q_NOGROUP; /* the groups, or the stream itself, are gone */
	if (redis_said(err, "LLMREPL data") || redis_said(err, "WRONGTYPE") ||
	    strstr(err->msg, "WRONGTYPE") != NULL)
		return LR_Q_DATA;
	return LR_Q_SCRIPT;
}

const char *lr_q_trouble_name(lr_q_trouble t)
{
	static const char *const names[] = {
	    [LR_Q_OK] = "ok",
	    [LR_Q_CONN] = "connection",
	    [LR_Q_BUSY] = "redis busy",
	    [LR_Q_OOM] = "redis refuses writes",
	    [LR_Q_NOGROUP] = "consumer group missing",
	    [LR_Q_DATA] = "broken data",
	    [LR_Q_SCRIPT] = "script error",
	    [LR_Q_LOCAL] = "local",
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* Make group on the stream at key (and the stream), reading from `from`
 * ("0": all of it, "$": what comes next); a group that exists is left as
 * it is. */
static int group_create(lr_redis *r, const char *key, const char *group, const char *from,
                        lr_err *err)
{
	redisReply *rep = NULL;
	int rc = lr_redis_cmd(r, &rep, err, "XGROUP CREATE %s %s %s MKSTREAM", key, group, from);

	if (rep)
		freeReplyObject(rep);
	if (rc == LR_EPROTO && err && strstr(err->msg, "BUSYGROUP") != NULL) {
		lr_err_clear(err);
		rc = 0;
	}
	return rc;
}

static int create_group(lr_redis *r, const lr_keys *k, const char *stream, const char *group,
                        lr_err *err)
{
	char key[LR_KEY_MAX];

	return group_create(r, lr_key(k, key, stream), group, "0", err);
}

int lr_q_ensure_groups(lr_q *q, lr_err *err)
{
	int rc = create_group(q->r, q->k, "jobs", LR_GROUP_WORKERS, err);

	if (rc == 0)
		rc = create_group(q->r, q->k, "requests", LR_GROUP_DISPATCHERS, err);
	if (rc == 0)
		rc = create_group(q->r, q->k, "control", LR_GROUP_DISPATCHERS, err);
	return rc;
}

/* ---- dispatcher ---------------------------------------------------------- */

int lr_q_take(lr_q *q, const lr_q_taking *t, lr_q_taken *taken, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	const redisReply *list;
	lr_q_request *out = NULL;
	size_t n = 0;
	int rc;

	memset(taken, 0, sizeof(*taken));
	al_str(&a, q->k->prefix);
	al_str(&a, t->consumer);
	al_long(&a, t->count);
	al_long(&a, (long)t->max_bytes);
	al_policy(&a, t->pol);
	for (size_t i = 0; i < t->nids; i++)
		al_str(&a, t->ids[i]);
	rc = run(q->r, &lr_lua_take, &a, &rep, err);
	if (rc < 0)
		goto cleanup;
	/* {{id, spec, ...}, {rejected id, reason, ...}} */
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements % 2 != 0 ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY) {
		rc = lr_err_set(err, LR_EPROTO, "take: unexpected reply from redis");
		goto cleanup;
	}
	for (size_t i = 0; i + 1 < rep->element[1]->elements; i += 2)
		log_info("job %s rejected: %s", lr_reply_elem_str(rep->element[1], i),
		         lr_reply_elem_str(rep->element[1], i + 1));
	list = rep->element[0];
	if (list->elements > 0) {
		out = calloc(list->elements / 2, sizeof(*out));
		if (out == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	for (size_t i = 0; i + 1 < list->elements; i += 2) {
		const redisReply *id = list->element[i];
		const redisReply *spec = list->element[i + 1];

		if (id->type != REDIS_REPLY_STRING || spec->type != REDIS_REPLY_STRING) {
			rc = lr_err_set(err, LR_EPROTO, "take: unexpected reply from redis");
			goto cleanup;
		}
		out[n].id = id->str;
		out[n].spec = spec->str;
		out[n].spec_len = spec->len;
		n++;
	}
	taken->reqs = out;
	taken->n = n;
	taken->keep = rep;
	out = NULL;
	rep = NULL;
cleanup:
	free(out);
	return done(rep, &a, rc);
}

void lr_q_taken_free(lr_q_taken *t)
{
	if (t == NULL)
		return;
	free(t->reqs);
	if (t->keep)
		freeReplyObject(t->keep);
	memset(t, 0, sizeof(*t));
}

int lr_q_intake_many(lr_q *q, const lr_q_record *recs, size_t n, const lr_q_policy *pol,
                     int *recorded, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	if (n == 0)
		return 0;
	al_str(&a, q->k->prefix);
	al_policy(&a, pol);
	for (size_t i = 0; i < n; i++) {
		const lr_q_record *rec = &recs[i];

		al_str(&a, rec->id);
		al_str(&a, lr_q_state_name(rec->queued ? LR_QS_QUEUED : LR_QS_REJECTED));
		al_str(&a, rec->kind ? rec->kind : "");
		al_push(&a, rec->spec, rec->spec ? rec->spec_len : 0);
		al_str(&a, rec->error ? rec->error : "");
		al_str(&a, rec->notes ? rec->notes : "");
		al_long(&a, (long)rec->spec_bytes);
	}
	rc = run(q->r, &lr_lua_intake, &a, &rep, err);
	if (rc == 0 && (rep->type != REDIS_REPLY_ARRAY || rep->elements != n))
		rc = lr_err_set(err, LR_EPROTO, "intake: unexpected reply from redis");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!lr_reply_is_str(rep->element[i]))
			rc = lr_err_set(err, LR_EPROTO, "intake: unexpected reply from redis");
		else if (recorded)
			recorded[i] = strcmp(rep->element[i]->str, "exists") != 0;
	}
	return done(rep, &a, rc);
}

int lr_q_intake(lr_q *q, const lr_q_record *rec, const lr_q_policy *pol, int *recorded, lr_err *err)
{
	int rec1 = 0;
	int rc = lr_q_intake_many(q, rec, 1, pol, &rec1, err);

	if (recorded)
		*recorded = rc == 0 && rec1;
	return rc;
}

/* Upkeep scripts answer {n, buried job, reason, ...}: the count, and the
 * jobs whose keys were broken (dead-lettered), which are logged here. */
static int int_script(lr_redis *r, const lr_script *s, argv_list *a, long *n, lr_err *err)
{
	redisReply *rep = NULL;
	long long v = 0;
	int rc = run(r, s, a, &rep, err);

	if (rc == 0 && (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1))
		rc = lr_err_set(err, LR_EPROTO, "%s: unexpected reply from redis", s->name);
	if (rc == 0)
		rc = lr_reply_int(&v, rep->element[0], err);
	for (size_t i = 1; rc == 0 && i + 1 < rep->elements; i += 2)
		log_warn("%s dead-lettered: %s", lr_reply_elem_str(rep, i),
		         lr_reply_elem_str(rep, i + 1));
	if (n)
		*n = (long)v;
	return done(rep, a, rc);
}

int lr_q_reclaim(lr_q *q, long limit, long *n, lr_err *err)
{
	argv_list a = {0};
	char rnd[16];

	snprintf(rnd, sizeof(rnd), "%.4f", lr_jitter());
	al_str(&a, q->k->prefix);
	al_long(&a, limit);
	al_str(&a, rnd);
	return int_script(q->r, &lr_lua_reclaim, &a, n, err);
}

int lr_q_promote(lr_q *q, long limit, long *n, lr_err *err)
{
	argv_list a = {0};

	al_str(&a, q->k->prefix);
	al_long(&a, limit);
	return int_script(q->r, &lr_lua_promote, &a, n, err);
}

int lr_q_orphans(lr_q *q, long idle_ms, long limit, long *n, lr_err *err)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	argv_list a = {0};
	int rc;

	*n = 0;
	rc = lr_redis_cmd(q->r, &rep, err, "XPENDING %s %s IDLE %ld - + %ld",
	                  lr_key(q->k, key, "jobs"), LR_GROUP_WORKERS, idle_ms, limit);
	if (rc < 0)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		return lr_err_set(err, LR_EPROTO, "XPENDING: unexpected reply");
	}
	if (rep->elements == 0) {
		freeReplyObject(rep);
		return 0;
	}
	al_str(&a, q->k->prefix);
	for (size_t i = 0; i < rep->elements; i++) {
		const char *e = lr_reply_elem_str(rep->element[i], 0);

		if (e != NULL)
			al_str(&a, e);
	}
	rc = int_script(q->r, &lr_lua_orphans, &a, n, err);
	freeReplyObject(rep);
	return rc;
}

int lr_q_gc(lr_q *q, long consumer_idle_ms, long worker_gone_ms, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	al_str(&a, q->k->prefix);
	al_long(&a, consumer_idle_ms);
	al_long(&a, worker_gone_ms);
	rc = run(q->r, &lr_lua_gc, &a, &rep, err);
	return done(rep, &a, rc);
}

static void log_pairs(const redisReply *list, const char *what)
{
	for (size_t i = 0; list->type == REDIS_REPLY_ARRAY && i + 1 < list->elements; i += 2)
		log_warn("repair: %s %s %s", what, lr_reply_elem_str(list, i),
		         lr_reply_elem_str(list, i + 1));
}

int lr_q_repair(lr_q *q, unsigned long long *cursor, long count, long *fixed, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	const char *next;
	int rc;

	if (fixed)
		*fixed = 0;
	al_str(&a, q->k->prefix);
	al_long(&a, 0); /* placeholder: a cursor may not fit in a long */
	al_long(&a, count);
	if (!a.oom) {
		char *c = a.owned[0];

		snprintf(c, 24, "%llu", *cursor);
		a.len[1] = strlen(c);
	}
	rc = run(q->r, &lr_lua_repair, &a, &rep, err);
	if (rc < 0)
		goto cleanup;
	next = lr_reply_elem_str(rep, 0);
	if (next == NULL || rep->elements != 3 || rep->element[1]->type != REDIS_REPLY_ARRAY ||
	    rep->element[2]->type != REDIS_REPLY_ARRAY) {
		rc = lr_err_set(err, LR_EPROTO, "repair: unexpected reply from redis");
		goto cleanup;
	}
	*cursor = strtoull(next, NULL, 10);
	log_pairs(rep->element[1], "key");
	log_pairs(rep->element[2], "job");
	if (fixed)
		*fixed = (long)(rep->element[1]->elements + rep->element[2]->elements) / 2;
cleanup:
	return done(rep, &a, rc);
}

int lr_q_cancel(lr_q *q, const char *id, const char *by, lr_q_state *prev, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	const char *tag;
	int rc;

	set_state(prev, LR_QS_NONE);
	if (!lr_job_id_valid(id))
		return lr_err_set(err, LR_EINVAL, "'%.64s' is not a job id (like 1700000000000-0)",
		                  id);
	al_str(&a, q->k->prefix);
	al_str(&a, id);
	al_str(&a, by);
	rc = run(q->r, &lr_lua_cancel, &a, &rep, err);
	if (rc < 0)
		goto cleanup;
	tag = lr_reply_elem_str(rep, 0);
	if (tag == NULL) {
		rc = lr_err_set(err, LR_EPROTO, "cancel: unexpected reply from redis");
	} else if (strcmp(tag, "missing") == 0) {
		rc = lr_err_set(err, LR_ENOTFOUND, "no job %s (never submitted, or expired)", id);
	} else if (strcmp(tag, "dead") == 0) {
		set_state(prev, LR_QS_DEAD);
		log_warn("%s dead-lettered: %s", id, lr_reply_elem_str(rep, 1));
		rc = lr_err_set(err, LR_EINVAL, "%s (dead-lettered)", lr_reply_elem_str(rep, 1));
	} else if (strcmp(tag, "final") == 0) {
		set_state(prev, lr_q_state_parse(lr_reply_elem_str(rep, 1)));
		rc = lr_err_set(err, LR_EINVAL, "job %s is already %s", id,
		                lr_reply_elem_str(rep, 1) ? lr_reply_elem_str(rep, 1) : "final");
	} else {
		set_state(prev, lr_q_state_parse(lr_reply_elem_str(rep, 1)));
	}
cleanup:
	return done(rep, &a, rc);
}

/* ---- worker -------------------------------------------------------------- */

void lr_q_job_free(lr_q_job *j)
{
	if (j == NULL)
		return;
	free(j->spec);
	j->spec = NULL;
}

/* The largest spec a claim may return: what fits in one reply with room to
 * spare (a bigger one would be refused by the reply limit after the claim). */
static size_t spec_max(const lr_redis *r)
{
	size_t m = lr_redis_reply_max(r);

	return m > (2u << 20) ? m - (1u << 20) : m / 2;
}

/* A claimed job from its reply {'ok', attempt, spec, kind, ...} into
 * *c->job. */
static int claimed(const redisReply *rep, const char *id, const char *entry, lr_q_claim *c,
                   lr_err *err)
{
	lr_q_job *job = c->job;
	long long attempt = 0;

	if (rep->elements < 4 || lr_reply_int(&attempt, rep->element[1], err) < 0 ||
	    rep->element[2]->type != REDIS_REPLY_STRING || lr_reply_elem_str(rep, 3) == NULL)
		return lr_err_set(err, LR_EPROTO, "claim: unexpected reply from redis");
	memset(job, 0, sizeof(*job));
	snprintf(job->id, sizeof(job->id), "%s", id);
	snprintf(job->entry, sizeof(job->entry), "%s", entry);
	snprintf(job->kind, sizeof(job->kind), "%s", rep->element[3]->str);
	job->attempt = (long)attempt;
	job->spec = malloc(rep->element[2]->len + 1);
	if (job->spec == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	memcpy(job->spec, rep->element[2]->str, rep->element[2]->len + 1);
	job->spec_len = rep->element[2]->len;
	c->got = 1;
	return 0;
}

static int claim(lr_q *q, const char *id, const char *entry, lr_q_claim *c, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	const char *tag;
	int rc;

	al_str(&a, q->k->prefix);
	al_str(&a, id);
	al_str(&a, entry);
	al_str(&a, c->worker);
	al_long(&a, c->lease_ms);
	al_long(&a, (long)spec_max(q->r));
	rc = run(q->r, &lr_lua_claim, &a, &rep, err);
	if (rc < 0)
		goto cleanup;
	tag = lr_reply_elem_str(rep, 0);
	if (tag == NULL) {
		rc = lr_err_set(err, LR_EPROTO, "claim: unexpected reply from redis");
		goto cleanup;
	}
	if (strcmp(tag, "dead") == 0) {
		log_warn("%s dead-lettered: %s", id, lr_reply_elem_str(rep, 1));
		goto cleanup;
	}
	if (strcmp(tag, "ok") == 0 && rep->elements == 4)
		rc = claimed(rep, id, entry, c, err);
	else if (strcmp(tag, "ok") == 0)
		rc = lr_err_set(err, LR_EPROTO, "claim: unexpected reply from redis");
	/* else skipped: cancelled, expired, superseded or routed */
cleanup:
	return done(rep, &a, rc);
}

/* Acknowledge entry `id` of the workers' group on the stream at key, and
 * delete it. */
static int entry_drop(lr_q *q, const char *key, const char *id, lr_err *err)
{
	redisReply *rep = NULL;
	int rc = lr_redis_cmd(q->r, &rep, err, "XACK %s %s %s", key, LR_GROUP_WORKERS, id);

	if (rep)
		freeReplyObject(rep);
	rep = NULL;
	if (rc == 0)
		rc = lr_redis_cmd(q->r, &rep, err, "XDEL %s %s", key, id);
	if (rep)
		freeReplyObject(rep);
	return rc;
}

/* Claim the job of one work-stream entry (an element of an XREADGROUP
 * reply); an entry that is not ours is dropped. */
static int take_entry(lr_q *q, const char *key, const redisReply *e, lr_q_claim *c, lr_err *err)
{
	const redisReply *job_id;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !lr_reply_is_str(e->element[0]) ||
	    e->element[0]->len > LR_JOB_ID_MAX)
		return lr_err_set(err, LR_EPROTO, "XREADGROUP: unexpected entry");
	/* Ours have exactly one field, `job`, byte for byte. */
	job_id = e->element[1]->type == REDIS_REPLY_ARRAY && e->element[1]->elements == 2 &&
	                 e->element[1]->element[0]->type == REDIS_REPLY_STRING &&
	                 e->element[1]->element[0]->len == 3 &&
	                 memcmp(e->element[1]->element[0]->str, "job", 3) == 0
	             ? e->element[1]->element[1]
	             : NULL;
	if (lr_reply_is_str(job_id) && strlen(job_id->str) == job_id->len &&
	    lr_job_id_valid(job_id->str))
		return claim(q, job_id->str, e->element[0]->str, c, err);
	/* Not ours (someone wrote to the work stream by hand, or a deleted
	 * entry left pending): drop it. */
	return entry_drop(q, key, e->element[0]->str, err);
}

/* The entries of stream `name` in an XREADGROUP reply, or NULL. */
static const redisReply *entries_of(const redisReply *rep, const char *name)
{
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *s = rep->element[i];

		if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 &&
		    lr_reply_is_str(s->element[0]) && strcmp(s->element[0]->str, name) == 0 &&
		    s->element[1]->type == REDIS_REPLY_ARRAY)
			return s->element[1];
	}
	return NULL;
}

static int check_reply(const redisReply *rep, lr_err *err)
{
	if (rep->type == REDIS_REPLY_NIL)
		return 0;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->elements > 2)
		return lr_err_set(err, LR_EPROTO, "XREADGROUP: unexpected reply");
	return 0;
}

/* A job routed to this worker (left in its pending list by another
 * worker's claim, see lr_lua_claim): claim the oldest. */
static int next_routed(lr_q *q, const char *key, lr_q_claim *c, lr_err *err)
{
	redisReply *rep = NULL;
	const redisReply *es;
	int rc = lr_redis_cmd(q->r, &rep, err, "XREADGROUP GROUP %s %s COUNT 1 STREAMS %s 0",
	                      LR_GROUP_WORKERS, c->worker, key);

	if (rc < 0)
		return rc;
	rc = check_reply(rep, err);
	es = rc == 0 ? entries_of(rep, key) : NULL;
	if (es != NULL && es->elements > 0)
		rc = take_entry(q, key, es->element[0], c, err);
	freeReplyObject(rep);
	return rc;
}

/* The worker's wake stream: routed jobs are announced there. */
static int ensure_wake(lr_q *q, const char *wake, lr_err *err)
{
	return group_create(q->r, wake, LR_GROUP_WORKERS, "$", err);
}

static int ack_wake(lr_q *q, const char *wake, const redisReply *es, lr_err *err)
{
	for (size_t i = 0; es != NULL && i < es->elements; i++) {
		const redisReply *e = es->element[i];
		int rc;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
		    !lr_reply_is_str(e->element[0]))
			continue;
		rc = entry_drop(q, wake, e->element[0]->str, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int lr_q_next(lr_q *q, long block_ms, lr_q_claim *c, lr_err *err)
{
	const char *worker = c->worker;
	char key[LR_KEY_MAX], wake[LR_KEY_MAX], name[LR_KEY_MAX];
	redisReply *rep = NULL;
	const redisReply *es;
	int rc;

	c->got = 0;
	lr_key(q->k, key, "jobs");
	snprintf(name, sizeof(name), "wake:%s", worker);
	lr_key(q->k, wake, name);
	rc = next_routed(q, key, c, err);
	lr_trace_mark("q.routed");
	if (rc < 0 || c->got)
		return rc;
	for (int tries = 0;; tries++) {
		if (block_ms < 0)
			rc = lr_redis_cmd(q->r, &rep, err,
			                  "XREADGROUP GROUP %s %s COUNT 1 STREAMS %s %s > >",
			                  LR_GROUP_WORKERS, worker, key, wake);
		else
			rc = lr_redis_cmd(
			    q->r, &rep, err,
			    "XREADGROUP GROUP %s %s COUNT 1 BLOCK %ld STREAMS %s %s > >",
			    LR_GROUP_WORKERS, worker, lr_redis_block_ms(q->r, block_ms), key, wake);
		if (rc < 0 && tries == 0 && lr_q_err_nogroup(err) && strstr(err->msg, wake)) {
			rc = ensure_wake(q, wake, err);
			if (rc == 0)
				continue;
		}
		break;
	}
	lr_trace_mark("q.read");
	if (rc < 0)
		return rc;
	rc = check_reply(rep, err);
	if (rc == 0 && (es = entries_of(rep, key)) != NULL && es->elements > 0)
		rc = take_entry(q, key, es->element[0], c, err);
	lr_trace_mark("q.claim");
	es = rc == 0 ? entries_of(rep, wake) : NULL;
	if (es != NULL && es->elements > 0) {
		rc = ack_wake(q, wake, es, err);
		if (rc == 0 && !c->got)
			rc = next_routed(q, key, c, err);
	}
	freeReplyObject(rep);
	return rc;
}

int lr_q_renew(lr_q *q, const char *id, long attempt, const char *worker, long lease_ms,
               lr_q_state *state, long *cur_attempt, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	al_attempt(&a, q, id, attempt);
	al_str(&a, worker);
	al_long(&a, lease_ms);
	rc = run(q->r, &lr_lua_renew, &a, &rep, err);
	if (rc == 0)
		rc = fenced_reply(rep, "lease renewal", id, attempt, LR_QS_RUNNING, state,
		                  cur_attempt, err);
	return done(rep, &a, rc);
}

struct lr_q_ops {
	argv_list a;
};

lr_q_ops *lr_q_ops_new(void)
{
	return calloc(1, sizeof(lr_q_ops));
}

void lr_q_ops_free(lr_q_ops *ops)
{
	if (ops == NULL)
		return;
	al_free(&ops->a);
	free(ops);
}

static void ops_pairs(argv_list *a, size_t n, const char *const *f, const char *const *v,
                      const size_t *lens)
{
	al_long(a, (long)n);
	for (size_t i = 0; i < n; i++) {
		al_str(a, f[i]);
		al_push(a, v[i], v[i] ? (lens ? lens[i] : strlen(v[i])) : 0);
	}
}

int lr_q_ops_set(lr_q_ops *ops, size_t n, const char *const *fields, const char *const *values,
                 const size_t *lens)
{
	al_str(&ops->a, "set");
	ops_pairs(&ops->a, n, fields, values, lens);
	return ops->a.oom ? LR_ENOMEM : 0;
}

int lr_q_ops_iter(lr_q_ops *ops, long it, size_t n, const char *const *fields,
                  const char *const *values, const size_t *lens)
{
	if (it < 0)
		return LR_EINVAL;
	al_str(&ops->a, "iter");
	al_long(&ops->a, it);
	ops_pairs(&ops->a, n, fields, values, lens);
	return ops->a.oom ? LR_ENOMEM : 0;
}

int lr_q_ops_event(lr_q_ops *ops, const char *type, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens)
{
	al_str(&ops->a, "event");
	al_str(&ops->a, type);
	ops_pairs(&ops->a, n, fields, values, lens);
	return ops->a.oom ? LR_ENOMEM : 0;
}

int lr_q_ops_aux(lr_q_ops *ops, const char *suffix)
{
	al_str(&ops->a, "aux");
	al_str(&ops->a, suffix);
	return ops->a.oom ? LR_ENOMEM : 0;
}

int lr_q_write(lr_q *q, const char *id, long attempt, const lr_q_ops *ops, lr_q_state *state,
               lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	al_attempt(&a, q, id, attempt);
	for (size_t i = 0; i < ops->a.n; i++)
		al_push(&a, ops->a.v[i], ops->a.len[i]);
	if (ops->a.oom)
		a.oom = 1;
	rc = run(q->r, &lr_lua_write, &a, &rep, err);
	if (rc == 0)
		rc = fenced_reply(rep, "write", id, attempt, LR_QS_RUNNING, state, NULL, err);
	return done(rep, &a, rc);
}

int lr_q_finish(lr_q *q, const char *id, long attempt, const lr_q_result *res, lr_q_state *state,
                lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	al_result(&a, q, id, attempt, res);
	al_pairs(&a, res->nextra, res->fields, res->values);
	rc = run(q->r, &lr_lua_finish, &a, &rep, err);
	if (rc == 0)
		rc = fenced_reply(rep, "finish", id, attempt, LR_QS_DONE, state, NULL, err);
	return done(rep, &a, rc);
}

/* take_next's reply: {'ok', attempt, spec, kind, id, entry}, {'dead', reason,
 * id} or {'none'}. */
static int next_reply(const redisReply *rep, lr_q_claim *c, lr_err *err)
{
	const char *tag = lr_reply_elem_str(rep, 0);
	const char *id, *entry;

	if (tag == NULL)
		return lr_err_set(err, LR_EPROTO, "finish: unexpected reply from redis");
	if (strcmp(tag, "dead") == 0) {
		id = lr_reply_elem_str(rep, 2);
		log_warn("%s dead-lettered: %s", id ? id : "a job", lr_reply_elem_str(rep, 1));
		return 0;
	}
	if (strcmp(tag, "ok") != 0)
		return 0;
	id = rep->elements == 6 ? lr_reply_elem_str(rep, 4) : NULL;
	entry = id ? lr_reply_elem_str(rep, 5) : NULL;
	if (entry == NULL || !lr_job_id_valid(id) || !lr_job_id_valid(entry))
		return lr_err_set(err, LR_EPROTO, "finish: unexpected reply from redis");
	return claimed(rep, id, entry, c, err);
}

int lr_q_finish_next(lr_q *q, const char *id, long attempt, const lr_q_result *res,
                     lr_q_state *state, lr_q_claim *next, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	lr_err nerr;
	int rc, nrc;

	next->got = 0;
	al_result(&a, q, id, attempt, res);
	al_str(&a, next->worker);
	al_long(&a, next->lease_ms);
	al_long(&a, (long)spec_max(q->r));
	al_pairs(&a, res->nextra, res->fields, res->values);
	rc = run(q->r, &lr_lua_finish_next, &a, &rep, err);
	if (rc < 0)
		return done(rep, &a, rc);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY)
		return done(rep, &a,
		            lr_err_set(err, LR_EPROTO, "finish: unexpected reply from redis"));
	/* The next job is the worker's whatever became of the finish. */
	lr_err_clear(&nerr);
	nrc = next_reply(rep->element[1], next, &nerr);
	if (nrc < 0)
		log_warn("the next job's claim: %s", nerr.msg);
	rc = fenced_reply(rep->element[0], "finish", id, attempt, LR_QS_DONE, state, NULL, err);
	return done(rep, &a, rc);
}

int lr_q_fail(lr_q *q, const char *id, long attempt, lr_q_fail_mode mode, const char *reason,
              lr_q_state *outcome, lr_err *err)
{
	static const char *const modes[] = {"retry", "release", "dead"};
	argv_list a = {0};
	redisReply *rep = NULL;
	char rnd[16];
	int rc;

	snprintf(rnd, sizeof(rnd), "%.4f", lr_jitter());
	al_attempt(&a, q, id, attempt);
	al_str(&a, modes[mode]);
	al_str(&a, reason ? reason : "");
	al_str(&a, rnd);
	rc = run(q->r, &lr_lua_fail, &a, &rep, err);
	if (rc == 0)
		rc = fenced_reply(rep, "fail", id, attempt, LR_QS_NONE, outcome, NULL, err);
	return done(rep, &a, rc);
}

int lr_q_heartbeat(lr_q *q, const char *worker, long ttl_ms, size_t n, const char *const *fields,
                   const char *const *values, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	al_str(&a, q->k->prefix);
	al_str(&a, worker);
	al_long(&a, ttl_ms);
	al_pairs(&a, n, fields, values);
	rc = run(q->r, &lr_lua_heartbeat, &a, &rep, err);
	return done(rep, &a, rc);
}

/* KEYS: the worker's record, its places. ARGV: sessions, stamp (0: none),
 * job ('': none). Only a record that exists (the heartbeat makes it, with
 * its expiry); with a stamp, only over an older one. The job's place goes
 * either way (a newer count has its session too). */
static const lr_script note_sessions_lua = {
    "note_sessions",
    "if ARGV[3] ~= '' and redis.call('TYPE', KEYS[2])['ok'] == 'zset' then\n"
    "  redis.call('ZREM', KEYS[2], ARGV[3])\n"
    "end\n"
    "if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end\n"
    "if ARGV[2] ~= '0' then\n"
    "  local old = tonumber(redis.call('HGET', KEYS[1], 'sessions_at') or '') or 0\n"
    "  if (tonumber(ARGV[2]) or 0) < old then return 0 end\n"
    "  redis.call('HSET', KEYS[1], 'sessions_at', ARGV[2])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'sessions', ARGV[1])\n"
    "return 1\n"};

long long lr_q_stamp(long long *last)
{
	struct timespec ts;
	long long us;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	*last = us > *last ? us : *last + 1;
	return *last;
}

int lr_q_note_sessions(lr_q *q, const char *worker, long n, long long at, const char *job,
                       lr_err *err)
{
	char key[LR_KEY_MAX], places[LR_KEY_MAX], name[LR_KEY_MAX], count[24], stamp[24];
	const char *argv[5] = {key, places, count, stamp, job ? job : ""};
	redisReply *rep = NULL;
	int rc;

	snprintf(count, sizeof(count), "%ld", n);
	snprintf(stamp, sizeof(stamp), "%lld", at > 0 ? at : 0LL);
	lr_key_worker(q->k, key, worker);
	snprintf(name, sizeof(name), "places:%s", worker);
	lr_key(q->k, places, name);
	rc = lr_redis_eval(q->r, &rep, &note_sessions_lua, 2, 3, argv, NULL, err);
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int lr_q_unregister(lr_q *q, const char *worker, lr_err *err)
{
	char key[LR_KEY_MAX];
	char wkey[LR_KEY_MAX];
	redisReply *rep = NULL;
	int rc;

	rc = lr_redis_cmd(q->r, &rep, err, "ZREM %s %s", lr_key(q->k, key, "workers"), worker);
	if (rep)
		freeReplyObject(rep);
	if (rc == 0) {
		rc = lr_redis_cmd(q->r, &rep, err, "DEL %s", lr_key_worker(q->k, wkey, worker));
		if (rep)
			freeReplyObject(rep);
	}
	/* Its wake stream (routed jobs stay pending, for the orphan sweep) and
	 * the places reserved on it. */
	for (int i = 0; rc == 0 && i < 2; i++) {
		char name[LR_KEY_MAX];

		snprintf(name, sizeof(name), "%s:%s", i ? "places" : "wake", worker);
		rc = lr_redis_cmd(q->r, &rep, err, "DEL %s", lr_key(q->k, wkey, name));
		if (rep)
			freeReplyObject(rep);
	}
	/* Only a consumer with nothing pending may go: DELCONSUMER would
	 * orphan its pending entries. */
	if (rc == 0) {
		rc = lr_redis_cmd(q->r, &rep, err, "XPENDING %s %s - + 1 %s",
		                  lr_key(q->k, key, "jobs"), LR_GROUP_WORKERS, worker);
		if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 0) {
			freeReplyObject(rep);
			rep = NULL;
			rc = lr_redis_cmd(q->r, &rep, err, "XGROUP DELCONSUMER %s %s %s", key,
			                  LR_GROUP_WORKERS, worker);
		}
		if (rep)
			freeReplyObject(rep);
	}
	return rc;
}

int lr_q_retain(lr_q *q, long long max_bytes, long limit, long *evicted, long *expired,
                long long *bytes, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	*evicted = *expired = 0;
	*bytes = 0;
	al_str(&a, q->k->prefix);
	al_long(&a, (long)max_bytes);
	al_long(&a, limit);
	rc = run(q->r, &lr_lua_retain, &a, &rep, err);
	if (rc == 0) {
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
		    rep->element[0]->type != REDIS_REPLY_INTEGER ||
		    rep->element[1]->type != REDIS_REPLY_INTEGER ||
		    rep->element[2]->type != REDIS_REPLY_INTEGER) {
			rc = lr_err_set(err, LR_EPROTO, "retain: unexpected reply from redis");
		} else {
			*evicted = (long)rep->element[0]->integer;
			*expired = (long)rep->element[1]->integer;
			*bytes = rep->element[2]->integer;
		}
	}
	return done(rep, &a, rc);
}

/* ---- completion callbacks -------------------------------------------------- */

int lr_q_cb_take(lr_q *q, long lease_ms, long limit, lr_q_callback **cbs, size_t *n,
                 redisReply **keep, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	lr_q_callback *out = NULL;
	int rc;

	*cbs = NULL;
	*n = 0;
	*keep = NULL;
	al_str(&a, q->k->prefix);
	al_long(&a, lease_ms);
	al_long(&a, limit);
	rc = run(q->r, &lr_lua_cb_take, &a, &rep, err);
	al_free(&a);
	if (rc < 0)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		return lr_err_set(err, LR_EPROTO, "cb_take: unexpected reply from redis");
	}
	if (rep->elements > 0) {
		out = calloc(rep->elements, sizeof(*out));
		if (out == NULL) {
			freeReplyObject(rep);
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		lr_q_callback *c = &out[*n];

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 8)
			continue;
		for (size_t j = 0; j < 8; j++)
			if (e->element[j]->type != REDIS_REPLY_STRING)
				goto skip;
		c->id = e->element[0]->str;
		c->attempt = strtol(e->element[1]->str, NULL, 10);
		c->url = e->element[2]->str;
		c->state = e->element[3]->str;
		c->passed = e->element[4]->str;
		c->error = e->element[5]->str;
		c->summary = e->element[6]->str;
		c->result = e->element[7]->str;
		c->result_len = e->element[7]->len;
		(*n)++;
	skip:;
	}
	*cbs = out;
	*keep = rep;
	return 0;
}

const char *lr_q_cb_outcome_name(lr_q_cb_outcome o)
{
	static const char *const names[] = {
	    [LR_CB_DELIVERED] = "delivered", [LR_CB_RETRY] = "retry", [LR_CB_FAILED] = "failed"};

	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

int lr_q_cb_report(lr_q *q, const char *id, long attempt, const lr_q_cb_attempt *at, lr_err *err)
{
	argv_list a = {0};
	redisReply *rep = NULL;
	int rc;

	al_attempt(&a, q, id, attempt);
	al_str(&a, lr_q_cb_outcome_name(at->outcome));
	al_str(&a, at->status);
	al_str(&a, at->detail ? at->detail : "");
	al_long(&a, at->retry_in_ms);
	rc = run(q->r, &lr_lua_cb_report, &a, &rep, err);
	return done(rep, &a, rc);
}
