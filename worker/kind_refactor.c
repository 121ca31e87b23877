/* kind_refactor.c - the `refactor` kind: code + review feedback -> code with
 * the same behaviour. The new code is accepted only when it passes the job's
 * tests (and criteria); otherwise the job answers with the original code and
 * says why the refactoring was refused. */
#include "gen.h"
#include "kind_model.h"
#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wk_kind_refactor(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	prompt_input in = {.entry_point = s->entry_point,
	                   .code = s->code,
	                   .feedback = s->feedback,
	                   .program = s->io != NULL};
	gen_result g;
	eval_outcome out = {0};
	char *why = NULL;
	int rc;

	rc = gen_run(&g, ctx, GEN_REFACTOR, &in, err);
	if (rc < 0)
		goto cleanup;
	if (!g.code) {
		rc = wk_model_result(res, "refactor", &g, NULL, NULL, err);
		goto cleanup;
	}
	rc = wk_model_eval(&out, ctx, g.code, err);
	if (rc < 0)
		goto cleanup;
	rc = wk_model_result(res, "refactor", &g, out.passed ? g.code : s->code, &out, err);
	if (rc == 0) {
		lr_job_result_field(res, "refactored_code", g.code);
		rc = lr_job_result_field(res, "accepted", out.passed ? "1" : "0");
	}
	if (rc == 0 && !out.passed) {
		size_t n = 64 + (out.error ? strlen(out.error) : 0);

		why = malloc(n);
		if (!why) {
			rc = LR_ENOMEM;
		} else {
			snprintf(why, n, "the refactored code was not accepted: %s",
			         out.error ? out.error : "the criteria did not pass");
			free(res->error);
			res->error = why;
			why = NULL;
		}
	}
	if (rc < 0 && rc != LR_ECANCELED && rc != LR_ESTALE)
		rc = lr_err_set(err, LR_ENOMEM, "out of memory recording the result");
cleanup:
	free(why);
	eval_outcome_free(&out);
	gen_result_free(&g);
	return rc;
}
