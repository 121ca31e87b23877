/* llm.c - the transport side of the chat-completions client: requests,
 * timeouts, retries with backoff and jitter, size caps, error classification.
 * Reply parsing lives in llm_parse.c. */
#include "llm.h"

#include "buf.h"
#include "clock.h"
#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct llm_client {
	CURL *curl;
	struct curl_slist *headers;
	char *model;
	char *chat_url;
	char *models_url;
	char where[256]; /* the base URL with credentials redacted, for messages */
	int have_key;
	llm_config cfg;
};

/* One attempt's state, shared with libcurl's write callback. */
typedef struct attempt {
	lr_buf body;  /* the reply (or an error body) */
	llm_sse *sse; /* set when the reply is an event stream */
	llm_client *c;
	int stream;  /* the request asked for a stream */
	int sniffed; /* Content-Type looked at */
	int toobig;
	int failed; /* the SSE parser failed; see perr */
	lr_err perr;
	double t0; /* monotonic ms when the attempt started */
	double ttft_ms;
	double parse_ms; /* time spent parsing inside the callback */
	llm_token_fn user_fn;
	void *user_arg;
	int stop_at_code;       /* watch `fence`, stop once a code block closed */
	int stop_at_usage;      /* or once example usage began after the code */
	const char *stop_entry; /* after this function's definition */
	llm_fence fence;
	int enough; /* stopped reading on purpose: the code block is complete */
} attempt;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *llm_failure_name(llm_failure f)
{
	static const char *const names[] = {
	    "ok",        "unreachable", "timeout",      "model_not_found", "refused_key",
	    "malformed", "too_big",     "rate_limited", "server_error",    "http_error",
	    "canceled",  "internal",    "incomplete",
	};

	if ((unsigned)f < sizeof(names) / sizeof(names[0]))
		return names[f];
	return "unknown";
}

void llm_config_default(llm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->connect_timeout_ms = 5000;
	cfg->timeout_ms = 120000;
	cfg->max_retries = 2;
	cfg->backoff_ms = 500;
	cfg->backoff_max_ms = 10000;
	cfg->max_response = 4u << 20;
}

void llm_request_init(llm_request *req)
{
	memset(req, 0, sizeof(*req));
	req->temperature = -1;
	req->seed = -1;
}

void llm_redact_url(char *dst, size_t dstlen, const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *end = host + strcspn(host, "/?#");
	const char *at = NULL;

	for (const char *p = host; p < end; p++)
		if (*p == '@')
			at = p;
	if (at)
		snprintf(dst, dstlen, "%.*s***%s", (int)(host - url), url, at);
	else
		snprintf(dst, dstlen, "%s", url);
}

static char *join_url(const char *base, const char *path)
{
	size_t n = strlen(base);
	lr_buf b;

	while (n && base[n - 1] == '/')
		n--;
	lr_buf_init(&b, 0);
	if (lr_buf_printf(&b, "%.*s/%s", (int)n, base, path)) {
		lr_buf_free(&b);
		return NULL;
	}
	return lr_buf_steal(&b);
}

