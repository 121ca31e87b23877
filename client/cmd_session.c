/* cmd_session.c - `llmrepl session open|exec|close`: REPL sessions.
 *
 *   llmrepl session open [--limit-timeout-s S] [--limit-memory-mb MB]   prints the id
 *   llmrepl session exec <id> --code CODE     the cell's output, then its value
 *   llmrepl session close <id>
 *
 * Each is a job (session_open, exec, session_close) submitted and waited for;
 * --json prints the job instead. */
#include "client.h"
#include "clock.h"
#include "json.h"
#include "queue.h"

#include <stdio.h>
#include <string.h>

#define POLL_MS 2

/* Submit spec, wait until its job is final; *job (caller puts) or an exit code. */
static int run_job(cli *c, json_object *spec, json_object **job)
{
	char key[LR_KEY_MAX], id[LR_JOB_ID_MAX + 1];
	const char *text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);
	double deadline = c->o.timeout > 0 ? lr_now_s() + c->o.timeout : 0;
	redisReply *rep = NULL;
	lr_redis *r = cli_redis(c);
	lr_err err;

	*job = NULL;
	if (r == NULL)
		return LR_EXIT_RUNTIME;
	lr_err_clear(&err);
	if (lr_redis_cmd(r, &rep, &err, "XADD %s * spec %s", lr_key(&c->keys, key, "requests"),
	                 text) < 0 ||
	    !lr_reply_is_str(rep)) {
		int rc =
		    cli_fail(LR_EXIT_RUNTIME, "%s", rep ? "unexpected reply to XADD" : err.msg);

		if (rep)
			freeReplyObject(rep);
		return rc;
	}
	snprintf(id, sizeof(id), "%s", rep->str);
	freeReplyObject(rep);
	for (;;) {
		int found = cli_lookup(c, id, job);

		if (found == CLI_ERROR)
			return LR_EXIT_RUNTIME;
		if (found == CLI_MISSING)
			return cli_fail(LR_EXIT_USAGE, "job %s vanished", id);
		if (found == CLI_JOB &&
		    lr_q_state_final(lr_json_str(*job, "state") ? lr_json_str(*job, "state") : ""))
			return 0;
		json_object_put(*job);
		*job = NULL;
		if (deadline > 0 && lr_now_s() > deadline)
			return cli_fail(LR_EXIT_TIMEOUT, "timed out waiting for job %s", id);
		lr_sleep_ms(POLL_MS);
	}
}

static int finish(cli *c, json_object *job, const char *out)
{
	const char *err = lr_json_str(job, "error");
	int rc = cli_job_exit(job);

	if (c->o.json) {
		cli_print_job(c, job);
	} else {
		if (out && *out)
			printf("%s\n", out);
		if (rc != 0)
			fprintf(stderr, "llmrepl: %s\n", err && *err ? err : "failed");
	}
	json_object_put(job);
	return rc;
}

static int do_open(cli *c)
{
	json_object *spec = json_object_new_object();
	json_object *lim = json_object_new_object();
	json_object *job = NULL;
	int rc;

	lr_json_set_str(spec, "kind", "session_open");
	if (c->o.limit_timeout_s > 0)
		lr_json_set_num(lim, "timeout_s", c->o.limit_timeout_s);
	if (c->o.limit_memory_mb > 0)
		lr_json_set_int(lim, "memory_mb", c->o.limit_memory_mb);
	json_object_object_add(spec, "limits", lim);
	rc = run_job(c, spec, &job);
	json_object_put(spec);
	return rc ? rc : finish(c, job, lr_json_str(job, "session"));
}

static int do_exec(cli *c, const char *id)
{
	json_object *spec = json_object_new_object();
	json_object *job = NULL;
	const char *s;
	int rc;

	if (c->o.code == NULL)
		return cli_fail(LR_EXIT_USAGE, "usage: llmrepl session exec <id> --code CODE");
	lr_json_set_str(spec, "kind", "exec");
	lr_json_set_str(spec, "session", id);
	lr_json_set_str(spec, "code", c->o.code);
	rc = run_job(c, spec, &job);
	json_object_put(spec);
	if (rc)
		return rc;
	if (!c->o.json) {
		if ((s = lr_json_str(job, "stdout")) != NULL)
			fputs(s, stdout);
		if ((s = lr_json_str(job, "stderr")) != NULL)
			fputs(s, stderr);
	}
	s = lr_json_str(job, "value");
	return finish(c, job, s && *s ? s : NULL);
}

static int do_close(cli *c, const char *id)
{
	json_object *spec = json_object_new_object();
	json_object *job = NULL;
	int rc;

	lr_json_set_str(spec, "kind", "session_close");
	lr_json_set_str(spec, "session", id);
	rc = run_job(c, spec, &job);
	json_object_put(spec);
	return rc ? rc : finish(c, job, NULL);
}

int cmd_session(cli *c, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "open") == 0)
		return do_open(c);
	if (argc == 3 && strcmp(argv[1], "exec") == 0)
		return do_exec(c, argv[2]);
	if (argc == 3 && strcmp(argv[1], "close") == 0)
		return do_close(c, argv[2]);
	return cli_fail(LR_EXIT_USAGE,
	                "usage: llmrepl session open | exec <id> --code CODE | close <id>");
}
