/* loop_report.h - the documents of the feedback loop: an iteration's
 * report.json, the review a refactor works from, and the job's result.
 *
 * An iteration's report.json is the evaluation's report (worker/eval.h: the
 * harness's answer with verdict, score, feedback and summary) with one more
 * member, "loop", saying how the iteration came about:
 *
 *   "loop": {"iteration": 2, "phase": "repair", "attempt": 1, "base": 1,
 *            "has_code": true, "code_hash": "<16 hex>", "failure_hash": "<16 hex>",
 *            "tokens": {"prompt": 310, "completion": 95, "total": 405},
 *            "tokens_total": 1210, "elapsed_s": 7.4,
 *            "timings_ms": {"model": 2210.5, "eval": 61.2},
 *            "model": "smollm2", "finish_reason": "stop", "extract": "fenced",
 *            "usage_dropped": 2, "early_stop": true,
 *            "stopped_at": "usage",                     (when so)
 *            "candidates": [...],                        (sample)
 *            "refactor": {"kept": false, "reason": "..."}} (refactor)
 *
 * Everything the loop's rules need is in it, so the git history alone is
 * enough to resume a job: a worker that takes a job over reads the reports
 * of the committed iterations back with loop_report_read().
 *
 * Reports read back are untrusted in the sense that they went through Redis:
 * every member is read with its type checked. */
#ifndef LLMREPL_LOOP_REPORT_H
#define LLMREPL_LOOP_REPORT_H

#include "err.h"
#include "loop_rules.h"

#include <json-c/json.h>
#include <stddef.h>

/* Bytes of a report read back from the history. */
#define LOOP_REPORT_MAX (16u << 20)

/* How one iteration came about (the "loop" member). */
typedef struct loop_meta {
	long iteration;
	loop_phase phase;
	long attempt;
	long base; /* the iteration repaired or refactored; -1 for none */
	int has_code;
	uint64_t code_hash;
	uint64_t failure_hash;
	long tokens_prompt; /* this iteration (every candidate of a sample) */
	long tokens_completion;
	long tokens_total; /* the job's, this iteration included */
	double elapsed_s;  /* the loop's working time so far, this iteration included */
	double t_model_ms; /* waiting for the model */
	double t_eval_ms;  /* evaluating in the sandbox */
	const char *model; /* the model the server says answered, or NULL */
	const char *finish_reason;
	const char *extract;     /* "fenced", "unfenced" or "none" */
	int usage_dropped;       /* top-level usage statements dropped from the code */
	int early_stop;          /* the reply was cut when its code was complete */
	const char *stopped_at;  /* "fence" (its block closed) or "usage" (example usage
	                            began after the code), or NULL */
	json_object *candidates; /* sample: the candidates (borrowed), or NULL */
	int refactor_kept;       /* refactor: 1 kept, 0 rejected */
	const char *refactor_reason;
} loop_meta;

/* report.json: `eval_report` (a JSON object) with the "loop" member added.
 * *out is malloc'd. LR_EINVAL when eval_report is not an object. */
int loop_report_build(char **out, const char *eval_report, const loop_meta *m, lr_err *err);

/* The evaluation report of an iteration whose reply held no code: status
 * "no_code", passed false, score 0, the reason in `error` and `feedback`, and
 * the start of the reply (at most 2 KiB) as `reply`. *out is malloc'd. */
int loop_report_no_code(char **out, const char *why, const char *reply, lr_err *err);

/* What an iteration's report.json says, read back. */
typedef struct loop_saved {
	loop_iter it;
	long iteration;
	long attempt;
	long tokens;       /* this iteration */
	long tokens_total; /* cumulative */
	double elapsed_s;  /* cumulative */
	int refactor_kept; /* refactor iterations: kept, and why (or why not) */
	char refactor_reason[256];
} loop_saved;

/* Read report.json back. LR_EPROTO when it is not a loop iteration's report
 * (no "loop" member, wrong types). */
int loop_report_read(loop_saved *out, const char *report, size_t len, lr_err *err);

/* A string member of a report ("feedback", "summary", "error"), copied
 * (caller frees), or NULL when missing or not a string. */
char *loop_report_str(const char *report, size_t len, const char *key);

/* The review a refactor works from: the lint, security and complexity
 * findings of a passing iteration's report, most important first, or a
 * general request for clearer code when there are none. *out is malloc'd. */
int loop_review(char **out, const char *report, size_t len, lr_err *err);

/* The job's outcome, as the final result and the job hash's fields. */
typedef struct loop_outcome {
	loop_stop stop;
	long iterations;      /* iterations in the history */
	long final_iteration; /* whose code is the result, -1 for none */
	long accepted;        /* the accepted iteration, -1 for none */
	const char *code;     /* the final code, or NULL */
	const char *commit;   /* the final iteration's commit */
	const char *tag;      /* the `accepted` tag object, or NULL */
	long tokens_total;
	double elapsed_s;
	const char *refactor;        /* "not_requested", "kept", "rejected", "skipped" */
	const char *refactor_reason; /* or NULL */
	const char *stop_detail;     /* e.g. the model's error, or NULL */
	json_object *history;        /* [{n, phase, passed, score, summary, commit}] (borrowed) */
	json_object *deployed;       /* {url, ref, ok, error} or NULL (borrowed) */
} loop_outcome;

/* The result JSON: the final iteration's report (NULL when there is none)
 * with code, iterations, stop_reason, final_iteration, accepted_iteration,
 * commit, tokens_total, elapsed_s, refactor, history and deployed added.
 * *out is malloc'd. */
int loop_result_build(char **out, const char *final_report, const loop_outcome *o, lr_err *err);

/* A one-line summary of the outcome ("passed at iteration 2 (repair): ...",
 * "stopped: stuck_same_failure after 3 iterations; best: ..."), malloc'd. */
char *loop_outcome_summary(const loop_outcome *o, const char *final_summary);

/* 16 lowercase hex digits; buf must hold 17 bytes. */
void loop_hash_hex(char buf[17], uint64_t h);

#endif
