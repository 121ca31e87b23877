/* kind_evaluate.c - the `evaluate` kind: run the code and its tests in the
 * sandbox, judge the report against the criteria (eval_run), and record it. */
#include "eval.h"
#include "kind_model.h"
#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>

int wk_kind_evaluate(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	eval_request req = {0};
	eval_outcome out = {0};
	char num[32];
	int rc;

	req.code = s->code;
	req.tests = s->tests;
	req.io = s->io;
	req.stop = wk_eval_stop;
	req.stop_arg = ctx;
	req.entry_point = s->entry_point;
	req.criteria = s->has_criteria ? &s->criteria : NULL;
	sbx_limits_default(&req.limits);
	req.limits.timeout_s = s->timeout_s;
	req.limits.memory_mb = s->memory_mb;
	req.static_checks = s->static_checks;
	rc = eval_run(&out, lr_jobctx_pool(ctx), lr_jobctx_sbx_config(ctx), &req, err);
	if (rc < 0)
		return rc; /* the sandbox could not run at all: retried elsewhere */
	/* A cancelled or reclaimed attempt has nothing to record; a worker that
	 * is shutting down records what it has. */
	rc = lr_jobctx_check(ctx, err);
	if (rc == LR_ESTALE || (rc == LR_ECANCELED && lr_jobctx_cancelled(ctx))) {
		eval_outcome_free(&out);
		return rc;
	}
	res->passed = out.passed;
	res->result_json = out.result_json;
	res->error = out.error;
	res->summary = out.summary;
	out.result_json = out.error = out.summary = NULL;
	snprintf(num, sizeof(num), "%.4f", out.score);
	rc = lr_job_result_field(res, "score", num);
	snprintf(num, sizeof(num), "%d", out.tests_passed);
	if (rc == 0)
		rc = lr_job_result_field(res, "tests_passed", num);
	snprintf(num, sizeof(num), "%d", out.tests_total);
	if (rc == 0)
		rc = lr_job_result_field(res, "tests_total", num);
	eval_outcome_free(&out);
	if (rc < 0)
		return lr_err_set(err, rc, "out of memory");
	return 0;
}
