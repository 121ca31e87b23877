/* llm_parse.c - parsers for chat-completion replies: one JSON body, or a
 * server-sent-events stream of chunks. Everything here reads bytes a model
 * server sent, so every input is bounded and every shape is checked. */
#include "buf.h"
#include "json.h"
#include "llm.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH 32

static json_object *parse_json(const char *s, size_t len, lr_err *err)
{
	json_tokener *tok = NULL;
	json_object *obj = NULL;
	enum json_tokener_error jerr;

	if (len > INT_MAX) {
		lr_err_set(err, LR_ETOOBIG, "reply of %zu bytes is too large to parse", len);
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		lr_err_set(err, LR_ENOMEM, "out of memory parsing the reply");
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		lr_err_set(err, LR_EPROTO, "reply is truncated JSON (%zu bytes)", len);
		json_object_put(obj);
		obj = NULL;
	} else if (jerr != json_tokener_success || !obj) {
		lr_err_set(err, LR_EPROTO, "reply is not JSON: %s at byte %zu",
		           json_tokener_error_desc(jerr), json_tokener_get_parse_end(tok));
		json_object_put(obj);
		obj = NULL;
	} else if (json_tokener_get_parse_end(tok) < len &&
	           strspn(s + json_tokener_get_parse_end(tok), " \t\r\n") !=
	               len - json_tokener_get_parse_end(tok)) {
		lr_err_set(err, LR_EPROTO, "reply has trailing bytes after its JSON");
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static int dup_str(char **dst, json_object *v)
{
	free(*dst);
	*dst = NULL;
	if (!v)
		return 0;
	*dst = strdup(json_object_get_string(v));
	return *dst ? 0 : LR_ENOMEM;
}

/* Copy a printable, bounded version of an error text from the server. */
static void server_message(char *dst, size_t n, json_object *error)
{
	const char *s = NULL;
	size_t i = 0;

	if (json_object_is_type(error, json_type_string))
		s = json_object_get_string(error);
	else if (lr_json_member(error, "message", json_type_string))
		s = json_object_get_string(lr_json_member(error, "message", json_type_string));
	if (!s)
		s = "(no message)";
	for (; *s && i + 1 < n && i < 200; s++)
		dst[i++] = (*s >= 0x20 && *s != 0x7f) ? *s : ' ';
	dst[i] = '\0';
}

static void read_usage(llm_reply *out, json_object *usage)
{
	json_object *p = lr_json_member(usage, "prompt_tokens", json_type_int);
	json_object *c = lr_json_member(usage, "completion_tokens", json_type_int);

	if (p)
		out->prompt_tokens = (long)json_object_get_int64(p);
	if (c) {
		out->completion_tokens = (long)json_object_get_int64(c);
		out->usage_estimated = 0;
	}
}

int llm_parse_reply(llm_reply *out, const char *body, size_t len, lr_err *err)
{
	json_object *root = NULL, *choices, *choice, *msg, *content, *error;
	char text[256];
	int rc = 0;

	root = parse_json(body, len, err);
	if (!root)
		return err ? err->code : LR_EPROTO;
	if (!json_object_is_type(root, json_type_object)) {
		rc = lr_err_set(err, LR_EPROTO, "reply is JSON but not an object");
		goto cleanup;
	}
	error = lr_json_member(root, "error", json_type_object);
	if (!error)
		error = lr_json_member(root, "error", json_type_string);
	if (error) {
		server_message(text, sizeof(text), error);
		rc = lr_err_set(err, LR_EPROTO, "server answered with an error: %s", text);
		goto cleanup;
	}
	choices = lr_json_member(root, "choices", json_type_array);
	if (!choices || json_object_array_length(choices) == 0) {
		rc = lr_err_set(err, LR_EPROTO, "reply has no choices");
		goto cleanup;
	}
	choice = json_object_array_get_idx(choices, 0);
	msg = lr_json_member(choice, "message", json_type_object);
	content = lr_json_member(msg, "content", json_type_string);
	if (!content) /* the legacy completions shape */
		content = lr_json_member(choice, "text", json_type_string);
	if (!content) {
		rc = lr_err_set(err, LR_EPROTO, "reply's first choice has no text content");
		goto cleanup;
	}
	if (dup_str(&out->content, content) ||
	    dup_str(&out->finish_reason,
	            lr_json_member(choice, "finish_reason", json_type_string)) ||
	    dup_str(&out->model, lr_json_member(root, "model", json_type_string))) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory reading the reply");
		goto cleanup;
	}
	read_usage(out, lr_json_member(root, "usage", json_type_object));
cleanup:
	json_object_put(root);
	return rc;
}

/* ---- server-sent events ------------------------------------------------ */

struct llm_sse {
	lr_buf line;    /* the current, incomplete line */
	lr_buf data;    /* the data lines of the current event */
	lr_buf content; /* everything streamed so far */
	char *finish_reason;
	char *model;
	long prompt_tokens, completion_tokens;
	long pieces;
	int have_usage;
	int done;
	int chunks; /* events that parsed as completion chunks */
	llm_token_fn on_token;
	void *arg;
};

int llm_sse_new(llm_sse **out, size_t max, llm_token_fn on_token, void *arg)
{
	llm_sse *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return LR_ENOMEM;
	/* One event never needs more than the whole reply's cap plus framing. */
	lr_buf_init(&s->line, max + 4096);
	lr_buf_init(&s->data, max + 4096);
	lr_buf_init(&s->content, max);
	s->prompt_tokens = -1;
	s->completion_tokens = -1;
	s->on_token = on_token;
	s->arg = arg;
	*out = s;
	return 0;
}

void llm_sse_free(llm_sse *s)
{
	if (!s)
		return;
	lr_buf_free(&s->line);
	lr_buf_free(&s->data);
	lr_buf_free(&s->content);
	free(s->finish_reason);
	free(s->model);
	free(s);
}

int llm_sse_done(const llm_sse *s)
{
	return s->done;
}

int llm_sse_finished(const llm_sse *s)
{
	return s->finish_reason != NULL;
}

static int sse_chunk(llm_sse *s, json_object *root, lr_err *err)
{
	json_object *choices, *choice, *delta, *piece, *v;
	char text[256];
	const char *p;
	size_t n;

	v = lr_json_member(root, "error", json_type_object);
	if (!v)
		v = lr_json_member(root, "error", json_type_string);
	if (v) {
		server_message(text, sizeof(text), v);
		return lr_err_set(err, LR_EUNAVAIL, "server reported an error mid-stream: %s",
		                  text);
	}
	if ((v = lr_json_member(root, "model", json_type_string)) && !s->model &&
	    dup_str(&s->model, v))
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if ((v = lr_json_member(root, "usage", json_type_object))) {
		json_object *pt = lr_json_member(v, "prompt_tokens", json_type_int);
		json_object *ct = lr_json_member(v, "completion_tokens", json_type_int);
		if (pt)
			s->prompt_tokens = (long)json_object_get_int64(pt);
		if (ct) {
			s->completion_tokens = (long)json_object_get_int64(ct);
			s->have_usage = 1;
		}
	}
	choices = lr_json_member(root, "choices", json_type_array);
	if (!choices) {
		/* A usage-only final chunk has an empty choices array; anything
		 * else without choices is not a chat stream. */
		if (lr_json_member(root, "usage", json_type_object))
			return 0;
		return lr_err_set(err, LR_EPROTO, "stream event has no choices");
	}
	s->chunks++;
	if (json_object_array_length(choices) == 0)
		return 0;
	choice = json_object_array_get_idx(choices, 0);
	if ((v = lr_json_member(choice, "finish_reason", json_type_string)) &&
	    dup_str(&s->finish_reason, v))
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	delta = lr_json_member(choice, "delta", json_type_object);
	piece = lr_json_member(delta, "content", json_type_string);
	if (!piece)
		piece = lr_json_member(choice, "text", json_type_string);
	if (!piece)
		return 0;
	p = json_object_get_string(piece);
	n = (size_t)json_object_get_string_len(piece);
	if (n == 0)
		return 0;
	s->pieces++;
	if (lr_buf_append(&s->content, p, n) == LR_ETOOBIG)
		return lr_err_set(err, LR_ETOOBIG, "streamed reply exceeds the cap of %zu bytes",
		                  s->content.max);
	if (s->on_token && s->on_token(s->arg, p, n))
		return lr_err_set(err, LR_ECANCELED, "the call was cancelled while streaming");
	return 0;
}

static int sse_dispatch(llm_sse *s, lr_err *err)
{
	json_object *root = NULL;
	int rc = 0;

	if (s->data.len == 0)
		return 0;
	if (s->done) /* nothing may follow [DONE]; ignore stray events */
		goto cleanup;
	if (strcmp(s->data.data, "[DONE]") == 0) {
		s->done = 1;
		goto cleanup;
	}
	root = parse_json(s->data.data, s->data.len, err);
	if (!root) {
		rc = err ? err->code : LR_EPROTO;
		lr_err_prefix(err, "stream event");
		goto cleanup;
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = lr_err_set(err, LR_EPROTO, "stream event is not a JSON object");
		goto cleanup;
	}
	rc = sse_chunk(s, root, err);
cleanup:
	json_object_put(root);
	lr_buf_reset(&s->data);
	return rc;
}

static int sse_line(llm_sse *s, char *line, size_t len, lr_err *err)
{
	const char *v;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 0)
		return sse_dispatch(s, err);
	if (line[0] == ':') /* a comment: keep-alive */
		return 0;
	if (len < 5 || strncmp(line, "data:", 5) != 0)
		return 0; /* event:, id:, retry: and unknown fields carry nothing we need */
	v = line + 5;
	if (*v == ' ')
		v++;
	if (s->data.len && lr_buf_append(&s->data, "\n", 1))
		return lr_err_set(err, LR_ETOOBIG, "stream event exceeds the reply cap");
	if (lr_buf_append(&s->data, v, len - (size_t)(v - line)))
		return lr_err_set(err, LR_ETOOBIG, "stream event exceeds the reply cap");
	return 0;
}

