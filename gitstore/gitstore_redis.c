/* gitstore_redis.c - the Redis side of the git store: three Lua scripts on
 * the shared client (common/redis.h: loaded once per connection, reloaded
 * after a restart) and bounded, type-checked replies.
 *
 * Every read whose size is not fixed goes through a script that measures
 * first (HSTRLEN, HLEN) and refuses to send more than the caller's cap, so
 * the store's caps, not the connection's reply limit, decide. */
#include "fence_lua.h"
#include "gitstore_int.h"
#include "queue.h"

#include <stdlib.h>
#include <string.h>

/* KEYS[1] hash; ARGV[1] cap in bytes; ARGV[2..] fields. */
static const char SCRIPT_GET[] =
    "local max = tonumber(ARGV[1])\n"
    "for i = 2, #ARGV do\n"
    "  local n = redis.call('HSTRLEN', KEYS[1], ARGV[i])\n"
    "  if n > max then return redis.error_reply('TOOBIG ' .. ARGV[i] .. ' ' .. n) end\n"
    "end\n"
    "local out = {}\n"
    "for i = 2, #ARGV do out[i - 1] = redis.call('HGET', KEYS[1], ARGV[i]) end\n"
    "return out\n";

/* KEYS[1] hash; ARGV[1] cap on the number of fields. */
static const char SCRIPT_KEYS[] =
    "local n = redis.call('HLEN', KEYS[1])\n"
    "if n > tonumber(ARGV[1]) then return redis.error_reply('TOOMANY ' .. n) end\n"
    "return redis.call('HKEYS', KEYS[1])\n";

/* The fenced compare-and-swap. KEYS[1] job hash, KEYS[2] objects, KEYS[3] refs,
 * KEYS[4] the stats hash. ARGV[1] attempt, ARGV[2] ref, ARGV[3] expected value
 * ('' = absent), ARGV[4] new value, ARGV[5] HEAD's value if unset, then object
 * id, object pairs. The fence is the job protocol's own (fence_lua.h). The
 * checks come before any write, so a refused call writes nothing (but the
 * stale-write counter); the objects are stored before the ref moves, and the
 * new value must name a stored object, so no ref ever points at a missing one. */
static const char SCRIPT_CAS[] =
    LR_LUA_FENCE "local st = lr_fence(KEYS[1], KEYS[4], ARGV[1])\n"
                 "if st then return st end\n"
                 "local cur = redis.call('HGET', KEYS[3], ARGV[2]) or ''\n"
                 "if cur ~= ARGV[3] then return {'moved', cur} end\n"
                 "local found = false\n"
                 "for i = 6, #ARGV, 2 do if ARGV[i] == ARGV[4] then found = true end end\n"
                 "if not found and redis.call('HEXISTS', KEYS[2], ARGV[4]) == 0 then\n"
                 "  return redis.error_reply('MISSING ' .. ARGV[4])\n"
                 "end\n"
                 "for i = 6, #ARGV, 2 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) end\n"
                 "redis.call('HSETNX', KEYS[3], 'HEAD', ARGV[5])\n"
                 "redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])\n"
                 "return {'ok', ARGV[4]}\n";

static const lr_script lua_get = {"gitstore get", SCRIPT_GET};
static const lr_script lua_keys = {"gitstore keys", SCRIPT_KEYS};
static const lr_script lua_cas = {"gitstore cas", SCRIPT_CAS};

/* The refusal, worded from the job's state and attempt as found. */
static int stale(gitstore *gs, const char *state, const char *attempt, lr_err *err)
{
	if (state == NULL || state[0] == '\0' || strcmp(state, lr_q_state_name(LR_QS_NONE)) == 0)
		return lr_err_set(err, LR_ESTALE,
		                  "job %s: attempt %ld may no longer write (no such job)",
		                  gs->job_id, gs->attempt);
	return lr_err_set(
	    err, LR_ESTALE,
	    "job %s: attempt %ld may no longer write (the job is %.40s at attempt %.40s)",
	    gs->job_id, gs->attempt, state && state[0] ? state : "unset",
	    attempt && attempt[0] ? attempt : "unset");
}

/* Run a script. An error reply (the script's own refusal, such as
 * "TOOBIG ...") is copied into why (empty otherwise) and returned as
 * LR_EPROTO; a lost connection is LR_EIO (the client reconnects next time). */
static int eval(redisReply **out, char why[256], gitstore *gs, const lr_script *s, int nkeys,
                int nargs, const char *const *argv, const size_t *lens, lr_err *err)
{
	int rc = lr_redis_eval(gs->r, out, s, nkeys, nargs, argv, lens, err);

	why[0] = '\0';
	if (rc == LR_EPROTO) {
		const char *m = strstr(err->msg, "redis: ");

		snprintf(why, 256, "%s", m ? m + 7 : err->msg);
	}
	return rc;
}

