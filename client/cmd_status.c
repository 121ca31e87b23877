/* cmd_status.c - `status`, `wait` and `events`: looking at a job. */
#include "client.h"

#include "clock.h"
#include "json.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int need_id(int argc, char **argv, const char *usage)
{
	if (argc != 2)
		return cli_fail(LR_EXIT_USAGE, "usage: llmrepl %s", usage);
	if (!lr_job_id_valid(argv[1]))
		return cli_fail(LR_EXIT_USAGE, "'%.64s' is not a job id (like 1700000000000-0)",
		                argv[1]);
	return 0;
}

static void print_submitted(cli *c, const char *id)
{
	if (c->o.json)
		printf("{\"id\":\"%s\",\"state\":\"submitted\"}\n", id);
	else
		printf("job %s: submitted (not yet taken by a dispatcher)\n", id);
}

int cmd_status(cli *c, int argc, char **argv)
{
	json_object *job = NULL;
	int rc = need_id(argc, argv, "status <id>");

	if (rc)
		return rc;
	switch (cli_lookup(c, argv[1], &job)) {
	case CLI_JOB: cli_print_job(c, job); break;
	case CLI_SUBMITTED: print_submitted(c, argv[1]); break;
	case CLI_MISSING:
		rc = cli_fail(LR_EXIT_USAGE, "no job %s (never submitted, or expired)", argv[1]);
		break;
	default: rc = LR_EXIT_RUNTIME;
	}
	json_object_put(job);
	return rc;
}

/* Block on the job's events stream for up to ms; *last tracks the position. */
static int wait_events(cli *c, const char *id, char last[64], long ms, redisReply **out)
{
	char key[LR_KEY_MAX];
	lr_redis *r = cli_redis(c);
	lr_err err;
	int rc;

	*out = NULL;
	if (r == NULL)
		return LR_EXIT_RUNTIME;
	lr_err_clear(&err);
	rc = lr_redis_cmd(r, out, &err, "XREAD COUNT 100 BLOCK %ld STREAMS %s %s",
	                  lr_redis_block_ms(r, ms), lr_key_job_sub(&c->keys, key, id, "events"),
	                  last);
	if (rc < 0)
		return cli_fail(LR_EXIT_RUNTIME, "%s", err.msg);
	if ((*out)->type == REDIS_REPLY_ARRAY && (*out)->elements == 1) {
		const redisReply *entries = (*out)->element[0]->element[1];

		if (entries->type == REDIS_REPLY_ARRAY && entries->elements > 0) {
			const char *e =
			    lr_reply_elem_str(entries->element[entries->elements - 1], 0);

			if (e != NULL)
				snprintf(last, 64, "%s", e);
		}
	}
	return 0;
}

int cli_wait_job(cli *c, const char *id, double timeout)
{
	double deadline = timeout > 0 ? lr_now_s() + timeout : 0;
	char last[64] = "0-0";

	for (;;) {
		json_object *job = NULL;
		json_object *st = NULL;
		const char *state = "submitted";
		redisReply *rep = NULL;
		double left;
		int rc;

		switch (cli_lookup(c, id, &job)) {
		case CLI_JOB:
			if (json_object_object_get_ex(job, "state", &st))
				state = json_object_get_string(st);
			if (lr_q_state_final(state)) {
				cli_print_job(c, job);
				rc = cli_job_exit(job);
				json_object_put(job);
				return rc;
			}
			break;
		case CLI_SUBMITTED: break;
		case CLI_MISSING:
			return cli_fail(LR_EXIT_USAGE, "no job %s (never submitted, or expired)",
			                id);
		default: return LR_EXIT_RUNTIME;
		}
		left = deadline > 0 ? deadline - lr_now_s() : 1.0;
		if (deadline > 0 && left <= 0) {
			fprintf(stderr, "llmrepl: timed out waiting for job %s (it is %s)\n", id,
			        state);
			json_object_put(job);
			return LR_EXIT_TIMEOUT;
		}
		json_object_put(job);
		/* Until the job exists its events stream does not either: the
		 * read then just waits, at most a second, and we look again. */
		rc = wait_events(c, id, last, left < 1.0 ? (long)(left * 1000) + 1 : 1000, &rep);
		if (rep)
			freeReplyObject(rep);
		if (rc)
			return rc;
	}
}

