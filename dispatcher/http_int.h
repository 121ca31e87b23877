/* http_int.h - what the http_*.c files share: the server, one request, and
 * the reply helpers. Not for the rest of the dispatcher (see http.h).
 *
 * Calls between the files point one way:
 *   http_server -> http_routes -> http_seed, http_session, http_mcp -> http_jobs, http_sse,
 *   http_git, http_openapi -> http_auth, http_pool, http_reply (the leaves). */
#ifndef LLMREPL_HTTP_INT_H
#define LLMREPL_HTTP_INT_H

#include "buf.h"
#include "http.h"
#include "json.h"
#include "queue.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct http_tokens http_tokens;

#define HTTP_POOL_KEEP 64 /* idle Redis connections kept */
/* Longest blocking read of a wait or an event stream, so that a stopping
 * server is noticed within about this long. */
#define HTTP_BLOCK_MS 1000

struct http_server {
	http_config cfg;
	struct MHD_Daemon *daemon;
	char where[96];
	pthread_mutex_t pool_mu;
	lr_redis **pool; /* idle connections */
	size_t npool, pool_cap;
	http_tokens *tokens; /* NULL: no authentication */
	atomic_int stopping; /* waits and event streams end soon after it is set */
	atomic_int active;   /* requests between their first header and their end */
};

/* One request, from its first header to the end of its reply. */
typedef struct http_req {
	http_server *srv;
	struct MHD_Connection *conn;
	const char *method; /* borrowed from MHD */
	const char *url;    /* path only */
	lr_buf body;
	int too_big;    /* the body went over max_body: 413 once it stops */
	int started;    /* the handler has seen the first call */
	char owner[64]; /* the token's name, "" without authentication */
	lr_redis *r;    /* borrowed from the pool for this request */
	/* extra response headers, set before replying */
	char location[160];
	char retry_after[24];
	char link[320];
	int replayed;      /* Idempotent-Replayed: true */
	unsigned status;   /* of the reply queued, for the metrics */
	int challenge;     /* WWW-Authenticate: Bearer */
	const char *allow; /* Allow, with 405 */
} http_req;

/* ---- http_reply.c: responses ---- */

/* Queue `len` bytes of body (copied) with a content type. */
enum MHD_Result http_send(http_req *q, unsigned status, const char *ctype, const char *body,
                          size_t len);
/* Queue a response made elsewhere (adds the extra headers, records the
 * status, releases resp). */
enum MHD_Result http_queue(http_req *q, unsigned status, struct MHD_Response *resp);
/* A JSON body; takes ownership of obj. */
enum MHD_Result http_json(http_req *q, unsigned status, json_object *obj);
/* An application/problem+json error (RFC 9457) with the reason in both
 * `detail` and `error` (the seed's field). */