int gsr_hget(char **vals, size_t *lens, gitstore *gs, const char *key, const char *const *fields,
             size_t nfields, size_t max, lr_err *err)
{
	const char *argv[2 + 8];
	char maxs[32], why[256];
	redisReply *r = NULL;
	size_t i;
	int rc;

	for (i = 0; i < nfields; i++)
		vals[i] = NULL;
	if (nfields == 0 || nfields > 8)
		return lr_err_set(err, LR_EINTERNAL, "gsr_hget: %zu fields", nfields);
	snprintf(maxs, sizeof(maxs), "%zu", max);
	argv[0] = key;
	argv[1] = maxs;
	for (i = 0; i < nfields; i++)
		argv[2 + i] = fields[i];
	rc = eval(&r, why, gs, &lua_get, 1, (int)(1 + nfields), argv, NULL, err);
	if (rc == LR_EPROTO && strncmp(why, "TOOBIG ", 7) == 0)
		return lr_err_set(err, LR_ETOOBIG,
		                  "%s: %.120s bytes stored, the limit is %zu bytes", key, why + 7,
		                  max);
	if (rc == LR_EPROTO && why[0])
		return lr_err_set(err, LR_EIO, "redis: reading %s: %.200s", key, why);
	if (rc < 0)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != nfields) {
		rc = lr_err_set(err, LR_EPROTO, "redis: reading %s: unexpected reply", key);
		goto cleanup;
	}
	for (i = 0; i < nfields; i++) {
		redisReply *e = r->element[i];

		if (e->type == REDIS_REPLY_NIL)
			continue;
		if (e->type != REDIS_REPLY_STRING || (size_t)e->len > max) {
			rc = lr_err_set(err, LR_EPROTO, "redis: reading %s: unexpected element",
			                key);
			goto cleanup;
		}
		vals[i] = malloc((size_t)e->len + 1);
		if (vals[i] == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory reading %s", key);
			goto cleanup;
		}
		memcpy(vals[i], e->str, (size_t)e->len);
		vals[i][e->len] = '\0';
		lens[i] = (size_t)e->len;
	}
cleanup:
	if (rc < 0) {
		for (i = 0; i < nfields; i++) {
			free(vals[i]);
			vals[i] = NULL;
		}
	}
	freeReplyObject(r);
	return rc;
}

int gsr_exists(gitstore *gs, const char *hex, lr_err *err)
{
	redisReply *r = NULL;
	int rc = lr_redis_cmd(gs->r, &r, err, "HEXISTS %s %s", gs->key_objects, hex);

	if (rc < 0)
		return rc;
	if (r->type != REDIS_REPLY_INTEGER)
		rc =
		    lr_err_set(err, LR_EPROTO, "redis: HEXISTS: unexpected reply type %d", r->type);
	else
		rc = r->integer != 0;
	freeReplyObject(r);
	return rc;
}

int gsr_list(char (**hexes)[41], size_t *n, gitstore *gs, lr_err *err)
{
	const char *argv[2];
	char maxs[32], why[256];
	redisReply *r = NULL;
	char(*out)[41] = NULL;
	size_t i;
	int rc;

	*hexes = NULL;
	*n = 0;
	snprintf(maxs, sizeof(maxs), "%zu", gs->opts.max_objects);
	argv[0] = gs->key_objects;
	argv[1] = maxs;
	rc = eval(&r, why, gs, &lua_keys, 1, 1, argv, NULL, err);
	if (rc == LR_EPROTO && strncmp(why, "TOOMANY ", 8) == 0)
		return lr_err_set(err, LR_ETOOBIG, "%s holds %.40s objects, the limit is %zu",
		                  gs->key_objects, why + 8, gs->opts.max_objects);
	if (rc == LR_EPROTO && why[0])
		return lr_err_set(err, LR_EIO, "redis: listing %s: %.200s", gs->key_objects, why);
	if (rc < 0)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements > gs->opts.max_objects) {
		rc = lr_err_set(err, LR_EPROTO, "redis: listing objects: unexpected reply");
		goto cleanup;
	}
	if (r->elements > 0) {
		out = calloc(r->elements, sizeof(*out));
		if (out == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory listing objects");
			goto cleanup;
		}
	}
	for (i = 0; i < r->elements; i++) {
		redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_STRING || e->len != 40) {
			rc = lr_err_set(err, LR_EPROTO, "redis: %s has a malformed field",
			                gs->key_objects);
			goto cleanup;
		}
		memcpy(out[i], e->str, 40);
		out[i][40] = '\0';
	}
	*hexes = out;
	*n = r->elements;
	out = NULL;
