/* kinds.c - which handler runs which kind of job: a table indexed by the
 * kind enum of job.h, one row per kind (a kind without a row is not run). */
#include "kinds.h"

#include <stddef.h>

static const lr_kind kinds[LR_KIND_COUNT] = {
    [LR_KIND_EVALUATE] = {"evaluate", wk_kind_evaluate},
    [LR_KIND_GENERATE] = {"generate", wk_kind_generate},
    [LR_KIND_REFACTOR] = {"refactor", wk_kind_refactor},
    [LR_KIND_LOOP] = {"loop", wk_kind_loop},
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
