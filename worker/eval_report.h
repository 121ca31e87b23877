/* eval_report.h - judge one evaluation: from the sandbox's result and the
 * harness's JSON answer to a verdict, a score, feedback and the report.
 *
 * Nothing here runs anything, so the judging can be exercised on recorded
 * answers (tests/drivers/eval_judge.c). The answer is untrusted: the code ran
 * in the process that wrote it, so every field is read with its type checked
 * and every string clipped before it reaches the feedback. */
#ifndef LLMREPL_EVAL_REPORT_H
#define LLMREPL_EVAL_REPORT_H

#include "buf.h"
#include "criteria.h"
#include "err.h"
#include "eval.h"
#include "json.h"
#include "sbx.h"

#include <json-c/json.h>

#define EVAL_ANSWER_MAX     (8u << 20) /* bytes of harness answer accepted */
#define EVAL_ANSWER_DEPTH   16
#define EVAL_FEEDBACK_MAX   6000 /* bytes of feedback for the model */
#define EVAL_FAILURES_SHOWN 5    /* failing tests described one by one */

/* What the judging needs to know about the run besides its result. */
typedef struct eval_judge_ctx {
	double timeout_s;      /* the run's wall-clock limit */
	long memory_mb;        /* its memory limit */
	size_t output_max;     /* bytes kept per stream */
	double test_timeout_s; /* per test case */
	const char *retried;   /* why the run was repeated isolated, or NULL */
	int split;             /* the sandbox ran a judge apart from the code (its report
	                          cannot be written by the code) */
	size_t group_size;     /* > 0: one of this many evaluations in one sandbox run
	                          (eval_group.c); the run's peak memory is the group's */
	size_t group_index;
	size_t group_judge; /* 0: the item's judge was its own; n > 0: the n-th item
	                       of a judge shared by consecutive items */
	/* The run's answer already parsed (eval.c: with the static service's
	 * findings in it; borrowed), or NULL: eval_judge parses the run's. */
	json_object *answer;
} eval_judge_ctx;

/* The facts the verdict, score and feedback are made of. Pointers borrow
 * from `ans`, which the facts own. */
typedef struct eval_facts {
	json_object *ans;         /* the harness's answer; NULL when none could be read */
	char answer_problem[200]; /* why there is no answer, when ans == NULL */
	int invalid;              /* an answer came but failed eval_report_check */
	int split;                /* integrity "split": the judge wrote the report */
	const char *status;       /* the harness's status ("ok", "tests_failed", ...) */
	json_object *failure;     /* the harness's error object (syntax error, load error) */
	int sandbox_failed;       /* the run ended by a limit or a crash, not by itself */
	int ran;                  /* the code ran (loaded) and the tests could be run */
	int tests_total, tests_passed;
	int runtime_errors; /* exceptions, crashes, memory failures (load and tests) */
	int timeouts;
	int pyflakes_ran, bandit_ran, radon_ran;
	long static_errors, lint_warnings;
	lr_severity worst_severity;
	long max_complexity;
	const char *max_complexity_fn;
	long max_complexity_line;
	double mi;          /* maintainability index, -1 when unknown */
	double time_s;      /* how long the code ran: load and tests */
	double peak_mb;     /* its peak memory */
	int mem_unmeasured; /* the code ran apart from the judge in a run without a
	                       cgroup of its own: only the judge's memory counted */
} eval_facts;

/* Read the answer and the run into facts. Never fails on bad input (that is
 * a fact too); LR_ENOMEM only. split: the run had a judge apart from the
 * code (ctx->split). */
int eval_facts_read(eval_facts *f, const sbx_result *run, int split);
void eval_facts_free(eval_facts *f);

/* Everything: verdict, score, feedback, summary, error and result_json in
 * *out (which the caller frees with eval_outcome_free). */
int eval_judge(eval_outcome *out, const sbx_result *run, const lr_criteria *crit,
               const eval_judge_ctx *ctx, lr_err *err);

/* The criteria a run misses, most important first, as {"criterion",
 * "message"} objects appended to `violations`. */
int eval_violations(json_object *violations, const eval_facts *f, const lr_criteria *c,
                    const sbx_result *run, const eval_judge_ctx *ctx);

double eval_score(const eval_facts *f);

/* Feedback texts (eval_feedback.c). Each writes into a bounded buffer. */
int eval_feedback_text(lr_buf *b, const eval_facts *f, json_object *violations,
                       const lr_criteria *crit, const sbx_result *run, const eval_judge_ctx *ctx,
                       int passed);
int eval_summary_text(lr_buf *b, const eval_facts *f, json_object *violations,
                      const sbx_result *run, const eval_judge_ctx *ctx, int passed, double score);
/* The main failure in one line; writes nothing when there is none. */
int eval_error_text(lr_buf *b, const eval_facts *f, json_object *violations, const sbx_result *run,
                    const eval_judge_ctx *ctx);

#endif
