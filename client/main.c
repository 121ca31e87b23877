/* llmrepl: a small client for the job protocol, for people who prefer it to
 * raw redis-cli. */
#include "client.h"

#include "log.h"
#include "startup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cli c;

static lr_cfg_opt opts[] = {
    LR_OPTS_REDIS_URL(&c.o.redis_url, &c.o.redis_password),
    LR_OPT_INT("redis-wait-replicas", &c.o.wait_replicas, "0", 0, 100,
               "submit: WAIT until this many replicas have the request (survives a failover)"),
    LR_OPT_PREFIX(&c.o.prefix),
    {LR_ROW_BOOL("json", &c.o.json, "false", "machine-readable output"), .shortopt = 'j'},
    {LR_ROW_DOUBLE(
         "timeout", &c.o.timeout, "0", 0, 1e9,
         "wait, events --follow, submit --wait: give up after this many seconds (0: never)"),
     .shortopt = 't'},
    {LR_ROW_BOOL("follow", &c.o.follow, "false", "events: keep following until the job is final"),
     .shortopt = 'f'},
    {LR_ROW_BOOL("wait", &c.o.wait, "false", "submit: then wait like `wait`"), .shortopt = 'w'},
    LR_OPT_STR("kind", &c.o.kind, "evaluate", "submit: the job kind"),
    LR_OPT_STR("code", &c.o.code, NULL, "submit: the code"),
    LR_OPT_STR("code-file", &c.o.code_file, NULL, "submit: the code from a file (- stdin)"),
    LR_OPT_STR("tests", &c.o.tests, NULL, "submit: the tests"),
    LR_OPT_STR("tests-file", &c.o.tests_file, NULL, "submit: the tests from a file"),
    LR_OPT_STR(
        "io-tests", &c.o.io_tests_file, NULL,
        "submit: io cases from a JSON file ({\"io\": [{\"stdin\", \"stdout\"}], \"checker\"}): "
        "the code is a program run once per case"),
    LR_OPT_STR("entry-point", &c.o.entry_point, NULL,
               "submit: the function the tests call (check(candidate) style)"),
    LR_OPT_STR("prompt", &c.o.prompt, NULL, "submit: the prompt (generate, loop)"),
    LR_OPT_STR("prompt-file", &c.o.prompt_file, NULL, "submit: the prompt from a file"),
    LR_OPT_STR("feedback", &c.o.feedback, NULL, "submit: review feedback (refactor)"),
    LR_OPT_STR("criteria", &c.o.criteria, NULL, "submit: acceptance criteria as a JSON object"),
    LR_OPT_STR("batch", &c.o.batch_file, NULL,
               "submit: a batch job of these items, one {\"id\", \"code\", \"tests\", "
               "\"entry_point\", \"criteria\"} per line (- stdin)"),
    LR_OPT_DOUBLE("limit-timeout-s", &c.o.limit_timeout_s, "0", 0, 86400,
                  "submit: limits.timeout_s (0: the dispatcher's default)"),
    LR_OPT_INT("limit-memory-mb", &c.o.limit_memory_mb, "0", 0, 1048576,
               "submit: limits.memory_mb (0: the dispatcher's default)"),
};

typedef struct command {
	const char *name;
	int (*run)(cli *c, int argc, char **argv);
	const char *usage;
} command;

/* Subcommands; add a row (and a cmd_<name>.c) for a new one. */
static const command commands[] = {
    {"submit", cmd_submit, "submit [SPEC_FILE|-] [--wait]    submit a job, print its id"},
    {"status", cmd_status, "status <id>                      the job's state and result"},
    {"wait", cmd_wait,
     "wait <id> [--timeout S]          until final; exit 0 passed, 1 not, 4 timeout"},
    {"events", cmd_events, "events <id> [--follow]           the job's progress events"},
    {"cancel", cmd_cancel, "cancel <id>                      cancel a job that is not final yet"},
    {"stats", cmd_stats, "stats                            counters, queue sizes, live workers"},
    {"log", cmd_log, "log <id>                         the job's git history, newest first"},
    {"session", cmd_session,
     "session open | exec <id> --code C | close <id>   a REPL session and its cells"},
    {"export", cmd_export, "export <id> <dir>                its history as a git repository"},
};

static char epilog[2048];

static const lr_cfg cfg = {
    "llmrepl",
    "COMMAND [ARGS] [OPTIONS]",
    "Submit jobs to llm-repl and follow them, over the Redis protocol that redis-cli users "
    "drive by hand (docs/protocol.md).",
    epilog,
    opts,
    sizeof(opts) / sizeof(opts[0]),
};

int main(int argc, char **argv)
{
	const lr_start start = {&cfg, NULL, LR_LOG_WARN, 1, -1, NULL};
	size_t n = 0;
	int first = 0;
	int rc;

	n += (size_t)snprintf(epilog + n, sizeof(epilog) - n, "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]) && n < sizeof(epilog); i++)
		n += (size_t)snprintf(epilog + n, sizeof(epilog) - n, "  llmrepl %s\n",
		                      commands[i].usage);
	if (n < sizeof(epilog))
		snprintf(epilog + n, sizeof(epilog) - n,
		         "Exit codes: 0 ok/passed, 1 not passed, 2 usage or no such job, 3 Redis "
		         "unreachable, 4 timed out.");
	rc = lr_main_init(&start, argc, argv, &first);
	if (rc == LR_MAIN_RUN)
		rc = lr_main_keys(&cfg, &c.keys, c.o.prefix);
	if (rc != LR_MAIN_RUN)
		return rc;
	rc = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[first], commands[i].name) == 0)
			rc = commands[i].run(&c, argc - first, argv + first);
	if (rc == -1)
		rc = cli_fail(LR_EXIT_USAGE, "unknown command '%s' (see --help)", argv[first]);
	fflush(stdout);
	lr_redis_close(c.r);
	lr_cfg_free(&cfg);
	return rc;
}
