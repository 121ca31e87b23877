/* job_ctx_int.h - the worker's side of a job context (not for handlers). */
#ifndef LLMREPL_JOB_CTX_INT_H
#define LLMREPL_JOB_CTX_INT_H

#include "heartbeat.h"
#include "job_ctx.h"
#include "queue.h"

struct lr_jobctx {
	const wk_config *cfg;
	lr_q *q; /* the worker's main connection */
	wk_hb *hb;
	sbx_pool *pool;
	const lr_q_job *job;
	lr_job_spec spec;
	const volatile sig_atomic_t *stop; /* 1: drain, 2: stop now */
};

/* Fenced write with retries through a Redis outage (see job_ctx.h). */
int wk_ctx_write(lr_jobctx *c, const lr_q_ops *ops, lr_err *err);

#endif
