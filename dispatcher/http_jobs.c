/* http_jobs.c - jobs over HTTP: submit, read, list, cancel, wait.
 *
 * A submission is the XADD a redis-cli user makes (the spec, plus the
 * token's name as `owner`), done by one script that also applies the
 * Idempotency-Key, the queue-depth cap and the per-token in-flight cap, so
 * two dispatchers cannot both let the same request through. The spec is
 * validated here first with the intake's own rules, so a bad one is a 400
 * with the reason rather than a rejected job. */
#include "clock.h"
#include "http_int.h"
#include "json_strict.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const lr_script submit_lua = {"http-submit",
	"-- ARGV: P, spec, owner, idempotency key, its ttl, max queue, max in flight\n"
	"local P, spec, owner, ikey = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
	"local ttl, maxq, maxin = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
	"local sha = redis.sha1hex(spec)\n"
	"local ik = nil\n"
	"if ikey ~= '' then\n"
	"  ik = P .. 'idem:' .. owner .. ':' .. ikey\n"
	"  local v = redis.call('GET', ik)\n"
	"  if v then\n"
	"    local id, h = string.match(v, '^(%S+) (%x+)$')\n"
	"    if h == sha then return {'exists', id} end\n"
	"    return {'conflict', id or ''}\n"
	"  end\n"
	"end\n"
	"if maxq > 0 then\n"
	"  local depth = (tonumber(redis.call('HGET', P .. 'stats', 'queued')) or 0)\n"
	"    + redis.call('XLEN', P .. 'requests')\n"
	"  if depth >= maxq then return {'full', tostring(depth)} end\n"
	"end\n"
	"local live = P .. 'inflight:' .. owner\n"
	"if maxin > 0 and redis.call('SCARD', live) >= maxin then\n"
	"  local final = {done = true, cancelled = true, rejected = true, dead = true}\n"
	"  for _, id in ipairs(redis.call('SMEMBERS', live)) do\n"
	"    local st = redis.call('HGET', P .. 'job:' .. id, 'state')\n"
	"    if (st and final[st]) or\n"
	"       (not st and #redis.call('XRANGE', P .. 'requests', id, id) == 0) then\n"
	"      redis.call('SREM', live, id)\n"
	"    end\n"
	"  end\n"
	"  local n = redis.call('SCARD', live)\n"
	"  if n >= maxin then return {'busy', tostring(n)} end\n"
	"end\n"
	"local a = {'XADD', P .. 'requests', '*', 'spec', spec}\n"
	"if owner ~= '' then a[#a + 1] = 'owner'; a[#a + 1] = owner end\n"
	"local id = redis.call(unpack(a))\n"
	"if maxin > 0 then\n"
	"  redis.call('SADD', live, id)\n"
	"  redis.call('EXPIRE', live, 86400)\n"
	"end\n"
	"if ik then redis.call('SET', ik, id .. ' ' .. sha, 'EX', ttl) end\n"
	"return {'new', id}\n"};
/* clang-format on */

int http_body_object(http_req *q, json_object **out, unsigned *status, lr_err *err)
{
	const char *ctype = http_header(q, MHD_HTTP_HEADER_CONTENT_TYPE);
	lr_err why;

	*out = NULL;
	lr_err_clear(&why);
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) != 0 &&
	    strstr(ctype, "+json") == NULL) {
		*status = 415;
		lr_err_set(err, LR_EINVAL, "Content-Type must be application/json, got '%.64s'",
		           ctype);
		return -1;
	}
	if (q->body.len == 0) {
		*status = 400;
		lr_err_set(err, LR_EINVAL, "request body is empty: expected a JSON object");
		return -1;
	}
	if (lr_json_parse_strict(out, q->body.data, q->body.len, q->srv->cfg.max_body,
	                         LR_JSON_DEPTH_DEFAULT, &why) < 0) {
		*status = 400;
		lr_err_set(err, LR_EINVAL, "request body is not valid JSON: %s", why.msg);
		return -1;
	}
	if (!json_object_is_type(*out, json_type_object)) {
		*status = 400;
		lr_err_set(err, LR_EINVAL, "request body must be a JSON object, got %s",
		           lr_json_type_name(*out));
		json_object_put(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] <= ' ' || (unsigned char)k[i] >= 127)
			return 0;
	return 1;
}

