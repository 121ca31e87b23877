/* dispatcher.h - intake of requests and upkeep of the queue.
 *
 * A dispatcher loops: take requests (batches through a Lua script that
 * rejects oversized ones inside Redis; when there are none, one blocking read
 * on the requests and control streams), validate each spec and record it as
 * a queued or rejected job; then, on a timer, reclaim expired leases, put due
 * retries back in line, redeliver entries a vanished worker never claimed,
 * take over the requests of a stopped dispatcher, and forget idle consumers.
 *
 * Every step is idempotent or a script that checks state itself, so any
 * number of dispatchers can run at once: the consumer group splits the
 * requests between them and the scripts make the upkeep safe to race. */
#ifndef LLMREPL_DISPATCHER_H
#define LLMREPL_DISPATCHER_H

#include "job.h"
#include "keys.h"
#include "queue.h"
#include "redis.h"

typedef struct disp_config {
	lr_redis_opts redis;
	lr_keys keys;
	const char *name;      /* consumer name, unique per dispatcher */
	long tick_ms;          /* upkeep period and the longest blocking read */
	long batch;            /* requests per take */
	long lease_ms;         /* workers' lease: entries idle longer are orphans */
	long request_claim_ms; /* requests pending this long at another dispatcher are taken over */
	long consumer_idle_ms; /* idle consumers with nothing pending are forgotten */
	long worker_gone_ms;   /* workers silent this long leave the registry */
	double
	    max_finished_mb; /* finished jobs' MiB kept at most (oldest forgotten); 0 = no limit */
	lr_job_policy job;   /* spec rules */
	lr_q_policy queue;   /* retry, expiry and event rules recorded with each job */
	long idem_ttl_s;     /* how long an idempotency_key names its job */
	int stop_fd;         /* readable once a stop is asked (lr_main_stop_fd); 0: none */
} disp_config;

typedef struct disp disp;

/* Connect (waiting for Redis up to cfg->redis.start_wait_s; LR_ECANCELED
 * when *stop is set meanwhile). */
int disp_open(disp **out, const disp_config *cfg, const volatile sig_atomic_t *stop, lr_err *err);
void disp_close(disp *d); /* accepts NULL */

/* One round: intake (blocking at most tick_ms when idle), then whatever
 * upkeep is due. Returns LR_EIO when Redis is unreachable (the caller backs
 * off and calls again; the connection reopens by itself); other errors are
 * classified with lr_q_classify, and broken data is repaired at once. */
int disp_step(disp *d, lr_err *err);

/* Prometheus: the queue's numbers from Redis, read at each scrape on a
 * connection of its own (disp_metrics.c). cfg must outlive the listener. */
int disp_metrics_init(const disp_config *cfg);
void disp_metrics_close(void); /* after the listener stopped */

/* ---- internal, shared by intake.c and upkeep.c ---- */
struct disp {
	disp_config cfg;
	lr_q q; /* the connection (q.r) and cfg.keys */
	long long next_upkeep_ms, next_orphans_ms, next_takeover_ms, next_gc_ms, next_repair_ms,
	    next_retain_ms;
	unsigned long long repair_cursor; /* where the sweep of job keys is */
	/* Redis refused writes (maxmemory) or was busy: workers could not renew
	 * their leases either, so none is reclaimed until two leases after the
	 * last refusal (their heartbeats renew within a third of one). */
	long long hold_reclaim_until_ms;
	int groups_ok;
};

/* Validate one request and record it. */
int disp_intake_one(disp *d, const char *id, const char *spec, size_t len, lr_err *err);
/* A spec's `idempotency_key` (idem.c): when it has one, *stripped is the
 * spec without it (malloc'd) and the key is claimed for job `id`; *holder
 * is then "" or the other job the key already names. */
int disp_idem_claim(disp *d, const char *id, const char *spec, size_t len, char **stripped,
                    char holder[LR_JOB_ID_MAX + 1], lr_err *err);
/* Take and record requests; *n = how many were handled. */
int disp_intake(disp *d, int may_block, long *n, lr_err *err);
/* Upkeep that is due at now_ms. */
int disp_upkeep(disp *d, long long now_ms, lr_err *err);
/* Requests and control entries a stopped dispatcher left pending. */
int disp_takeover(disp *d, lr_err *err);
/* Requests this consumer already holds (a restart under the same name). */
int disp_recover_own(disp *d, lr_err *err);
/* Repair what hands broke: the shared keys, and `pages` pages of the sweep
 * over job keys (see lr_q_repair). */
int disp_repair(disp *d, int pages, lr_err *err);

#endif
