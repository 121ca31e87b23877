/* llmrepl-dispatcher: validates submitted jobs, queues them for workers, and
 * keeps the queue healthy (leases, retries, dead letters, expiry). */
#include "clock.h"
#include "config.h"
#include "dispatcher.h"
#include "log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static char *redis_url, *redis_password, *prefix, *log_level, *name, *models;
static long lease_ms, tick_ms, batch, request_claim_ms, consumer_idle_ms, worker_gone_ms;
static long connect_timeout_ms, command_timeout_ms;
static long max_spec_bytes, max_text_bytes, default_memory_mb, max_memory_mb;
static long default_iterations, max_iterations, max_tokens, max_n;
static double default_timeout_s, max_timeout_s, max_wall_s;
static long max_attempts, backoff_ms, backoff_max_ms, ttl_s, events_max;

static lr_cfg_opt opts[] = {
    {"redis-url", LR_CFG_STR, &redis_url, LR_REDIS_URL_DEFAULT, 0, 0,
     "Redis: redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]", 0, 0},
    {"redis-password", LR_CFG_STR, &redis_password, NULL, 0, 0,
     "Redis password (wins over the URL's; better in LLMREPL_REDIS_PASSWORD)", LR_CFG_SECRET, 0},
    {"prefix", LR_CFG_STR, &prefix, "llmrepl:", 0, 0, "prefix of every key", 0, 0},
    {"name", LR_CFG_STR, &name, NULL, 0, 0,
     "consumer name, unique per dispatcher (default: host-pid)", 0, 0},
    {"log-level", LR_CFG_STR, &log_level, "info", 0, 0, "error, warn, info or debug", 0, 0},
    {"lease-ms", LR_CFG_INT, &lease_ms, "30000", 100, 86400000,
     "the workers' lease (work entries idle longer than this are orphans)", 0, 0},
    {"tick-ms", LR_CFG_INT, &tick_ms, "100", 10, 10000,
     "upkeep period (leases, retries) and the longest blocking read", 0, 0},
    {"batch", LR_CFG_INT, &batch, "32", 1, 1000, "requests taken per round", 0, 0},
    {"request-claim-ms", LR_CFG_INT, &request_claim_ms, "30000", 100, 86400000,
     "take over requests pending this long at another dispatcher", 0, 0},
    {"consumer-idle-ms", LR_CFG_INT, &consumer_idle_ms, "3600000", 1000, 604800000,
     "forget consumers idle this long with nothing pending", 0, 0},
    {"worker-gone-ms", LR_CFG_INT, &worker_gone_ms, "600000", 1000, 604800000,
     "drop workers silent this long from the registry", 0, 0},
    {"connect-timeout-ms", LR_CFG_INT, &connect_timeout_ms, "2000", 10, 600000,
     "Redis connect timeout", 0, 0},
    {"command-timeout-ms", LR_CFG_INT, &command_timeout_ms, "5000", 200, 600000,
     "Redis command timeout", 0, 0},
    {"max-spec-bytes", LR_CFG_INT, &max_spec_bytes, "1048576", 1024, 536870912,
     "specs larger than this are rejected", 0, 0},
    {"max-text-bytes", LR_CFG_INT, &max_text_bytes, "524288", 64, 536870912,
     "cap on code, tests, prompt and feedback each", 0, 0},
    {"default-timeout-s", LR_CFG_DOUBLE, &default_timeout_s, "10", 0.001, 86400,
     "limits.timeout_s when a spec gives none", 0, 0},
    {"max-timeout-s", LR_CFG_DOUBLE, &max_timeout_s, "60", 0.001, 86400, "cap on limits.timeout_s",
     0, 0},
    {"default-memory-mb", LR_CFG_INT, &default_memory_mb, "256", 16, 1048576,
     "limits.memory_mb when a spec gives none", 0, 0},
    {"max-memory-mb", LR_CFG_INT, &max_memory_mb, "1024", 16, 1048576, "cap on limits.memory_mb", 0,
     0},
    {"default-iterations", LR_CFG_INT, &default_iterations, "4", 1, 1000,
     "loop max_iterations when a spec gives none", 0, 0},
    {"max-iterations", LR_CFG_INT, &max_iterations, "20", 1, 1000, "cap on max_iterations", 0, 0},
    {"max-wall-s", LR_CFG_DOUBLE, &max_wall_s, "600", 0.001, 86400,
     "cap (and default) for budget.wall_s", 0, 0},
    {"max-tokens", LR_CFG_INT, &max_tokens, "200000", 1, 1000000000,
     "cap (and default) for budget.tokens", 0, 0},
    {"max-n", LR_CFG_INT, &max_n, "8", 1, 64, "cap on n (sampled candidates)", 0, 0},
    {"models", LR_CFG_STR, &models, "*", 0, 0,
     "models a job may ask for: * (any), empty (none) or a comma-separated list", 0, 0},
    {"max-attempts", LR_CFG_INT, &max_attempts, "3", 1, 1000,
     "failed attempts (crash, lost lease, infrastructure) before a job is dead", 0, 0},
    {"backoff-ms", LR_CFG_INT, &backoff_ms, "1000", 1, 86400000,
     "first retry delay; doubles per failure, +-20% jitter", 0, 0},
    {"backoff-max-ms", LR_CFG_INT, &backoff_max_ms, "60000", 1, 86400000, "longest retry delay", 0,
     0},
    {"ttl-s", LR_CFG_INT, &ttl_s, "86400", 1, 31536000,
     "final jobs and all their keys expire after this", 0, 0},
    {"events-max", LR_CFG_INT, &events_max, "1000", 10, 1000000,
     "events kept per job (approximately)", 0, 0},
};

