/* llm.h - a client for OpenAI-compatible chat completions (libcurl + json-c).
 *
 * Speaks `POST {base_url}/chat/completions` as served by Ollama
 * (http://localhost:11434/v1), vLLM, llama.cpp's server, LM Studio and hosted
 * APIs. One client owns one libcurl handle (connections are kept alive between
 * calls); use one client per thread.
 *
 * Every failure is classified (llm_failure) and described in the lr_err:
 *   unreachable      no server at the URL (connection refused, DNS, reset)
 *   timeout          connect or total deadline passed
 *   model not found  the server does not serve the model (404 naming the model,
 *                    or llm_check_model() not finding it in GET /models)
 *   refused key      HTTP 401/403
 *   malformed reply  not JSON, no choices, no content, a broken SSE stream
 *   incomplete       a stream that ended without a finish reason (a server
 *                    that gave up on the request, e.g. to serve another):
 *                    retried, and never taken as the model's answer
 *   too big          the reply passed max_response bytes
 * 429, 5xx, connection errors and connect timeouts are retried with
 * exponential backoff and jitter (Retry-After is honoured up to
 * backoff_max_ms). A reply that is not complete within the total timeout is
 * not retried: the server is busy, and many keep working on the abandoned
 * request.
 *
 * The API key is sent only in the Authorization header. It never appears in
 * an error message or a log line; user:password in the URL is redacted too. */
#ifndef LLMREPL_LLM_H
#define LLMREPL_LLM_H

#include "config.h"
#include "err.h"

#include <stddef.h>

typedef struct llm_config {
	const char *base_url;    /* "http://127.0.0.1:8080/v1" (no trailing /chat/completions) */
	const char *model;       /* sent as "model" */
	const char *api_key;     /* NULL or "": no Authorization header */
	long connect_timeout_ms; /* 0: 5000 */
	long timeout_ms;         /* total per attempt; 0: 120000 */
	int max_retries;         /* retries after the first attempt; <0: 2 */
	long backoff_ms;         /* base of the exponential backoff; 0: 500 */
	long backoff_max_ms;     /* cap of one backoff; 0: 10000 */
	size_t max_response;     /* cap on the bytes of one reply; 0: 4 MiB */
} llm_config;

/* Fill a config with the defaults above (strings NULL). */
void llm_config_default(llm_config *cfg);

typedef struct llm_message {
	const char *role; /* "system", "user", "assistant" */
	const char *content;
} llm_message;

/* Called for each piece of streamed content, in order; `text` is not
 * NUL-terminated. A non-zero return cancels the call (LR_ECANCELED). */
typedef int (*llm_token_fn)(void *arg, const char *text, size_t len);

typedef struct llm_request {
	const llm_message *messages;
	size_t nmessages;
	double temperature;     /* < 0: the server's default */
	long max_tokens;        /* <= 0: the server's default */
	long seed;              /* < 0: none */
	int stream;             /* 1: server-sent events, on_token per piece */
	int stop_at_code;       /* streaming: stop reading (and close the request) once a
	                           fenced Python block that defines a function or class
	                           has closed; the reply is what came until then */
	int stop_at_usage;      /* with stop_at_code: also stop once the code (fenced or
	                           bare) holds a complete definition of stop_entry and
	                           the model goes on with top-level example usage
	                           (llm_usage); the reply ends before that usage. Only
	                           for code whose usage is dropped anyway (extract_trim) */
	const char *stop_entry; /* the function stop_at_usage waits for; NULL: any
	                           def or class */
	llm_token_fn on_token;
	void *on_token_arg;
} llm_request;

/* Initialise a request: no messages, temperature -1, max_tokens 0, seed -1. */
void llm_request_init(llm_request *req);

typedef enum {
	LLM_OK = 0,
	LLM_UNREACHABLE,
	LLM_TIMEOUT,
	LLM_MODEL_NOT_FOUND,
	LLM_REFUSED_KEY,
	LLM_MALFORMED,
	LLM_TOO_BIG,
	LLM_RATE_LIMITED, /* 429 after every retry */
	LLM_SERVER_ERROR, /* 5xx after every retry */
	LLM_HTTP_ERROR,   /* another 4xx: the request itself was refused */
	LLM_CANCELED,
	LLM_INTERNAL,
	LLM_INCOMPLETE, /* the stream ended without a finish reason, after every retry */
} llm_failure;

