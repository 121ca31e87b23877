/* session_store.c - a REPL session's record on Redis (see session_store.h). */
#include "session_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const lr_script open_lua = {
    "session_open",
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "local now = redis.call('TIME')\n"
    "local ms = now[1] * 1000 + math.floor(now[2] / 1000)\n"
    "redis.call('HSET', KEYS[1], 'state', 'open', 'created', ms, 'last_used', ms,\n"
    "  'idle_timeout_ms', ARGV[1], 'timeout_s', ARGV[2], 'memory_mb', ARGV[3],\n"
    "  'max_cells', ARGV[4], 'cells', 0, 'replay_s', 0, 'last_job', '', 'worker', '')\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "return 1\n"};

/* KEYS: session, cells. ARGV: n, record, code, job, worker, cell_s. */
static const lr_script record_lua = {
    "session_record",
    "if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 'gone' end\n"
    "local idle = redis.call('HGET', KEYS[1], 'idle_timeout_ms')\n"
    "local now = redis.call('TIME')\n"
    "local ms = now[1] * 1000 + math.floor(now[2] / 1000)\n"
    "if ARGV[2] == '1' then\n"
    "  if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[1]) then return 'conflict' end\n"
    "  redis.call('RPUSH', KEYS[2], ARGV[3])\n"
    "  redis.call('HSET', KEYS[1], 'cells', tonumber(ARGV[1]) + 1, 'last_job', ARGV[4],\n"
    "    'worker', ARGV[5])\n"
    "  redis.call('HINCRBYFLOAT', KEYS[1], 'replay_s', ARGV[6])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'last_used', ms)\n"
    "redis.call('PEXPIRE', KEYS[1], idle)\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], idle) end\n"
    "return 'ok'\n"};

static void keys_of(const lr_keys *k, const char *id, char sk[LR_KEY_MAX], char ck[LR_KEY_MAX])
{
	char name[LR_KEY_MAX];

	snprintf(name, sizeof(name), "session:%s", id);
	lr_key(k, sk, name);
	snprintf(name, sizeof(name), "session:%s:cells", id);
	lr_key(k, ck, name);
}

void ss_session_free(ss_session *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->ncells; i++)
		free(s->cells[i]);
	free(s->cells);
	free(s->lens);
	memset(s, 0, sizeof(*s));
}

int ss_open(lr_q *q, const char *id, long idle_timeout_ms, double timeout_s, long memory_mb,
            long max_cells, lr_err *err)
{
	char sk[LR_KEY_MAX], ck[LR_KEY_MAX], a1[32], a2[32], a3[32], a4[32];
	const char *argv[5] = {sk, a1, a2, a3, a4};
	redisReply *rep = NULL;
	int rc;

	keys_of(q->k, id, sk, ck);
	snprintf(a1, sizeof(a1), "%ld", idle_timeout_ms);
	snprintf(a2, sizeof(a2), "%g", timeout_s);
	snprintf(a3, sizeof(a3), "%ld", memory_mb);
	snprintf(a4, sizeof(a4), "%ld", max_cells);
	rc = lr_redis_eval(q->r, &rep, &open_lua, 1, 4, argv, NULL, err);
	if (rep)
		freeReplyObject(rep);
	return rc;
}

static void take_field(ss_session *s, const char *f, const char *v)
{
	if (strcmp(f, "state") == 0)
		s->exists = strcmp(v, "open") == 0;
	else if (strcmp(f, "idle_timeout_ms") == 0)
		s->idle_timeout_ms = strtol(v, NULL, 10);
	else if (strcmp(f, "timeout_s") == 0)
		s->timeout_s = strtod(v, NULL);
	else if (strcmp(f, "memory_mb") == 0)
		s->memory_mb = strtol(v, NULL, 10);
	else if (strcmp(f, "max_cells") == 0)
		s->max_cells = strtol(v, NULL, 10);
	else if (strcmp(f, "replay_s") == 0)
		s->replay_s = strtod(v, NULL);
	else if (strcmp(f, "git_cells") == 0)
		s->git_cells = (size_t)strtoul(v, NULL, 10);
	else if (strcmp(f, "last_job") == 0)
		snprintf(s->last_job, sizeof(s->last_job), "%s", v);
}

