/* http.h - the dispatcher's HTTP API (libmicrohttpd, its own threads).
 *
 * Every request becomes the same Redis operations a redis-cli user makes:
 * a job is an XADD on the requests stream (through the same intake as any
 * other), its status the job hash, its progress the events stream, a cancel
 * lr_q_cancel. The server keeps no state of its own; quotas and idempotency
 * keys live in Redis, so any number of dispatchers can serve one deployment
 * behind a load balancer. See docs/protocol.md, "HTTP". */
#ifndef LLMREPL_HTTP_H
#define LLMREPL_HTTP_H

#include "job.h"
#include "keys.h"
#include "redis.h"

typedef struct http_config {
	const char *listen;  /* "host:port", "[v6]:port" or ":port" */
	lr_redis_opts redis; /* each request thread borrows a connection from a pool */
	lr_keys keys;
	lr_job_policy job;       /* the same rules the intake applies, checked up front */
	size_t max_body;         /* bytes; larger bodies get 413 unread */
	long timeout_s;          /* idle connections are cut after this */
	long max_conns;          /* connections at once (each has a thread) */
	long per_ip_conns;       /* connections at once from one address (0: no cap) */
	double wait_s;           /* default ?wait= of the seed endpoints */
	double wait_max_s;       /* cap on ?wait= */
	long idem_ttl_s;         /* Idempotency-Key lifetime */
	long max_queue;          /* queued + unread requests above this: 503 */
	long rate_rps;           /* requests per second per token (0: no cap) */
	long max_inflight;       /* unfinished jobs per token (0: no cap) */
	const char *tokens_file; /* "name token" lines; NULL: no authentication */
	const char *docs_dir;    /* swagger-ui-dist's files, or NULL */
	long sse_keepalive_s;    /* comment line on an idle event stream */
} http_config;

typedef struct http_server http_server;

/* Listen and serve in background threads. */
int http_start(http_server **out, const http_config *cfg, lr_err *err);
/* Stop accepting, finish nothing more, free. Accepts NULL. */
void http_stop(http_server *s);

/* The address actually bound ("127.0.0.1:8000"), for the log. */
const char *http_where(const http_server *s);

#endif
