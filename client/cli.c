/* cli.c - what the client's subcommands share: the connection, reading a
 * job, printing it. */
#include "client.h"

#include "json.h"
#include "queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "llmrepl: %s\n", msg);
	return code;
}

lr_redis *cli_redis(cli *c)
{
	lr_redis_opts o = {0};
	lr_err err;

	if (c->r != NULL)
		return c->r;
	lr_err_clear(&err);
	o.url = c->o.redis_url;
	o.password = c->o.redis_password;
	o.client_name = "llmrepl-client";
	o.wait_replicas = c->o.wait_replicas;
	if (lr_redis_open(&c->r, &o, &err) < 0) {
		cli_fail(LR_EXIT_RUNTIME, "%s", err.msg);
		return NULL;
	}
	return c->r;
}

json_object *cli_job_json(cli *c, const char *id, int *found)
{
	char key[LR_KEY_MAX];
	lr_redis *r = cli_redis(c);
	redisReply *rep = NULL;
	json_object *o = NULL;
	lr_err err;

	*found = 0;
	if (r == NULL)
		return NULL;
	lr_err_clear(&err);
	if (lr_redis_cmd(r, &rep, &err, "HGETALL %s", lr_key_job(&c->keys, key, id)) < 0) {
		cli_fail(LR_EXIT_RUNTIME, "%s", err.msg);
		return NULL;
	}
	o = json_object_new_object();
	if (o == NULL || rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		json_object_put(o);
		cli_fail(LR_EXIT_RUNTIME, "unexpected reply reading job %s", id);
		return NULL;
	}
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const char *f = lr_reply_elem_str(rep, i);
		const redisReply *v = rep->element[i + 1];
		json_object *parsed = NULL;

		if (f == NULL || !lr_reply_is_str(v))
			continue;
		if ((strcmp(f, "result") == 0 || strcmp(f, "spec") == 0) && v->len > 0 &&
		    lr_json_parse(&parsed, v->str, v->len, 0, 64, NULL) == 0)
			lr_json_set_obj(o, f, parsed);
		else
			lr_json_set_strn(o, f, v->str, v->len);
	}
	*found = rep->elements > 0;
	freeReplyObject(rep);
	return o;
}

int cli_request_pending(cli *c, const char *id)
{
	char key[LR_KEY_MAX];
	lr_redis *r = cli_redis(c);
	redisReply *rep = NULL;
	lr_err err;
	int pending;

	if (r == NULL)
		return -1;
	lr_err_clear(&err);
	if (lr_redis_cmd(r, &rep, &err, "XRANGE %s %s %s COUNT 1",
	                 lr_key(&c->keys, key, "requests"), id, id) < 0) {
		cli_fail(LR_EXIT_RUNTIME, "%s", err.msg);
		return -1;
	}
	pending = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0;
	freeReplyObject(rep);
	return pending;
}

int cli_lookup(cli *c, const char *id, json_object **job)
{
	int found = 0;
	int pending;

	*job = cli_job_json(c, id, &found);
	if (*job == NULL)
		return CLI_ERROR;
	if (found)
		return CLI_JOB;
	json_object_put(*job);
	*job = NULL;
	pending = cli_request_pending(c, id);
	if (pending != 0)
		return pending > 0 ? CLI_SUBMITTED : CLI_ERROR;
	/* Not pending any more: recorded in between, or gone. */
	*job = cli_job_json(c, id, &found);
	if (*job == NULL)
		return CLI_ERROR;
	if (found)
		return CLI_JOB;
	json_object_put(*job);
	*job = NULL;
	return CLI_MISSING;
}

int cli_job_exit(json_object *job)
{
	const char *state = lr_json_str(job, "state");
	const char *passed = lr_json_str(job, "passed");

	return lr_q_state_parse(state) == LR_QS_DONE && passed && strcmp(passed, "1") == 0
	           ? LR_EXIT_OK
	           : LR_EXIT_FAIL;
}

void cli_print_job(cli *c, json_object *job)
{
	static const char *const order[] = {
	    "kind",        "attempt",      "failures", "worker", "summary",
	    "error",       "last_failure", "notes",    "score",  "tests_passed",
	    "tests_total", "stop_reason",  NULL};
	const char *state = lr_json_str(job, "state");
	const char *passed = lr_json_str(job, "passed");
	const char *id = lr_json_str(job, "id");
	json_object *result = NULL;

	if (c->o.json) {
		printf("%s\n", json_object_to_json_string_ext(
		                   job, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		return;
	}
	printf("job %s: %s", id ? id : "?", state ? state : "?");
	if (lr_q_state_parse(state) == LR_QS_DONE)
		printf(", %s", passed && strcmp(passed, "1") == 0 ? "passed" : "not passed");
	printf("\n");
	for (size_t i = 0; order[i]; i++) {
		const char *v = lr_json_str(job, order[i]);

		if (v != NULL && *v != '\0')
			printf("  %-13s %s\n", order[i], v);
	}
	if (json_object_object_get_ex(job, "result", &result) &&
	    json_object_is_type(result, json_type_object))
		printf("  result        %s\n",
		       json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY |
		                                                  JSON_C_TO_STRING_SPACED |
		                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
}
