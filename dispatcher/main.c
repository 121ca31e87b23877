/* llmrepl-dispatcher: validates submitted jobs, queues them for workers, and
 * keeps the queue healthy (leases, retries, dead letters, expiry). */
#include "clock.h"
#include "dispatcher.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "startup.h"
#include "webhook.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;
static disp_config dc;
static char *prefix, *log_level, *name, *metrics_listen;
static wh_config whc;
static char *http_listen, *api_tokens, *http_docs_dir;
static http_config hc; /* the HTTP API's settings (the rest come from dc) */

static lr_cfg_opt opts[] = {
    LR_OPTS_REDIS(&dc.redis),
    LR_OPT_INT("redis-wait-replicas", &dc.redis.wait_replicas, "0", 0, 100,
               "after recording jobs, WAIT until this many replicas have them (survives a "
               "failover)"),
    LR_OPT_INT("redis-wait-ms", &dc.redis.wait_timeout_ms, "1000", 1, 600000,
               "longest WAIT for --redis-wait-replicas"),
    LR_OPT_PREFIX(&prefix),
    LR_OPT_METRICS_LISTEN(&metrics_listen),
    LR_OPT_NAME(&name, "dispatcher"),
    LR_OPT_LOG_LEVEL(&log_level, "info"),
    LR_OPT_INT("lease-ms", &dc.lease_ms, "30000", 100, 86400000,
               "the workers' lease (work entries idle longer than this are orphans)"),
    LR_OPT_INT("tick-ms", &dc.tick_ms, "100", 10, 10000,
               "upkeep period (leases, retries) and the longest blocking read"),
    LR_OPT_INT("batch", &dc.batch, "32", 1, 1000, "requests taken per round"),
    LR_OPT_INT("request-claim-ms", &dc.request_claim_ms, "30000", 100, 86400000,
               "take over requests pending this long at another dispatcher"),
    LR_OPT_INT("consumer-idle-ms", &dc.consumer_idle_ms, "3600000", 1000, 604800000,
               "forget consumers idle this long with nothing pending"),
    LR_OPT_INT("worker-gone-ms", &dc.worker_gone_ms, "600000", 1000, 604800000,
               "drop workers silent this long from the registry"),
    LR_OPT_SIZE("max-spec-bytes", &dc.job.max_spec_bytes, "1048576", 1024, 536870912,
                "specs larger than this are rejected"),
    LR_OPT_SIZE("max-text-bytes", &dc.job.max_text_bytes, "524288", 64, 536870912,
                "cap on code, tests, prompt and feedback each"),
    LR_OPT_DOUBLE("default-timeout-s", &dc.job.default_timeout_s, "10", 0.001, 86400,
                  "limits.timeout_s when a spec gives none"),
    LR_OPT_DOUBLE("max-timeout-s", &dc.job.max_timeout_s, "60", 0.001, 86400,
                  "cap on limits.timeout_s"),
    LR_OPT_INT("default-memory-mb", &dc.job.default_memory_mb, "256", 16, 1048576,
               "limits.memory_mb when a spec gives none"),
    LR_OPT_INT("max-memory-mb", &dc.job.max_memory_mb, "1024", 16, 1048576,
               "cap on limits.memory_mb"),
    LR_OPT_INT("default-iterations", &dc.job.default_iterations, "4", 1, 1000,
               "loop max_iterations when a spec gives none"),
    LR_OPT_INT("max-iterations", &dc.job.max_iterations, "20", 1, 1000, "cap on max_iterations"),
    LR_OPT_DOUBLE("max-wall-s", &dc.job.max_wall_s, "600", 0.001, 86400,
                  "cap (and default) for budget.wall_s"),
    LR_OPT_INT("max-tokens", &dc.job.max_tokens, "200000", 1, 1000000000,
               "cap (and default) for budget.tokens"),
    LR_OPT_INT("max-n", &dc.job.max_n, "8", 1, 64, "cap on n (sampled candidates)"),
    LR_OPT_INT("max-batch-items", &dc.job.max_batch_items, "1000", 1, 10000,
               "cap on the items of a batch job"),
    LR_OPT_STR("models", &dc.job.models, "*",
               "models a job may ask for: * (any), empty (none) or a comma-separated list"),
    LR_OPT_INT("max-attempts", &dc.queue.max_attempts, "3", 1, 1000,
               "failed attempts (crash, lost lease, infrastructure) before a job is dead"),
    LR_OPT_INT("backoff-ms", &dc.queue.backoff_ms, "1000", 1, 86400000,
               "first retry delay; doubles per failure, +-20% jitter"),
    LR_OPT_INT("backoff-max-ms", &dc.queue.backoff_max_ms, "60000", 1, 86400000,
               "longest retry delay"),
    LR_OPT_INT("ttl-s", &dc.queue.ttl_s, "86400", 1, 31536000,
               "final jobs and all their keys expire after this"),
    LR_OPT_SECRET("callback-secret", &whc.secret,
                  "sign callbacks: X-Llmrepl-Signature: sha256=<HMAC-SHA256 of the body> "
                  "(better in LLMREPL_CALLBACK_SECRET)"),
    LR_OPT_STR("callback-allow", &whc.allow, "",
               "comma-separated CIDR ranges callbacks may reach although private, loopback "
               "or link-local (e.g. 10.0.0.0/8)"),
    LR_OPT_INT("callback-timeout-ms", &whc.timeout_ms, "10000", 100, 600000,
               "longest callback request"),
    LR_OPT_INT("callback-max-attempts", &whc.max_attempts, "8", 1, 1000,
               "callback attempts before giving up"),
    LR_OPT_INT("callback-backoff-ms", &whc.backoff_ms, "1000", 1, 86400000,
               "first callback retry delay; doubles per attempt, +-20% jitter"),
    LR_OPT_INT("callback-backoff-max-ms", &whc.backoff_max_ms, "300000", 1, 86400000,
               "longest callback retry delay"),
    LR_OPT_DOUBLE("max-finished-mb", &dc.max_finished_mb, "0", 0, 16777216,
                  "keep finished jobs' keys under this many MiB, forgetting the oldest first "
                  "(0: no limit but --ttl-s)"),
    LR_OPT_INT("events-max", &dc.queue.events_max, "1000", 10, 1000000,
               "events kept per job (approximately)"),
    LR_OPT_STR("http-listen", &http_listen, NULL,
               "serve the HTTP API on host:port (e.g. 127.0.0.1:8000); off when unset"),
    LR_OPT_STR("api-tokens", &api_tokens, NULL,
               "file of 'name token' lines; without it the HTTP API needs no token"),
    LR_OPT_INT("http-timeout-s", &hc.timeout_s, "30", 1, 3600,
               "idle or slow HTTP connections are cut after this"),
    LR_OPT_INT("http-max-conns", &hc.max_conns, "256", 1, 100000,
               "HTTP connections at once (one thread each)"),
    LR_OPT_INT("http-per-ip-conns", &hc.per_ip_conns, "0", 0, 100000,
               "HTTP connections at once from one address (0: no cap)"),
    LR_OPT_DOUBLE("http-wait-s", &hc.wait_s, "30", 0, 3600,
                  "how long /generate, /evaluate, /refactor wait for the job by default"),
    LR_OPT_DOUBLE("http-wait-max-s", &hc.wait_max_s, "300", 0, 86400, "cap on ?wait="),
    LR_OPT_INT("http-idempotency-ttl-s", &hc.idem_ttl_s, "86400", 1, 31536000,
               "how long an Idempotency-Key (or a spec's idempotency_key) names its job"),
    LR_OPT_INT("max-queue", &hc.max_queue, "10000", 0, 1000000000,
               "HTTP submissions get 503 while more jobs than this wait (0: no cap)"),
    LR_OPT_INT("http-rate", &hc.rate_rps, "0", 0, 1000000,
               "HTTP requests per second per token (0: no cap)"),
    LR_OPT_INT("http-max-inflight", &hc.max_inflight, "0", 0, 1000000,
               "unfinished jobs per token (0: no cap)"),
    LR_OPT_INT("http-keepalive-s", &hc.sse_keepalive_s, "15", 1, 3600,
               "a comment on an idle event stream this often"),
    LR_OPT_STR("http-docs-dir", &http_docs_dir, NULL,
               "swagger-ui-dist's directory for /docs (default: found beside the binary)"),
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
    LR_NOPTS(opts),
};