/* The spec as the text to submit, checked with the intake's own rules; NULL
 * with *status and err when it does not pass. */
static char *checked_spec(const http_config *c, json_object *spec, unsigned *status, lr_err *err)
{
	lr_job_spec parsed;
	lr_err why;
	char *text = lr_json_dump(spec);

	lr_err_clear(&why);
	if (text == NULL) {
		*status = 500;
		lr_err_set(err, LR_ENOMEM, "out of memory");
		return NULL;
	}
	if (strlen(text) > c->job.max_spec_bytes) {
		*status = 413;
		lr_err_set(err, LR_ETOOBIG, "spec is %zu bytes, over the limit of %zu bytes",
		           strlen(text), c->job.max_spec_bytes);
	} else if (lr_job_spec_parse(&parsed, text, strlen(text), &c->job, &why) < 0) {
		*status = why.code == LR_ENOMEM ? 500 : 400;
		lr_err_set(err, why.code, "invalid spec: %s", why.msg);
	} else {
		lr_job_spec_free(&parsed);
		return text;
	}
	free(text);
	return NULL;
}

/* What the submit script answered: {what, value}. */
static int submit_outcome(http_req *q, const redisReply *rep, char id[LR_JOB_ID_MAX + 1],
                          int *existing, unsigned *status, lr_err *err)
{
	const http_config *c = &q->srv->cfg;
	const char *what = lr_reply_elem_str(rep, 0);
	const char *val = lr_reply_elem_str(rep, 1);

	if (what == NULL || val == NULL) {
		*status = 500;
		return lr_err_set(err, LR_EPROTO, "submit: unexpected reply from redis");
	}
	if (strcmp(what, "full") == 0) {
		snprintf(q->retry_after, sizeof(q->retry_after), "5");
		*status = 503;
		return lr_err_set(err, LR_EUNAVAIL,
		                  "the queue is full (%s jobs waiting, limit %ld)", val,
		                  c->max_queue);
	}
	if (strcmp(what, "busy") == 0) {
		snprintf(q->retry_after, sizeof(q->retry_after), "1");
		*status = 429;
		return lr_err_set(err, LR_EUNAVAIL,
		                  "%s jobs in flight, the limit for this token is %ld", val,
		                  c->max_inflight);
	}
	if (strcmp(what, "conflict") == 0) {
		*status = 422;
		return lr_err_set(
		    err, LR_EINVAL,
		    "Idempotency-Key was already used for a different request (job %s)", val);
	}
	snprintf(id, LR_JOB_ID_MAX + 1, "%s", val);
	*existing = strcmp(what, "exists") == 0;
	return 0;
}