int llm_client_new(llm_client **out, const llm_config *cfg, lr_err *err)
{
	llm_client *c = NULL;
	struct curl_slist *h;
	lr_buf auth;
	int rc = 0;

	*out = NULL;
	lr_buf_init(&auth, 0);
	if (!cfg->base_url || !*cfg->base_url)
		return lr_err_set(err, LR_EINVAL, "no model server URL configured (llm-url)");
	if (!cfg->model || !*cfg->model)
		return lr_err_set(err, LR_EINVAL, "no model name configured (model)");
	if (strncmp(cfg->base_url, "http://", 7) && strncmp(cfg->base_url, "https://", 8))
		return lr_err_set(err, LR_EINVAL,
		                  "model server URL must start with http:// or "
		                  "https://");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return lr_err_set(err, LR_EINTERNAL, "libcurl failed to initialise: %s",
		                  curl_easy_strerror(curl_init_rc));
	c = calloc(1, sizeof(*c));
	if (!c)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	llm_config_default(&c->cfg);
	if (cfg->connect_timeout_ms > 0)
		c->cfg.connect_timeout_ms = cfg->connect_timeout_ms;
	if (cfg->timeout_ms > 0)
		c->cfg.timeout_ms = cfg->timeout_ms;
	if (cfg->max_retries >= 0)
		c->cfg.max_retries = cfg->max_retries;
	if (cfg->backoff_ms > 0)
		c->cfg.backoff_ms = cfg->backoff_ms;
	if (cfg->backoff_max_ms > 0)
		c->cfg.backoff_max_ms = cfg->backoff_max_ms;
	if (cfg->max_response > 0)
		c->cfg.max_response = cfg->max_response;
	c->cfg.base_url = c->cfg.model = c->cfg.api_key = NULL; /* never kept in cfg */
	llm_redact_url(c->where, sizeof(c->where), cfg->base_url);
	c->model = strdup(cfg->model);
	c->chat_url = join_url(cfg->base_url, "chat/completions");
	c->models_url = join_url(cfg->base_url, "models");
	c->curl = curl_easy_init();
	if (!c->model || !c->chat_url || !c->models_url || !c->curl) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory creating the model client");
		goto cleanup;
	}
	/* "Expect:" stops libcurl's 100-continue wait on larger bodies. */
	h = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = h;
	if (h)
		h = curl_slist_append(c->headers, "Expect:");
	if (h && cfg->api_key && *cfg->api_key) {
		c->have_key = 1;
		if (lr_buf_printf(&auth, "Authorization: Bearer %s", cfg->api_key) == 0)
			h = curl_slist_append(c->headers, auth.data);
		else
			h = NULL;
	}
	if (!h) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory creating the model client");
		goto cleanup;
	}
	*out = c;
	c = NULL;
cleanup:
	if (auth.data)
		explicit_bzero(auth.data, auth.cap);
	lr_buf_free(&auth);
	llm_client_free(c);
	return rc;
}

