/* gen.h - one model step of a job: prompt, call, code.
 *
 * gen_run() builds the prompt (worker/prompts.h) for a generate, repair or
 * refactor step, calls the model server the worker is configured with (or
 * the job's model, which the dispatcher has checked against the operator's
 * list), turns streamed tokens into throttled `progress` events, stops when
 * the job is cancelled, and extracts the code (model/extract.h), completed
 * for a task that is itself code. Used by the generate and refactor kinds
 * and by the loop's repair and refactor steps.
 *
 * Outcomes, following job_ctx.h's contract:
 *   0 and out->code set             the model answered with code
 *   0 and out->code NULL            the job's own outcome: no code in the
 *                                   reply, a reply over the cap, a model the
 *                                   job named that the server does not have,
 *                                   a request the server refused (4xx);
 *                                   out->error says which
 *   LR_ECANCELED / LR_ESTALE        stop, as lr_jobctx_check() said
 *   other < 0                       the model server failed (unreachable,
 *                                   timeout, 429/5xx, refused key, malformed
 *                                   reply): the attempt is retried later */
#ifndef LLMREPL_GEN_H
#define LLMREPL_GEN_H

#include "job_ctx.h"
#include "llm.h"
#include "prompts.h"

typedef enum { GEN_GENERATE = 0, GEN_REPAIR, GEN_REFACTOR } gen_step;

typedef struct gen_result {
	char *code;  /* the program (owned), or NULL */
	char *error; /* why there is no code (owned), or NULL */
	char *reply; /* the model's raw reply (owned; NULL when the call failed) */
	char model[128];
	long prompt_tokens; /* -1: unknown */
	long completion_tokens;
	int usage_estimated; /* streamed without usage: completion_tokens counts pieces */
	double latency_ms;
	double ttft_ms;
	int attempts;
	int truncated;          /* the code's fence was never closed (token limit) */
	int early_stop;         /* the reply was cut when its code was complete */
	const char *stopped_at; /* "fence": its code block closed; "usage": example
	                           usage began after the code (static); or NULL */
	int dropped;            /* top-level usage statements dropped (extract_trim) */
	llm_failure failure;
} gen_result;

int gen_run(gen_result *out, lr_jobctx *ctx, gen_step step, const prompt_input *in, lr_err *err);
void gen_result_free(gen_result *r);

/* The model step's figures as a JSON object text (owned), for reports. */
char *gen_result_json(const gen_result *r);

#endif
