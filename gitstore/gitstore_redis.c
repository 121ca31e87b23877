/* gitstore_redis.c - the Redis side of the git store: three Lua scripts and
 * bounded, type-checked replies.
 *
 * Replies from hiredis 0.14 are not size-limited by the client, so every read
 * whose size is not fixed goes through a script that measures first
 * (HSTRLEN, HLEN) and refuses to send more than the caller's cap. */
#include "gitstore_int.h"

#include <hiredis.h>
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
 * id, object pairs. The fence is the job protocol's: the job is running and
 * its attempt is the writer's. The checks come before any write, so a refused
 * call writes nothing (but the stale-write counter); the objects are stored
 * before the ref moves, and the new value must name a stored object, so no ref
 * ever points at a missing one. */
static const char SCRIPT_CAS[] =
    "local h = redis.call('HMGET', KEYS[1], 'state', 'attempt')\n"
    "if h[1] ~= 'running' or h[2] ~= ARGV[1] then\n"
    "  redis.call('HINCRBY', KEYS[4], 'total:stale_writes', 1)\n"
    "  return {'stale', (h[1] or '') .. ' ' .. (h[2] or '')}\n"
    "end\n"
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

/* The refusal, worded from the job's state and attempt as found. */
static int stale(gitstore *gs, const char *state, const char *attempt, lr_err *err)
{
	if ((state == NULL || state[0] == '\0') && (attempt == NULL || attempt[0] == '\0'))
		return lr_err_set(err, LR_ESTALE,
		                  "job %s: attempt %ld may no longer write (no such job)",
		                  gs->job_id, gs->attempt);
	return lr_err_set(
	    err, LR_ESTALE,
	    "job %s: attempt %ld may no longer write (the job is %.40s at attempt %.40s)",
	    gs->job_id, gs->attempt, state && state[0] ? state : "unset",
	    attempt && attempt[0] ? attempt : "unset");
}

static int load_one(char sha[41], gitstore *gs, const char *src, lr_err *err)
{
	redisReply *r = redisCommand(gs->rc, "SCRIPT LOAD %s", src);
	int rc = 0;

	if (r == NULL)
		return lr_err_set(err, LR_EIO, "redis: SCRIPT LOAD: %s",
		                  gs->rc->errstr[0] ? gs->rc->errstr : "no reply");
	if (r->type == REDIS_REPLY_ERROR)
		rc = lr_err_set(err, LR_EIO, "redis: SCRIPT LOAD: %.200s", r->str);
	else if (r->type != REDIS_REPLY_STRING || r->len != 40)
		rc = lr_err_set(err, LR_EPROTO, "redis: SCRIPT LOAD: unexpected reply type %d",
		                r->type);
	else
		memcpy(sha, r->str, 41);
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int gsr_load_scripts(gitstore *gs, lr_err *err)
{
	int rc = load_one(gs->sha_get, gs, SCRIPT_GET, err);

	if (rc == 0)
		rc = load_one(gs->sha_keys, gs, SCRIPT_KEYS, err);
	if (rc == 0)
		rc = load_one(gs->sha_cas, gs, SCRIPT_CAS, err);
	return rc;
}

/* EVALSHA with argv[0..2] = "EVALSHA", sha, numkeys filled in here. A server
 * that lost its script cache (restart, SCRIPT FLUSH) answers NOSCRIPT: reload
 * once and retry. Error replies are returned to the caller as replies. */
static int evalsha(redisReply **out, gitstore *gs, const char *sha, const char *what, int argc,
                   const char **argv, size_t *argvlen, lr_err *err)
{
	redisReply *r = NULL;
	int tries;

	*out = NULL;
	for (tries = 0; tries < 2; tries++) {
		argv[0] = "EVALSHA";
		argvlen[0] = 7;
		argv[1] = sha;
		argvlen[1] = 40;
		r = redisCommandArgv(gs->rc, argc, argv, argvlen);
		if (r == NULL)
			return lr_err_set(err, LR_EIO, "redis: %s: %s", what,
			                  gs->rc->errstr[0] ? gs->rc->errstr : "no reply");
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
		    tries == 0) {
			int rc;

			freeReplyObject(r);
			r = NULL;
			rc = gsr_load_scripts(gs, err);
			if (rc < 0)
				return rc;
			continue;
		}
		break;
	}
	*out = r;
	return 0;
}