void llm_client_free(llm_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	/* The Authorization header holds the key: wipe it before freeing. */
	for (struct curl_slist *h = c->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(c->headers);
	free(c->model);
	free(c->chat_url);
	free(c->models_url);
	free(c);
}

void llm_reply_free(llm_reply *r)
{
	if (!r)
		return;
	free(r->content);
	free(r->finish_reason);
	free(r->model);
	r->content = r->finish_reason = r->model = NULL;
}

static void reply_reset(llm_reply *r)
{
	llm_reply_free(r);
	r->prompt_tokens = r->completion_tokens = -1;
	r->usage_estimated = 0;
	r->early_stop = 0;
	r->stopped_at = NULL;
	r->ttft_ms = -1;
	r->latency_ms = 0;
	r->http_status = 0;
	r->failure = LLM_OK;
}

/* ---- one HTTP exchange --------------------------------------------------- */

static int on_piece(void *arg, const char *text, size_t len)
{
	attempt *a = arg;

	int rc;

	if (a->ttft_ms < 0)
		a->ttft_ms = 1e3 * lr_now_s() - a->t0;
	rc = a->user_fn ? a->user_fn(a->user_arg, text, len) : 0;
	if (rc == 0 && a->stop_at_code && llm_fence_feed(&a->fence, text, len)) {
		a->enough = 1; /* closing the connection also stops the server's work */
		return 1;
	}
	return rc;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	attempt *a = arg;
	size_t n = size * nmemb;
	long status = 0;

	if (a->stream && !a->sniffed) {
		char *ctype = NULL;

		a->sniffed = 1;
		curl_easy_getinfo(a->c->curl, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(a->c->curl, CURLINFO_CONTENT_TYPE, &ctype);
		/* Only a 200 event stream goes to the SSE parser; error bodies and
		 * servers that ignore "stream" answer with plain JSON. */
		if (status == 200 && ctype && strstr(ctype, "text/event-stream") &&
		    llm_sse_new(&a->sse, a->c->cfg.max_response, on_piece, a)) {
			a->failed = 1;
			lr_err_set(&a->perr, LR_ENOMEM, "out of memory");
			return 0;
		}
	}
	if (a->sse) {
		double t = 1e3 * lr_now_s();
		int rc = llm_sse_feed(a->sse, ptr, n, &a->perr);

		a->parse_ms += 1e3 * lr_now_s() - t;
		if (rc) {
			a->failed = 1;
			a->toobig = rc == LR_ETOOBIG;
			return 0; /* abort the transfer */
		}
		return n;
	}
	if (lr_buf_append(&a->body, ptr, n)) {
		a->toobig = 1;
		return 0;
	}
	return n;
}

static void setup(llm_client *c, attempt *a, const char *url, const char *body)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
}

/* The server's own words from an error body, bounded and printable. */
static void body_message(char *dst, size_t n, const lr_buf *body)
{
	json_object *root = NULL, *v = NULL;
	const char *s = NULL;
	size_t i = 0;

	dst[0] = '\0';
	if (!body->len)
		return;
	root = json_tokener_parse(body->data);
	if (root && json_object_is_type(root, json_type_object)) {
		if (json_object_object_get_ex(root, "error", &v) &&
		    json_object_is_type(v, json_type_object))
			json_object_object_get_ex(v, "message", &v);
		else if (!v)
			json_object_object_get_ex(root, "detail", &v);
		if (v && json_object_is_type(v, json_type_string))
			s = json_object_get_string(v);
	}
	if (!s)
		s = body->data;
	for (; *s && i + 1 < n && i < 160; s++)
		dst[i++] = (*s >= 0x20 && *s != 0x7f) ? *s : ' ';
	dst[i] = '\0';
	json_object_put(root);
}

static int mentions_model(const lr_buf *body)
{
	return body->len && (strcasestr(body->data, "model") != NULL);
}

/* A transport failure (curl's code); 0 for CURLE_OK. */
static int classify_transport(llm_client *c, CURLcode cc, llm_reply *r, int *retry, lr_err *err)
{
	curl_off_t connect_us = 0;

	switch (cc) {
	case CURLE_OK: return 0;
	case CURLE_OPERATION_TIMEDOUT:
		/* Only a connect timeout is retried. A server that took the request
		 * and ran out of time is slow, and servers such as llama.cpp's keep
		 * generating for an abandoned request: an immediate retry would queue
		 * behind it and double the load. The job's own retry backs off. */
		r->failure = LLM_TIMEOUT;
		curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &connect_us);
		*retry = connect_us == 0;
		if (connect_us == 0)
			return lr_err_set(
			    err, LR_ETIMEOUT,
			    "could not connect to the model server at %s within %ld ms", c->where,
			    c->cfg.connect_timeout_ms);
		return lr_err_set(err, LR_ETIMEOUT,
		                  "model server at %s did not finish its reply within %ld ms",
		                  c->where, c->cfg.timeout_ms);
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*retry = 1;
		r->failure = LLM_UNREACHABLE;
		return lr_err_set(err, LR_EIO, "model server unreachable at %s: %s", c->where,
		                  curl_easy_strerror(cc));
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		*retry = 1;
		r->failure = LLM_UNREACHABLE;
		return lr_err_set(err, LR_EIO,
		                  "connection to the model server at %s broke before the reply "
		                  "was complete: %s",
		                  c->where, curl_easy_strerror(cc));
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		r->failure = LLM_HTTP_ERROR;
		return lr_err_set(err, LR_EINVAL, "model server URL %s is not usable: %s", c->where,
		                  curl_easy_strerror(cc));
	default:
		*retry = 1;
		r->failure = LLM_UNREACHABLE;
		return lr_err_set(err, LR_EIO, "talking to the model server at %s failed: %s",
		                  c->where, curl_easy_strerror(cc));
	}
}

