/* loop_rules.h - the feedback loop's decisions, as pure functions.
 *
 * The `loop` job kind (worker/kind_loop.c) runs rounds of "ask the model,
 * evaluate the code" and keeps one record per round, an iteration. What to do
 * next depends only on those records and the job's budget, so the decision is
 * made here, from data alone: a worker that resumes a job after another one
 * died rebuilds the records from the job's git history and reaches the same
 * decision the first worker would have.
 *
 * The rules, in the order they apply after an iteration:
 *   - a refactor iteration ends the loop (`passed`): kept when it passed,
 *     otherwise rejected and the iteration before it stays accepted;
 *   - an iteration that passed ends the loop (`passed`), after one refactor
 *     round when the job asked for it and the budget allows;
 *   - no code in this iteration and the one before: `no_code`;
 *   - the same code as the iteration before: `stuck_same_code`;
 *   - the same failure as the iteration before: `stuck_same_failure`;
 *   - max_iterations model rounds done: `max_iterations` (`no_code` when the
 *     last round had no code at all);
 *   - the token or wall-clock budget spent: `budget_tokens`, `budget_wall`;
 *   - otherwise repair the last iteration (or generate again after a reply
 *     without code).
 * max_iterations counts the generate, sample and repair rounds; the refactor
 * round comes on top (max_iterations 1 is single-shot).
 *
 * Strategy `auto` (loop_budget.auto_strategy) keeps the first two rules and
 * the budget rules, and chooses otherwise:
 *   - the first round samples: a greedy candidate, then more at a
 *     temperature, ranked by their evaluations (loop_compare);
 *   - after a sample round, or a repair that ranks above everything before
 *     it, the best iteration so far is repaired;
 *   - a repair that is stuck (the same code or the same failure as the
 *     iteration before), that gained nothing over the best so far, or that
 *     had no code, is followed by a fresh sample round from the original
 *     prompt, each one hotter than the last (loop_auto_temperature), rather
 *     than by a stop: only max_iterations and the budget end the loop. */
#ifndef LLMREPL_LOOP_RULES_H
#define LLMREPL_LOOP_RULES_H

#include <stddef.h>
#include <stdint.h>

/* What an iteration did. */
typedef enum {
	LOOP_PHASE_GENERATE = 0, /* one answer to the task */
	LOOP_PHASE_SAMPLE,       /* n answers at a temperature; the best one kept */
	LOOP_PHASE_REPAIR,       /* the last code and its evaluation's feedback */
	LOOP_PHASE_REFACTOR,     /* passing code and a review of its findings */
	LOOP_PHASE_COUNT
} loop_phase;

const char *loop_phase_name(loop_phase p); /* "generate", "sample", "repair", "refactor" */
int loop_phase_parse(loop_phase *out, const char *name); /* 0 or LR_EINVAL */

/* Why a loop ended. */
typedef enum {
	LOOP_STOP_NONE = 0,
	LOOP_STOP_PASSED,
	LOOP_STOP_MAX_ITERATIONS,
	LOOP_STOP_BUDGET_WALL,
	LOOP_STOP_BUDGET_TOKENS,
	LOOP_STOP_STUCK_SAME_CODE,
	LOOP_STOP_STUCK_SAME_FAILURE,
	LOOP_STOP_NO_CODE,
	LOOP_STOP_CANCELLED,
	LOOP_STOP_MODEL_ERROR,
	LOOP_STOP_COUNT
} loop_stop;

/* "passed", "max_iterations", "budget_wall", "budget_tokens",
 * "stuck_same_code", "stuck_same_failure", "no_code", "cancelled",
 * "model_error" ("" for LOOP_STOP_NONE). */
const char *loop_stop_name(loop_stop s);
int loop_stop_parse(loop_stop *out, const char *name); /* 0 or LR_EINVAL */

/* One iteration as the rules see it. */
typedef struct loop_iter {
	loop_phase phase;
	int has_code;          /* the model's reply held code */
	int passed;            /* the criteria's verdict on it */
	double score;          /* the evaluation's score, 0..1 */
	int tests_passed;      /* of tests_total */
	int tests_total;       /* (informational) */
	uint64_t code_hash;    /* loop_code_hash() of the code; 0 without code */
	uint64_t failure_hash; /* loop_failure_hash() of the report; 0 when passed */
	int rejected;          /* a refactor that was not kept (it failed, or changed nothing) */
	long agreement;        /* sample candidates of a job without tests: the
	                          generated tests' dual agreement (loop_agreement) */
} loop_iter;

