/* loop_model.c - one model call of the loop: the worker's model settings with
 * the job's overrides, a timeout that never outlasts the job's wall budget,
 * a temperature and seed per call (sample rounds), the code extracted from
 * the reply, tokens counted, failures classified.
 *
 * The classification is the generate and refactor kinds' (worker/gen.h): a
 * model the job itself named that the server does not serve, a reply over
 * the cap and a request the server refuses (4xx) are the job's own outcome
 * (the loop stops with `model_error`); an unreachable, busy or failing server,
 * a refused key, a malformed reply and the worker's own model missing are
 * the infrastructure's (the attempt fails and the job is retried, resuming
 * where it stopped). */
#include "loop.h"

#include "clock.h"

#include "extract.h"
#include "log.h"
#include "worker.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CALL_MS       1000   /* the shortest timeout worth a call */
#define DEFAULT_CALL_MS   120000 /* llm.h's default total timeout */
#define PROGRESS_EVERY_MS 1000   /* streamed replies: one progress event a second */

static int job_named_model(const loop_run *L)
{
	return L->spec->model != NULL && *L->spec->model;
}

int loop_model_open(loop_run *L, lr_err *err)
{
	const wk_config *cfg = lr_jobctx_config(L->ctx);
	const llm_settings *s = &cfg->llm;
	llm_failure f = LLM_OK;
	lr_err e;
	int rc;

	llm_settings_config(&L->llm_cfg, s);
	if (job_named_model(L))
		L->llm_cfg.model = L->spec->model; /* the dispatcher checked it is allowed */
	L->stream = s->stream;
	L->temperature = L->spec->has_temperature ? L->spec->temperature : s->temperature;
	L->max_tokens = L->spec->max_tokens > 0 ? L->spec->max_tokens : s->max_tokens;
	L->entry_point = L->spec->entry_point;
	if (!L->entry_point && L->spec->tests &&
	    extract_entry_guess(L->entry_guess, sizeof(L->entry_guess), L->spec->prompt,
	                        L->spec->tests))
		L->entry_point = L->entry_guess;
	if (L->spec->io && (L->io_examples = lr_iotests_examples(L->spec->io, PROMPT_IO_EXAMPLES,
	                                                         PROMPT_MAX_TESTS)) == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	rc = llm_client_new(&L->llm, &L->llm_cfg, err);
	if (rc < 0)
		return rc;
	/* Servers such as llama.cpp's answer any model name with their default
	 * model: ask for the list once, so a wrong name is an error, not a
	 * silent substitute. A server that cannot be asked now is not held
	 * against the model; the first call will say what is wrong. */
	lr_err_clear(&e);
	if (llm_check_model(L->llm, &f, &e) == LR_ENOTFOUND) {
		if (!job_named_model(L))
			return lr_err_set(err, LR_EUNAVAIL, "%s", e.msg); /* the worker's setting */
		L->stop = LOOP_STOP_MODEL_ERROR;
		snprintf(L->stop_detail, sizeof(L->stop_detail), "%s", e.msg);
	}
	return 0;
}

void loop_model_close(loop_run *L)
{
	llm_client_free(L->llm);
	L->llm = NULL;
	free(L->io_examples);
	L->io_examples = NULL;
}

void loop_answer_free(loop_answer *a)
{
	if (a == NULL)
		return;
	free(a->code);
	free(a->reply);
	free(a->why_no_code);
	free(a->model);
	free(a->finish_reason);
	memset(a, 0, sizeof(*a));
}

typedef struct progress {
	loop_run *L;
	long pieces;
	long long last_ms;
	int stale; /* an event write was refused: this attempt is over */
} progress;

/* Streamed replies: stop when the job must, and say how far the model got. */
static int on_token(void *arg, const char *text, size_t len)
{
	progress *p = arg;
	long long now = lr_now_ms();

	(void)text;
	(void)len;
	p->pieces++;
	if (lr_jobctx_should_stop(p->L->ctx))
		return 1;
	if (p->pieces == 1 || now - p->last_ms >= PROGRESS_EVERY_MS) {
		char msg[80];
		lr_err e;

		p->last_ms = now;
		snprintf(msg, sizeof(msg), "iteration %zu: model: %ld tokens", p->L->n, p->pieces);
		lr_err_clear(&e);
		if (lr_jobctx_event(p->L->ctx, "progress", msg, &e) == LR_ESTALE) {
			p->stale = 1;
			return 1;
		}
	}
	return 0;
}

/* Servers that do not report usage: about four bytes a token. */
static long estimate_tokens(size_t bytes)
{
	return (long)((bytes + 3) / 4);
}

/* The code in the reply. A task that is itself code (a signature and
 * docstring) completes a reply that is only the body; a refactor's answer is
 * taken as it is. */
static int take_code(loop_answer *out, loop_run *L, int refactor, lr_err *err)
{
	extract_result ex;
	lr_err xerr;
	int rc;

	lr_err_clear(&xerr);
	rc = L->spec->io ? extract_program(&ex, out->reply, strlen(out->reply), &xerr)
	                 : extract_code(&ex, out->reply, strlen(out->reply), L->entry_point, &xerr);
	if (rc == LR_ENOTFOUND || rc == LR_ETOOBIG) {
		out->extract = "none";
		out->why_no_code = strdup(xerr.msg[0] ? xerr.msg : "no code in the reply");
		extract_result_free(&ex);
		return out->why_no_code ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	if (rc < 0) {
		extract_result_free(&ex);
		return lr_err_set(err, rc, "%s", xerr.msg);
	}
	out->extract = ex.how == EXTRACT_FENCED ? "fenced" : "unfenced";
	if (!refactor && L->spec->tests && *L->spec->tests) {
		/* Code meant for tests: example usage in it only gets in the way. */
		char *t = NULL;

		rc = extract_trim(&t, ex.code, &out->usage_dropped, err);
		if (rc) {
			extract_result_free(&ex);
			return rc;
		}
		free(ex.code);
		ex.code = t;
	}
	rc = extract_complete(&out->code, ex.code, refactor || L->spec->io ? NULL : L->spec->prompt,
	                      ex.defines_entry, err);
	extract_result_free(&ex);
	return rc;
}

/* The failure's class (see the top of this file). */
static int classify(loop_run *L, const llm_reply *rep, int rc, int clamped, lr_err *err)
{
	switch (rep->failure) {
	case LLM_TIMEOUT:
		if (clamped)
			return lr_err_set(err, LR_ETIMEOUT,
			                  "the wall-clock budget ran out while the model answered");
		break;
	case LLM_TOO_BIG:
	case LLM_HTTP_ERROR:
		if (err)
			err->code = LR_EINVAL;
		return LR_EINVAL;
	case LLM_MODEL_NOT_FOUND:
		if (job_named_model(L)) {
			if (err)
				err->code = LR_EINVAL;
			return LR_EINVAL;
		}
		break;
	default:
		if (rc == LR_ENOMEM)
			return rc;
		break;
	}
	/* The infrastructure's: the attempt fails, err keeps the client's words. */
	if (err)
		err->code = LR_EUNAVAIL;
	return LR_EUNAVAIL;
	if (err)
		err->code = LR_EINVAL;
	return LR_EINVAL;
}

int loop_ask(loop_answer *out, loop_run *L, const prompt *p, double temperature, long seed,
             int refactor, lr_err *err)
{
	llm_request req;
	llm_reply rep;
	llm_client *tmp = NULL, *client = L->llm;
	progress pr;
	double left_ms = (L->budget.wall_s - loop_elapsed(L)) * 1000.0;
	long full_ms = L->llm_cfg.timeout_ms > 0 ? L->llm_cfg.timeout_ms : DEFAULT_CALL_MS;
	int clamped = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&rep, 0, sizeof(rep));
	/* A call may not outlast the job's wall budget (by more than MIN_CALL_MS). */
	if (left_ms < (double)full_ms) {
		llm_config c = L->llm_cfg;

		c.timeout_ms = (long)fmax(MIN_CALL_MS, left_ms);
		clamped = 1;
		rc = llm_client_new(&tmp, &c, err);
		if (rc < 0)
			return rc;
		client = tmp;
	}
	llm_request_init(&req);
	req.messages = p->msgs;
	req.nmessages = p->nmsgs;
	req.temperature = temperature;
	req.max_tokens =
	    L->spec->max_tokens > 0 ? L->max_tokens : prompt_reply_tokens(p, L->max_tokens);
	req.seed = seed;
	req.stop_at_code = 1;
	/* Code meant for the job's tests loses its example usage (take_code):
	 * the reading may stop where that usage begins. */
	req.stop_at_usage = !refactor && !L->spec->io && L->spec->tests && *L->spec->tests;
	req.stop_entry = L->entry_point;
	pr.L = L;
	pr.pieces = 0;
	pr.last_ms = lr_now_ms();
	pr.stale = 0;
	if (L->stream) {
		req.stream = 1;
		req.on_token = on_token;
		req.on_token_arg = &pr;
	}
	rc = llm_chat(&rep, client, &req, err);
	out->t_model_ms = rep.latency_ms > 0 ? rep.latency_ms : 0;
	if (rc == LR_ECANCELED || pr.stale || lr_jobctx_should_stop(L->ctx)) {
		rc = pr.stale ? lr_err_set(err, LR_ESTALE, "the job's lease was lost")
		              : lr_jobctx_check(L->ctx, err);
		if (rc == 0)
			rc = lr_err_set(err, LR_ECANCELED, "the model call was cancelled");
		goto cleanup;
	}
	if (rc < 0) {
		rc = classify(L, &rep, rc, clamped, err);
		goto cleanup;
	}
	out->reply = rep.content;
	out->model = rep.model;
	out->finish_reason = rep.finish_reason;
	out->early_stop = rep.early_stop;
	out->stopped_at = rep.stopped_at;
	rep.content = rep.model = rep.finish_reason = NULL;
	if (out->reply == NULL && (out->reply = strdup("")) == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (rep.prompt_tokens >= 0) {
		out->tokens_prompt = rep.prompt_tokens;
	} else {
		size_t bytes = 0;

		for (size_t i = 0; i < p->nmsgs; i++)
			bytes += strlen(p->msgs[i].content);
		out->tokens_prompt = estimate_tokens(bytes);
	}
	out->tokens_completion = rep.completion_tokens >= 0 ? rep.completion_tokens
	                                                    : estimate_tokens(strlen(out->reply));
	rc = take_code(out, L, refactor, err);
cleanup:
	llm_reply_free(&rep);
	llm_client_free(tmp);
	if (rc < 0)
		loop_answer_free(out);
	return rc;
}