/* An HTTP status other than 200, with the body's message. */
static int classify_status(llm_client *c, attempt *a, long status, llm_reply *r, int *retry,
                           lr_err *err)
{
	char msg[200];

	body_message(msg, sizeof(msg), &a->body);
	if (status == 401 || status == 403) {
		r->failure = LLM_REFUSED_KEY;
		return lr_err_set(
		    err, LR_EINVAL, "model server at %s refused the API key (HTTP %ld%s%s)%s",
		    c->where, status, msg[0] ? ": " : "", msg,
		    c->have_key ? "" : "; no key is configured (LLMREPL_LLM_API_KEY)");
	}
	if (status == 404) {
		if (mentions_model(&a->body)) {
			r->failure = LLM_MODEL_NOT_FOUND;
			return lr_err_set(err, LR_ENOTFOUND,
			                  "model '%s' not found at %s (HTTP 404: %s)", c->model,
			                  c->where, msg);
		}
		r->failure = LLM_HTTP_ERROR;
		return lr_err_set(err, LR_EINVAL,
		                  "no OpenAI-compatible endpoint at %s (HTTP 404); the base URL "
		                  "usually ends in /v1",
		                  c->where);
	}
	if (status == 429 || status >= 500) {
		*retry = 1;
		r->failure = status == 429 ? LLM_RATE_LIMITED : LLM_SERVER_ERROR;
		return lr_err_set(err, LR_EUNAVAIL, "model server at %s answered HTTP %ld%s%s",
		                  c->where, status, msg[0] ? ": " : "", msg);
	}
	r->failure = LLM_HTTP_ERROR;
	if (mentions_model(&a->body) && (status == 400 || status == 422) &&
	    strcasestr(msg, "not found")) {
		r->failure = LLM_MODEL_NOT_FOUND;
		return lr_err_set(err, LR_ENOTFOUND, "model '%s' not found at %s (HTTP %ld: %s)",
		                  c->model, c->where, status, msg);
	}
	return lr_err_set(err, LR_EINVAL, "model server at %s refused the request (HTTP %ld%s%s)",
	                  c->where, status, msg[0] ? ": " : "", msg);
}

/* Classify a finished attempt. Returns 0 (success: HTTP 200 and no transport
 * error), or an LR_E* code with `failure` and `err` set and *retry telling
 * whether another attempt may help. */
static int classify(llm_client *c, attempt *a, CURLcode cc, llm_reply *r, int *retry, lr_err *err)
{
	long status = 0;
	int rc;

	*retry = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = status;
	if (a->enough)
		return 0; /* the reply's code is complete: what follows is not needed */
	if (a->failed && a->perr.code == LR_EUNAVAIL) {
		/* The server said mid-stream that it failed: another attempt may work. */
		*retry = 1;
		r->failure = LLM_SERVER_ERROR;
		return lr_err_set(err, LR_EUNAVAIL, "model server at %s: %s", c->where,
		                  a->perr.msg);
	}
	if (a->failed && !a->toobig) {
		r->failure = a->perr.code == LR_ECANCELED ? LLM_CANCELED : LLM_MALFORMED;
		if (a->perr.code == LR_ENOMEM)
			r->failure = LLM_INTERNAL;
		return lr_err_set(err, a->perr.code, "model server at %s: %s", c->where,
		                  a->perr.msg);
	}
	if (a->toobig) {
		r->failure = LLM_TOO_BIG;
		return lr_err_set(
		    err, LR_ETOOBIG,
		    "model server at %s sent a reply larger than the cap of %zu bytes", c->where,
		    c->cfg.max_response);
	}
	rc = classify_transport(c, cc, r, retry, err);
	if (rc < 0)
		return rc;
	if (status == 200 && a->sse && !llm_sse_finished(a->sse)) {
		/* llama-cpp-python, for one, ends a stream with a bare [DONE] when
		 * it drops a request to serve another: that is no answer. */
		*retry = 1;
		r->failure = LLM_INCOMPLETE;
		return lr_err_set(err, LR_EUNAVAIL,
		                  "model server at %s ended the streamed reply before it was "
		                  "complete (no finish reason%s)",
		                  c->where, llm_sse_done(a->sse) ? ", then [DONE]" : "");
	}
	if (status == 200)
		return 0;
	return classify_status(c, a, status, r, retry, err);
}

static long backoff(llm_client *c, int attempt_no)
{
	/* Equal jitter: half fixed, half random, so herds of workers spread out
	 * without ever retrying immediately. */
	long d = lr_backoff_ms(attempt_no, c->cfg.backoff_ms, c->cfg.backoff_max_ms);
	curl_off_t ra = 0;

	if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0 &&
	    ra * 1000 > d)
		d = ra * 1000 > c->cfg.backoff_max_ms ? c->cfg.backoff_max_ms : (long)ra * 1000;
	return d;
}

/* Perform a request with retries. On success the attempt `a` holds the body
 * (or the finished SSE parser) of the last attempt. */
