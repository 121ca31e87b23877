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

/* The static service's findings into the run's answer (eval.c). */
int eval_put_static(sbx_result *res, json_object *st, double secs, lr_err *err);

#endif
