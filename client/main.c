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
    {"json", LR_CFG_BOOL, &c.o.json, "false", 0, 0, "machine-readable output", 0, 'j'},
    {"timeout", LR_CFG_DOUBLE, &c.o.timeout, "0", 0, 1e9,
     "wait, events --follow, submit --wait: give up after this many seconds (0: never)", 0, 't'},
    {"follow", LR_CFG_BOOL, &c.o.follow, "false", 0, 0,
     "events: keep following until the job is final", 0, 'f'},
    {"wait", LR_CFG_BOOL, &c.o.wait, "false", 0, 0, "submit: then wait like `wait`", 0, 'w'},
    {"kind", LR_CFG_STR, &c.o.kind, "evaluate", 0, 0, "submit: the job kind", 0, 0},
    {"code", LR_CFG_STR, &c.o.code, NULL, 0, 0, "submit: the code", 0, 0},
    {"code-file", LR_CFG_STR, &c.o.code_file, NULL, 0, 0, "submit: the code from a file (- stdin)",
     0, 0},
    {"tests", LR_CFG_STR, &c.o.tests, NULL, 0, 0, "submit: the tests", 0, 0},
    {"tests-file", LR_CFG_STR, &c.o.tests_file, NULL, 0, 0, "submit: the tests from a file", 0, 0},
    {"io-tests", LR_CFG_STR, &c.o.io_tests_file, NULL, 0, 0,
     "submit: io cases from a JSON file ({\"io\": [{\"stdin\", \"stdout\"}], \"checker\"}): "
     "the code is a program run once per case",
     0, 0},
    {"entry-point", LR_CFG_STR, &c.o.entry_point, NULL, 0, 0,
     "submit: the function the tests call (check(candidate) style)", 0, 0},
    {"prompt", LR_CFG_STR, &c.o.prompt, NULL, 0, 0, "submit: the prompt (generate, loop)", 0, 0},
    {"prompt-file", LR_CFG_STR, &c.o.prompt_file, NULL, 0, 0, "submit: the prompt from a file", 0,
     0},
    {"feedback", LR_CFG_STR, &c.o.feedback, NULL, 0, 0, "submit: review feedback (refactor)", 0, 0},
    {"criteria", LR_CFG_STR, &c.o.criteria, NULL, 0, 0,
     "submit: acceptance criteria as a JSON object", 0, 0},
    {"limit-timeout-s", LR_CFG_DOUBLE, &c.o.limit_timeout_s, "0", 0, 86400,
     "submit: limits.timeout_s (0: the dispatcher's default)", 0, 0},
    {"limit-memory-mb", LR_CFG_INT, &c.o.limit_memory_mb, "0", 0, 1048576,
     "submit: limits.memory_mb (0: the dispatcher's default)", 0, 0},
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
