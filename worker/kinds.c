/* kinds.c - which handler runs which kind of job: a table indexed by the
 * kind enum of job.h, one row per kind (a kind without a row is not run). */
#include "kinds.h"
#include "session_use.h"

#include <stddef.h>

/* Kinds that may test code on a REPL session's state. */
static int evaluate_in_session(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	return su_run(ctx, res, err, wk_kind_evaluate);
}

static int generate_in_session(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	return su_run(ctx, res, err, wk_kind_generate);
}

static int loop_in_session(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	return su_run(ctx, res, err, wk_kind_loop);
}

static const lr_kind kinds[LR_KIND_COUNT] = {
    [LR_KIND_EVALUATE] = {"evaluate", evaluate_in_session},
    [LR_KIND_GENERATE] = {"generate", generate_in_session},
    [LR_KIND_REFACTOR] = {"refactor", wk_kind_refactor},
    [LR_KIND_LOOP] = {"loop", loop_in_session},
    [LR_KIND_SESSION_OPEN] = {"session_open", wk_kind_session_open},
    [LR_KIND_EXEC] = {"exec", wk_kind_exec},
    [LR_KIND_SESSION_CLOSE] = {"session_close", wk_kind_session_close},
    [LR_KIND_BATCH] = {"batch", wk_kind_batch},
};

const lr_kind *wk_kind_find(const char *name)
{
	lr_job_kind k;

	if (name == NULL || lr_job_kind_parse(&k, name) < 0 || kinds[k].run == NULL)
		return NULL;
	return &kinds[k];
}
