/* gitstore_cli.c - drives the git store API from the pytest suite (tests/git).
 *
 * gitstore_cli [-p PORT] [-P PREFIX] [-t FIXED_TIME] [-m MAX_FILE] [-r 1] JOB ATTEMPT CMD ARGS...
 *   commit ITER SUMMARY NAME=PATH...  "committed <oid>" or "existed <oid>"
 *   run FIRST LAST [DELAY_MS]          a worker's loop: resume from the head, then
 *                                      commit iterations up to LAST ("committed <n> <oid>")
 *   tag COMMIT|- [MESSAGE]             "tagged <oid>" or "existed <oid>"
 *   head | find ITER | accepted        "<oid> <iteration> <attempt> <accepted> <subject>"
 *   read COMMIT|- OUTDIR               the commit's files into OUTDIR, then the head line
 *   log                                gitstore_log_print
 *   export DIR
 *   push URL REF|- passed|failed [force]
 * Errors: "error <name>: <message>" on stderr, exit 1. */
#include "clock.h"
#include "err.h"
#include "gitstore.h"
#include "redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s) {
		fprintf(stderr, "not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static int fail(const lr_err *e)
{
	fprintf(stderr, "error %s: %s\n", lr_err_name(e->code), e->msg);
	return 1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (buf == NULL)
				exit(2);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

static void print_entry(const gitstore_entry *e)
{
	printf("%s %ld %ld %d %s\n", e->oid, e->iteration, e->attempt, e->accepted, e->subject);
}

static int retry_on_line; /* -r 1: a failed commit is tried again after a line on stdin */

static int cmd_commit(gitstore *gs, int argc, char **argv)
{
	gitstore_file files[GITSTORE_MAX_FILES];
	char *bufs[GITSTORE_MAX_FILES] = {0};
	gitstore_commit_req req = {0};
	char oid[GITSTORE_OID_HEX + 1];
	lr_err e = {0};
	int existed = 0, i, rc;

	if (argc < 2 || argc - 2 > GITSTORE_MAX_FILES)
		return 2;
	req.iteration = num(argv[0]);
	req.summary = argv[1];
	for (i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			return 2;
		*eq = '\0';
		files[i - 2].name = argv[i];
		bufs[i - 2] = slurp(eq + 1, &files[i - 2].len);
		files[i - 2].data = bufs[i - 2];
	}
	req.files = files;
	req.nfiles = (size_t)(argc - 2);
	rc = gitstore_commit(oid, &existed, gs, &req, &e);
	if (rc < 0 && retry_on_line) {
		/* The same store, the same content, once more when told to. */
		char line[16];

		fail(&e);
		fflush(stderr);
		if (fgets(line, sizeof(line), stdin) != NULL)
			rc = gitstore_commit(oid, &existed, gs, &req, &e);
	}
	for (i = 0; i < GITSTORE_MAX_FILES; i++)
		free(bufs[i]);
	if (rc < 0)
		return fail(&e);
	printf("%s %s\n", existed ? "existed" : "committed", oid);
	return 0;
}

static lr_redis *conn;

static lr_redis *connect_redis(long port)
{
	char url[64];
	lr_redis_opts o = {0};
	lr_redis *r = NULL;
	lr_err e = {0};

	snprintf(url, sizeof(url), "redis://127.0.0.1:%ld", port);
	o.url = url;
	o.connect_timeout_ms = 10000;
	o.command_timeout_ms = 10000;
	if (lr_redis_open(&r, &o, &e) < 0) {
		fprintf(stderr, "error io: cannot connect: %s\n", e.msg);
		return NULL;
	}
	return r;
}

/* The client reopens a lost connection by itself; wait until it has. */
static int reconnect(gitstore *gs)
{
	lr_err e = {0};

	(void)gs;
	return lr_redis_ensure(conn, &e) < 0 ? -1 : 0;
}

/* What a worker does: resume from the last committed iteration (its number
 * and its solution.py), then commit each next iteration built on it. */
static int cmd_run(gitstore *gs, int argc, char **argv)
{
	gitstore_snapshot snap;
	lr_err e = {0};
	long it, first, last, delay_ms = 0;
	char code[256], report[256], summary[64], oid[GITSTORE_OID_HEX + 1];
	int rc, existed;

	if (argc < 2)
		return 2;
	first = num(argv[0]);
	last = num(argv[1]);
	if (argc > 2)
		delay_ms = num(argv[2]);
	rc = gitstore_read(&snap, gs, NULL, &e);
	if (rc == 0) {
		const gitstore_blob *b = gitstore_snapshot_file(&snap, "solution.py");

		printf("resumed %ld %s", snap.entry.iteration, b ? b->data : "(none)\n");
		first = snap.entry.iteration + 1;
		gitstore_snapshot_clear(&snap);
	} else if (rc != LR_ENOTFOUND) {
		return fail(&e);
	}
	fflush(stdout);
	for (it = first; it <= last; it++) {
		gitstore_file files[3];
		gitstore_commit_req req = {it, summary, files, 3};

		snprintf(code, sizeof(code), "def f():\n    return %ld\n", it);
		snprintf(report, sizeof(report), "{\"iteration\": %ld, \"passed\": %s}\n", it,
		         it == last ? "true" : "false");
		snprintf(summary, sizeof(summary), "%s: iteration %ld",
		         it == last ? "pass" : "fail", it);
		files[0] = (gitstore_file){"solution.py", code, strlen(code)};
		files[1] = (gitstore_file){"test_solution.py", "assert True\n", 12};
		files[2] = (gitstore_file){"report.json", report, strlen(report)};
		rc = gitstore_commit(oid, &existed, gs, &req, &e);
		if (rc == LR_EIO && reconnect(gs) == 0) {
			/* The connection died, maybe after the commit landed: a new
			 * connection and the same iteration again. */
			printf("reconnected %ld\n", it);
			rc = gitstore_commit(oid, &existed, gs, &req, &e);
		}
		if (rc < 0)
			return fail(&e);
		printf("%s %ld %s\n", existed ? "existed" : "committed", it, oid);
		fflush(stdout);
		lr_sleep_ms(delay_ms);
	}
	return 0;
}

static int cmd_read(gitstore *gs, int argc, char **argv)
{
	gitstore_snapshot snap;
	lr_err e = {0};
	char path[4096];
	size_t i;

	if (argc != 2)
		return 2;
	if (gitstore_read(&snap, gs, strcmp(argv[0], "-") ? argv[0] : NULL, &e) < 0)
		return fail(&e);
	for (i = 0; i < snap.nfiles; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", argv[1], snap.files[i].name);
		f = fopen(path, "wb");
		if (f == NULL ||
		    fwrite(snap.files[i].data, 1, snap.files[i].len, f) != snap.files[i].len) {
			perror(path);
			exit(2);
		}
		fclose(f);
	}
	print_entry(&snap.entry);
	gitstore_snapshot_clear(&snap);
	return 0;
}

static int run(gitstore *gs, const char *cmd, int argc, char **argv)
{
	gitstore_entry ent;
	char oid[GITSTORE_OID_HEX + 1];
	lr_err e = {0};
	int existed = 0, rc;

	if (strcmp(cmd, "commit") == 0)
		return cmd_commit(gs, argc, argv);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(gs, argc, argv);
	if (strcmp(cmd, "read") == 0)
		return cmd_read(gs, argc, argv);
	if (strcmp(cmd, "tag") == 0 && argc >= 1) {
		rc = gitstore_tag_accepted(oid, &existed, gs, strcmp(argv[0], "-") ? argv[0] : NULL,
		                           argc > 1 ? argv[1] : NULL, &e);
		if (rc < 0)
			return fail(&e);
		printf("%s %s\n", existed ? "existed" : "tagged", oid);
		return 0;
	}
	if (strcmp(cmd, "head") == 0 || strcmp(cmd, "accepted") == 0 ||
	    (strcmp(cmd, "find") == 0 && argc == 1)) {
		if (cmd[0] == 'h')
			rc = gitstore_head(&ent, gs, &e);
		else if (cmd[0] == 'a')
			rc = gitstore_accepted(&ent, gs, &e);
		else
			rc = gitstore_find_iteration(&ent, gs, num(argv[0]), &e);
		if (rc < 0)
			return fail(&e);
		print_entry(&ent);
		gitstore_entry_clear(&ent);
		return 0;
	}
	if (strcmp(cmd, "log") == 0)
		return gitstore_log_print(gs, stdout, &e) < 0 ? fail(&e) : 0;
	if (strcmp(cmd, "export") == 0 && argc == 1)
		return gitstore_export(gs, argv[0], &e) < 0 ? fail(&e) : 0;
	if (strcmp(cmd, "push") == 0 && argc >= 3) {
		rc = gitstore_push(gs, argv[0], strcmp(argv[1], "-") ? argv[1] : NULL,
		                   strcmp(argv[2], "passed") == 0,
		                   argc > 3 && strcmp(argv[3], "force") == 0, &e);
		if (rc < 0)
			return fail(&e);
		printf("pushed\n");
		return 0;
	}
	fprintf(stderr, "unknown command or arguments: %s\n", cmd);
	return 2;
}

int main(int argc, char **argv)
{
	gitstore_opts opts;
	gitstore *gs = NULL;
	lr_err e = {0};
	long port = 6379;
	int i = 1, ret;

	gitstore_opts_init(&opts);
	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] != '\0' && argv[i][2] == '\0') {
		switch (argv[i][1]) {
		case 'p': port = num(argv[i + 1]); break;
		case 'P': opts.prefix = argv[i + 1]; break;
		case 't':
			opts.fixed_time = 1;
			opts.time = num(argv[i + 1]);
			break;
		case 'm': opts.max_file = (size_t)num(argv[i + 1]); break;
		case 'r': retry_on_line = (int)num(argv[i + 1]); break;
		default: fprintf(stderr, "unknown option %s\n", argv[i]); return 2;
		}
		i += 2;
	}
	if (argc - i < 3) {
		fprintf(stderr, "usage: gitstore_cli [options] JOB ATTEMPT CMD ARGS...\n");
		return 2;
	}
	conn = connect_redis(port);
	if (conn == NULL)
		return 1;
	if (gitstore_open(&gs, conn, argv[i], num(argv[i + 1]), &opts, &e) < 0) {
		lr_redis_close(conn);
		return fail(&e);
	}
	ret = run(gs, argv[i + 2], argc - i - 3, argv + i + 3);
	gitstore_free(gs);
	lr_redis_close(conn);
	return ret;
}
