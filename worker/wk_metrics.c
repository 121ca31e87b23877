/* wk_metrics.c - the worker's Prometheus families. */
#include "wk_metrics.h"

#include "llm.h"

#include <string.h>

wk_metrics wk_m;

void wk_metrics_init(void)
{
	static const double iterations[] = {1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50};

	wk_m.jobs = lr_metric_counter("llmrepl_worker_jobs_total",
	                              "Jobs this worker ran, by kind and outcome (done, retry, "
	                              "released, dead, cancelled, abandoned).",
	                              "kind,outcome");
	wk_m.queue_wait = lr_metric_histogram(
	    "llmrepl_job_queue_wait_seconds",
	    "From submission (the job id's time) to this worker starting the attempt.", "kind",
	    NULL, 0);
	wk_m.run =
	    lr_metric_histogram("llmrepl_job_run_seconds",
	                        "Time this worker spent running an attempt.", "kind", NULL, 0);
	wk_m.busy = lr_metric_gauge("llmrepl_worker_busy", "1 while the worker runs a job.", NULL);
	wk_m.eval = lr_metric_histogram("llmrepl_evaluation_seconds",
	                                "One evaluation of code in the sandbox, tests included.",
	                                NULL, NULL, 0);
	wk_m.sbx_runs = lr_metric_counter(
	    "llmrepl_sandbox_runs_total",
	    "Sandbox runs by how they ended (exited, signaled, timeout, memory, output, error).",
	    "end");
	wk_m.pool_restarts = lr_metric_counter("llmrepl_sandbox_pool_restarts_total",
	                                       "Restarts of the pre-forked sandbox server.", NULL);
	wk_m.loop_iterations =
	    lr_metric_histogram("llmrepl_loop_iterations", "Iterations a finished loop job took.",
	                        NULL, iterations, sizeof(iterations) / sizeof(iterations[0]));
	wk_m.sessions_held = lr_metric_gauge(
	    "llmrepl_worker_sessions_held",
	    "REPL sessions whose sandboxed interpreter this worker keeps between cells.", NULL);
	wk_m.batch_items = lr_metric_counter(
	    "llmrepl_worker_batch_items_total",
	    "Batch items this worker ran, as the batch's owner or helping another worker "
	    "(role), by outcome: recorded, already (another worker recorded it first), "
	    "refused (the attempt was over) or failed.",
	    "role,outcome");
	lr_metric_set(wk_m.busy, 0, NULL);
	lr_metric_set(wk_m.sessions_held, 0, NULL);
	lr_metric_inc(wk_m.pool_restarts, 0, NULL);
	llm_metrics_init();
}

void wk_metrics_sandbox(const sbx_result *res)
{
	lr_metric_inc1(wk_m.sbx_runs, sbx_end_name(res->end));
	if (strstr(res->detail, "restarted") != NULL)
		lr_metric_inc(wk_m.pool_restarts, 1, NULL);
}
