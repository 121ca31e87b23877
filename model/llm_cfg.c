/* llm_cfg.c - the model settings every binary that calls a model shares. */
#include "llm.h"

#include <string.h>

void llm_cfg_opts(lr_cfg_opt *o, llm_settings *s)
{
	const lr_cfg_opt opts[LLM_CFG_NOPTS] = {
	    LR_OPT_STR(
	        "llm-url", &s->url, LLM_DEFAULT_URL,
	        "base URL of an OpenAI-compatible server (Ollama: http://127.0.0.1:11434/v1)"),
	    LR_OPT_STR("model", &s->model, LLM_DEFAULT_MODEL, "model name to request"),
	    LR_OPT_SECRET("llm-api-key", &s->api_key,
	                  "API key sent as a bearer token (best from the environment)"),
	    LR_OPT_INT("llm-connect-timeout-ms", &s->connect_timeout_ms, "5000", 1, 600000,
	               "connect timeout per attempt"),
	    LR_OPT_INT("llm-timeout-ms", &s->timeout_ms, "120000", 1, 3600000,
	               "total timeout per attempt"),
	    LR_OPT_INT("llm-retries", &s->retries, "2", 0, 10,
	               "retries on 429, 5xx, connection errors and connect timeouts"),
	    LR_OPT_INT("llm-max-reply-kb", &s->max_reply_kb, "4096", 1, 262144,
	               "cap on one reply's size"),
	    LR_OPT_INT("llm-max-tokens", &s->max_tokens, "1024", 0, 1000000,
	               "max_tokens per call (0: the server's default)"),
	    LR_OPT_DOUBLE("llm-temperature", &s->temperature, "0", -1, 2,
	                  "sampling temperature (-1: the server's default)"),
	    LR_OPT_BOOL("llm-stream", &s->stream, "true",
	                "stream replies (server-sent events) for progress"),
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
