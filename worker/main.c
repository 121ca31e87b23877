/* llmrepl-worker: claims jobs from Redis and runs them (evaluation in the
 * sandbox; model-based kinds as they are added), one at a time. */
#include "config.h"
#include "log.h"
#include "wk_metrics.h"
#include "worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_requested < 2)
		stop_requested++;
}

static char *redis_url, *redis_password, *prefix, *log_level, *name, *python, *sandbox_py;
static char *sandbox_require;
static char *fault_abort_marker;
static char *push_url;
static char *metrics_listen;
static long lease_ms, block_ms, connect_timeout_ms, command_timeout_ms;
static double drain_s;
static int use_pool;

static lr_cfg_opt opts[] = {
    {"redis-url", LR_CFG_STR, &redis_url, LR_REDIS_URL_DEFAULT, 0, 0,
     "Redis: redis://[[user]:password@]host[:port][/db], unix:///path[?db=N] or "
     "redis+sentinel://[:password@]host:port[,host:port...]/master[/db]",
     0, 0},
    {"redis-password", LR_CFG_STR, &redis_password, NULL, 0, 0,
     "Redis password (wins over the URL's; better in LLMREPL_REDIS_PASSWORD)", LR_CFG_SECRET, 0},
    {"prefix", LR_CFG_STR, &prefix, "llmrepl:", 0, 0, "prefix of every key", 0, 0},
    {"metrics-listen", LR_CFG_STR, &metrics_listen, NULL, 0, 0,
     "serve Prometheus metrics at http://HOST:PORT/metrics (off when empty)", 0, 0},
    {"name", LR_CFG_STR, &name, NULL, 0, 0,
     "consumer name, unique per worker (default: worker-host-pid)", 0, 0},
    {"log-level", LR_CFG_STR, &log_level, "info", 0, 0, "error, warn, info or debug", 0, 0},
    {"lease-ms", LR_CFG_INT, &lease_ms, "30000", 100, 86400000,
     "lease on a running job, renewed every third of it; a job whose worker stops renewing "
     "is retried elsewhere after this",
     0, 0},
    {"block-ms", LR_CFG_INT, &block_ms, "1000", 1, 60000,
     "longest wait for a job per read (kept below the command timeout)", 0, 0},
    {"drain-s", LR_CFG_DOUBLE, &drain_s, "30", 0, 86400,
     "on SIGTERM, how long the running job may go on before it is released", 0, 0},
    {"pool", LR_CFG_BOOL, &use_pool, "true", 0, 0,
     "run code on a pre-forked sandboxed interpreter (else a cold sandbox per run)", 0, 0},
    {"python", LR_CFG_STR, &python, "/usr/bin/python3", 0, 0, "the interpreter run in the sandbox",
     0, 0},
    {"sandbox-py", LR_CFG_STR, &sandbox_py, NULL, 0, 0,
     "directory of the sandbox's Python entry (default: found beside the binary)", 0, 0},
    {"sandbox-require", LR_CFG_STR, &sandbox_require, NULL, 0, 0,
     "protections that must apply or runs fail, e.g. cgroup,seccomp,uid (names as "
     "llmrepl-sandbox --require)",
     0, 0},
    {"connect-timeout-ms", LR_CFG_INT, &connect_timeout_ms, "2000", 10, 600000,
     "Redis connect timeout", 0, 0},
    {"command-timeout-ms", LR_CFG_INT, &command_timeout_ms, "5000", 200, 600000,
     "Redis command timeout", 0, 0},
    {"fault-abort-marker", LR_CFG_STR, &fault_abort_marker, NULL, 0, 0,
     "testing only: abort() the worker on claiming a job whose spec contains this text, to "
     "rehearse poison jobs (a job that always kills its worker ends dead)",
     0, 0},
    {"push-url", LR_CFG_STR, &push_url, NULL, 0, 0,
     "deploy loop jobs whose criteria passed: push the accepted commit to "
     "refs/heads/llmrepl/<id> of this repository (a path, file:// or a URL that needs no "
     "credentials)",
     0, 0},
};

/* The model settings (llm-url, model, llm-api-key, ...) follow the worker's own. */
#define NOPTS (sizeof(opts) / sizeof(opts[0]))
static llm_settings llm;
static lr_cfg_opt all_opts[NOPTS + LLM_CFG_NOPTS];