/* The defaults must lie within the caps. */
static int check_policy(const lr_job_policy *p)
{
	if (p->default_timeout_s > p->max_timeout_s)
		return lr_main_usage(&cfg, "default-timeout-s %g is above max-timeout-s %g",
		                     p->default_timeout_s, p->max_timeout_s);
	if (p->default_memory_mb > p->max_memory_mb)
		return lr_main_usage(&cfg, "default-memory-mb %ld is above max-memory-mb %ld",
		                     p->default_memory_mb, p->max_memory_mb);
	if (p->default_iterations > p->max_iterations)
		return lr_main_usage(&cfg, "default-iterations %ld is above max-iterations %ld",
		                     p->default_iterations, p->max_iterations);
	return LR_MAIN_RUN;
}

/* swagger-ui-dist where deploy/deps_http.sh or an image put it. */
static const char *find_docs_dir(char *buf, size_t n)
{
	static const char *const rel[] = {"/../.deps/node_modules/swagger-ui-dist",
	                                  "/../share/llmrepl/swagger-ui"};
	char exe[512];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (len <= 0)
		return NULL;
	exe[len] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(buf, n, "%s%s/swagger-ui-bundle.js", exe, rel[i]);
		if (access(buf, R_OK) == 0) {
			snprintf(buf, n, "%s%s", exe, rel[i]);
			return buf;
		}
	}
	return NULL;
}

