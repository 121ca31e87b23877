/* llm_call - drive the model client from the process-level tests and benches.
 *
 *   llm_call [--llm-url URL --model M ...] [--mode chat|generate|check]
 *            [--entry-point NAME] [--repeat N] PROMPT|-
 *
 * Prints one JSON object per call on stdout: the reply, usage, timings,
 * attempts, the failure class and message, pieces streamed, and what code
 * extraction made of the reply. Exit status: 0 ok, 1 no code in the reply,
 * 3 the call failed (the failure class says how). */
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "extract.h"
#include "llm.h"
#include "log.h"
#include "prompts.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pieces {
	long n;
	int print;
} pieces;

static int on_token(void *arg, const char *text, size_t len)
{
	pieces *p = arg;

	p->n++;
	if (p->print) {
		fwrite(text, 1, len, stderr);
		fflush(stderr);
	}
	return 0;
}

static char *read_all(FILE *f)
{
	lr_buf b;
	char chunk[4096];
	size_t n;

	lr_buf_init(&b, 1u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (lr_buf_append(&b, chunk, n))
			break;
	return lr_buf_steal(&b);
}

static void put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

int main(int argc, char **argv)
{
	llm_settings ls;
	char *mode = NULL, *entry = NULL, *system = NULL;
	long repeat = 1, seed = -1;
	int print_tokens = 0, stop_at_code = 0, stop_at_usage = 0;
	lr_cfg_opt opts[LLM_CFG_NOPTS + 8];
	lr_cfg cfg = {
	    "llm_call", "[OPTIONS] PROMPT|-",          "Call a model server once or N times.", NULL,
	    opts,       sizeof(opts) / sizeof(opts[0])};
	llm_config lc;
	llm_client *client = NULL;
	lr_err err;
	int first = 0, rc, exit_code = LR_EXIT_OK;
	char *text = NULL;

	memset(&ls, 0, sizeof(ls));
	llm_cfg_opts(opts, &ls);
	opts[LLM_CFG_NOPTS + 0] =
	    (lr_cfg_opt){"mode",
	                 LR_CFG_STR,
	                 &mode,
	                 "chat",
	                 0,
	                 0,
	                 "chat (prompt as is), generate (the generate prompt), "
	                 "check (GET /models)",
	                 0,
	                 0};
	opts[LLM_CFG_NOPTS + 1] =
	    (lr_cfg_opt){"entry-point", LR_CFG_STR, &entry, NULL, 0, 0, "function name", 0, 0};
	opts[LLM_CFG_NOPTS + 2] =
	    (lr_cfg_opt){"repeat", LR_CFG_INT, &repeat, "1", 1, 100000, "calls to make", 0, 0};
	opts[LLM_CFG_NOPTS + 3] =
	    (lr_cfg_opt){"seed", LR_CFG_INT, &seed, "-1", -1, 1e9, "sampling seed", 0, 0};
	opts[LLM_CFG_NOPTS + 4] = (lr_cfg_opt){
	    "system", LR_CFG_STR, &system, NULL, 0, 0, "system message (chat mode)", 0, 0};
	opts[LLM_CFG_NOPTS + 5] = (lr_cfg_opt){"print-tokens",
	                                       LR_CFG_BOOL,
	                                       &print_tokens,
	                                       "false",
	                                       0,
	                                       0,
	                                       "echo streamed pieces to stderr",
	                                       0,
	                                       0};
	opts[LLM_CFG_NOPTS + 6] = (lr_cfg_opt){"stop-at-code",
	                                       LR_CFG_BOOL,
	                                       &stop_at_code,
	                                       "false",
	                                       0,
	                                       0,
	                                       "stop reading once the code block closed",
	                                       0,
	                                       0};
	opts[LLM_CFG_NOPTS + 7] = (lr_cfg_opt){"stop-at-usage",
	                                       LR_CFG_BOOL,
	                                       &stop_at_usage,
	                                       "false",
	                                       0,
	                                       0,
	                                       "with --stop-at-code: also once example usage "
	                                       "began after --entry-point's definition",
	                                       0,
	                                       0};
	lr_err_clear(&err);
	lr_log_init("llm_call", LR_LOG_WARN);
	rc = lr_cfg_load(&cfg, argc, argv, &first, &err);
	if (rc == LR_CFG_EXIT_OK)
		goto cleanup;
	if (rc < 0) {
		fprintf(stderr, "llm_call: %s\n", err.msg);
		exit_code = LR_EXIT_USAGE;
		goto cleanup;
	}
	llm_settings_config(&lc, &ls);
	if (llm_client_new(&client, &lc, &err)) {
		fprintf(stderr, "llm_call: %s\n", err.msg);
		exit_code = LR_EXIT_USAGE;
		goto cleanup;
	}
	if (strcmp(mode, "check") == 0) {
		llm_failure f = LLM_OK;
		json_object *o = json_object_new_object();

		rc = llm_check_model(client, &f, &err);
		json_object_object_add(o, "ok", json_object_new_boolean(rc == 0));
		put_str(o, "failure", llm_failure_name(f));
		put_str(o, "error", rc ? err.msg : NULL);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		exit_code = rc ? LR_EXIT_RUNTIME : LR_EXIT_OK;
		goto cleanup;
	}
	if (first >= argc) {
		fprintf(stderr, "llm_call: a prompt is required (or - for stdin)\n");
		exit_code = LR_EXIT_USAGE;
		goto cleanup;
	}
	text = strcmp(argv[first], "-") == 0 ? read_all(stdin) : strdup(argv[first]);
	for (long i = 0; i < repeat && text; i++) {
		prompt p;
		prompt_input in = {.task = text, .entry_point = entry};
		llm_message chat[2];
		llm_request req;
		llm_reply r;
		extract_result x;
		pieces pc = {0, print_tokens};
		json_object *o = json_object_new_object(), *xo = json_object_new_object();
		double t0;
		lr_err xerr;

		memset(&p, 0, sizeof(p));
		llm_request_init(&req);
		req.max_tokens = ls.max_tokens;
		req.temperature = ls.temperature;
		req.seed = seed;
		req.stream = ls.stream;
		req.stop_at_code = stop_at_code;
		req.stop_at_usage = stop_at_usage;
		req.stop_entry = entry;
		req.on_token = on_token;
		req.on_token_arg = &pc;
		if (strcmp(mode, "generate") == 0) {
			if (prompt_generate(&p, &in, &err)) {
				fprintf(stderr, "llm_call: %s\n", err.msg);
				exit_code = LR_EXIT_USAGE;
				json_object_put(o);
				json_object_put(xo);
				break;
			}
			req.messages = p.msgs;
			req.nmessages = p.nmsgs;
		} else {
			size_t n = 0;

			if (system)
				chat[n++] = (llm_message){"system", system};
			chat[n++] = (llm_message){"user", text};
			req.messages = chat;
			req.nmessages = n;
		}
		t0 = 1e3 * lr_now_s();
		lr_err_clear(&err);
		rc = llm_chat(&r, client, &req, &err);
		json_object_object_add(o, "ok", json_object_new_boolean(rc == 0));
		put_str(o, "failure", llm_failure_name(r.failure));
		put_str(o, "code_name", rc ? lr_err_name(rc) : NULL);
		put_str(o, "error", rc ? err.msg : NULL);
		put_str(o, "content", r.content);
		put_str(o, "finish_reason", r.finish_reason);
		json_object_object_add(o, "early_stop", json_object_new_boolean(r.early_stop));
		put_str(o, "stopped_at", r.stopped_at);
		put_str(o, "model", r.model);
		json_object_object_add(o, "prompt_tokens", json_object_new_int64(r.prompt_tokens));
		json_object_object_add(o, "completion_tokens",
		                       json_object_new_int64(r.completion_tokens));
		json_object_object_add(o, "usage_estimated",
		                       json_object_new_boolean(r.usage_estimated));
		json_object_object_add(o, "latency_ms", json_object_new_double(r.latency_ms));
		json_object_object_add(o, "ttft_ms", json_object_new_double(r.ttft_ms));
		json_object_object_add(o, "overhead_ms", json_object_new_double(r.overhead_ms));
		json_object_object_add(o, "elapsed_ms",
		                       json_object_new_double(1e3 * lr_now_s() - t0));
		json_object_object_add(o, "attempts", json_object_new_int(r.attempts));
		json_object_object_add(o, "http_status", json_object_new_int64(r.http_status));
		json_object_object_add(o, "pieces", json_object_new_int64(pc.n));
		if (rc == 0) {
			lr_err_clear(&xerr);
			int xrc = extract_code(&x, r.content, strlen(r.content), entry, &xerr);
			static const char *const how[] = {"none", "fenced", "unfenced"};

			put_str(xo, "how", how[x.how]);
			put_str(xo, "code", x.code);
			if (x.code && strcmp(mode, "generate") == 0) {
				char *prog = NULL;

				if (extract_complete(&prog, x.code, text, x.defines_entry, &xerr) ==
				    0)
					put_str(xo, "program", prog);
				free(prog);
			}
			put_str(xo, "error", xrc ? xerr.msg : NULL);
			json_object_object_add(xo, "blocks", json_object_new_int(x.blocks));
			json_object_object_add(xo, "truncated",
			                       json_object_new_boolean(x.truncated));
			json_object_object_add(xo, "defines_entry",
			                       json_object_new_boolean(x.defines_entry));
			json_object_object_add(o, "extract", xo);
			xo = NULL;
			if (xrc && exit_code == LR_EXIT_OK)
				exit_code = LR_EXIT_FAIL;
			extract_result_free(&x);
		} else {
			exit_code = LR_EXIT_RUNTIME;
		}
		json_object_put(xo);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		json_object_put(o);
		llm_reply_free(&r);
		prompt_free(&p);
	}
cleanup:
	free(text);
	llm_client_free(client);
	lr_cfg_free(&cfg);
	return exit_code;
}
