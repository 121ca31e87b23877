/* cmd_submit.c - `submit`: a spec from a file, stdin or flags, onto the
 * requests stream. The dispatcher validates it; the reply is the job id. */
#include "client.h"

#include "buf.h"
#include "iotests.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUBMIT_MAX ((size_t)64 << 20) /* the dispatcher's own cap is usually far lower */

static int read_all(lr_buf *b, const char *path)
{
	char chunk[65536];
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return cli_fail(LR_EXIT_USAGE, "cannot open %s: %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || lr_buf_append(b, chunk, (size_t)n) < 0) {
			int over = n >= 0;

			if (fd != STDIN_FILENO)
				close(fd);
			return over ? cli_fail(LR_EXIT_USAGE, "%s is over %zu bytes", path, b->max)
			            : cli_fail(LR_EXIT_USAGE, "reading %s: %s", path,
			                       strerror(errno));
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (b->data == NULL && lr_buf_append(b, "", 0) < 0)
		return cli_fail(LR_EXIT_RUNTIME, "out of memory");
	return 0;
}

/* A text field from --x or --x-file. */
static int text_field(json_object *spec, const char *key, const char *text, const char *file)
{
	lr_buf b;
	int rc;

	if (file == NULL || *file == '\0')
		return text ? lr_json_set_str(spec, key, text) : 0;
	lr_buf_init(&b, SUBMIT_MAX);
	rc = read_all(&b, file);
	if (rc == 0 && lr_json_set_strn(spec, key, b.data, b.len) < 0)
		rc = cli_fail(LR_EXIT_RUNTIME, "out of memory");
	lr_buf_free(&b);
	return rc;
}

/* tests from --io-tests FILE: checked here, so a mistake is named at once. */
static int io_tests_field(json_object *spec, const char *file)
{
	lr_iotests io;
	json_object *o;
	lr_buf b;
	lr_err err;
	int rc;

	lr_buf_init(&b, SUBMIT_MAX);
	rc = read_all(&b, file);
	if (rc == 0 && lr_iotests_parse(&io, b.data, b.len, SUBMIT_MAX, &err) < 0)
		rc = cli_fail(LR_EXIT_USAGE, "%s: %s", file, err.msg);
	lr_buf_free(&b);
	if (rc)
		return rc;
	o = lr_iotests_to_json(&io);
	lr_iotests_free(&io);
	if (o == NULL || lr_json_set_obj(spec, "tests", o) < 0)
		return cli_fail(LR_EXIT_RUNTIME, "out of memory");
	return 0;
}

/* items from --batch FILE: one JSON object a line (blank lines skipped). The
 * dispatcher checks the items; here only each line's JSON is. */
static int items_field(json_object *spec, const char *file)
{
	json_object *items = json_object_new_array();
	lr_buf b;
	lr_err err;
	size_t line = 0;
	int rc;

	if (items == NULL)
		return cli_fail(LR_EXIT_RUNTIME, "out of memory");
	lr_buf_init(&b, SUBMIT_MAX);
	rc = read_all(&b, file);
	for (char *p = b.data; rc == 0 && p != NULL && *p;) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_object *o = NULL;

		line++;
		if (strspn(p, " \t\r") < len) {
			if (lr_json_parse(&o, p, len, SUBMIT_MAX, 16, &err) < 0)
				rc = cli_fail(LR_EXIT_USAGE, "%s:%zu: %s", file, line, err.msg);
			else if (json_object_array_add(items, o) < 0)
				rc = cli_fail(LR_EXIT_RUNTIME, "out of memory");
		}
		p = nl ? nl + 1 : NULL;
	}
	lr_buf_free(&b);
	if (rc == 0 && lr_json_set_obj(spec, "items", items) < 0)
		return cli_fail(LR_EXIT_RUNTIME, "out of memory");
	if (rc != 0)
		json_object_put(items);
	return rc;
}

/* The texts of an evaluate, generate or refactor job, or a batch's items. */
static int texts_from_flags(cli *c, json_object *spec)
{
	int rc;

	if (c->o.batch_file && *c->o.batch_file) {
		rc = lr_json_set_str(spec, "kind", "batch");
		return rc == 0 ? items_field(spec, c->o.batch_file) : rc;
	}
	rc = lr_json_set_str(spec, "kind", c->o.kind && *c->o.kind ? c->o.kind : "evaluate");
	if (rc == 0)
		rc = text_field(spec, "code", c->o.code, c->o.code_file);
	if (rc == 0 && c->o.io_tests_file && *c->o.io_tests_file)
		rc = io_tests_field(spec, c->o.io_tests_file);
	else if (rc == 0)
		rc = text_field(spec, "tests", c->o.tests, c->o.tests_file);
	if (rc == 0)
		rc = text_field(spec, "prompt", c->o.prompt, c->o.prompt_file);
	if (rc == 0)
		rc = text_field(spec, "feedback", c->o.feedback, NULL);
	if (rc == 0 && c->o.entry_point && *c->o.entry_point)
		rc = lr_json_set_str(spec, "entry_point", c->o.entry_point);
	return rc;
}