static int start_http(http_server **out, lr_err *err)
{
	static char docs[700];

	hc.listen = http_listen;
	hc.redis = dc.redis;
	hc.keys = dc.keys;
	hc.job = dc.job;
	hc.max_body = dc.job.max_spec_bytes;
	hc.tokens_file = api_tokens;
	hc.docs_dir =
	    http_docs_dir && *http_docs_dir ? http_docs_dir : find_docs_dir(docs, sizeof(docs));
	if (hc.sse_keepalive_s >= hc.timeout_s)
		hc.sse_keepalive_s = (hc.timeout_s + 1) / 2;
	if (hc.wait_s > hc.wait_max_s)
		hc.wait_s = hc.wait_max_s;
	return http_start(out, &hc, err);
}

/* Steps until stopped; Redis being away is waited out. */
static void run(disp *d)
{
	lr_err err;
	int down = 0;
	lr_log_repeat trouble = {0};

	while (!stop_requested) {
		int rc;

		lr_err_clear(&err);
		rc = disp_step(d, &err);
		if (rc < 0) {
			/* Redis away, busy or refusing writes, or a key broken: the
			 * same trouble is logged once (then every 30 s with a count)
			 * and retried with growing pauses. */
			lr_q_trouble t = lr_q_classify(rc, &err);

			lr_log_repeated(&trouble, t == LR_Q_CONN ? LR_LOG_WARN : LR_LOG_ERROR,
			                30000, "%s (%s); retrying", err.msg, lr_q_trouble_name(t));
			/* Refused writes or a busy Redis: look again soon, so that
			 * the reclaim hold starts from the end of the episode. */
			if (t == LR_Q_OOM || t == LR_Q_BUSY)
				lr_sleep_ms(100);
			else
				lr_sleep_ms(lr_backoff_ms(down++, 100, 2000));
			continue;
		}
		if (lr_log_repeat_end(&trouble))
			log_info("working again");
		down = 0;
	}
}

int main(int argc, char **argv)
{
	const lr_start start = {&cfg, &log_level, LR_LOG_INFO, 0, 0, &stop_requested};
	char defname[200];
	lr_metrics_server *metrics = NULL;
	wh_sender *sender = NULL;
	http_server *hs = NULL;
	disp *d = NULL;
	lr_err err;
	int first;
	int rc;

	lr_job_policy_default(&dc.job); /* the fields no option sets */
	dc.job.models = NULL;           /* the table owns its strings */
	rc = lr_main_init(&start, argc, argv, &first);
	if (rc == LR_MAIN_RUN)
		rc = lr_main_keys(&cfg, &dc.keys, prefix);
	if (rc == LR_MAIN_RUN)
		rc = check_policy(&dc.job);
	if (rc != LR_MAIN_RUN)
		return rc;
	dc.idem_ttl_s = hc.idem_ttl_s; /* one setting for both paths */
	dc.name = lr_main_name(defname, sizeof(defname), name, "dispatcher");
	dc.redis.client_name = dc.name;
	dc.stop_fd = lr_main_stop_fd();
	if (dc.job.models == NULL)
		dc.job.models = "";

	lr_err_clear(&err);
	/* Started before or beside Redis: wait for it (--redis-start-wait). */
	rc = disp_open(&d, &dc, &stop_requested, &err);
	if (rc == LR_ECANCELED)
		return lr_main_exit(&cfg, 0, &err);
	if (rc < 0)
		return lr_main_exit(&cfg, rc, &err);
	disp_metrics_init(&d->cfg);
	whc.response_max = 64 * 1024;
	rc = wh_start(&sender, &dc.redis, &dc.keys, &whc, &stop_requested, &err);
	if (rc < 0) {
		disp_close(d);
		if (rc == LR_EINVAL)
			return lr_main_usage(&cfg, "%s", err.msg);
		return lr_main_exit(&cfg, rc == LR_ECANCELED ? 0 : rc, &err);
	}
	if (metrics_listen != NULL && *metrics_listen &&
	    lr_metrics_listen(&metrics, metrics_listen, &err) < 0) {
		wh_stop(sender);
		disp_close(d);
		return lr_main_usage(&cfg, "%s", err.msg);
	}
	log_info("dispatching for %s at %s as %s", dc.keys.prefix, lr_redis_where(d->q.r), dc.name);
	if (http_listen != NULL && *http_listen) {
		rc = start_http(&hs, &err);
		if (rc < 0) {
			wh_stop(sender);
			lr_metrics_stop(metrics);
			disp_metrics_close();
			disp_close(d);
			return rc == LR_EINVAL ? lr_main_usage(&cfg, "%s", err.msg)
			                       : lr_main_exit(&cfg, rc, &err);
		}
		log_info("HTTP API on http://%s (docs at /docs)", http_where(hs));
	}
	run(d);
	log_info("stopping");
	wh_stop(sender);
	http_stop(hs);
	lr_metrics_stop(metrics);
	disp_metrics_close();
	disp_close(d);
	return lr_main_exit(&cfg, 0, &err);
}
