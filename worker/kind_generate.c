/* kind_generate.c - the `generate` kind: prompt -> code (one model call),
 * then the code is run and judged like an `evaluate` job (with the job's
 * tests when it has them), so the result says whether the code works. */
#include "eval.h"
#include "gen.h"
#include "kind_model.h"
#include "kinds.h"
#include "session_use.h"

#include "extract.h"

#include <stdlib.h>
#include <string.h>

int wk_kind_generate(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	prompt_input in = {
	    .task = s->prompt, .entry_point = s->entry_point, .program = s->io != NULL};
	char entry[128];
	char *examples = NULL;
	gen_result g;
	eval_outcome out = {0};
	int rc;

	/* The name the tests call, when the job does not say: the model is told. */
	if (!in.entry_point && s->tests &&
	    extract_entry_guess(entry, sizeof(entry), s->prompt, s->tests))
		in.entry_point = entry;
	if (s->show_tests && s->io) {
		examples = lr_iotests_examples(s->io, PROMPT_IO_EXAMPLES, PROMPT_MAX_TESTS);
		if (examples == NULL)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		in.tests = examples;
	} else if (s->show_tests) {
		in.tests = s->tests;
	}
	in.session = su_current_prompt(ctx);
	rc = gen_run(&g, ctx, GEN_GENERATE, &in, err);
	if (rc < 0)
		goto cleanup;
	if (!g.code) { /* the job's own outcome: no code, nothing to run */
		rc = wk_model_result(res, "generate", &g, NULL, NULL, err);
		goto cleanup;
	}
	rc = wk_model_eval(&out, ctx, g.code, err);
	if (rc < 0)
		goto cleanup;
	rc = wk_model_result(res, "generate", &g, g.code, &out, err);
cleanup:
	eval_outcome_free(&out);
	gen_result_free(&g);
	free(examples);
	return rc;
}