static int spec_from_flags(cli *c, lr_buf *out)
{
	json_object *spec = json_object_new_object();
	json_object *lim = NULL;
	char *s;
	int rc;

	if (spec == NULL)
		return cli_fail(LR_EXIT_RUNTIME, "out of memory");
	rc = texts_from_flags(c, spec);
	if (rc == 0 && (c->o.limit_timeout_s > 0 || c->o.limit_memory_mb > 0)) {
		lim = json_object_new_object();
		if (lim == NULL)
			rc = LR_ENOMEM;
		if (rc == 0 && c->o.limit_timeout_s > 0)
			rc = lr_json_set_num(lim, "timeout_s", c->o.limit_timeout_s);
		if (rc == 0 && c->o.limit_memory_mb > 0)
			rc = lr_json_set_int(lim, "memory_mb", c->o.limit_memory_mb);
		if (rc == 0)
			rc = lr_json_set_obj(spec, "limits", lim);
		else
			json_object_put(lim);
	}
	if (rc == 0 && c->o.criteria && *c->o.criteria) {
		json_object *crit = NULL;
		lr_err err;

		if (lr_json_parse(&crit, c->o.criteria, strlen(c->o.criteria), 65536, 8, &err) <
		    0) {
			json_object_put(spec);
			return cli_fail(LR_EXIT_USAGE, "--criteria: %s", err.msg);
		}
		rc = lr_json_set_obj(spec, "criteria", crit);
	}
	if (rc > 0) { /* an exit code from text_field */
		json_object_put(spec);
		return rc;
	}
	s = rc == 0 ? lr_json_dump(spec) : NULL;
	json_object_put(spec);
	if (s == NULL)
		return cli_fail(LR_EXIT_RUNTIME, "out of memory");
	rc = lr_buf_puts(out, s) < 0 ? cli_fail(LR_EXIT_USAGE, "spec too big") : 0;
	free(s);
	return rc;
}

int cmd_submit(cli *c, int argc, char **argv)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	lr_redis *r;
	lr_buf spec;
	lr_err err;
	int rc;

	if (argc > 2)
		return cli_fail(LR_EXIT_USAGE,
		                "usage: llmrepl submit [SPEC_FILE|-] [--wait] [flags]");
	lr_buf_init(&spec, SUBMIT_MAX);
	if (argc == 2)
		rc = read_all(&spec, argv[1]);
	else if (c->o.code == NULL && c->o.code_file == NULL && c->o.prompt == NULL &&
	         c->o.prompt_file == NULL && c->o.batch_file == NULL)
		rc = cli_fail(LR_EXIT_USAGE,
		              "give a spec file (or - for stdin), or --code/--code-file, "
		              "--prompt/--prompt-file or --batch (see --help)");
	else
		rc = spec_from_flags(c, &spec);
	if (rc)
		goto cleanup;
	r = cli_redis(c);
	if (r == NULL) {
		rc = LR_EXIT_RUNTIME;
		goto cleanup;
	}
	lr_err_clear(&err);
	if (lr_redis_cmd(r, &rep, &err, "XADD %s * spec %b", lr_key(&c->keys, key, "requests"),
	                 spec.data, spec.len) < 0 ||
	    !lr_reply_is_str(rep)) {
		rc = cli_fail(LR_EXIT_RUNTIME, "%s", rep ? "unexpected reply to XADD" : err.msg);
		goto cleanup;
	}
	if (lr_redis_wait_replicas(r, &err) < 0)
		fprintf(stderr, "llmrepl: warning: %s\n", err.msg);
	if (c->o.wait) {
		if (!c->o.json)
			fprintf(stderr, "submitted %s\n", rep->str);
		rc = cli_wait_job(c, rep->str, c->o.timeout);
	} else if (c->o.json) {
		printf("{\"id\":\"%s\"}\n", rep->str);
	} else {
		printf("%s\n", rep->str);
	}
cleanup:
	if (rep)
		freeReplyObject(rep);
	lr_buf_free(&spec);
	return rc;
}