static const lr_cfg cfg = {
    "llmrepl-dispatcher",
    "[OPTIONS]",
    "Reads job requests from the Redis stream <prefix>requests, validates them, records each "
    "as a job (queued, or rejected with the reason) and queues it for workers; reclaims jobs "
    "whose worker stopped renewing its lease, retries with backoff, dead-letters, cancels "
    "(<prefix>control) and expires final jobs. Run as many as you like.",
    "Submit:  redis-cli XADD llmrepl:requests '*' spec '{\"kind\":\"evaluate\",\"code\":...}'\n"
    "Status:  redis-cli HGETALL llmrepl:job:<id>     Cancel: llmrepl cancel <id>\n"
    "See docs/protocol.md for the whole protocol.",
    opts,
    sizeof(opts) / sizeof(opts[0]),
};

int main(int argc, char **argv)
{
	disp_config dc;
	disp *d = NULL;
	lr_err err;
	char host[128] = "host";
	char defname[200];
	struct sigaction sa;
	int down = 0;
	lr_log_repeat trouble = {0};
	int first;
	int rc;
	int level;

	lr_err_clear(&err);
	rc = lr_cfg_load(&cfg, argc, argv, &first, &err);
	if (rc == LR_CFG_EXIT_OK) {
		lr_cfg_free(&cfg);
		return LR_EXIT_OK;
	}
	if (rc < 0 || first < argc) {
		fprintf(stderr, "llmrepl-dispatcher: %s\n",
		        rc < 0 ? err.msg : "unexpected argument (see --help)");
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	level = lr_log_level_parse(log_level);
	if (level < 0) {
		fprintf(stderr, "llmrepl-dispatcher: bad --log-level '%s'\n", log_level);
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	lr_log_init("llmrepl-dispatcher", level);

	memset(&dc, 0, sizeof(dc));
	if (lr_keys_init(&dc.keys, prefix, &err) < 0) {
		fprintf(stderr, "llmrepl-dispatcher: %s\n", err.msg);
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(defname, sizeof(defname), "dispatcher-%s-%ld", host, (long)getpid());
	dc.redis.url = redis_url;
	dc.redis.password = redis_password;
	dc.redis.connect_timeout_ms = connect_timeout_ms;
	dc.redis.command_timeout_ms = command_timeout_ms;
	dc.name = name && *name ? name : defname;
	dc.redis.client_name = dc.name;
	dc.tick_ms = tick_ms;
	dc.batch = batch;
	dc.lease_ms = lease_ms;
	dc.request_claim_ms = request_claim_ms;
	dc.consumer_idle_ms = consumer_idle_ms;
	dc.worker_gone_ms = worker_gone_ms;
	lr_job_policy_default(&dc.job);
	dc.job.max_spec_bytes = (size_t)max_spec_bytes;
	dc.job.max_text_bytes = (size_t)max_text_bytes;
	dc.job.default_timeout_s = default_timeout_s;
	dc.job.max_timeout_s = max_timeout_s;
	dc.job.default_memory_mb = default_memory_mb;
	dc.job.max_memory_mb = max_memory_mb;
	dc.job.default_iterations = default_iterations;
	dc.job.max_iterations = max_iterations;
	dc.job.max_wall_s = max_wall_s;
	dc.job.max_tokens = max_tokens;
	dc.job.max_n = max_n;
	dc.job.models = models ? models : "";
	dc.queue.ttl_s = ttl_s;
	dc.queue.max_attempts = max_attempts;
	dc.queue.backoff_ms = backoff_ms;
	dc.queue.backoff_max_ms = backoff_max_ms;
	dc.queue.events_max = events_max;
	if (dc.job.default_timeout_s > dc.job.max_timeout_s)
		lr_err_set(&err, LR_EINVAL, "default-timeout-s %g is above max-timeout-s %g",
		           dc.job.default_timeout_s, dc.job.max_timeout_s);
	else if (dc.job.default_memory_mb > dc.job.max_memory_mb)
		lr_err_set(&err, LR_EINVAL, "default-memory-mb %ld is above max-memory-mb %ld",
		           dc.job.default_memory_mb, dc.job.max_memory_mb);
	else if (dc.job.default_iterations > dc.job.max_iterations)
		lr_err_set(&err, LR_EINVAL, "default-iterations %ld is above max-iterations %ld",
		           dc.job.default_iterations, dc.job.max_iterations);
	if (err.code != 0) {
		fprintf(stderr, "llmrepl-dispatcher: %s\n", err.msg);
		lr_cfg_free(&cfg);
		return LR_EXIT_USAGE;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = disp_open(&d, &dc, &err);
	if (rc < 0) {
		log_error("%s", err.msg);
		lr_cfg_free(&cfg);
		return rc == LR_EINVAL ? LR_EXIT_USAGE : LR_EXIT_RUNTIME;
	}
	log_info("dispatching for %s at %s as %s", dc.keys.prefix, lr_redis_where(d->r), dc.name);
	while (!stop_requested) {
		lr_err_clear(&err);
		rc = disp_step(d, &err);
		if (rc < 0) {
			/* Redis away, busy or refusing writes, or a key broken: the
			 * same trouble is logged once (then every 30 s with a count)
			 * and retried with growing pauses. */
			lr_q_trouble t = lr_q_classify(rc, &err);

			lr_log_repeated(&trouble, t == LR_Q_CONN ? LR_LOG_WARN : LR_LOG_ERROR,
			                30000, "%s (%s); retrying", err.msg, lr_q_trouble_name(t));
			lr_sleep_ms(lr_backoff_ms(down++, 100, 2000));
			continue;
		}
		if (lr_log_repeat_end(&trouble))
			log_info("working again");
		down = 0;
	}
	log_info("stopping");
	disp_close(d);
	lr_cfg_free(&cfg);
	return LR_EXIT_OK;
}
