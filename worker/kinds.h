/* kinds.h - the table of job kinds and their handlers (see job_ctx.h for
 * the handler contract). A new kind: write its handler in its own file
 * (worker/kind_<name>.c), declare it here, add a row in kinds.c. */
#ifndef LLMREPL_KINDS_H
#define LLMREPL_KINDS_H

#include "job_ctx.h"

typedef int (*lr_kind_fn)(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

typedef struct lr_kind {
	const char *name; /* as in the spec's "kind" */
	lr_kind_fn run;
} lr_kind;

/* The handler for a kind, or NULL when this worker cannot run it. */
const lr_kind *wk_kind_find(const char *name);

/* evaluate: run the code and its tests in the sandbox and judge them
 * (worker/kind_evaluate.c). */
int wk_kind_evaluate(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

/* generate: prompt -> code with the model, then judged like evaluate
 * (worker/kind_generate.c). */
int wk_kind_generate(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

/* refactor: code + feedback -> code with the model, accepted only when it
 * passes the job's tests and criteria (worker/kind_refactor.c). */
int wk_kind_refactor(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

/* loop: generate, evaluate, repair (and refactor) until the criteria pass or
 * the budget is spent, every iteration committed (worker/kind_loop.c). */
int wk_kind_loop(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

/* REPL sessions: open one, run a cell in it, close it
 * (worker/kind_session.c; the record: worker/session_store.h). */
int wk_kind_session_open(lr_jobctx *ctx, lr_job_result *res, lr_err *err);
int wk_kind_exec(lr_jobctx *ctx, lr_job_result *res, lr_err *err);
int wk_kind_session_close(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

/* batch: evaluate each item like an evaluate job, --batch-slots at once,
 * idle workers helping (--batch-share); each finished item is recorded at
 * once, so a later attempt runs only the items not yet done
 * (worker/kind_batch.c). */
int wk_kind_batch(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

#endif
