/* http_sse.c - GET /jobs/{id}/events as Server-Sent Events.
 *
 * Each entry of the job's events stream is one event: `id:` the entry id,
 * `event:` its type, `data:` its fields as JSON. A client that reconnects
 * with Last-Event-ID (or ?last_event_id=) continues after that entry, as
 * XREAD from that id would. The stream ends after the final event; while
 * nothing happens a comment line keeps proxies from closing it. The
 * response's thread blocks in XREAD on a connection of its own. */
#include "clock.h"
#include "http_int.h"
#include "log.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sse {
	http_server *srv;
	lr_redis *r;
	char id[LR_JOB_ID_MAX + 1];
	char key[LR_KEY_MAX];
	char last[LR_JOB_ID_MAX + 1];
	lr_buf out;
	size_t off;
	int done;
	long long quiet_since; /* last output, for the keepalive */
} sse;

static void sse_free(void *cls)
{
	sse *s = cls;

	http_pool_put(s->srv, s->r);
	lr_buf_free(&s->out);
	free(s);
}

static int stream_id_ok(const char *v)
{
	return lr_job_id_valid(v) || strcmp(v, "0") == 0 || strcmp(v, "0-0") == 0;
}

/* Append one stream entry [id, [field, value, ...]] as an event. */
static void put_event(sse *s, const redisReply *e)
{
	const redisReply *f;
	json_object *data;
	const char *type = "message";
	char *text;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !lr_reply_is_str(e->element[0]))
		return;
	f = e->element[1];
	data = json_object_new_object();
	for (size_t i = 0; data && f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		const char *k = lr_reply_elem_str(f, i), *v = lr_reply_elem_str(f, i + 1);

		if (k == NULL || v == NULL)
			continue;
		lr_json_set_str(data, k, v);
		if (strcmp(k, "type") == 0 && strspn(v, "abcdefghijklmnopqrstuvwxyz_") == strlen(v))
			type = v;
	}
	text = data ? lr_json_dump(data) : NULL;
	lr_buf_printf(&s->out, "id: %s\nevent: %s\ndata: %s\n\n", e->element[0]->str, type,
	              text ? text : "{}");
	if (lr_q_state_final(type))
		s->done = 1;
	snprintf(s->last, sizeof(s->last), "%s", e->element[0]->str);
	free(text);
	json_object_put(data);
}

/* Is the job over (final, or gone) with nothing left to send? */
static int job_over(sse *s)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	lr_err err;
	int over = 0;

	lr_err_clear(&err);
	if (lr_redis_cmd(s->r, &rep, &err, "HGET %s state",
	                 lr_key_job(&s->srv->cfg.keys, key, s->id)) < 0)
		return 0;
	over = rep->type == REDIS_REPLY_STRING && lr_q_state_final(rep->str);
	freeReplyObject(rep);
	return over;
}

static void fill(sse *s)
{
	redisReply *rep = NULL;
	lr_err err;
	int over;

	lr_err_clear(&err);
	if (atomic_load(&s->srv->stopping)) {
		s->done = 1; /* the client reconnects elsewhere with Last-Event-ID */
		return;
	}
	over = job_over(s);
	/* A final job gets what is left without waiting; a live one blocks
	 * until its next event or the keepalive. */
	if ((over ? lr_redis_cmd(s->r, &rep, &err, "XREAD COUNT 100 STREAMS %s %s", s->key, s->last)
	          : lr_redis_cmd(s->r, &rep, &err, "XREAD COUNT 100 BLOCK %ld STREAMS %s %s",
	                         lr_redis_block_ms(s->r, HTTP_BLOCK_MS), s->key, s->last)) < 0) {
		/* Redis away: say so and try again; the client may also
		 * reconnect with Last-Event-ID. */
		lr_buf_printf(&s->out, ": redis unavailable, retrying\n\n");
		lr_sleep_ms(500);
		return;
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2) {
		const redisReply *es = rep->element[0]->element[1];

		for (size_t i = 0; es->type == REDIS_REPLY_ARRAY && i < es->elements && !s->done;
		     i++)
			put_event(s, es->element[i]);
	} else if (over) {
		s->done = 1; /* the final event was before Last-Event-ID, or trimmed */
	} else if (lr_now_ms() - s->quiet_since >= s->srv->cfg.sse_keepalive_s * 1000) {
		lr_buf_puts(&s->out, ": keepalive\n\n");
	}
	if (s->out.len > 0)
		s->quiet_since = lr_now_ms();
	freeReplyObject(rep);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	sse *s = cls;
	size_t n;

	(void)pos;
	while (s->off >= s->out.len) {
		lr_buf_reset(&s->out);
		s->off = 0;
		if (s->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		fill(s);
		if (lr_buf_error(&s->out) < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = s->out.len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

enum MHD_Result http_jobs_events(http_req *q, const char *id)
{
	const char *from = http_header(q, "Last-Event-ID");
	json_object *job = NULL;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	lr_err err;
	sse *s;

	lr_err_clear(&err);
	if (from == NULL)
		from = http_arg(q, "last_event_id");
	if (from != NULL && !stream_id_ok(from))
		return http_problem(
		    q, 400, "Last-Event-ID must be an event id (<ms>-<seq>), got '%.48s'", from);
	if (http_job_get(q, id, &job, &err) < 0)
		return http_problem_err(q, &err);
	json_object_put(job);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return http_problem(q, 500, "out of memory");
	s->srv = q->srv;
	s->r = q->r; /* the stream keeps the request's connection */
	q->r = NULL;
	snprintf(s->id, sizeof(s->id), "%s", id);
	lr_key_job_sub(&q->srv->cfg.keys, s->key, id, "events");
	snprintf(s->last, sizeof(s->last), "%s", from ? from : "0-0");
	s->quiet_since = lr_now_ms();
	lr_buf_init(&s->out, 4u << 20);
	resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, s, sse_free);
	if (resp == NULL) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	ret = http_queue(q, 200, resp);
	return ret;
}