/* A short stable name: "unreachable", "timeout", "model_not_found", ... */
const char *llm_failure_name(llm_failure f);

typedef struct llm_reply {
	char *content;          /* the assistant's text (owned; NULL on failure) */
	char *finish_reason;    /* "stop", "length", ... or NULL (owned) */
	int early_stop;         /* stop_at_code ended the reading; finish_reason "stop" */
	const char *stopped_at; /* why: "fence" (the code block closed) or "usage"
	                           (example usage began after the code); else NULL */
	char *model;            /* the model the server says answered (owned), or NULL */
	long prompt_tokens;     /* -1 when the server did not say */
	long completion_tokens;
	int usage_estimated; /* 1: streamed without usage; completion_tokens counts pieces */
	double latency_ms;   /* request sent to reply complete, last attempt */
	double ttft_ms;      /* to the first streamed content (streaming), else -1 */
	double overhead_ms;  /* this client's own CPU-side work: building and parsing JSON */
	int attempts;        /* 1 + retries made */
	long http_status;    /* of the last attempt (0: no HTTP answer) */
	llm_failure failure; /* LLM_OK on success */
} llm_reply;

typedef struct llm_client llm_client;

/* Create a client. The config's strings are copied. */
int llm_client_new(llm_client **out, const llm_config *cfg, lr_err *err);
void llm_client_free(llm_client *c);

/* One chat completion. `out` is always initialised (usage, timings, attempts
 * and the failure class are filled in on failure too) and must be released
 * with llm_reply_free. Returns 0 or:
 *   LR_EIO (unreachable), LR_ETIMEOUT, LR_ENOTFOUND (model), LR_EINVAL (refused
 *   key, other 4xx), LR_EPROTO (malformed), LR_ETOOBIG, LR_EUNAVAIL (429/5xx
 *   after the retries), LR_ECANCELED, LR_ENOMEM. */
int llm_chat(llm_reply *out, llm_client *c, const llm_request *req, lr_err *err);
void llm_reply_free(llm_reply *r);

/* GET {base_url}/models and check that the configured model is listed. Some
 * servers (llama-cpp-python) answer any model name with their default model,
 * so a worker calls this once at start to turn a typo into "model not found".
 * Returns 0, LR_ENOTFOUND (with the served names in the message) or a
 * transport error as llm_chat. */
int llm_check_model(llm_client *c, llm_failure *failure, lr_err *err);

/* ---- settings shared by every binary that calls a model -------------------
 * llm_cfg_opts() fills LLM_CFG_NOPTS entries of a binary's config table, so
 * the worker and the tools read the same names: llm-url, model, llm-api-key
 * (LLMREPL_LLM_URL, LLMREPL_MODEL, LLMREPL_LLM_API_KEY; the key is marked
 * secret and never printed), llm-connect-timeout-ms, llm-timeout-ms,
 * llm-retries, llm-max-reply-kb, llm-max-tokens, llm-temperature, llm-stream. */
typedef struct llm_settings {
	char *url;
	char *model;
	char *api_key;
	long connect_timeout_ms;
	long timeout_ms;
	long retries;
	long max_reply_kb;
	long max_tokens;
	double temperature;
	int stream;
} llm_settings;

#define LLM_CFG_NOPTS     10
#define LLM_DEFAULT_URL   "http://127.0.0.1:8080/v1"
#define LLM_DEFAULT_MODEL "smollm2"

void llm_cfg_opts(lr_cfg_opt *opts, llm_settings *s);
/* A client config whose strings point into `s`. */
void llm_settings_config(llm_config *cfg, const llm_settings *s);

/* ---- parsers, exposed for tests and fuzzing --------------------------- */

/* Parse a non-streamed chat.completion body into content, finish_reason,
 * model and usage. LR_EPROTO for anything malformed. */
int llm_parse_reply(llm_reply *out, const char *body, size_t len, lr_err *err);

/* An incremental parser for a server-sent-events chat stream. Feed bytes as
 * they arrive; content accumulates (capped at `max`), on_token is called per
 * piece. */
typedef struct llm_sse llm_sse;
int llm_sse_new(llm_sse **out, size_t max, llm_token_fn on_token, void *arg);
/* Returns 0, LR_EPROTO (malformed event), LR_EUNAVAIL (an error event from
 * the server), LR_ETOOBIG, LR_ECANCELED. */