static int perform(llm_client *c, attempt *a, const char *url, const char *body, int stream,
                   llm_reply *r, lr_err *err)
{
	int rc = 0, retry = 0;

	for (int n = 0;; n++) {
		CURLcode cc;

		lr_buf_reset(&a->body);
		llm_sse_free(a->sse);
		a->sse = NULL;
		a->sniffed = a->toobig = a->failed = a->enough = 0;
		llm_fence_init(&a->fence);
		if (a->stop_at_usage)
			llm_fence_usage(&a->fence, a->stop_entry);
		lr_err_clear(&a->perr);
		a->ttft_ms = -1;
		a->stream = stream;
		reply_reset(r);
		r->attempts = n + 1;
		setup(c, a, url, body);
		a->t0 = 1e3 * lr_now_s();
		cc = curl_easy_perform(c->curl);
		/* One clock for latency and time to first token, so ttft <= latency. */
		r->latency_ms = 1e3 * lr_now_s() - a->t0;
		r->ttft_ms = a->ttft_ms;
		rc = classify(c, a, cc, r, &retry, err);
		if (rc == 0 || !retry || n >= c->cfg.max_retries)
			break;
		{
			long d = backoff(c, n);

			log_warn("model call attempt %d failed (%s), retrying in %ld ms", n + 1,
			         err ? err->msg : llm_failure_name(r->failure), d);
			while ((d = lr_sleep_ms(d)) > 0)
				; /* a signal does not shorten the wait */
		}
	}
	return rc;
}

static json_object *build_body(const llm_client *c, const llm_request *req)
{
	json_object *root = json_object_new_object(), *msgs = json_object_new_array();

	if (!root || !msgs)
		goto fail;
	if (json_object_object_add(root, "model", json_object_new_string(c->model)))
		goto fail;
	for (size_t i = 0; i < req->nmessages; i++) {
		json_object *m = json_object_new_object();

		if (!m || json_object_array_add(msgs, m)) {
			json_object_put(m);
			goto fail;
		}
		json_object_object_add(m, "role", json_object_new_string(req->messages[i].role));
		json_object_object_add(m, "content",
		                       json_object_new_string(req->messages[i].content
		                                                  ? req->messages[i].content
		                                                  : ""));
	}
	json_object_object_add(root, "messages", msgs);
	msgs = NULL;
	if (req->temperature >= 0)
		json_object_object_add(root, "temperature",
		                       json_object_new_double(req->temperature));
	if (req->max_tokens > 0)
		json_object_object_add(root, "max_tokens", json_object_new_int64(req->max_tokens));
	if (req->seed >= 0)
		json_object_object_add(root, "seed", json_object_new_int64(req->seed));
	if (req->stream) {
		json_object *so = json_object_new_object();

		json_object_object_add(root, "stream", json_object_new_boolean(1));
		/* Ask for usage in the last chunk; servers that do not know the
		 * option ignore it and the client counts pieces instead. */
		json_object_object_add(so, "include_usage", json_object_new_boolean(1));
		json_object_object_add(root, "stream_options", so);
	}
	return root;
fail:
	json_object_put(msgs);
	json_object_put(root);
	return NULL;
}

