/* cmd_cancel.c - `cancel` and `stats`: acting on the queue. */
#include "client.h"

#include "clock.h"
#include "json.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_cancel(cli *c, int argc, char **argv)
{
	lr_q_state prev = LR_QS_NONE;
	lr_q q = {NULL, &c->keys};
	lr_err err;
	int pending;
	int rc;

	if (argc != 2)
		return cli_fail(LR_EXIT_USAGE, "usage: llmrepl cancel <id>");
	q.r = cli_redis(c);
	if (q.r == NULL)
		return LR_EXIT_RUNTIME;
	/* A request not yet taken by a dispatcher has no job to cancel yet:
	 * give the dispatcher a moment to record it. */
	for (int tries = 0;; tries++) {
		lr_err_clear(&err);
		rc = lr_q_cancel(&q, argv[1], "llmrepl cancel", &prev, &err);
		if (rc != LR_ENOTFOUND || tries >= 50)
			break;
		pending = cli_request_pending(c, argv[1]);
		if (pending < 0)
			return LR_EXIT_RUNTIME;
		if (pending == 0) {
			/* Recorded between the two looks, or gone: once more. */
			lr_err_clear(&err);
			rc = lr_q_cancel(&q, argv[1], "llmrepl cancel", &prev, &err);
			break;
		}
		lr_sleep_ms(100);
	}
	if (rc == 0) {
		if (c->o.json)
			printf("{\"id\":\"%s\",\"state\":\"cancelled\",\"was\":\"%s\"}\n", argv[1],
			       lr_q_state_name(prev));
		else
			printf("job %s: cancelled (was %s)\n", argv[1], lr_q_state_name(prev));
		return LR_EXIT_OK;
	}
	if (rc == LR_EINVAL && prev != LR_QS_NONE)
		return cli_fail(LR_EXIT_FAIL, "%s", err.msg);
	return cli_fail(rc == LR_EIO ? LR_EXIT_RUNTIME : LR_EXIT_USAGE, "%s", err.msg);
}

/* One integer-ish reply to a command, -1 when it failed. */
static long long count(lr_redis *r, const char *cmd, const char *key)
{
	redisReply *rep = NULL;
	long long v = -1;
	lr_err err;

	if (lr_redis_cmd(r, &rep, &err, "%s %s", cmd, key) == 0) {
		if (rep->type == REDIS_REPLY_INTEGER)
			v = rep->integer;
		else if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
		         rep->element[0]->type == REDIS_REPLY_INTEGER)
			v = rep->element[0]->integer; /* XPENDING summary */
		freeReplyObject(rep);
	}
	return v;
}

/* A worker that cannot make progress says why in its record. */
static void worker_problem(lr_redis *r, const lr_keys *k, const char *name, json_object *w)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	lr_err err;

	if (lr_redis_cmd(r, &rep, &err, "HGET %s problem", lr_key_worker(k, key, name)) < 0)
		return;
	if (rep->type == REDIS_REPLY_STRING && rep->len > 0)
		lr_json_set_str(w, "problem", rep->str);
	freeReplyObject(rep);
}

/* The live workers, with how long ago each was seen by the server's clock. */
static json_object *workers_json(cli *c, lr_redis *r)
{
	json_object *workers = json_object_new_array();
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	long long now_ms = 0;
	lr_err err;

	if (workers == NULL)
		return NULL;
	if (lr_redis_cmd(r, &rep, &err, "TIME") == 0) {
		now_ms =
		    strtoll(lr_reply_elem_str(rep, 0) ? lr_reply_elem_str(rep, 0) : "0", NULL, 10) *
		        1000 +
		    strtoll(lr_reply_elem_str(rep, 1) ? lr_reply_elem_str(rep, 1) : "0", NULL, 10) /
		        1000;
		freeReplyObject(rep);
	}
	if (lr_redis_cmd(r, &rep, &err, "ZRANGE %s 0 -1 WITHSCORES",
	                 lr_key(&c->keys, key, "workers")) < 0)
		return workers;
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		json_object *w = json_object_new_object();
		const char *name = lr_reply_elem_str(rep, i);
		const char *seen = lr_reply_elem_str(rep, i + 1);

		if (w == NULL || name == NULL || seen == NULL) {
			json_object_put(w);
			continue;
		}
		lr_json_set_str(w, "name", name);
		lr_json_set_int(w, "seen_ms_ago", (long)(now_ms - strtoll(seen, NULL, 10)));
		worker_problem(r, &c->keys, name, w);
		json_object_array_add(workers, w);
	}
	freeReplyObject(rep);
	return workers;
}

/* The counters for people: one line each, the workers one per line. */
static void print_stats(json_object *o)
{
	json_object_object_foreach(o, k, v)
	{
		if (!json_object_is_type(v, json_type_array)) {
			printf("%-22s %s\n", k, json_object_get_string(v));
			continue;
		}
		printf("%-22s %zu\n", k, json_object_array_length(v));
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *w = json_object_array_get_idx(v, i);
			const char *p = lr_json_str(w, "problem");

			printf("  %-40s seen %.1f s ago%s%s\n", lr_json_str(w, "name"),
			       (double)lr_json_int(w, "seen_ms_ago", 0) / 1000.0,
			       p ? "; PROBLEM: " : "", p ? p : "");
		}
	}
}

int cmd_stats(cli *c, int argc, char **argv)
{
	static const char *const sizes[][3] = {
	    {"requests_waiting", "XLEN", "requests"}, {"work_stream", "XLEN", "jobs"},
	    {"delayed", "ZCARD", "delayed"},          {"leases", "ZCARD", "leases"},
	    {"dead_letters", "XLEN", "dead"},
	};
	char key[LR_KEY_MAX];
	json_object *o = json_object_new_object();
	json_object *workers;
	redisReply *rep = NULL;
	lr_redis *r;
	lr_err err;

	(void)argv;
	if (argc != 1 || o == NULL) {
		json_object_put(o);
		return cli_fail(LR_EXIT_USAGE, "usage: llmrepl stats");
	}
	r = cli_redis(c);
	if (r == NULL ||
	    lr_redis_cmd(r, &rep, &err, "HGETALL %s", lr_key(&c->keys, key, "stats")) < 0) {
		json_object_put(o);
		return r ? cli_fail(LR_EXIT_RUNTIME, "%s", err.msg) : LR_EXIT_RUNTIME;
	}
	for (size_t i = 0; i + 1 < rep->elements; i += 2)
		if (lr_reply_is_str(rep->element[i]) && lr_reply_is_str(rep->element[i + 1]))
			lr_json_set_int(o, rep->element[i]->str,
			                strtol(rep->element[i + 1]->str, NULL, 10));
	freeReplyObject(rep);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		lr_json_set_int(o, sizes[i][0],
		                (long)count(r, sizes[i][1], lr_key(&c->keys, key, sizes[i][2])));
	if (lr_redis_cmd(r, &rep, &err, "XPENDING %s %s", lr_key(&c->keys, key, "jobs"),
	                 LR_GROUP_WORKERS) == 0) {
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
		    rep->element[0]->type == REDIS_REPLY_INTEGER)
			lr_json_set_int(o, "work_pending", (long)rep->element[0]->integer);
		freeReplyObject(rep);
	}
	workers = workers_json(c, r);
	if (workers != NULL)
		lr_json_set_obj(o, "workers", workers);
	if (c->o.json)
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	else
		print_stats(o);
	json_object_put(o);
	return LR_EXIT_OK;
}
