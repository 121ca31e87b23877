/* worker.h - the worker: claim a job, hold its lease, run its kind, record
 * the outcome, repeat. One job at a time per process; run as many processes,
 * on as many machines, as there is work.
 *
 * Shutdown (SIGTERM, SIGINT): no new job is claimed; the running one may
 * finish within drain_s, after which lr_jobctx_check() tells its handler to
 * stop and the job is released to another worker. A second signal ends the
 * drain at once. An evaluation already in the sandbox cannot be interrupted
 * (it ends within its time limit) and is recorded. Nothing is left running. */
#ifndef LLMREPL_WORKER_H
#define LLMREPL_WORKER_H

#include "err.h"
#include "keys.h"
#include "llm.h"
#include "redis.h"
#include "sbx.h"

#include <signal.h>

typedef struct wk_config {
	lr_redis_opts redis;
	lr_keys keys;
	const char *name;               /* consumer name, unique per worker process */
	long lease_ms;                  /* a running job's lease; renewed every lease_ms / 3 */
	long block_ms;                  /* longest wait for a job in one read */
	double drain_s;                 /* on shutdown, how long the running job may still take */
	int pool;                       /* run code on the pre-forked sandbox pool */
	long result_max_kb;             /* a result over this is compacted (result_trim.h) */
	long batch_slots;               /* batch jobs: items run at once (a pool each) */
	long batch_group;               /* batch jobs: items per sandbox run (eval_group.h) */
	int batch_share;                /* batch jobs: share items with idle workers, and
	                                   help with theirs when idle */
	long sessions_held;             /* REPL sessions this worker may hold, each an
	                                   interpreter kept between cells: its limit
	                                   (0: none held, replay every cell) */
	sbx_config sbx;                 /* sandbox host settings */
	const char *fault_abort_marker; /* testing: abort() on a job whose spec holds this */
	const char *fault_beat_hold;    /* testing: a beat waits (wk_fault_hold) */
	const char *fault_job_hold;     /* testing: a claimed job waits before it runs */
	/* Settings of model-based kinds go below (model server, model, ...). */
	llm_settings llm;     /* the model server and how to call it (model/llm.h) */
	const char *push_url; /* loop jobs: push accepted commits here (deployment), or NULL */
	int stop_fd;          /* readable once a stop is asked (lr_main_stop_fd); 0: none */
} wk_config;

/* Run until *stop is set (1: drain, 2: now). Returns 0 after a clean stop, or
 * a negative code when the worker could not start (sandbox, Redis). */
int wk_run(const wk_config *cfg, const volatile sig_atomic_t *stop, lr_err *err);

#endif