int llm_chat(llm_reply *out, llm_client *c, const llm_request *req, lr_err *err)
{
	attempt a;
	json_object *body = NULL;
	const char *text;
	double t, overhead = 0;
	double started_s = lr_now_s();
	int rc = 0;

	memset(out, 0, sizeof(*out));
	reply_reset(out);
	memset(&a, 0, sizeof(a));
	lr_buf_init(&a.body, c->cfg.max_response);
	a.c = c;
	a.user_fn = req->on_token;
	a.user_arg = req->on_token_arg;
	a.stop_at_code = req->stream && req->stop_at_code;
	a.stop_at_usage = a.stop_at_code && req->stop_at_usage;
	a.stop_entry = req->stop_entry;
	if (req->nmessages == 0) {
		out->failure = LLM_INTERNAL;
		rc = lr_err_set(err, LR_EINVAL, "a chat request needs at least one message");
		goto cleanup;
	}
	t = 1e3 * lr_now_s();
	body = build_body(c, req);
	text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL;
	overhead += 1e3 * lr_now_s() - t;
	if (!text) {
		out->failure = LLM_INTERNAL;
		rc = lr_err_set(err, LR_ENOMEM, "out of memory building the request");
		goto cleanup;
	}
	rc = perform(c, &a, c->chat_url, text, req->stream, out, err);
	overhead += a.parse_ms;
	if (rc)
		goto cleanup;
	t = 1e3 * lr_now_s();
	if (a.sse) {
		rc = llm_sse_finish(a.sse, out, &a.perr);
		if (rc == 0 && a.enough) {
			out->early_stop = 1;
			out->stopped_at = a.fence.usage_stop ? "usage" : "fence";
			/* The usage's first piece came in already: the reply ends before it. */
			if (a.fence.usage_stop && out->content &&
			    a.fence.cut < strlen(out->content))
				out->content[a.fence.cut] = '\0';
			if (!out->finish_reason && !(out->finish_reason = strdup("stop")))
				rc = a.perr.code = LR_ENOMEM;
		}
	} else {
		rc = llm_parse_reply(out, a.body.data ? a.body.data : "", a.body.len, &a.perr);
		if (req->stream && out->content && out->content[0] && req->on_token) {
			/* The server ignored "stream": deliver the text as one piece. */
			out->ttft_ms = out->latency_ms;
			if (req->on_token(req->on_token_arg, out->content, strlen(out->content)))
				a.perr.code = rc = LR_ECANCELED;
		}
	}
	overhead += 1e3 * lr_now_s() - t;
	if (rc) {
		out->failure = rc == LR_ENOMEM ? LLM_INTERNAL : LLM_MALFORMED;
		if (rc == LR_ECANCELED) {
			out->failure = LLM_CANCELED;
			lr_err_set(err, rc, "the call was cancelled");
		} else {
			lr_err_set(err, rc, "malformed reply from the model server at %s: %s",
			           c->where, a.perr.msg);
		}
		llm_reply_free(out);
	}
cleanup:
	out->overhead_ms = overhead;
	llm_metrics_record(out, lr_now_s() - started_s,
	                   out->failure != LLM_OK ? llm_failure_name(out->failure) : NULL);
	json_object_put(body);
	llm_sse_free(a.sse);
	lr_buf_free(&a.body);
	return rc;
}

int llm_check_model(llm_client *c, llm_failure *failure, lr_err *err)
{
	attempt a;
	llm_reply r;
	json_object *root = NULL, *data = NULL;
	lr_buf names;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	lr_buf_init(&a.body, c->cfg.max_response);
	lr_buf_init(&names, 300);
	a.c = c;
	rc = perform(c, &a, c->models_url, NULL, 0, &r, err);
	if (rc == LR_EINVAL && r.http_status == 404) {
		/* No model list on this server: nothing to check against. */
		log_debug("model server at %s has no model list; not checking the model name",
		          c->where);
		r.failure = LLM_OK;
		rc = 0;
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	root = json_tokener_parse(a.body.data ? a.body.data : "");
	if (!root || !json_object_object_get_ex(root, "data", &data) ||
	    !json_object_is_type(data, json_type_array)) {
		r.failure = LLM_MALFORMED;
		rc = lr_err_set(err, LR_EPROTO, "model list from %s is not an OpenAI model list",
		                c->where);
		goto cleanup;
	}
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		json_object *id = NULL, *m = json_object_array_get_idx(data, i);

		if (!json_object_object_get_ex(m, "id", &id) ||
		    !json_object_is_type(id, json_type_string))
			continue;
		if (strcmp(json_object_get_string(id), c->model) == 0)
			goto cleanup;
		lr_buf_printf(&names, "%s%s", names.len ? ", " : "", json_object_get_string(id));
	}
	r.failure = LLM_MODEL_NOT_FOUND;
	rc = lr_err_set(err, LR_ENOTFOUND, "model '%s' not found at %s (it serves: %s%s)", c->model,
	                c->where, names.len ? names.data : "nothing",
	                names.truncated ? ", ..." : "");
cleanup:
	if (failure)
		*failure = r.failure;
	json_object_put(root);
	llm_reply_free(&r);
	llm_sse_free(a.sse);
	lr_buf_free(&a.body);
	lr_buf_free(&names);
	return rc;
}
