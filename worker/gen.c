/* gen.c - one model step of a job: prompt, call, code (see gen.h). */
#include "gen.h"

#include "clock.h"
#include "extract.h"
#include "log.h"
#include "worker.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One client per worker process, kept between jobs so the connection to the
 * model server stays open; rebuilt when a job asks for another model. */
static llm_client *client;
static char client_model[128];

typedef struct progress {
	lr_jobctx *ctx;
	long pieces;
	double last_ms;
	int stale; /* an event write was refused: stop */
} progress;

#define PROGRESS_EVERY_MS 1000.0

static int on_token(void *arg, const char *text, size_t len)
{
	progress *p = arg;
	double t = 1e3 * lr_now_s();

	(void)text;
	(void)len;
	p->pieces++;
	if (lr_jobctx_should_stop(p->ctx))
		return 1;
	/* The first token (the model has started), then one event a second. */
	if (p->pieces == 1 || t - p->last_ms >= PROGRESS_EVERY_MS) {
		char msg[64];
		lr_err e;

		p->last_ms = t;
		snprintf(msg, sizeof(msg), "model: %ld tokens", p->pieces);
		if (lr_jobctx_event(p->ctx, "progress", msg, &e) == LR_ESTALE) {
			p->stale = 1;
			return 1;
		}
	}
	return 0;
}

/* The client for `model`, created on first use and checked against the
 * server's model list once: servers such as llama.cpp's answer any model
 * name with their default model, which would hide a typo. A server that
 * cannot be asked now is not held against the model; the call will say. */
static int get_client(llm_client **out, const llm_settings *ls, const char *model,
                      llm_failure *failure, lr_err *err)
{
	llm_config lc;
	int rc;

	*failure = LLM_OK;
	if (client && strcmp(client_model, model) == 0) {
		*out = client;
		return 0;
	}
	llm_client_free(client);
	client = NULL;
	client_model[0] = '\0';
	llm_settings_config(&lc, ls);
	lc.model = model;
	lc.max_retries = 0; /* the check only; calls use the configured retries */
	rc = llm_client_new(&client, &lc, err);
	if (rc == 0 && llm_check_model(client, failure, err) == LR_ENOTFOUND) {
		llm_client_free(client);
		client = NULL;
		return LR_ENOTFOUND;
	}
	llm_client_free(client);
	client = NULL;
	lc.max_retries = (int)ls->retries;
	if (rc == 0)
		rc = llm_client_new(&client, &lc, err);
	if (rc)
		return rc;
	*failure = LLM_OK;
	snprintf(client_model, sizeof(client_model), "%s", model);
	*out = client;
	return 0;
}

void gen_result_free(gen_result *r)
{
	if (!r)
		return;
	free(r->code);
	free(r->error);
	free(r->reply);
	r->code = r->error = r->reply = NULL;
}

static int set_error(gen_result *out, const char *msg, lr_err *err)
{
	free(out->error);
	out->error = strdup(msg);
	return out->error ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
}

/* One chat call on the job's settings (the worker's where the job gives
 * none), with progress events; the reply's figures go to out. */
static int chat(llm_reply *r, gen_result *out, llm_client *c, lr_jobctx *ctx, const prompt *p,
                const char *usage_entry, int usage, lr_err *e)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	const wk_config *wc = lr_jobctx_config(ctx);
	progress pr = {ctx, 0, 0, 0};
	llm_request req;
	int rc;

	llm_request_init(&req);
	req.messages = p->msgs;
	req.nmessages = p->nmsgs;
	req.max_tokens =
	    s->max_tokens > 0 ? s->max_tokens : prompt_reply_tokens(p, wc->llm.max_tokens);
	req.temperature = s->has_temperature ? s->temperature : wc->llm.temperature;
	req.stream = wc->llm.stream;
	req.stop_at_code = 1;
	req.stop_at_usage = usage;
	req.stop_entry = usage_entry;
	req.on_token = on_token;
	req.on_token_arg = &pr;
	pr.last_ms = 1e3 * lr_now_s();
	rc = llm_chat(r, c, &req, e);
	out->prompt_tokens = r->prompt_tokens;
	out->completion_tokens = r->completion_tokens;
	out->usage_estimated = r->usage_estimated;
	out->latency_ms = r->latency_ms;
	out->ttft_ms = r->ttft_ms;
	out->attempts = r->attempts;
	out->failure = r->failure;
	return pr.stale ? LR_ESTALE : rc;
}

/* The code in out->reply: extracted, trimmed of example usage when tests
 * will run it, completed with the task's signature when it lacks one. */
