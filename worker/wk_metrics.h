/* wk_metrics.h - what a worker process counts for Prometheus (common/metrics.h).
 * Until wk_metrics_init() runs every handle is NULL and updates do nothing,
 * so the code paths shared with other binaries (llmrepl-eval) need no care. */
#ifndef LLMREPL_WK_METRICS_H
#define LLMREPL_WK_METRICS_H

#include "metrics.h"
#include "sbx.h"

typedef struct wk_metrics {
	lr_metric *jobs;            /* llmrepl_worker_jobs_total{kind,outcome} */
	lr_metric *queue_wait;      /* llmrepl_job_queue_wait_seconds{kind} */
	lr_metric *run;             /* llmrepl_job_run_seconds{kind} */
	lr_metric *busy;            /* llmrepl_worker_busy */
	lr_metric *eval;            /* llmrepl_evaluation_seconds */
	lr_metric *sbx_runs;        /* llmrepl_sandbox_runs_total{end} */
	lr_metric *pool_restarts;   /* llmrepl_sandbox_pool_restarts_total */
	lr_metric *loop_iterations; /* llmrepl_loop_iterations */
	lr_metric *sessions_held;   /* llmrepl_worker_sessions_held */
	lr_metric *batch_items;     /* llmrepl_worker_batch_items_total{role,outcome} */
} wk_metrics;

extern wk_metrics wk_m;

/* Declare the worker's families (and the model client's) so a scrape shows
 * them from the start. */
void wk_metrics_init(void);

/* One sandbox run: its end, and a pool restart when the pool said so. */
void wk_metrics_sandbox(const sbx_result *res);

#endif