int http_submit(http_req *q, json_object *spec, const char *idem_key, char id[LR_JOB_ID_MAX + 1],
                int *existing, unsigned *status, lr_err *err)
{
	const http_config *c = &q->srv->cfg;
	json_object *ik = NULL;
	char *text = NULL;
	lr_redis *r = NULL;
	redisReply *rep = NULL;
	char ttl[24], maxq[24], maxin[24];
	const char *argv[7];
	int rc = -1;

	*existing = 0;
	*status = 500;
	/* An idempotency key may also travel in the spec, where it is not a
	 * field of the job. */
	if (json_object_object_get_ex(spec, "idempotency_key", &ik)) {
		if (!json_object_is_type(ik, json_type_string)) {
			*status = 400;
			return lr_err_set(err, LR_EINVAL,
			                  "field 'idempotency_key' must be a string, got %s",
			                  lr_json_type_name(ik));
		}
		if (idem_key == NULL)
			idem_key = json_object_get_string(ik);
		json_object_get(ik);
		json_object_object_del(spec, "idempotency_key");
	}
	if (idem_key != NULL && !key_ok(idem_key)) {
		*status = 400;
		lr_err_set(err, LR_EINVAL,
		           "Idempotency-Key must be 1 to 255 printable ASCII characters "
		           "without spaces");
		goto cleanup;
	}
	text = checked_spec(c, spec, status, err);
	if (text == NULL)
		goto cleanup;
	if (http_redis(q, &r, err) < 0) {
		*status = http_err_status(q, err);
		goto cleanup;
	}
	snprintf(ttl, sizeof(ttl), "%ld", c->idem_ttl_s);
	snprintf(maxq, sizeof(maxq), "%ld", c->max_queue);
	snprintf(maxin, sizeof(maxin), "%ld", q->owner[0] ? c->max_inflight : 0L);
	argv[0] = c->keys.prefix;
	argv[1] = text;
	argv[2] = q->owner;
	argv[3] = idem_key ? idem_key : "";
	argv[4] = ttl;
	argv[5] = maxq;
	argv[6] = maxin;
	if (lr_redis_eval(r, &rep, &submit_lua, 0, 7, argv, NULL, err) < 0) {
		*status = http_err_status(q, err);
		goto cleanup;
	}
	rc = submit_outcome(q, rep, id, existing, status, err);
cleanup:
	if (rep)
		freeReplyObject(rep);
	free(text);
	json_object_put(ik);
	return rc;
}

/* ---- the job as JSON ----------------------------------------------------- */

static const char *const int_fields[] = {"attempt",
                                         "failures",
                                         "max_attempts",
                                         "submitted",
                                         "created",
                                         "updated",
                                         "finished",
                                         "started",
                                         "iterations",
                                         "spec_bytes",
                                         "tests_passed",
                                         "tests_total",
                                         "ttl",
                                         "backoff_ms",
                                         "backoff_max_ms",
                                         "events_max",
                                         "retry_at",
                                         "lease_until",
                                         "final_attempt",
                                         "items_total",
                                         "items_done",
                                         "items_passed",
                                         NULL};

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* One hash field as JSON: numbers and the parsed documents as themselves. */
static json_object *field_value(const char *name, const char *v, size_t len)
{
	json_object *o = NULL;
	char *end = NULL;

	if (strcmp(name, "spec") == 0 || strcmp(name, "result") == 0) {
		if (len > 0 && lr_json_parse(&o, v, len, 0, 64, NULL) == 0)
			return o;
	} else if (strcmp(name, "passed") == 0 && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0)) {
		return json_object_new_boolean(v[0] == '1');
	} else if (strcmp(name, "score") == 0 && len > 0) {
		double d = strtod(v, &end);

		if (end && *end == '\0')
			return json_object_new_double(d);
	} else if (in_list(name, int_fields) && len > 0) {
		long long n = strtoll(v, &end, 10);

		if (end && *end == '\0')
			return json_object_new_int64(n);
	}
	return json_object_new_string_len(v, (int)len);
}

json_object *http_hash_json(const redisReply *rep)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; o && i + 1 < rep->elements; i += 2) {
		const redisReply *f = rep->element[i], *v = rep->element[i + 1];

		if (!lr_reply_is_str(f) || !lr_reply_is_str(v))
			continue;
		json_object_object_add(o, f->str, field_value(f->str, v->str, v->len));
	}
	return o;
}

/* Is request `id` still waiting in the requests stream? Its owner goes to
 * owner (may be NULL). */
static int request_pending(lr_redis *r, const lr_keys *k, const char *id, char owner[64],
                           int *pending, lr_err *err)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	int rc;

	*pending = 0;
	if (owner)
		owner[0] = '\0';
	rc = lr_redis_cmd(r, &rep, err, "XRANGE %s %s %s", lr_key(k, key, "requests"), id, id);
	if (rc < 0)
		return rc;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2) {
		const redisReply *o = lr_reply_field(rep->element[0]->element[1], "owner");

		*pending = 1;
		if (owner && o && lr_reply_is_str(o))
			snprintf(owner, 64, "%s", o->str);
	}
	freeReplyObject(rep);
	return 0;
}