/* What the job allows. */
typedef struct loop_budget {
	long max_iterations; /* model rounds, >= 1 */
	double wall_s;       /* seconds of loop time, > 0 */
	long tokens;         /* prompt + completion tokens, > 0 */
	int sample;          /* strategy "sample": the first round draws n candidates */
	int auto_strategy;   /* strategy "auto" (see above) */
	int refactor;        /* one refactor round once the code passes */
} loop_budget;

typedef enum {
	LOOP_ACT_GENERATE = 0,
	LOOP_ACT_SAMPLE,
	LOOP_ACT_REPAIR,
	LOOP_ACT_REFACTOR,
	LOOP_ACT_STOP,
} loop_action;

typedef struct loop_next {
	loop_action action;
	loop_stop stop;       /* why, when action is LOOP_ACT_STOP */
	long base;            /* repair, refactor: the iteration whose code is worked on */
	int refactor_skipped; /* a refactor was asked for but the budget was spent */
	int level;            /* sample: sample rounds before this one */
} loop_next;

/* Strategy auto: the temperature of candidate i of a sample round after
 * `level` earlier ones. The first round's first candidate is greedy
 * (greedy_t, the job's temperature); every other candidate is sampled at
 * LOOP_AUTO_T0, LOOP_AUTO_STEP hotter per earlier round, at most
 * LOOP_AUTO_TMAX. */
/* Cool, for small models: sampled at 0.7 and above, SmolLM2-135M wrote code
 * that did not even load in 56% of its HumanEval candidates (greedy: 10%). */
#define LOOP_AUTO_T0   0.4
#define LOOP_AUTO_STEP 0.2
#define LOOP_AUTO_TMAX 0.8
double loop_auto_temperature(int level, long i, double greedy_t);

/* The next step after iterations its[0..n-1], with `tokens` used and
 * `elapsed_s` of loop time spent so far. */
void loop_decide(loop_next *out, const loop_iter *its, size_t n, const loop_budget *b, long tokens,
                 double elapsed_s);

/* Ranking. A ranks above b when it passed and b did not; else when it has
 * code and b has none; else by agreement, then by score, then by tests
 * passed. Returns 1 when a ranks strictly above b, -1 strictly below, 0 when
 * they tie. Agreement only ever orders candidates the job's own criteria
 * judged alike: it never makes one pass. */
int loop_compare(const loop_iter *a, const loop_iter *b);

/* CodeT's dual agreement, for a job without tests whose candidates were run
 * against tests the model wrote (loop_gentests.c): mask[i] has bit k set
 * when candidate i passed generated test k; has[i] is 0 for a candidate
 * without code (its score is 0). Candidates that pass exactly the same tests
 * form a group; each one scores (the group's size) x (the tests it passes),
 * so a behaviour many samples agree on beats one sample that happens to pass
 * one more (possibly wrong) generated test. */
void loop_agreement(long *score, const uint64_t *mask, const int *has, size_t n);

/* The best of n candidates (the earliest among equals), -1 when n is 0. */
long loop_best(const loop_iter *its, size_t n);

/* The accepted iteration: the last one that passed and was not rejected (a
 * refactor that failed or changed nothing is). -1 when none passed. */
long loop_accepted(const loop_iter *its, size_t n);

/* Whose code is the job's result: the accepted iteration, or when none
 * passed the best ranked one (the latest among equals, the most repaired).
 * -1 when n is 0. */
long loop_final(const loop_iter *its, size_t n);

/* A fingerprint of code: FNV-1a over the code with trailing whitespace on
 * each line and trailing blank lines ignored. 0 for NULL or blank code. */
uint64_t loop_code_hash(const char *code);

/* A fingerprint of how an evaluation failed, from its report (the JSON
 * eval_run() produces): the harness's status, the failure's type and message,
 * each test that did not pass (name, status, exception type and message, the
 * actual value), and the criteria missed. Line numbers, timings, output and
 * tracebacks are left out, so the same failure of different code has the same
 * fingerprint. 0 for a report that passed. Returns 0, or LR_EINVAL for a
 * report that is not a JSON object. */
int loop_failure_hash(uint64_t *out, const char *report, size_t len);

#endif