int llm_sse_feed(llm_sse *s, const char *data, size_t len, lr_err *err)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;

		if (n && lr_buf_append(&s->line, data + i, n))
			return lr_err_set(err, LR_ETOOBIG, "stream line exceeds the reply cap");
		i += n;
		if (!nl)
			break;
		i++;
		rc = sse_line(s, s->line.data ? s->line.data : (char *)"", s->line.len, err);
		lr_buf_reset(&s->line);
		if (rc)
			return rc;
	}
	return 0;
}

int llm_sse_finish(llm_sse *s, llm_reply *out, lr_err *err)
{
	int rc;

	/* A stream that ends without a final blank line still ends its event. */
	if (s->line.len) {
		rc = sse_line(s, s->line.data, s->line.len, err);
		lr_buf_reset(&s->line);
		if (rc)
			return rc;
	}
	if ((rc = sse_dispatch(s, err)))
		return rc;
	if (s->chunks == 0)
		return lr_err_set(err, LR_EPROTO, "stream ended without any completion chunk");
	free(out->content);
	out->content = lr_buf_steal(&s->content);
	free(out->finish_reason);
	out->finish_reason = s->finish_reason;
	s->finish_reason = NULL;
	free(out->model);
	out->model = s->model;
	s->model = NULL;
	out->prompt_tokens = s->prompt_tokens;
	if (s->have_usage) {
		out->completion_tokens = s->completion_tokens;
		out->usage_estimated = 0;
	} else {
		out->completion_tokens = s->pieces;
		out->usage_estimated = 1;
	}
	if (!out->content)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	return 0;
}
