/* kind_model.h - what the kinds that judge code share: running code like an
 * `evaluate` job (evaluate, generate, refactor), and recording the outcome
 * with the model step's figures (generate, refactor). */
#ifndef LLMREPL_KIND_MODEL_H
#define LLMREPL_KIND_MODEL_H

#include "eval.h"
#include "gen.h"
#include "job_ctx.h"

/* eval_request.stop for a job: lr_jobctx_check() on the lr_jobctx `ctx`. */
int wk_eval_stop(void *ctx, lr_err *err);

/* Run `code` with the job's tests, entry point, criteria and limits.
 * Returns 0, or < 0 when the sandbox could not run or the job must stop
 * (LR_ECANCELED, LR_ESTALE), as the kind handlers return it. */
int wk_model_eval(eval_outcome *out, lr_jobctx *ctx, const char *code, lr_err *err);
/* The same with another spec's tests, entry point, criteria and limits (a
 * batch's item). */
int wk_spec_eval(eval_outcome *out, lr_jobctx *ctx, const lr_job_spec *s, const char *code,
                 lr_err *err);

/* Fill `res`: passed (the evaluation's verdict; 0 without code), the result
 * JSON {code, model: {...}, evaluation: report|null, refactored?}, error,
 * summary, and the extra fields code, model, prompt_tokens,
 * completion_tokens, score, tests_passed, tests_total. `what` names the
 * step in the summary ("generate", "refactor"). `code` is the code the job
 * answers with; `ev` may be NULL (no code to run). */
int wk_model_result(lr_job_result *res, const char *what, const gen_result *g, const char *code,
                    const eval_outcome *ev, lr_err *err);

#endif