enum MHD_Result http_problem(http_req *q, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The problem for a failed Redis or job call: 503 (Redis away, with
 * Retry-After), 413, 404 or 500. */
enum MHD_Result http_problem_err(http_req *q, const lr_err *err);
/* 405 naming the allowed methods (and Allow). */
enum MHD_Result http_not_allowed(http_req *q, const char *allow);
/* The status for a failed Redis or job call (sets Retry-After for 503). */
unsigned http_err_status(http_req *q, const lr_err *err);
/* Add the extra headers in q to a response. */
void http_add_headers(http_req *q, struct MHD_Response *resp);
const char *http_status_title(unsigned status);
/* A query argument, or NULL. */
const char *http_arg(http_req *q, const char *name);
/* A request header, or NULL. */
const char *http_header(http_req *q, const char *name);

/* ---- http_pool.c: Redis connections ---- */

/* The request's connection (opened or taken from the pool on first use). */
int http_redis(http_req *q, lr_redis **out, lr_err *err);
/* Give a connection back (closed when the pool is full). Accepts NULL. */
void http_pool_put(http_server *s, lr_redis *r);
void http_pool_free(http_server *s);

/* ---- http_auth.c: tokens and quotas ---- */

int http_tokens_load(http_tokens **out, const char *path, lr_err *err);
void http_tokens_free(http_tokens *t);
/* Check the Authorization header and the request rate. Returns 0 with
 * q->owner set, or queues the error reply (401, 403, 429, 503) and returns
 * -1 with *result set. */
int http_auth(http_req *q, enum MHD_Result *result);

/* ---- http_jobs.c: jobs ---- */

/* Submit a spec (a JSON object; an `idempotency_key` member is taken out)
 * as the request's owner. On success *id is the job id and *existing 1 when
 * an idempotency key named an earlier job. Otherwise *status (400, 413, 422,
 * 429, 503, 500) and err say why, and q->retry_after is set where it helps. */
int http_submit(http_req *q, json_object *spec, const char *idem_key, char id[LR_JOB_ID_MAX + 1],
                int *existing, unsigned *status, lr_err *err);
/* Wait until the job is final or wait_s passes. *job gets the job hash as
 * JSON (NULL when it did not end in time). */
int http_wait(http_req *q, const char *id, double wait_s, json_object **job, lr_err *err);
/* ?wait=<seconds> (capped at --http-wait-max-s), or --http-wait-s when not
 * given; LR_EINVAL when it is not a number of seconds. */
int http_wait_arg(http_req *q, double *wait_s, lr_err *err);
/* Submit spec (consumed; an Idempotency-Key header applies) and wait up to
 * wait_s: *job is then the final job, or NULL while it runs, with *pending
 * the 202 answer ({job_id, status_url}). q->location names the job either
 * way. On failure *status and err say why. */
int http_submit_wait(http_req *q, json_object *spec, double wait_s, json_object **job,
                     json_object **pending, unsigned *status, lr_err *err);
/* The status for a final job that did not end done: 400 rejected, 409
 * cancelled, 502 otherwise (dead, or no state at all). */
unsigned http_job_end_status(lr_q_state state);
/* The job hash as JSON (`spec` and `result` parsed), or for a request
 * not yet taken {"id", "state": "submitted"}. LR_ENOTFOUND when neither
 * exists or another owner's. */
int http_job_get(http_req *q, const char *id, json_object **out, lr_err *err);
/* The body as a JSON object, or *status (400, 415) and err say why. */
int http_body_object(http_req *q, json_object **out, unsigned *status, lr_err *err);

/* A job or iteration hash (HGETALL reply) as JSON: numbers as numbers,
 * `passed` a boolean, `spec` and `result` parsed. NULL when out of memory. */
json_object *http_hash_json(const redisReply *rep);

enum MHD_Result http_jobs_post(http_req *q);
enum MHD_Result http_jobs_list(http_req *q);
enum MHD_Result http_jobs_get(http_req *q, const char *id);
enum MHD_Result http_jobs_delete(http_req *q, const char *id);
enum MHD_Result http_jobs_iteration(http_req *q, const char *id, const char *n);

/* ---- http_git.c: the job's git history ---- */
enum MHD_Result http_jobs_history(http_req *q, const char *id);
enum MHD_Result http_jobs_repository(http_req *q, const char *id);

/* ---- http_sse.c ---- */
enum MHD_Result http_jobs_events(http_req *q, const char *id);

/* ---- http_seed.c: /generate /evaluate /refactor /loop ---- */

/* Run one seed operation (kind) on `body` (owned) for the request; shared
 * by the HTTP endpoints and MCP. On success *out holds the seed's answer
 * (or, when the wait ran out, {"job_id"} with *pending = 1). Else *status
 * and err say why. */
int http_seed_run(http_req *q, const char *kind, json_object *body, double wait_s,
                  json_object **out, int *pending, unsigned *status, lr_err *err);
enum MHD_Result http_seed(http_req *q, const char *kind);

/* ---- http_openapi.c ---- */
extern const char http_openapi_json[];
extern const unsigned long long http_openapi_json_size;
enum MHD_Result http_openapi(http_req *q);
enum MHD_Result http_docs(http_req *q, const char *rest);
/* The input schema of a seed operation from the OpenAPI document (owned). */
json_object *http_openapi_schema(const char *name);

/* ---- http_mcp.c ---- */
enum MHD_Result http_mcp(http_req *q);

/* ---- http_routes.c ---- */
enum MHD_Result http_route(http_req *q);

/* ---- http_session.c: REPL sessions ---- */

/* /sessions (tail "") and /sessions/{id}[/exec] (tail after "/sessions/"). */
enum MHD_Result http_sessions(http_req *q, const char *tail);
/* The route a path belongs to, as a label: "/jobs/{id}/events", ... */
const char *http_route_name(const char *url);

#endif
