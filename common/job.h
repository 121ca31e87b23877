/* job.h - the job spec: what users submit, validated and normalised.
 *
 * A spec is one JSON object with a `kind` and the fields of that kind:
 *
 *   evaluate  code, [tests], [entry_point], [isolate]      run and judge code (no model)
 *   generate  prompt, [tests], [entry_point], [model], [temperature], [show_tests]
 *   refactor  code, feedback, [tests], [entry_point], [model], [temperature]
 *   loop      prompt, [tests], [entry_point], [max_iterations], [budget],
 *             [strategy], [n], [temperature], [refactor], [model], [show_tests]
 *   session_open  [idle_timeout_s], [max_cells]            a REPL session (its limits
 *                                                           are each cell's)
 *   exec      session, code                                 one cell in a session
 *   session_close  session                                  end a session
 *   batch     items: [{id, code, [tests], [entry_point], [criteria]}, ...]
 *
 * evaluate, generate and loop may name a REPL session ([session]): the code
 * is then tested after the session's recorded cells, on the state they built
 * (not with io tests). The session itself is not changed.
 *             many evaluations in one job (see job_batch.h)
 *
 * and, for every kind, [limits] {timeout_s, memory_mb}, [criteria] (see
 * criteria.h) and [static_checks] (bool, default true). `tests` is a string
 * (assert lines, a check(candidate) function, test_* functions or doctests),
 * an array of strings (joined with newlines), or the io form {"io": [{"stdin",
 * "stdout"}, ...], "checker", "stop_on_failure"} (see iotests.h): the code
 * is then a whole program run once per case. `budget` is {wall_s,
 * tokens}; `strategy` is "auto" (the default), "repair" or "sample"; `model` is
 * {name, max_tokens};
 * `show_tests` (bool, default true) puts the tests in the model's prompt.
 * Unknown fields, wrong types and out-of-range values are errors that name
 * the field, so a rejected job says exactly what to fix.
 *
 * Validation applies the operator's policy: defaults for what is missing and
 * caps on limits (a value over a cap is lowered to it and the change noted).
 * The normalised spec (lr_job_spec_to_json) has every effective value, so a
 * worker runs exactly what the dispatcher accepted. */
#ifndef LLMREPL_JOB_H
#define LLMREPL_JOB_H

#include "criteria.h"
#include "err.h"
#include "iotests.h"

#include <stddef.h>

typedef enum {
	LR_KIND_EVALUATE = 0,
	LR_KIND_GENERATE,
	LR_KIND_REFACTOR,
	LR_KIND_LOOP,
	LR_KIND_SESSION_OPEN,
	LR_KIND_EXEC,
	LR_KIND_SESSION_CLOSE,
	LR_KIND_BATCH,
	LR_KIND_COUNT
} lr_job_kind;

const char *lr_job_kind_name(lr_job_kind k);
/* Returns 0, or LR_EINVAL for an unknown name. */
int lr_job_kind_parse(lr_job_kind *out, const char *name);

typedef enum { LR_STRATEGY_REPAIR = 0, LR_STRATEGY_SAMPLE, LR_STRATEGY_AUTO } lr_job_strategy;

const char *lr_job_strategy_name(lr_job_strategy s);

/* The operator's rules. */
typedef struct lr_job_policy {
	size_t max_spec_bytes;    /* whole spec (default 1 MiB) */
	size_t max_text_bytes;    /* code, tests, prompt, feedback each (default 512 KiB) */
	double default_timeout_s; /* limits.timeout_s when absent (default 10) */
	double max_timeout_s;     /* cap (default 60) */
	long default_memory_mb;   /* limits.memory_mb when absent (default 256) */
	long max_memory_mb;       /* cap (default 1024) */
	long default_iterations;  /* loop max_iterations when absent (default 4) */
	long max_iterations;      /* cap (default 20) */
	double max_wall_s;        /* cap on budget.wall_s, also its default (default 600) */
	long max_tokens;          /* cap on budget.tokens, also its default (default 200000) */
	long max_n;               /* cap on n (default 8) */
	long max_batch_items;     /* cap on a batch's items (default 1000) */
	const char *models;       /* model names a job may ask for: "*" any (default), ""
	                             none, or a comma-separated list */
} lr_job_policy;

void lr_job_policy_default(lr_job_policy *p);

typedef struct lr_job_spec {
	lr_job_kind kind;
	char *code;        /* evaluate, refactor */
	char *tests;       /* optional; arrays already joined */
	lr_iotests *io;    /* the io form instead of `tests`, or NULL */
	char *entry_point; /* optional */
	int isolate;       /* evaluate: isolated from the start, as the host's retry runs */
	char *prompt;      /* generate, loop */
	char *feedback;    /* refactor */
	double timeout_s;  /* effective limits */
	long memory_mb;
	int static_checks;
	lr_criteria criteria;
	int has_criteria; /* criteria were given (else the defaults apply) */
	/* loop */
	long max_iterations;
	double budget_wall_s;
	long budget_tokens;
	lr_job_strategy strategy;
	long n;
	int refactor;
	/* generate, refactor, loop */
	double temperature;
	int has_temperature;
	int show_tests;  /* generate, loop: the tests go into the prompt */
	char *model;     /* model name override, or NULL for the worker's */
	long max_tokens; /* per completion; 0 = the worker's */
	/* What the policy changed, "; "-separated, or NULL. */
	char *notes;
	/* POSTed the job's outcome when it is final (http:// or https://), or NULL;
	 * the dispatcher delivers it (dispatcher/webhook.c). */
	char *callback_url;
	/* sessions: the session's id (exec, session_close); session_open's idle
	 * timeout and cap on cells (the operator's defaults when absent). */
	char *session;
	double idle_timeout_s;
	long max_cells;
	/* batch: the items, each an evaluate spec with its own id, code, tests,
	 * entry point and criteria (else the batch's), and the batch's limits
	 * and static_checks. */
	struct lr_job_spec *items;
	size_t nitems;
	char *item_id; /* an item's id (NULL outside a batch) */
} lr_job_spec;

/* Parse and validate `len` bytes of spec JSON. With pol NULL only the
 * structure is checked and the built-in defaults apply (for re-reading a
 * normalised spec). On error err->msg says what is wrong, e.g.
 * "field 'limits.timeout_s' must be a number, got string". */
int lr_job_spec_parse(lr_job_spec *out, const char *text, size_t len, const lr_job_policy *pol,
                      lr_err *err);

/* The normalised spec as compact JSON (malloc'd), or NULL when out of memory. */
char *lr_job_spec_to_json(const lr_job_spec *s);

void lr_job_spec_free(lr_job_spec *s); /* frees the members; accepts NULL */

#endif