int llm_sse_feed(llm_sse *s, const char *data, size_t len, lr_err *err);
/* End of stream: moves content, finish_reason, model and usage into `out`.
 * LR_EPROTO when the stream carried no completion at all. */
int llm_sse_finish(llm_sse *s, llm_reply *out, lr_err *err);
int llm_sse_done(const llm_sse *s);     /* 1 once "data: [DONE]" was seen */
int llm_sse_finished(const llm_sse *s); /* 1 once a choice had a finish_reason */
void llm_sse_free(llm_sse *s);

/* Watches the code lines of a streamed reply for the example usage a model
 * writes after the code (stop_at_usage): a line at the code's top level that
 * starts a call (print(...) too), assert, if, for, while, a >>> prompt or an
 * assignment from a call of the code's own functions, once the code holds
 * the entry point with its body and defines, imports or has as builtins
 * every name it calls (so a helper defined after the usage is waited for).
 * extract_trim() drops every such statement, with the column-0 comments
 * just before it, from code meant for tests: the reply cut there yields the
 * same extract. Lines are given with their indentation. */
typedef struct llm_usage {
	int on, off;       /* watching; given up (a line left of the code's margin) */
	char entry[64];    /* "": any def or class */
	size_t base;       /* the indentation of the code's first line */
	int started;       /* a code line was seen */
	int depth;         /* open brackets at the start of the next line */
	char tq;           /* an open triple quote's character, or 0 */
	int entry_def;     /* the last top-level statement defines the entry */
	int entry_done;    /* the entry point's definition has a body */
	int pending;       /* comment lines at the top level since the last code */
	size_t cut;        /* where the first of them starts */
	int full;          /* a name list overflowed: never stop */
	char defined[768]; /* " a b " names bound anywhere in the code */
	char called[768];  /* names called, not as attributes */
	char tops[256];    /* top-level def and class names */
} llm_usage;

void llm_usage_init(llm_usage *u, const char *entry);
/* The next line of code (n bytes, no newline), starting at reply offset `at`;
 * complete 0 for the start of a line still streaming. Returns 1 when the
 * line begins example usage, with *cut the reply offset to end at. */
int llm_usage_line(llm_usage *u, const char *p, size_t n, size_t at, int complete, size_t *cut);

/* Watches streamed text for the end of a fenced Python block that defines a
 * function or class (stop_at_code). The closing fence counts as soon as it
 * is complete on its line. With `usage.on` (llm_fence_usage) the lines of
 * the first Python block, or of code before any fence, also go to the usage
 * watcher. */
typedef struct llm_fence {
	char line[512]; /* the current line (longer lines are code, never fences) */
	size_t n;
	int over;       /* the current line was longer than `line` */
	int open;       /* inside a fenced block */
	char ch;        /* its fence character */
	size_t len;     /* and length */
	int python;     /* untagged or tagged py* */
	int defines;    /* a def or class line inside it */
	int closed;     /* such a block has closed */
	size_t pos;     /* bytes fed */
	size_t at;      /* offset of the current line */
	int fences;     /* fenced blocks opened */
	int pyblocks;   /* of them Python */
	int bare;       /* code before any fence */
	int usage_stop; /* usage began: the reply ends at `cut` */
	size_t cut;
	llm_usage usage;
} llm_fence;

void llm_fence_init(llm_fence *f);
/* Watch for usage too, after a definition of `entry` (NULL: any). */
void llm_fence_usage(llm_fence *f, const char *entry);
/* Feed the next piece; returns 1 once a defining Python block has closed,
 * 2 once usage began (then the reply ends at f->cut). */
int llm_fence_feed(llm_fence *f, const char *text, size_t len);

/* Copy `url` into `dst` with any user:password@ replaced by "***@". */
void llm_redact_url(char *dst, size_t dstlen, const char *url);

/* Prometheus families of the model client (llm_metrics.c): request time,
 * tokens by type, failures by kind (llm_failure_name, NULL when it worked).
 * llm_chat records into them once llm_metrics_init() has run; before that
 * nothing is recorded. */
void llm_metrics_init(void);
void llm_metrics_record(const llm_reply *r, double seconds, const char *failure);

#endif
