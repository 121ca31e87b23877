/* http_session.c - REPL sessions over HTTP:
 *
 *   POST   /sessions              {"idle_timeout_s", "max_cells", "limits"}  -> 201 {"session",
 * ...} POST   /sessions/{id}/exec    {"code"}  -> 200 {"stdout", "stderr", "value", "error", ...}
 *   DELETE /sessions/{id}         -> 200 {"session", "closed": true}
 *
 * Each is a job (session_open, exec, session_close) submitted as the token's
 * owner and waited for (?wait=SECONDS as for the seed's endpoints: when it
 * runs out the answer is 202 with the job's Location). A session that does
 * not exist (closed, idle too long, never opened) is 404. */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v = member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Submit body as a job of kind (for session: its id) and wait. *job is the
 * final job, or NULL with the 202 answer in *out. */
static int run(http_req *q, const char *kind, const char *session, json_object *body,
               json_object **job, json_object **out, unsigned *status, lr_err *err)
{
	double wait_s;

	*job = *out = NULL;
	if (http_wait_arg(q, &wait_s, err) < 0) {
		json_object_put(body);
		*status = 400;
		return LR_EINVAL;
	}
	if (member(body, "kind") || member(body, "session")) {
		json_object_put(body);
		*status = 400;
		return lr_err_set(err, LR_EINVAL,
		                  "fields 'kind' and 'session' are not accepted here: the path "
		                  "says them");
	}
	json_object_object_add(body, "kind", json_object_new_string(kind));
	if (session)
		json_object_object_add(body, "session", json_object_new_string(session));
	return http_submit_wait(q, body, wait_s, job, out, status, err);
}

/* A final job that is not done, or a session that is gone: the problem. */
static int failed(json_object *job, unsigned *status, lr_err *err)
{
	const char *state = str_of(job, "state");
	const char *e = str_of(job, "error");

	if (lr_q_state_parse(state) == LR_QS_DONE) {
		if (e && strstr(e, "does not exist")) {
			*status = 404;
			return lr_err_set(err, LR_ENOTFOUND, "%s", e);
		}
		return 0;
	}
	*status = http_job_end_status(lr_q_state_parse(state));
	return lr_err_set(err, LR_EINVAL, "job %s ended %s: %s", str_of(job, "id"),
	                  state ? state : "?", e ? e : "no reason recorded");
}

static enum MHD_Result reply(http_req *q, json_object *job, json_object *out, unsigned status,
                             int rc, const lr_err *err)
{
	json_object_put(job);
	if (rc < 0) {
		json_object_put(out);
		return http_problem(q, status, "%s", err->msg);
	}
	return http_json(q, status, out);
}

/* The answer from a done job: the session (open), the cell's report (exec:
 * stdout, stderr, value, error, traceback, cell, replayed, timings), or
 * that it is closed. */
static json_object *answer(http_req *q, const char *kind, const char *id, json_object *job,
                           unsigned *status)
{
	int open = strcmp(kind, "session_open") == 0;
	json_object *out =
	    strcmp(kind, "session_close") == 0 ? NULL : json_object_get(member(job, "result"));

	if (out == NULL)
		out = json_object_new_object();
	if (out == NULL)
		return NULL;
	if (strcmp(kind, "exec") == 0)
		json_object_object_add(out, "passed", json_object_get(member(job, "passed")));
	if (strcmp(kind, "session_close") == 0) {
		lr_json_set_str(out, "session", id);
		json_object_object_add(out, "closed", json_object_new_boolean(1));
	}
	lr_json_set_str(out, "job_id", str_of(job, "id"));
	if (open)
		snprintf(q->location, sizeof(q->location), "/sessions/%s", str_of(job, "id"));
	else
		q->location[0] = '\0'; /* the answer is here, not elsewhere */
	*status = open ? 201 : 200;
	return out;
}

/* A session_open, exec (with the request's body) or session_close job. */
static enum MHD_Result session_job(http_req *q, const char *kind, const char *id)
{
	json_object *body = NULL, *job = NULL, *out = NULL;
	unsigned status = 500;
	lr_err err;
	int rc;

	lr_err_clear(&err);
	if (strcmp(kind, "session_close") == 0)
		body = json_object_new_object();
	else if (http_body_object(q, &body, &status, &err) < 0)
		return http_problem(q, status, "%s", err.msg);
	rc = run(q, kind, id, body, &job, &out, &status, &err);
	if (rc == 0 && job != NULL)
		rc = failed(job, &status, &err);
	if (rc == 0 && job != NULL && (out = answer(q, kind, id, job, &status)) == NULL)
		rc = lr_err_set(&err, LR_ENOMEM, "out of memory");
	return reply(q, job, out, status, rc, &err);
}

enum MHD_Result http_sessions(http_req *q, const char *tail)
{
	char id[LR_JOB_ID_MAX + 1];
	const char *slash;
	size_t n;

	if (*tail == '\0')
		return strcmp(q->method, "POST") == 0 ? session_job(q, "session_open", NULL)
		                                      : http_not_allowed(q, "POST");
	slash = strchr(tail, '/');
	n = slash ? (size_t)(slash - tail) : strlen(tail);
	if (n == 0 || n > LR_JOB_ID_MAX)
		return http_problem(q, 404, "no such session '%.48s'", tail);
	memcpy(id, tail, n);
	id[n] = '\0';
	if (!lr_job_id_valid(id))
		return http_problem(q, 404, "no such session '%.48s'", tail);
	if (slash == NULL || slash[1] == '\0')
		return strcmp(q->method, "DELETE") == 0 ? session_job(q, "session_close", id)
		                                        : http_not_allowed(q, "DELETE");
	if (strcmp(slash, "/exec") == 0)
		return strcmp(q->method, "POST") == 0 ? session_job(q, "exec", id)
		                                      : http_not_allowed(q, "POST");
	if (strcmp(slash, "/history") == 0) /* one commit per cell: the open job's history */
		return strcmp(q->method, "GET") == 0 ? http_jobs_history(q, id)
		                                     : http_not_allowed(q, "GET");
	return http_problem(q, 404, "no such path %.200s", q->url);
}