static int code_of(gen_result *out, gen_step step, const prompt_input *in, const lr_job_spec *s,
                   lr_err *err)
{
	extract_result x;
	lr_err e;
	int rc;

	memset(&x, 0, sizeof(x));
	rc = in->program ? extract_program(&x, out->reply, strlen(out->reply), &e)
	                 : extract_code(&x, out->reply, strlen(out->reply), in->entry_point, &e);
	if (rc == LR_ENOTFOUND) {
		rc = set_error(out, e.msg, err);
		goto cleanup;
	}
	if (rc) {
		rc = lr_err_set(err, rc, "%s", e.msg);
		goto cleanup;
	}
	/* A reply cut where its usage began has an open fence, and nothing
	 * missing. */
	out->truncated = x.truncated && !(out->stopped_at && !strcmp(out->stopped_at, "usage"));
	if (step != GEN_REFACTOR && s->tests && *s->tests) {
		/* Code meant for tests: example usage in it only gets in the way. */
		char *t = NULL;

		rc = extract_trim(&t, x.code, &out->dropped, err);
		if (rc)
			goto cleanup;
		free(x.code);
		x.code = t;
	}
	rc = extract_complete(&out->code, x.code,
	                      step == GEN_REFACTOR || in->program ? NULL : in->task,
	                      x.defines_entry, err);
cleanup:
	extract_result_free(&x);
	return rc;
}

int gen_run(gen_result *out, lr_jobctx *ctx, gen_step step, const prompt_input *in, lr_err *err)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	const wk_config *wc = lr_jobctx_config(ctx);
	const char *model = s->model && *s->model ? s->model : wc->llm.model;
	prompt p;
	llm_reply r;
	llm_client *c = NULL;
	lr_err e;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	out->prompt_tokens = out->completion_tokens = -1;
	snprintf(out->model, sizeof(out->model), "%s", model);
	if ((rc = lr_jobctx_check(ctx, err)))
		return rc;
	switch (step) {
	case GEN_GENERATE: rc = prompt_generate(&p, in, &e); break;
	case GEN_REPAIR: rc = prompt_repair(&p, in, &e); break;
	default: rc = prompt_refactor(&p, in, &e); break;
	}
	if (rc) {
		prompt_free(&p);
		if (rc == LR_EINVAL) /* the job's input is missing something */
			return set_error(out, e.msg, err);
		return lr_err_set(err, rc, "%s", e.msg);
	}
	rc = get_client(&c, &wc->llm, model, &out->failure, &e);
	if (rc == LR_ENOTFOUND && s->model && *s->model) {
		rc = set_error(out, e.msg, err); /* the job asked for a model not served */
		goto cleanup;
	}
	if (rc) {
		rc = lr_err_set(err, rc, "%s", e.msg);
		goto cleanup;
	}
	/* Code meant for tests loses its example usage (code_of): the reading
	 * may stop where that usage begins. */
	rc = chat(&r, out, c, ctx, &p, in->entry_point,
	          step != GEN_REFACTOR && !in->program && s->tests && *s->tests, &e);
	if (rc == LR_ECANCELED || rc == LR_ESTALE) {
		rc = rc == LR_ESTALE ? lr_err_set(err, LR_ESTALE, "the job's lease was lost")
		                     : lr_jobctx_check(ctx, err);
		if (rc == 0)
			rc = lr_err_set(err, LR_ECANCELED, "the model call was cancelled");
		goto cleanup;
	}
	if (rc) {
		/* The job's own request or reply is the problem: record it. A model
		 * the job named is the job's; the worker's own model missing, and
		 * every transport failure, are the infrastructure's: retry later. */
		int own = r.failure == LLM_TOO_BIG || r.failure == LLM_HTTP_ERROR ||
		          (r.failure == LLM_MODEL_NOT_FOUND && s->model && *s->model);

		rc = own ? set_error(out, e.msg, err) : lr_err_set(err, rc, "%s", e.msg);
		goto cleanup;
	}
	out->reply = r.content;
	r.content = NULL;
	out->early_stop = r.early_stop;
	out->stopped_at = r.stopped_at;
	rc = code_of(out, step, in, s, err);
cleanup:
	llm_reply_free(&r);
	prompt_free(&p);
	return rc;
}

char *gen_result_json(const gen_result *r)
{
	json_object *o = json_object_new_object();
	char *s;

	if (!o)
		return NULL;
	json_object_object_add(o, "model", json_object_new_string(r->model));
	json_object_object_add(o, "prompt_tokens", json_object_new_int64(r->prompt_tokens));
	json_object_object_add(o, "completion_tokens", json_object_new_int64(r->completion_tokens));
	json_object_object_add(o, "usage_estimated", json_object_new_boolean(r->usage_estimated));
	json_object_object_add(o, "latency_ms", json_object_new_double(r->latency_ms));
	json_object_object_add(o, "ttft_ms", json_object_new_double(r->ttft_ms));
	json_object_object_add(o, "attempts", json_object_new_int(r->attempts));
	json_object_object_add(o, "truncated", json_object_new_boolean(r->truncated));
	json_object_object_add(o, "early_stop", json_object_new_boolean(r->early_stop));
	json_object_object_add(o, "stopped_at",
	                       r->stopped_at ? json_object_new_string(r->stopped_at) : NULL);
	json_object_object_add(o, "usage_dropped", json_object_new_int(r->dropped));
	json_object_object_add(o, "no_code", r->error ? json_object_new_string(r->error) : NULL);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}
