/* eval_int.h - eval.c's parts shared with eval_group.c (grouped runs), not
 * an API for other callers. */
#ifndef LLMREPL_EVAL_INT_H
#define LLMREPL_EVAL_INT_H

#include "eval.h"
#include "eval_report.h"

/* What eval_run derives from a request before it runs anything: the
 * limits with the defaults filled in, the harness's time budget and the
 * judging's context. cold: the run starts a fresh interpreter. */
void eval_prepare(sbx_limits *lim, eval_judge_ctx *ctx, double *budget, const eval_request *req,
                  const sbx_config *cfg, int cold);

/* The harness's request for one evaluation (a new reference, NULL when out
 * of memory). */
json_object *eval_request_json(const eval_request *req, const sbx_limits *lim, double budget,
                               double test_timeout, int isolate, int split);

/* The static service's time budget for an evaluation of this budget. */
double eval_static_budget(double budget);

/* The run's answer parsed, with the static service's findings (st) as its
 * `static`, in place of anything the answer says there: they never come
 * from the run. *ans is a new reference (for eval_judge_ctx.answer, so the
 * judging does not parse the answer again), or NULL when the answer does
 * not parse or stopped before its static checks (left for eval_judge to
 * read or refuse as it is). */
int eval_static_into(const sbx_result *res, json_object *st, double secs, json_object **ans,
                     lr_err *err);

#endif
