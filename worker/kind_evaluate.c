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
	eval_outcome out = {0};
	int rc;

	/* A cancelled or reclaimed attempt has nothing to record; a worker that
	 * is shutting down records what it has. When the sandbox could not run
	 * at all the job is retried elsewhere. */
	rc = wk_model_eval(&out, ctx, s->code, err);
	if (rc < 0) {
		eval_outcome_free(&out);
		return rc;
	}
	res->passed = out.passed;
	res->result_json = out.result_json;
	res->error = out.error;
	res->summary = out.summary;
	out.result_json = out.error = out.summary = NULL;
	lr_job_result_fieldf(res, "score", "%.4f", out.score);
	lr_job_result_fieldf(res, "tests_passed", "%d", out.tests_passed);
	lr_job_result_fieldf(res, "tests_total", "%d", out.tests_total);
	eval_outcome_free(&out);
	if (res->field_err < 0)
		return lr_err_set(err, res->field_err, "out of memory");
	return 0;
}
