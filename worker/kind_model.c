/* kind_model.c - judging and recording for the model-based kinds. */
#include "kind_model.h"
#include "session_use.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wk_eval_stop(void *ctx, lr_err *err)
{
	return lr_jobctx_check(ctx, err);
}

int wk_model_eval(eval_outcome *out, lr_jobctx *ctx, const char *code, lr_err *err)
{
	return wk_spec_eval(out, ctx, lr_jobctx_spec(ctx), code, err);
}

int wk_spec_eval(eval_outcome *out, lr_jobctx *ctx, const lr_job_spec *s, const char *code,
                 lr_err *err)
{
	eval_request req;
	int rc;

	memset(out, 0, sizeof(*out));
	eval_request_from_spec(&req, s, code);
	if (s == lr_jobctx_spec(ctx))
		su_apply(&req, su_current(ctx));
	req.stop = wk_eval_stop;
	req.stop_arg = ctx;
	rc = eval_run(out, lr_jobctx_pool(ctx), lr_jobctx_sbx_config(ctx), &req, err);
	if (rc < 0)
		return rc;
	rc = lr_jobctx_check(ctx, err);
	if (rc == LR_ESTALE || (rc == LR_ECANCELED && lr_jobctx_cancelled(ctx)))
		return rc;
	return 0;
}

int wk_model_result(lr_job_result *res, const char *what, const gen_result *g, const char *code,
                    const eval_outcome *ev, lr_err *err)
{
	json_object *root = json_object_new_object(), *model = NULL, *report = NULL;
	char *mj = gen_result_json(g);
	char line[600];
	int rc = 0;

	if (!root || !mj)
		goto oom;
	model = json_tokener_parse(mj);
	json_object_object_add(root, "code", code ? json_object_new_string(code) : NULL);
	json_object_object_add(root, "model", model);
	if (ev && ev->result_json)
		report = json_tokener_parse(ev->result_json);
	json_object_object_add(root, "evaluation", report);
	res->result_json = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	res->passed = ev ? ev->passed : 0;
	if (!code)
		snprintf(line, sizeof(line), "%s: no code (%s)", what, g->error ? g->error : "?");
	else
		snprintf(line, sizeof(line), "%s: %s", what,
		         ev && ev->summary ? ev->summary : "code generated");
	res->summary = strdup(line);
	if (!code)
		res->error = strdup(g->error ? g->error : "no code");
	else if (ev && ev->error)
		res->error = strdup(ev->error);
	if (!res->result_json || !res->summary || ((!code || (ev && ev->error)) && !res->error))
		goto oom;
	if (code)
		lr_job_result_field(res, "code", code);
	lr_job_result_field(res, "model", g->model);
	lr_job_result_fieldf(res, "prompt_tokens", "%ld", (long)g->prompt_tokens);
	lr_job_result_fieldf(res, "completion_tokens", "%ld", (long)g->completion_tokens);
	if (ev) {
		lr_job_result_fieldf(res, "score", "%.4f", ev->score);
		lr_job_result_fieldf(res, "tests_passed", "%ld", (long)ev->tests_passed);
		lr_job_result_fieldf(res, "tests_total", "%ld", (long)ev->tests_total);
	}
	if (res->field_err < 0)
		goto oom;
	goto cleanup;
oom:
	rc = lr_err_set(err, LR_ENOMEM, "out of memory recording the result");
cleanup:
	json_object_put(root);
	free(mj);
	return rc;
}