int http_job_get(http_req *q, const char *id, json_object **out, lr_err *err)
{
	const lr_keys *k = &q->srv->cfg.keys;
	char key[LR_KEY_MAX];
	char owner[64];
	redisReply *rep = NULL;
	lr_redis *r;
	int pending = 0;
	int rc;

	*out = NULL;
	if (!lr_job_id_valid(id))
		return lr_err_set(err, LR_ENOTFOUND, "no job '%.48s' (a job id is <ms>-<seq>)", id);
	rc = http_redis(q, &r, err);
	if (rc < 0)
		return rc;
	/* The job hash, else the request not yet taken. The intake creates the
	 * one and deletes the other atomically, so a request gone between the
	 * two reads means the hash is there now: read it once more. */
	for (int round = 0; round < 2; round++) {
		rc = lr_redis_cmd(r, &rep, err, "HGETALL %s", lr_key_job(k, key, id));
		if (rc < 0)
			return rc;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
			const redisReply *o = lr_reply_field(rep, "owner");
			const char *who = o && lr_reply_is_str(o) ? o->str : "";

			if (q->owner[0] && strcmp(who, q->owner) != 0) {
				freeReplyObject(rep);
				return lr_err_set(err, LR_ENOTFOUND, "no job %s", id);
			}
			*out = http_hash_json(rep);
			freeReplyObject(rep);
			return *out ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
		}
		freeReplyObject(rep);
		if (round == 1)
			break;
		rc = request_pending(r, k, id, owner, &pending, err);
		if (rc < 0)
			return rc;
		if (pending)
			break;
	}
	if (!pending || (q->owner[0] && strcmp(owner, q->owner) != 0))
		return lr_err_set(err, LR_ENOTFOUND, "no job %s (never submitted, or expired)", id);
	*out = json_object_new_object();
	if (*out == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	lr_json_set_str(*out, "id", id);
	lr_json_set_str(*out, "state", "submitted");
	return 0;
}

static int job_state(lr_redis *r, const lr_keys *k, const char *id, char state[16], lr_err *err)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	int rc;

	state[0] = '\0';
	rc = lr_redis_cmd(r, &rep, err, "HGET %s state", lr_key_job(k, key, id));
	if (rc == 0 && rep->type == REDIS_REPLY_STRING)
		snprintf(state, 16, "%s", rep->str);
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int http_wait(http_req *q, const char *id, double wait_s, json_object **job, lr_err *err)
{
	const lr_keys *k = &q->srv->cfg.keys;
	long long deadline = lr_now_ms() + (long long)(wait_s * 1000);
	char last[LR_JOB_ID_MAX + 1] = "0-0";
	char ev[LR_KEY_MAX];
	char state[16];
	lr_redis *r;
	int rc;

	*job = NULL;
	rc = http_redis(q, &r, err);
	if (rc < 0)
		return rc;
	lr_key_job_sub(k, ev, id, "events");
	/* The events say when the job is final: from "0-0" the first read
	 * returns at once whatever came before, so nothing is missed, and each
	 * later one wakes as the next event is written. Only a read that
	 * times out looks at the state (events trimmed or expired). */
	for (;;) {
		redisReply *rep = NULL;
		long long left = deadline - lr_now_ms();
		int final = 0;

		if (atomic_load(&q->srv->stopping))
			return 0; /* shutting down: the caller answers 202 */
		if (left > HTTP_BLOCK_MS)
			left = HTTP_BLOCK_MS;
		rc = lr_redis_cmd(r, &rep, err, "XREAD COUNT 100 BLOCK %ld STREAMS %s %s",
		                  lr_redis_block_ms(r, (long)(left < 1 ? 1 : left)), ev, last);
		if (rc < 0)
			return rc;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
		    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2) {
			const redisReply *es = rep->element[0]->element[1];

			for (size_t i = 0; es->type == REDIS_REPLY_ARRAY && i < es->elements; i++) {
				const redisReply *e = es->element[i];
				const char *eid = lr_reply_elem_str(e, 0);
				const redisReply *t =
				    e->type == REDIS_REPLY_ARRAY && e->elements == 2
				        ? lr_reply_field(e->element[1], "type")
				        : NULL;

				if (eid)
					snprintf(last, sizeof(last), "%s", eid);
				if (t && lr_reply_is_str(t) && lr_q_state_final(t->str))
					final = 1;
			}
			freeReplyObject(rep);
		} else {
			freeReplyObject(rep);
			rc = job_state(r, k, id, state, err);
			if (rc < 0)
				return rc;
			final = state[0] && lr_q_state_final(state);
		}
		if (final)
			return http_job_get(q, id, job, err);
		if (deadline - lr_now_ms() <= 0)
			return 0;
	}
}

