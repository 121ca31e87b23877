/* criteria.h - the thresholds that decide whether evaluated code is accepted.
 *
 * A job's optional `criteria` object, e.g.
 *   {"min_pass_rate": 1.0, "max_errors": 0, "max_security": "medium",
 *    "max_lint": 10, "max_complexity": 15, "max_time_s": 5, "max_memory_mb": 256}
 * Unknown keys and wrong types are errors (a spec is rejected, not guessed at). */
#ifndef LLMREPL_CRITERIA_H
#define LLMREPL_CRITERIA_H

#include "err.h"

#include <json-c/json.h>

typedef enum { LR_SEV_NONE = 0, LR_SEV_LOW, LR_SEV_MEDIUM, LR_SEV_HIGH } lr_severity;

typedef struct lr_criteria {
	double min_pass_rate;	/* share of tests that must pass, 0..1 (default 1) */
	long max_errors;	/* runtime errors and pyflakes errors allowed (default 0) */
	lr_severity max_security; /* highest bandit severity tolerated (default: high => any) */
	long max_lint;		/* pyflakes warnings allowed (-1 = any; default -1) */
	long max_complexity;	/* highest cyclomatic complexity per function (-1 = any) */
	double max_time_s;	/* wall time of the run (0 = the timeout alone) */
	double max_memory_mb;	/* peak memory (0 = the memory limit alone) */
} lr_criteria;

void lr_criteria_default(lr_criteria *c);

/* Read a criteria object over the defaults. NULL obj leaves the defaults. */
int lr_criteria_from_json(lr_criteria *c, json_object *obj, lr_err *err);

/* The criteria as a JSON object (caller puts it). */
json_object *lr_criteria_to_json(const lr_criteria *c);

const char *lr_severity_name(lr_severity s);
int lr_severity_parse(const char *s, lr_severity *out);

#endif