int cmd_wait(cli *c, int argc, char **argv)
{
	int rc = need_id(argc, argv, "wait <id> [--timeout S]");

	return rc ? rc : cli_wait_job(c, argv[1], c->o.timeout);
}

static void print_event(cli *c, const redisReply *e, int *final)
{
	const redisReply *f = e->element[1];
	const redisReply *state = lr_reply_field(f, "state");
	const redisReply *type = lr_reply_field(f, "type");
	const redisReply *at = lr_reply_field(f, "at");

	if (lr_reply_is_str(state) && lr_q_state_final(state->str) && lr_reply_is_str(type) &&
	    strcmp(type->str, state->str) == 0)
		*final = 1;
	if (c->o.json) {
		json_object *o = json_object_new_object();

		lr_json_set_str(o, "id", e->element[0]->str);
		for (size_t i = 0; i + 1 < f->elements; i += 2)
			if (lr_reply_is_str(f->element[i]) && lr_reply_is_str(f->element[i + 1]))
				lr_json_set_strn(o, f->element[i]->str, f->element[i + 1]->str,
				                 f->element[i + 1]->len);
		printf("%s\n", json_object_to_json_string_ext(
		                   o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		char when[32] = "";

		if (lr_reply_is_str(at)) {
			long long ms = strtoll(at->str, NULL, 10);
			time_t t = (time_t)(ms / 1000);
			struct tm tm;

			gmtime_r(&t, &tm);
			snprintf(when, sizeof(when), "%02d:%02d:%02d.%03lld", tm.tm_hour, tm.tm_min,
			         tm.tm_sec, ms % 1000);
		}
		printf("%s %-13s", when, lr_reply_is_str(type) ? type->str : "?");
		for (size_t i = 0; i + 1 < f->elements; i += 2) {
			const char *k = lr_reply_elem_str(f, i);
			const char *v = lr_reply_elem_str(f, i + 1);

			if (k && v && strcmp(k, "type") != 0 && strcmp(k, "at") != 0)
				printf(" %s=%s", k, v);
		}
		printf("\n");
	}
	fflush(stdout);
}

int cmd_events(cli *c, int argc, char **argv)
{
	double deadline = c->o.timeout > 0 ? lr_now_s() + c->o.timeout : 0;
	char last[64] = "0-0";
	int final = 0;
	int seen = 0;
	int rc = need_id(argc, argv, "events <id> [--follow] [--timeout S]");

	if (rc)
		return rc;
	for (;;) {
		redisReply *rep = NULL;
		double left = deadline > 0 ? deadline - lr_now_s() : 1.0;
		long ms = c->o.follow ? (left < 1.0 ? (long)(left * 1000) + 1 : 1000) : 1;

		if (deadline > 0 && left <= 0)
			return cli_fail(LR_EXIT_TIMEOUT, "timed out following job %s", argv[1]);
		rc = wait_events(c, argv[1], last, ms, &rep);
		if (rc)
			return rc;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
			const redisReply *entries = rep->element[0]->element[1];

			for (size_t i = 0; i < entries->elements; i++) {
				print_event(c, entries->element[i], &final);
				seen++;
			}
		} else if (!c->o.follow || (seen == 0 && !final)) {
			json_object *job = NULL;
			int found = cli_lookup(c, argv[1], &job);

			json_object_put(job);
			if (found == CLI_ERROR || found == CLI_MISSING) {
				freeReplyObject(rep);
				return found == CLI_ERROR
				           ? LR_EXIT_RUNTIME
				           : cli_fail(LR_EXIT_USAGE,
				                      "no job %s (never submitted, or expired)",
				                      argv[1]);
			}
			if (!c->o.follow) {
				freeReplyObject(rep);
				return LR_EXIT_OK;
			}
		}
		freeReplyObject(rep);
		if (final)
			return LR_EXIT_OK;
	}
}
