/* eval_check.h - strict validation of the harness's report before anything
 * of it is believed.
 *
 * A report that makes no sense (negative or inconsistent counts, a status
 * outside the known set, a case list that disagrees with its totals, sizes
 * past their bounds, findings or metrics of the wrong shape) is never
 * judged: eval_judge turns it into a failed verdict with the reason, or an
 * infrastructure error when the report came from a judge process the code
 * could not reach (see eval.c). */
#ifndef LLMREPL_EVAL_CHECK_H
#define LLMREPL_EVAL_CHECK_H

#include <json-c/json.h>
#include <stddef.h>

#define EVAL_CASES_MAX  2000    /* cases the harness lists one by one */
#define EVAL_COUNT_MAX  1000000 /* tests one evaluation may count */
#define EVAL_STRING_MAX (1u << 20)

/* 0 when `ans` is a well-formed report; -1 with the first problem in why. */
int eval_report_check(json_object *ans, char *why, size_t len);

#endif