int gsr_hget(char **vals, size_t *lens, gitstore *gs, const char *key, const char *const *fields,
             size_t nfields, size_t max, lr_err *err)
{
	const char *argv[5 + 8];
	size_t argvlen[5 + 8];
	char maxs[32];
	redisReply *r = NULL;
	size_t i;
	int rc;

	for (i = 0; i < nfields; i++)
		vals[i] = NULL;
	if (nfields == 0 || nfields > 8)
		return lr_err_set(err, LR_EINTERNAL, "gsr_hget: %zu fields", nfields);
	snprintf(maxs, sizeof(maxs), "%zu", max);
	argv[2] = "1";
	argvlen[2] = 1;
	argv[3] = key;
	argvlen[3] = strlen(key);
	argv[4] = maxs;
	argvlen[4] = strlen(maxs);
	for (i = 0; i < nfields; i++) {
		argv[5 + i] = fields[i];
		argvlen[5 + i] = strlen(fields[i]);
	}
	rc = evalsha(&r, gs, gs->sha_get, "read", (int)(5 + nfields), argv, argvlen, err);
	if (rc < 0)
		return rc;
	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "TOOBIG ", 7) == 0)
			rc = lr_err_set(err, LR_ETOOBIG,
			                "%s: %.120s bytes stored, the limit is %zu bytes", key,
			                r->str + 7, max);
		else
			rc = lr_err_set(err, LR_EIO, "redis: reading %s: %.200s", key, r->str);
		goto cleanup;
	}
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
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int gsr_exists(gitstore *gs, const char *hex, lr_err *err)
{
	redisReply *r = redisCommand(gs->rc, "HEXISTS %s %s", gs->key_objects, hex);
	int rc;

	if (r == NULL)
		return lr_err_set(err, LR_EIO, "redis: HEXISTS: %s",
		                  gs->rc->errstr[0] ? gs->rc->errstr : "no reply");
	if (r->type == REDIS_REPLY_ERROR)
		rc = lr_err_set(err, LR_EIO, "redis: HEXISTS %s: %.200s", gs->key_objects, r->str);
	else if (r->type != REDIS_REPLY_INTEGER)
		rc =
		    lr_err_set(err, LR_EPROTO, "redis: HEXISTS: unexpected reply type %d", r->type);
	else
		rc = r->integer != 0;
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int gsr_list(char (**hexes)[41], size_t *n, gitstore *gs, lr_err *err)
{
	const char *argv[5];
	size_t argvlen[5];
	char maxs[32];
	redisReply *r = NULL;
	char(*out)[41] = NULL;
	size_t i;
	int rc;

	*hexes = NULL;
	*n = 0;
	snprintf(maxs, sizeof(maxs), "%zu", gs->opts.max_objects);
	argv[2] = "1";
	argvlen[2] = 1;
	argv[3] = gs->key_objects;
	argvlen[3] = strlen(gs->key_objects);
	argv[4] = maxs;
	argvlen[4] = strlen(maxs);
	rc = evalsha(&r, gs, gs->sha_keys, "listing objects", 5, argv, argvlen, err);
	if (rc < 0)
		return rc;
	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "TOOMANY ", 8) == 0)
			rc = lr_err_set(err, LR_ETOOBIG, "%s holds %.40s objects, the limit is %zu",
			                gs->key_objects, r->str + 8, gs->opts.max_objects);
		else
			rc = lr_err_set(err, LR_EIO, "redis: listing %s: %.200s", gs->key_objects,
			                r->str);
		goto cleanup;
	}
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
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int gsr_cas(char cur[GS_REF_VALUE_MAX + 1], gitstore *gs, const char *ref, const char *old_hex,
            const char *new_hex, const gs_pending *objs, size_t nobjs, lr_err *err)
{
	const char **argv = NULL;
	size_t *argvlen = NULL;
	size_t argc = 12 + 2 * nobjs, i;
	char(*hexv)[41] = NULL;
	char attempt[32];
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
	snprintf(attempt, sizeof(attempt), "%ld", gs->attempt);
	argv[2] = "4";
	argv[3] = gs->key_job;
	argv[4] = gs->key_objects;
	argv[5] = gs->key_refs;
	argv[6] = gs->key_stats;
	argv[7] = attempt;
	argv[8] = ref;
	argv[9] = old_hex;
	argv[10] = new_hex;
	argv[11] = GS_HEAD_VALUE;
	for (i = 2; i <= 11; i++)
		argvlen[i] = strlen(argv[i]);
	for (i = 0; i < nobjs; i++) {
		git_oid_tostr(hexv[i], 41, &objs[i].oid);
		argv[12 + 2 * i] = hexv[i];
		argvlen[12 + 2 * i] = 40;
		argv[13 + 2 * i] = objs[i].value;
		argvlen[13 + 2 * i] = objs[i].len;
	}
	rc = evalsha(&r, gs, gs->sha_cas, "moving a ref", (int)argc, argv, argvlen, err);
	if (rc < 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "MISSING ", 8) == 0)
			rc = lr_err_set(err, LR_EINTERNAL,
			                "refusing to point %s at %.40s: not stored", ref,
			                r->str + 8);
		else
			rc = lr_err_set(err, LR_EIO, "redis: moving %s: %.200s", ref, r->str);
		goto cleanup;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING || r->element[1]->len > GS_REF_VALUE_MAX) {
		rc = lr_err_set(err, LR_EPROTO, "redis: moving %s: unexpected reply", ref);
		goto cleanup;
	}
	memcpy(cur, r->element[1]->str, (size_t)r->element[1]->len);
	cur[r->element[1]->len] = '\0';
	if (strcmp(r->element[0]->str, "ok") == 0) {
		rc = GSR_OK;
	} else if (strcmp(r->element[0]->str, "moved") == 0) {
		rc = GSR_MOVED;
	} else if (strcmp(r->element[0]->str, "stale") == 0) {
		char *sp = strchr(cur, ' ');

		if (sp != NULL)
			*sp++ = '\0';
		rc = stale(gs, cur, sp, err);
	} else {
		rc = lr_err_set(err, LR_EPROTO, "redis: moving %s: unexpected status", ref);
	}
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
	int rc;

	rc = gsr_hget(vals, lens, gs, gs->key_job, fields, 2, 64, err);
	if (rc < 0)
		return rc;
	snprintf(mine, sizeof(mine), "%ld", gs->attempt);
	if (vals[0] == NULL || strcmp(vals[0], "running") != 0 || vals[1] == NULL ||
	    strcmp(vals[1], mine) != 0)
		rc = stale(gs, vals[0], vals[1], err);
	free(vals[0]);
	free(vals[1]);
	return rc;
}
