/* cmd_git.c - `log` and `export`: a job's git history. */
#include "client.h"

#include "gitstore.h"
#include "queue.h"

#include <stdio.h>

/* Exit code for a store error: no such history or bad input is the user's
 * (2), anything else infrastructure (3). */
static int git_exit(const lr_err *err)
{
	int code =
	    err->code == LR_ENOTFOUND || err->code == LR_EINVAL ? LR_EXIT_USAGE : LR_EXIT_RUNTIME;

	return cli_fail(code, "%s", err->msg);
}

/* Open job `id`'s history read-only on the client's connection; an exit
 * code (the error printed) when the id is not one or that fails. */
static int open_store(gitstore **gs, cli *c, const char *id, lr_err *err)
{
	gitstore_opts o;
	lr_redis *r;

	if (!lr_job_id_valid(id))
		return cli_fail(LR_EXIT_USAGE, "'%.64s' is not a job id (like 1700000000000-0)",
		                id);
	r = cli_redis(c);
	if (r == NULL)
		return LR_EXIT_RUNTIME;
	gitstore_opts_init(&o);
	o.prefix = c->keys.prefix;
	if (gitstore_open(gs, r, id, 0, &o, err) < 0)
		return git_exit(err);
	return 0;
}

static int print_json(gitstore *gs, lr_err *err)
{
	gitstore_entry *v = NULL;
	json_object *arr;
	size_t n = 0, i;

	if (gitstore_log(&v, &n, gs, 0, err) < 0)
		return git_exit(err);
	arr = json_object_new_array();
	for (i = 0; arr != NULL && i < n; i++) {
		json_object *e = json_object_new_object();

		if (e == NULL)
			break;
		json_object_object_add(e, "commit", json_object_new_string(v[i].oid));
		json_object_object_add(e, "iteration", json_object_new_int64(v[i].iteration));
		json_object_object_add(e, "attempt", json_object_new_int64(v[i].attempt));
		json_object_object_add(e, "time", json_object_new_int64(v[i].time));
		json_object_object_add(e, "accepted", json_object_new_boolean(v[i].accepted));
		json_object_object_add(e, "subject", json_object_new_string(v[i].subject));
		json_object_array_add(arr, e);
	}
	gitstore_log_free(v, n);
	if (arr == NULL || json_object_array_length(arr) != n) {
		json_object_put(arr);
		return cli_fail(LR_EXIT_RUNTIME, "out of memory");
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	return 0;
}

/* An empty history is normal for a job that has not committed yet; for a
 * job that does not exist it is an error. 1 exists, 0 not, -1 Redis. */
static int job_exists(cli *c, const char *id)
{
	char key[LR_KEY_MAX];
	redisReply *r = NULL;
	int ret = -1;

	if (lr_redis_cmd(c->r, &r, NULL, "EXISTS %s", lr_key_job(&c->keys, key, id)) < 0)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		ret = r->integer > 0;
	freeReplyObject(r);
	return ret;
}

static int print_log(gitstore *gs, cli *c, const char *id, lr_err *err)
{
	gitstore_entry head;
	int rc2 = gitstore_head(&head, gs, err);

	gitstore_entry_clear(&head);
	if (rc2 == LR_ENOTFOUND) {
		int ex = job_exists(c, id);

		if (ex < 0)
			return cli_fail(LR_EXIT_RUNTIME, "redis: cannot check job %s", id);
		if (ex == 0)
			return cli_fail(LR_EXIT_USAGE, "no job %s (never submitted, or expired)",
			                id);
	} else if (rc2 < 0) {
		return git_exit(err);
	}
	if (c->o.json)
		return print_json(gs, err);
	if (gitstore_log_print(gs, stdout, err) < 0)
		return git_exit(err);
	return 0;
}

int cmd_log(cli *c, int argc, char **argv)
{
	gitstore *gs = NULL;
	lr_err err;
	int ret;

	if (argc != 2)
		return cli_fail(LR_EXIT_USAGE, "usage: llmrepl log <id>");
	lr_err_clear(&err);
	ret = open_store(&gs, c, argv[1], &err);
	if (ret == 0)
		ret = print_log(gs, c, argv[1], &err);
	gitstore_free(gs);
	return ret;
}

int cmd_export(cli *c, int argc, char **argv)
{
	gitstore *gs = NULL;
	lr_err err;
	int ret;

	if (argc != 3)
		return cli_fail(LR_EXIT_USAGE, "usage: llmrepl export <id> <dir>");
	lr_err_clear(&err);
	ret = open_store(&gs, c, argv[1], &err);
	if (ret == 0 && gitstore_export(gs, argv[2], &err) < 0)
		ret = git_exit(&err);
	else if (ret == 0)
		printf("%s\n", argv[2]);
	gitstore_free(gs);
	return ret;
}