/* KEYS: the session, its cells. The record and its cells in one round trip. */
static const lr_script load_lua = {
    "session_load",
    "return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}\n"};

static int load_cells(const redisReply *rep, ss_session *s, lr_err *err)
{
	int rc = 0;

	s->cells = calloc(rep->elements + 1, sizeof(*s->cells));
	s->lens = calloc(rep->elements + 1, sizeof(*s->lens));
	if (s->cells == NULL || s->lens == NULL)
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < rep->elements; i++) {
		const redisReply *e = rep->element[i];

		if (!lr_reply_is_str(e)) {
			rc = lr_err_set(err, LR_EPROTO, "session cells: unexpected entry");
			break;
		}
		s->cells[i] = strndup(e->str, e->len);
		if (s->cells[i] == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			break;
		}
		s->lens[i] = e->len;
		s->ncells = i + 1;
	}
	return rc;
}

int ss_load(lr_q *q, const char *id, ss_session *s, lr_err *err)
{
	char sk[LR_KEY_MAX], ck[LR_KEY_MAX];
	const char *argv[2] = {sk, ck};
	redisReply *rep = NULL;
	const redisReply *h, *c;
	int rc;

	memset(s, 0, sizeof(*s));
	keys_of(q->k, id, sk, ck);
	rc = lr_redis_eval(q->r, &rep, &load_lua, 2, 0, argv, NULL, err);
	if (rc < 0)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY ||
	    rep->element[1]->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		return lr_err_set(err, LR_EPROTO, "session: unexpected reply");
	}
	h = rep->element[0];
	c = rep->element[1];
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (lr_reply_is_str(h->element[i]) && lr_reply_is_str(h->element[i + 1]))
			take_field(s, h->element[i]->str, h->element[i + 1]->str);
	rc = s->exists ? load_cells(c, s, err) : 0;
	freeReplyObject(rep);
	if (rc < 0)
		ss_session_free(s);
	return rc;
}

/* The record script's answer as an outcome; -1 for any other. */
static int outcome_parse(const char *s, ss_outcome *out)
{
	static const char *const names[] = {
	    [SS_RECORDED] = "ok", [SS_GONE] = "gone", [SS_CONFLICT] = "conflict"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (ss_outcome)i;
			return 0;
		}
	return -1;
}

int ss_record(lr_q *q, const char *id, const ss_cell *cell, ss_outcome *outcome, lr_err *err)
{
	char sk[LR_KEY_MAX], ck[LR_KEY_MAX], nb[32], secs[32];
	const char *argv[8] = {sk,         ck,        nb,           cell->record ? "1" : "0",
	                       cell->code, cell->job, cell->worker, secs};
	redisReply *rep = NULL;
	int rc;

	keys_of(q->k, id, sk, ck);
	snprintf(nb, sizeof(nb), "%zu", cell->n);
	snprintf(secs, sizeof(secs), "%.6f", cell->cell_s > 0 ? cell->cell_s : 0);
	rc = lr_redis_eval(q->r, &rep, &record_lua, 2, 6, argv, NULL, err);
	if (rc == 0 && (!lr_reply_is_str(rep) || outcome_parse(rep->str, outcome) < 0))
		rc = lr_err_set(err, LR_EPROTO, "session record: unexpected reply");
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int ss_close(lr_q *q, const char *id, int *existed, lr_err *err)
{
	char sk[LR_KEY_MAX], ck[LR_KEY_MAX];
	redisReply *rep = NULL;
	int rc = 0;

	keys_of(q->k, id, sk, ck);
	rc = lr_redis_cmd(q->r, &rep, err, "DEL %s %s", sk, ck);
	if (rc == 0)
		*existed = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
	if (rep)
		freeReplyObject(rep);
	return rc;
}