static void set_location(http_req *q, const char *id)
{
	snprintf(q->location, sizeof(q->location), "/jobs/%s", id);
}

int http_wait_arg(http_req *q, double *wait_s, lr_err *err)
{
	const http_config *c = &q->srv->cfg;
	const char *w = http_arg(q, "wait");
	char *end = NULL;

	*wait_s = c->wait_s;
	if (w == NULL)
		return 0;
	*wait_s = strtod(w, &end);
	if (end == w || *end != '\0' || !(*wait_s >= 0))
		return lr_err_set(err, LR_EINVAL, "wait must be a number of seconds, got '%.32s'",
		                  w);
	if (*wait_s > c->wait_max_s)
		*wait_s = c->wait_max_s;
	return 0;
}

int http_submit_wait(http_req *q, json_object *spec, double wait_s, json_object **job,
                     json_object **pending, unsigned *status, lr_err *err)
{
	char id[LR_JOB_ID_MAX + 1];
	int existing = 0;
	int rc;

	*job = *pending = NULL;
	rc = http_submit(q, spec, http_header(q, "Idempotency-Key"), id, &existing, status, err);
	json_object_put(spec);
	if (rc < 0)
		return rc;
	set_location(q, id);
	rc = http_wait(q, id, wait_s, job, err);
	if (rc < 0) {
		*status = http_err_status(q, err);
		return rc;
	}
	if (*job != NULL)
		return 0;
	*pending = json_object_new_object();
	if (*pending == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	lr_json_set_str(*pending, "job_id", id);
	lr_json_set_str(*pending, "status_url", q->location);
	*status = 202;
	return 0;
}

/* ---- the endpoints ----------------------------------------------------------- */

enum MHD_Result http_jobs_post(http_req *q)
{
	json_object *spec = NULL, *o;
	char id[LR_JOB_ID_MAX + 1];
	unsigned status = 500;
	int existing = 0;
	lr_err err;

	lr_err_clear(&err);
	if (http_body_object(q, &spec, &status, &err) < 0)
		return http_problem(q, status, "%s", err.msg);
	if (http_submit(q, spec, http_header(q, "Idempotency-Key"), id, &existing, &status, &err) <
	    0) {
		json_object_put(spec);
		return http_problem(q, status, "%s", err.msg);
	}
	json_object_put(spec);
	set_location(q, id);
	q->replayed = existing;
	o = json_object_new_object();
	if (o == NULL)
		return http_problem(q, 500, "out of memory");
	lr_json_set_str(o, "job_id", id);
	lr_json_set_str(o, "status_url", q->location);
	return http_json(q, 202, o);
}

enum MHD_Result http_jobs_get(http_req *q, const char *id)
{
	json_object *job = NULL;
	lr_err err;

	lr_err_clear(&err);
	if (http_job_get(q, id, &job, &err) < 0)
		return http_problem_err(q, &err);
	return http_json(q, 200, job);
}

enum MHD_Result http_jobs_delete(http_req *q, const char *id)
{
	json_object *job = NULL, *o;
	json_object *st = NULL;
	lr_q_state prev = LR_QS_NONE;
	lr_redis *r;
	lr_err err;
	int rc;

	lr_err_clear(&err);
	if (http_job_get(q, id, &job, &err) < 0)
		return http_problem_err(q, &err);
	if (json_object_object_get_ex(job, "state", &st) &&
	    strcmp(json_object_get_string(st), "submitted") == 0) {
		json_object_put(job);
		snprintf(q->retry_after, sizeof(q->retry_after), "1");
		return http_problem(q, 409, "job %s is being recorded; cancel it again in a moment",
		                    id);
	}
	json_object_put(job);
	if (http_redis(q, &r, &err) < 0)
		return http_problem_err(q, &err);
	rc = lr_q_cancel(&(lr_q){r, &q->srv->cfg.keys}, id, "cancelled over HTTP", &prev, &err);
	if (rc == LR_EINVAL)
		return http_problem(q, 409, "job %s is already final (%s)", id,
		                    lr_q_state_name(prev));
	if (rc < 0)
		return http_problem_err(q, &err);
	o = json_object_new_object();
	if (o == NULL)
		return http_problem(q, 500, "out of memory");
	lr_json_set_str(o, "job_id", id);
	lr_json_set_str(o, "state", "cancelled");
	lr_json_set_str(o, "previous_state", lr_q_state_name(prev));
	return http_json(q, 200, o);
}

enum MHD_Result http_jobs_iteration(http_req *q, const char *id, const char *n)
{
	json_object *job = NULL;
	char key[LR_KEY_MAX], sub[64];
	redisReply *rep = NULL;
	lr_redis *r;
	lr_err err;
	char *end = NULL;
	long it;

	lr_err_clear(&err);
	it = strtol(n, &end, 10);
	if (end == n || *end != '\0' || it < 0 || it > 100000)
		return http_problem(q, 400, "iteration must be a number 0 or more, got '%.32s'", n);
	if (http_job_get(q, id, &job, &err) < 0)
		return http_problem_err(q, &err);
	json_object_put(job);
	if (http_redis(q, &r, &err) < 0)
		return http_problem_err(q, &err);
	snprintf(sub, sizeof(sub), "it:%ld", it);
	if (lr_redis_cmd(r, &rep, &err, "HGETALL %s",
	                 lr_key_job_sub(&q->srv->cfg.keys, key, id, sub)) < 0)
		return http_problem_err(q, &err);
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
		freeReplyObject(rep);
		return http_problem(q, 404, "job %s has no iteration %ld", id, it);
	}
	job = http_hash_json(rep);
	freeReplyObject(rep);
	return http_json(q, 200, job);
}

