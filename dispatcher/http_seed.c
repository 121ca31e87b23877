/* http_seed.c - the seed's operations: POST /generate, /evaluate, /refactor
 * (and /loop). Each is a job of that kind, submitted like any other and
 * waited for (?wait=SECONDS, default and cap from the configuration); the
 * answer has the seed's fields first, then job_id, passed and the report.
 * When the wait runs out the answer is 202 with the job's Location. */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The seed's answer from a final job. */
static int answer(const char *kind, json_object *job, json_object **out, unsigned *status,
                  lr_err *err)
{
	const char *state = jstr(job, "state");
	const char *jerr = jstr(job, "error");
	json_object *result = jget(job, "result");
	json_object *passed = jget(job, "passed");
	const char *code = jstr(result, "code");
	json_object *o;

	if (lr_q_state_parse(state) != LR_QS_DONE) {
		/* rejected (another dispatcher's rules), cancelled or dead */
		*status = http_job_end_status(lr_q_state_parse(state));
		return lr_err_set(err, LR_EINVAL, "job %s ended %s: %s", jstr(job, "id"),
		                  state ? state : "?", jerr ? jerr : "no reason recorded");
	}
	o = json_object_new_object();
	if (o == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (strcmp(kind, "evaluate") == 0) {
		const char *e = jerr ? jerr : jstr(result, "error");
		const char *stdout_ = jstr(result, "stdout");

		lr_json_set_bool(o, "success", passed && json_object_get_boolean(passed));
		lr_json_set_str(o, "output", stdout_ ? stdout_ : "");
		lr_json_set_str(o, "error", e ? e : "");
	} else if (strcmp(kind, "refactor") == 0) {
		lr_json_set_str(o, "refactored_code", code ? code : "");
	} else {
		lr_json_set_str(o, "code", code ? code : "");
	}
	lr_json_set_str(o, "job_id", jstr(job, "id"));
	json_object_object_add(o, "passed", json_object_get(passed));
	if (strcmp(kind, "evaluate") != 0 && jerr)
		lr_json_set_str(o, "error", jerr);
	if (jstr(job, "summary"))
		lr_json_set_str(o, "summary", jstr(job, "summary"));
	json_object_object_add(o, "report", json_object_get(result));
	*out = o;
	*status = 200;
	return 0;
}

int http_seed_run(http_req *q, const char *kind, json_object *body, double wait_s,
                  json_object **out, int *pending, unsigned *status, lr_err *err)
{
	json_object *job = NULL;
	int rc;

	*out = NULL;
	*pending = 0;
	if (json_object_object_get_ex(body, "kind", NULL)) {
		json_object_put(body);
		*status = 400;
		return lr_err_set(err, LR_EINVAL,
		                  "field 'kind' is not accepted here: the path is "
		                  "the kind");
	}
	json_object_object_add(body, "kind", json_object_new_string(kind));
	rc = http_submit_wait(q, body, wait_s, &job, out, status, err);
	if (rc < 0 || job == NULL) {
		*pending = rc == 0;
		return rc;
	}
	rc = answer(kind, job, out, status, err);
	json_object_put(job);
	if (rc == 0)
		q->location[0] = '\0'; /* the answer is here, not elsewhere */
	return rc;
}

enum MHD_Result http_seed(http_req *q, const char *kind)
{
	json_object *body = NULL, *out = NULL;
	double wait_s;
	unsigned status = 500;
	int pending = 0;
	lr_err err;

	lr_err_clear(&err);
	if (http_wait_arg(q, &wait_s, &err) < 0)
		return http_problem(q, 400, "%s", err.msg);
	if (http_body_object(q, &body, &status, &err) < 0)
		return http_problem(q, status, "%s", err.msg);
	if (http_seed_run(q, kind, body, wait_s, &out, &pending, &status, &err) < 0)
		return http_problem(q, status, "%s", err.msg);
	return http_json(q, status, out);
}