cleanup:
	free(out);
	freeReplyObject(r);
	return rc;
}

/* The CAS script's reply: {'ok'|'moved', value} or {'stale', state, attempt}. */
static int cas_reply(char cur[GS_REF_VALUE_MAX + 1], gitstore *gs, const char *ref,
                     const redisReply *r, lr_err *err)
{
	const redisReply *st =
	    r->type == REDIS_REPLY_ARRAY && r->elements >= 2 ? r->element[0] : NULL;

	if (st == NULL || st->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING || r->element[1]->len > GS_REF_VALUE_MAX)
		return lr_err_set(err, LR_EPROTO, "redis: moving %s: unexpected reply", ref);
	memcpy(cur, r->element[1]->str, (size_t)r->element[1]->len);
	cur[r->element[1]->len] = '\0';
	if (strcmp(st->str, "ok") == 0 && r->elements == 2)
		return GSR_OK;
	if (strcmp(st->str, "moved") == 0 && r->elements == 2)
		return GSR_MOVED;
	if (strcmp(st->str, "stale") == 0 && r->elements == 3)
		return stale(gs, cur, lr_reply_elem_str(r, 2), err);
	return lr_err_set(err, LR_EPROTO, "redis: moving %s: unexpected status", ref);
}

int gsr_cas(char cur[GS_REF_VALUE_MAX + 1], gitstore *gs, const char *ref, const char *old_hex,
            const char *new_hex, const gs_pending *objs, size_t nobjs, lr_err *err)
{
	const char **argv = NULL;
	size_t *argvlen = NULL;
	size_t argc = 9 + 2 * nobjs, i;
	char(*hexv)[41] = NULL;
	char attempt[32], why[256];
	redisReply *r = NULL;
	int rc;

	cur[0] = '\0';
	hexv = calloc(nobjs + 1, sizeof(*hexv));
	argv = calloc(argc, sizeof(*argv));
	argvlen = calloc(argc, sizeof(*argvlen));
	if (hexv == NULL || argv == NULL || argvlen == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	snprintf(attempt, sizeof(attempt), "%ld%s", gs->attempt,
	         gs->opts.fence_done ? "/done" : "");
	argv[0] = gs->key_job;
	argv[1] = gs->key_objects;
	argv[2] = gs->key_refs;
	argv[3] = gs->key_stats;
	argv[4] = attempt;
	argv[5] = ref;
	argv[6] = old_hex;
	argv[7] = new_hex;
	argv[8] = GS_HEAD_VALUE;
	for (i = 0; i <= 8; i++)
		argvlen[i] = strlen(argv[i]);
	for (i = 0; i < nobjs; i++) {
		git_oid_tostr(hexv[i], 41, &objs[i].oid);
		argv[9 + 2 * i] = hexv[i];
		argvlen[9 + 2 * i] = 40;
		argv[10 + 2 * i] = objs[i].value;
		argvlen[10 + 2 * i] = objs[i].len;
	}
	rc = eval(&r, why, gs, &lua_cas, 4, (int)(argc - 4), argv, argvlen, err);
	if (rc == LR_EPROTO && strncmp(why, "MISSING ", 8) == 0)
		rc = lr_err_set(err, LR_EINTERNAL, "refusing to point %s at %.40s: not stored", ref,
		                why + 8);
	else if (rc == LR_EPROTO && why[0])
		rc = lr_err_set(err, LR_EIO, "redis: moving %s: %.200s", ref, why);
	else if (rc == 0)
		rc = cas_reply(cur, gs, ref, r, err);
cleanup:
	free(hexv);
	free(argv);
	free(argvlen);
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int gsr_fence(gitstore *gs, lr_err *err)
{
	static const char *const fields[2] = {"state", "attempt"};
	char *vals[2] = {NULL, NULL};
	size_t lens[2];
	char mine[32];
	lr_q_state st;
	int rc;

	rc = gsr_hget(vals, lens, gs, gs->key_job, fields, 2, 64, err);
	if (rc < 0)
		return rc;
	snprintf(mine, sizeof(mine), "%ld", gs->attempt);
	st = lr_q_state_parse(vals[0]);
	if (vals[0] == NULL ||
	    (st != LR_QS_RUNNING && !(gs->opts.fence_done && st == LR_QS_DONE)) ||
	    vals[1] == NULL || strcmp(vals[1], mine) != 0)
		rc = stale(gs, vals[0], vals[1], err);
	free(vals[0]);
	free(vals[1]);
	return rc;
}
