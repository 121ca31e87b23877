/* llm_cfg.c - the model settings every binary that calls a model shares. */
#include "llm.h"

#include <string.h>

void llm_cfg_opts(lr_cfg_opt *o, llm_settings *s)
{
	const lr_cfg_opt opts[LLM_CFG_NOPTS] = {
	    {"llm-url", LR_CFG_STR, &s->url, LLM_DEFAULT_URL, 0, 0,
	     "base URL of an OpenAI-compatible server (Ollama: http://127.0.0.1:11434/v1)", 0, 0},
	    {"model", LR_CFG_STR, &s->model, LLM_DEFAULT_MODEL, 0, 0, "model name to request", 0,
	     0},
	    {"llm-api-key", LR_CFG_STR, &s->api_key, NULL, 0, 0,
	     "API key sent as a bearer token (best from the environment)", LR_CFG_SECRET, 0},
	    {"llm-connect-timeout-ms", LR_CFG_INT, &s->connect_timeout_ms, "5000", 1, 600000,
	     "connect timeout per attempt", 0, 0},
	    {"llm-timeout-ms", LR_CFG_INT, &s->timeout_ms, "120000", 1, 3600000,
	     "total timeout per attempt", 0, 0},
	    {"llm-retries", LR_CFG_INT, &s->retries, "2", 0, 10,
	     "retries on 429, 5xx, connection errors and connect timeouts", 0, 0},
	    {"llm-max-reply-kb", LR_CFG_INT, &s->max_reply_kb, "4096", 1, 262144,
	     "cap on one reply's size", 0, 0},
	    {"llm-max-tokens", LR_CFG_INT, &s->max_tokens, "1024", 0, 1000000,
	     "max_tokens per call (0: the server's default)", 0, 0},
	    {"llm-temperature", LR_CFG_DOUBLE, &s->temperature, "0", -1, 2,
	     "sampling temperature (-1: the server's default)", 0, 0},
	    {"llm-stream", LR_CFG_BOOL, &s->stream, "true", 0, 0,
	     "stream replies (server-sent events) for progress", 0, 0},
	};

	memcpy(o, opts, sizeof(opts));
}

void llm_settings_config(llm_config *cfg, const llm_settings *s)
{
	llm_config_default(cfg);
	cfg->base_url = s->url;
	cfg->model = s->model;
	cfg->api_key = s->api_key;
	cfg->connect_timeout_ms = s->connect_timeout_ms;
	cfg->timeout_ms = s->timeout_ms;
	cfg->max_retries = (int)s->retries;
	cfg->max_response = (size_t)s->max_reply_kb * 1024u;
}