/* One job hash of a SCAN page as a summary appended to jobs, when it is the
 * caller's and in the state asked for. *added is 1 when it was. */
static int list_one(http_req *q, lr_redis *r, const char *key, const char *want_state,
                    json_object *jobs, int *added, lr_err *err)
{
	static const char *const names[] = {"id",      "kind",    "state",   "passed",
	                                    "summary", "created", "finished"};
	redisReply *h = NULL;
	const char *owner, *state;
	json_object *j;

	*added = 0;
	if (lr_redis_cmd(r, &h, err, "HMGET %s id kind state passed summary created finished owner",
	                 key) < 0)
		return LR_EIO;
	owner = lr_reply_elem_str(h, 7);
	state = lr_reply_elem_str(h, 2);
	if (lr_reply_elem_str(h, 0) == NULL ||
	    (q->owner[0] && (owner == NULL || strcmp(owner, q->owner) != 0)) ||
	    (want_state && (state == NULL || strcmp(state, want_state) != 0))) {
		freeReplyObject(h);
		return 0;
	}
	j = json_object_new_object();
	for (size_t f = 0; j && f < sizeof(names) / sizeof(names[0]); f++) {
		const char *v = lr_reply_elem_str(h, f);

		if (v)
			json_object_object_add(j, names[f], field_value(names[f], v, strlen(v)));
	}
	freeReplyObject(h);
	if (j == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	json_object_array_add(jobs, j);
	*added = 1;
	return 0;
}

/* ?limit, ?cursor and ?state, checked; else the 400 is queued and -1. */
static int list_args(http_req *q, long *limit, char cursor[32], const char **want_state,
                     enum MHD_Result *res)
{
	const char *lim = http_arg(q, "limit");
	const char *cur = http_arg(q, "cursor");
	const char *st = http_arg(q, "state");

	*limit = 50;
	*want_state = st;
	if (lim) {
		char *end = NULL;

		*limit = strtol(lim, &end, 10);
		if (end == lim || *end != '\0' || *limit < 1 || *limit > 1000) {
			*res = http_problem(q, 400, "limit must be 1 to 1000, got '%.32s'", lim);
			return -1;
		}
	}
	if (st && lr_q_state_parse(st) == LR_QS_NONE) {
		*res = http_problem(q, 400, "state must be a job state, got '%.32s'", st);
		return -1;
	}
	snprintf(cursor, 32, "0");
	if (cur) {
		size_t n = strspn(cur, "0123456789");

		if (n == 0 || n > 30 || cur[n] != '\0') {
			*res = http_problem(q, 400, "cursor must be a number from a previous page");
			return -1;
		}
		snprintf(cursor, 32, "%s", cur);
	}
	return 0;
}

/* Up to about `limit` jobs per page, in no particular order (a SCAN over
 * the job hashes); the cursor goes in `next` and a Link header. */
enum MHD_Result http_jobs_list(http_req *q)
{
	const lr_keys *k = &q->srv->cfg.keys;
	const char *want_state = NULL;
	char cursor[32];
	char match[LR_KEY_MAX + 8];
	json_object *out = NULL, *jobs = NULL;
	size_t plen = strlen(k->prefix) + 4; /* "<P>job:" */
	enum MHD_Result res;
	lr_redis *r;
	lr_err err;
	long limit = 50, n = 0;
	int rc = 0;

	lr_err_clear(&err);
	if (list_args(q, &limit, cursor, &want_state, &res) < 0)
		return res;
	if (http_redis(q, &r, &err) < 0)
		return http_problem_err(q, &err);
	snprintf(match, sizeof(match), "%sjob:*", k->prefix);
	out = json_object_new_object();
	jobs = json_object_new_array();
	if (out == NULL || jobs == NULL)
		rc = lr_err_set(&err, LR_ENOMEM, "out of memory");
	for (int round = 0; rc == 0 && round < 32 && n < limit; round++) {
		redisReply *rep = NULL;
		const redisReply *keys;

		rc = lr_redis_cmd(r, &rep, &err, "SCAN %s MATCH %s COUNT %ld", cursor, match,
		                  limit * 4);
		if (rc < 0)
			break;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    !lr_reply_is_str(rep->element[0])) {
			freeReplyObject(rep);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		keys = rep->element[1];
		for (size_t i = 0; rc == 0 && keys->type == REDIS_REPLY_ARRAY && i < keys->elements;
		     i++) {
			const char *kk = lr_reply_elem_str(keys, i);
			int added = 0;

			/* job hashes only, not their :events, :it:<n>, ... */
			if (kk == NULL || strlen(kk) <= plen || strchr(kk + plen, ':') != NULL)
				continue;
			rc = list_one(q, r, kk, want_state, jobs, &added, &err);
			n += added;
		}
		freeReplyObject(rep);
		if (strcmp(cursor, "0") == 0)
			break;
	}
	if (rc < 0) {
		json_object_put(out);
		json_object_put(jobs);
		return http_problem_err(q, &err);
	}
	json_object_object_add(out, "jobs", jobs);
	if (strcmp(cursor, "0") != 0) {
		char next[128];

		snprintf(next, sizeof(next), "/jobs?cursor=%s&limit=%ld%s%s", cursor, limit,
		         want_state ? "&state=" : "", want_state ? want_state : "");
		lr_json_set_str(out, "next", next);
		snprintf(q->link, sizeof(q->link), "<%s>; rel=\"next\"", next);
	} else {
		json_object_object_add(out, "next", NULL);
	}
	return http_json(q, 200, out);
}
