/* client.h - the `llmrepl` command: subcommands over the Redis protocol.
 *
 * Each subcommand is a function in its own file, listed in main.c's table:
 *   int cmd_x(cli *c, int argc, char **argv)   argv[0] is the subcommand;
 * it returns an exit code (config.h: 0 ok, 1 did not pass, 2 usage or no
 * such job, 3 Redis or other infrastructure, 4 wait timed out). The
 * connection opens on first use (cli_redis), so --help needs no server. */
#ifndef LLMREPL_CLIENT_H
#define LLMREPL_CLIENT_H

#include "config.h"
#include "keys.h"
#include "redis.h"

#include <json-c/json.h>

typedef struct cli_opts {
	char *redis_url;
	char *redis_password;
	long wait_replicas; /* submit: WAIT for this many replicas */
	char *prefix;
	int json;       /* machine-readable output */
	double timeout; /* wait/follow limit in seconds; 0 = none */
	int follow;     /* events: keep following until the job is final */
	int wait;       /* submit: then wait like `wait` */
	/* submit from flags */
	char *kind;
	char *code;
	char *code_file;
	char *tests;
	char *tests_file;
	char *io_tests_file; /* io cases (common/iotests.h) from a file */
	char *entry_point;
	char *prompt;
	char *prompt_file;
	char *feedback;
	char *criteria;   /* JSON object text */
	char *batch_file; /* a batch's items, one JSON object a line */
	double limit_timeout_s;
	long limit_memory_mb;
} cli_opts;

typedef struct cli {
	cli_opts o;
	lr_keys keys;
	lr_redis *r; /* NULL until cli_redis() */
} cli;

/* The connection, opened on first use; NULL with a message on stderr. */
lr_redis *cli_redis(cli *c);

/* Print an error as "llmrepl: <msg>" on stderr and return code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A job's hash (HGETALL) as a JSON object with `result` and `spec` parsed;
 * *found = 0 when there is no such job. NULL (and a message) on a Redis
 * error. Caller puts it. */
json_object *cli_job_json(cli *c, const char *id, int *found);
/* Is the request still waiting for a dispatcher? (1/0, -1 on error) */
int cli_request_pending(cli *c, const char *id);

enum { CLI_JOB = 1, CLI_SUBMITTED = 0, CLI_MISSING = -2, CLI_ERROR = -1 };
/* Find a job: CLI_JOB (*job set; caller puts it), CLI_SUBMITTED (the request
 * waits for a dispatcher), CLI_MISSING (never submitted, or expired) or
 * CLI_ERROR (message printed). Safe against a dispatcher recording the job
 * meanwhile: it creates the job before it deletes the request. */
int cli_lookup(cli *c, const char *id, json_object **job);
/* Print a job for people (key fields, then the report) or as JSON. */
void cli_print_job(cli *c, json_object *job);
/* The exit code a final job stands for: 0 passed, 1 anything else. */
int cli_job_exit(json_object *job);

int cmd_submit(cli *c, int argc, char **argv);
int cmd_status(cli *c, int argc, char **argv);
int cmd_wait(cli *c, int argc, char **argv);
int cmd_events(cli *c, int argc, char **argv);
int cmd_cancel(cli *c, int argc, char **argv);
int cmd_stats(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_session(cli *c, int argc, char **argv);

/* Wait for job `id` to become final (timeout in seconds, 0 = none), print
 * it, and return its exit code (4 on timeout). Used by wait and submit --wait. */
int cli_wait_job(cli *c, const char *id, double timeout);

#endif
