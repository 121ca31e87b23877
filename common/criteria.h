/* criteria.h - the thresholds that decide whether evaluated code is accepted.
 *
 * A job's optional `criteria` object, e.g.
 *   {"min_pass_rate": 1.0, "max_errors": 0, "max_security": "medium",
 *    "max_lint": 10, "max_complexity": 15, "max_time_s": 5, "max_memory_mb": 256,
 *    "integrity": "split"}
 * Unknown keys and wrong types are errors (a spec is rejected, not guessed at).
 *
 * Whatever the criteria, code passes only if it ran: a syntax error, empty
 * code, a crash while loading or a sandbox limit is never accepted. With the
 * defaults, code passes exactly when it ran to the end without error and every
 * test passed; the static tools then inform the score and the feedback but do
 * not decide. */
#ifndef LLMREPL_CRITERIA_H
#define LLMREPL_CRITERIA_H

#include "err.h"

#include <json-c/json.h>

typedef enum { LR_SEV_NONE = 0, LR_SEV_LOW, LR_SEV_MEDIUM, LR_SEV_HIGH } lr_severity;

typedef struct lr_criteria {
	double min_pass_rate;       /* share of tests that must pass, 0..1 (default 1) */
	long max_errors;            /* runtime errors allowed: exceptions, crashes and memory
	                               failures while loading the code or in tests (default 0;
	                               -1 = any) */
	long max_static_errors;     /* pyflakes errors (undefined names, ...) allowed
	                               (-1 = any; default -1) */
	lr_severity max_security;   /* highest bandit severity tolerated (default: high => any);
	                               "none" tolerates no finding at all */
	long max_lint;              /* pyflakes warnings allowed (-1 = any; default -1) */
	long max_complexity;        /* highest cyclomatic complexity per function (-1 = any) */
	double min_maintainability; /* radon maintainability index, 0..100 (0 = any) */
	double max_time_s;    /* wall time the code ran, load and tests (0 = the timeout alone) */
	double max_memory_mb; /* peak memory of the code (0 = the memory limit alone) */
	int require_split;    /* "integrity": "split" - only a report whose tests ran in a
	                         judge process apart from the code counts ("any": default) */
} lr_criteria;

void lr_criteria_default(lr_criteria *c);

/* Read a criteria object over the defaults already in *c. NULL obj leaves
 * them. On error *c is unchanged and err says which key and why
 * ("criteria.max_lint: expected an integer >= -1, got \"ten\""). */
int lr_criteria_from_json(lr_criteria *c, json_object *obj, lr_err *err);

/* The criteria as a JSON object (caller puts it); NULL when out of memory. */
json_object *lr_criteria_to_json(const lr_criteria *c);

const char *lr_severity_name(lr_severity s);            /* "none", "low", "medium", "high" */
int lr_severity_parse(const char *s, lr_severity *out); /* 0 or LR_EINVAL; case-insensitive */

#endif
