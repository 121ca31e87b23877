/* loop.h - the `loop` job kind's pieces (not for other kinds).
 *
 *   kind_loop.c    the handler: resume, then decide (loop_rules.h) and run
 *                  steps until a rule says stop, then the result
 *   loop_run.c     the attempt's state: its clock, the iterations so far
 *   loop_step.c    one iteration: ask the model, evaluate, commit, record
 *   loop_model.c   one model call: prompt, budget-clamped timeout, code
 *                  extraction, token accounting, error classes
 *   loop_gentests.c  tests the model writes for a job without tests, which
 *                  rank sample candidates (never decide `passed`)
 *   loop_store.c   the job's git history: its own Redis connection, resume
 *                  from the committed iterations, commit, tag, deploy
 *
 * One loop_run lives for one attempt of one job, on the worker's main thread. */
#ifndef LLMREPL_LOOP_H
#define LLMREPL_LOOP_H

#include "err.h"
#include "eval.h"
#include "gitstore.h"
#include "job_ctx.h"
#include "llm.h"
#include "loop_report.h"
#include "loop_rules.h"
#include "prompts.h"
#include "redis.h"

/* Default temperature of the candidates of a `sample` job without one. */
#define LOOP_SAMPLE_TEMPERATURE 0.8
/* Bytes of stdout and of stderr kept in an iteration's hash. */
#define LOOP_OUTPUT_MAX 4096
/* Bytes of a candidate's code kept in its record. */
#define LOOP_CANDIDATE_CODE_MAX 4096

/* What the run remembers of each iteration. */
typedef struct loop_rec {
	char commit[GITSTORE_OID_HEX + 1];
	char *summary;         /* the commit's subject (owned) */
	int refactor_kept;     /* refactor iterations */
	char *refactor_reason; /* (owned), or NULL */
} loop_rec;

typedef struct loop_run {
	lr_jobctx *ctx;
	const lr_job_spec *spec;
	const char *id;
	long attempt;
	loop_budget budget;

	/* the model */
	llm_config llm_cfg; /* the worker's settings with this job's model */
	llm_client *llm;
	int stream;
	double temperature; /* generate, repair, refactor; < 0: the server's default */
	long max_tokens;
	const char *entry_point; /* the job's, or the name its tests call; NULL: unknown */
	char entry_guess[128];
	char *io_examples; /* io tests: the first cases, shown as examples; else NULL */
	char *gen_tests;   /* a job without tests: the model's assert lines, or NULL */
	int gen_asked;     /* this attempt asked for them */

	/* the history, on its own connection */
	lr_redis *r;
	gitstore *gs;

	/* the iterations so far */
	loop_iter *its;
	loop_rec *recs;
	size_t n, cap;
	long tokens_total;
	double elapsed0; /* loop time spent by earlier attempts */
	long long t0_ms; /* when this attempt started working */

	/* how it ended */
	loop_stop stop;
	char stop_detail[LR_ERR_MSG_MAX];
	int refactor_skipped;
} loop_run;

/* ---- loop_run.c ------------------------------------------------------------ */

/* Loop time so far: earlier attempts and this one. */
double loop_elapsed(const loop_run *L);
/* Append an iteration read back or just made; takes `summary`. */
int loop_push_iter(loop_run *L, const loop_iter *it, const char *commit, char *summary,
                   int refactor_kept, const char *refactor_reason);

/* ---- loop_model.c ---------------------------------------------------------- */

/* One model answer. */
typedef struct loop_answer {
	char *code;             /* the complete program, or NULL when the reply had none */
	char *reply;            /* the reply as sent */
	char *why_no_code;      /* when code is NULL */
	const char *extract;    /* "fenced", "unfenced", "none" */
	int usage_dropped;      /* top-level usage statements dropped (extract_trim) */
	int early_stop;         /* the reply was cut when its code was complete */
	const char *stopped_at; /* then why: "fence" or "usage" (llm_reply), static */
	long tokens_prompt;
	long tokens_completion;
	double t_model_ms;
	char *model; /* who answered, per the server */
	char *finish_reason;
} loop_answer;

/* Set up the model client from the worker's settings and the job's spec. A
 * model the job named that the server does not serve sets L->stop to
 * model_error; the worker's own model missing is LR_EUNAVAIL. */
int loop_model_open(loop_run *L, lr_err *err);
void loop_model_close(loop_run *L);

/* Send `p` (at `temperature`, with `seed` unless < 0) and extract the code
 * (`refactor`: taken as it is, not completed from the task). Returns 0 with
 * or without code, LR_ECANCELED / LR_ESTALE (the job must stop), LR_ETIMEOUT
 * when the wall budget ran out during the call, LR_EINVAL for a failure that
 * is the job's own (its model not served, a reply over the cap, a refused
 * request) or LR_EUNAVAIL for the infrastructure's (unreachable, busy, 5xx,
 * refused key, malformed reply): err says which. */
int loop_ask(loop_answer *out, loop_run *L, const prompt *p, double temperature, long seed,
             int refactor, lr_err *err);
void loop_answer_free(loop_answer *a);

/* ---- loop_gentests.c ------------------------------------------------------- */

/* Does this job rank its candidates by tests the model writes? (strategy
 * auto, no tests of its own, not a program, a known entry point, n > 1) */
int loop_gentests_wanted(const loop_run *L);
/* Ask the model for them (once an attempt): L->gen_tests, NULL when the
 * reply had no usable assert line. Adds the call's tokens and time. Returns
 * what loop_ask returns. */
int loop_gentests_ask(loop_run *L, long *tokens, double *t_model_ms, lr_err *err);
/* Run `code` against L->gen_tests: *mask has bit k set when test k passed. */
int loop_gentests_run(loop_run *L, const char *code, uint64_t *mask, double *t_eval_ms,
                      lr_err *err);

/* ---- loop_store.c ---------------------------------------------------------- */

int loop_store_open(loop_run *L, lr_err *err);
void loop_store_close(loop_run *L);

/* Rebuild the iterations from the history (a fresh job has none). */
int loop_store_resume(loop_run *L, lr_err *err);

/* Commit iteration n: solution.py (code, "" for none), tests.py (the job's
 * tests, if any) and report.json. *existed: it was already committed (its
 * stored report is then in *stored_report, malloc'd). */
int loop_store_commit(loop_run *L, long n, const char *code, const char *report,
                      const char *summary, char oid[GITSTORE_OID_HEX + 1], int *existed,
                      lr_err *err);

/* The code and report.json of a committed iteration (malloc'd; code "" when
 * it had none). */
int loop_store_load(loop_run *L, long n, char **code, char **report, lr_err *err);

/* Tag iteration n `accepted`; tag_oid receives the tag object's id. */
int loop_store_tag(loop_run *L, long n, const char *message, char tag_oid[GITSTORE_OID_HEX + 1],
                   lr_err *err);

/* Push the accepted commit to `url` (deployment). */
int loop_store_push(loop_run *L, const char *url, const char *ref, lr_err *err);

/* ---- loop_step.c ----------------------------------------------------------- */

/* Run one step (generate, sample, repair or refactor) and append its
 * iteration. Returns 0, or what loop_ask returns (LR_EINVAL: the model
 * failed for good; L->stop_detail says how), or a store/sandbox error. */
int loop_step(loop_run *L, const loop_next *nx, lr_err *err);

void loop_run_free(loop_run *L);

#endif