static const lr_cfg cfg = {
    "llmrepl-worker",
    "[OPTIONS]",
    "Claims jobs from the Redis stream <prefix>jobs (consumer group `workers`), holds a "
    "lease on each while it runs, runs it, and records the result; every write is fenced by "
    "the attempt number, so a worker that lost its lease cannot overwrite a newer attempt. "
    "SIGTERM: finish (or, after --drain-s, release) the running job and exit; a second "
    "signal ends the drain at once (a run already in the sandbox still ends within its time "
    "limit).",
    "See docs/protocol.md for the protocol.",
    all_opts,
    NOPTS + LLM_CFG_NOPTS,
};

/* "cgroup,seccomp" -> SBX_ISO_* bits (in the order of sbx.h). */
static int parse_protections(const char *list, int *out, lr_err *err)
{
	static const char *const names[] = {"userns", "pidns",   "netns", "mntns", "ipcns",
	                                    "utsns",  "uid",     "caps",  "nnp",   "rlimits",
	                                    "cgroup", "seccomp", "rofs"};
	const char *p = list;

	*out = 0;
	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i]) == n && strncmp(names[i], p, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return lr_err_set(err, LR_EINVAL,
			                  "sandbox-require: unknown protection '%.*s'", (int)n, p);
		*out |= 1 << i;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	wk_config wc;
	lr_err err;
	char host[128] = "host";
	char defname[200];
	struct sigaction sa;
	lr_metrics_server *metrics = NULL;
	int first;
	int rc;
	int level;

	lr_err_clear(&err);
	memcpy(all_opts, opts, sizeof(opts));
	llm_cfg_opts(all_opts + NOPTS, &llm);
	rc = lr_cfg_load(&cfg, argc, argv, &first, &err);
	if (rc == LR_CFG_EXIT_OK) {
		lr_cfg_free(&cfg);
		return LR_EXIT_OK;
	}
	if (rc < 0 || first < argc) {
		fprintf(stderr, "llmrepl-worker: %s\n",
		        rc < 0 ? err.msg : "unexpected argument (see --help)");
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	level = lr_log_level_parse(log_level);
	if (level < 0) {
		fprintf(stderr, "llmrepl-worker: bad --log-level '%s'\n", log_level);
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	lr_log_init("llmrepl-worker", level);
	memset(&wc, 0, sizeof(wc));
	if (lr_keys_init(&wc.keys, prefix, &err) < 0) {
		fprintf(stderr, "llmrepl-worker: %s\n", err.msg);
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "host");
	snprintf(defname, sizeof(defname), "worker-%s-%ld", host, (long)getpid());
	wc.name = name && *name ? name : defname;
	wc.redis.url = redis_url;
	wc.redis.password = redis_password;
	wc.redis.connect_timeout_ms = connect_timeout_ms;
	wc.redis.command_timeout_ms = command_timeout_ms;
	wc.redis.client_name = wc.name;
	wc.lease_ms = lease_ms;
	wc.block_ms = block_ms;
	wc.drain_s = drain_s;
	wc.pool = use_pool;
	wc.fault_abort_marker = fault_abort_marker;
	wc.llm = llm;
	wc.push_url = push_url;
	sbx_config_default(&wc.sbx);
	if (python && *python)
		wc.sbx.python = python;
	if (sandbox_py && *sandbox_py)
		wc.sbx.py_dir = sandbox_py;
	if (parse_protections(sandbox_require, &wc.sbx.require, &err) < 0) {
		fprintf(stderr, "llmrepl-worker: %s\n", err.msg);
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	if (wc.fault_abort_marker && *wc.fault_abort_marker)
		log_warn("fault injection is on: a job containing '%s' aborts this worker",
		         wc.fault_abort_marker);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	wk_metrics_init();
	if (metrics_listen != NULL && *metrics_listen &&
	    lr_metrics_listen(&metrics, metrics_listen, &err) < 0) {
		log_error("%s", err.msg);
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	rc = wk_run(&wc, &stop_requested, &err);
	if (rc < 0)
		log_error("%s", err.msg);
	lr_metrics_stop(metrics);
	lr_cfg_free(&cfg);
	if (rc == LR_EINVAL)
		return LR_EXIT_USAGE;
	return rc < 0 ? LR_EXIT_RUNTIME : LR_EXIT_OK;
}
