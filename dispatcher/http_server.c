/* http_server.c - libmicrohttpd glue: listen, read bounded bodies, hand each
 * complete request to the router, clean up.
 *
 * One thread per connection: a handler may block (waiting for a job, an
 * event stream) without holding up any other connection, and the thread
 * count is bounded by the connection cap. Bodies are read into a buffer
 * capped at max_body; a Content-Length over it is answered 413 before a
 * byte of the body is read. Connections idle for timeout_s are closed, and
 * so are bodies that take longer than that to arrive (slow senders). */
#include "clock.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADER_MEMORY (64 * 1024) /* request line and headers, per connection */

static lr_metric *http_requests, *http_seconds;

static void http_metrics_init(void)
{
	http_requests =
	    lr_metric_counter("llmrepl_http_requests_total",
	                      "HTTP API requests by route and status (0: no reply)", "route,code");
	http_seconds = lr_metric_histogram("llmrepl_http_request_seconds",
	                                   "HTTP API request durations by route", "route", NULL, 0);
}

typedef struct req_state {
	http_req q;
	long long t0_ms;
} req_state;

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	http_server *s = cls;
	req_state *st = *con_cls;
	http_req *q;

	(void)version;
	if (st == NULL) {
		const char *cl;

		st = calloc(1, sizeof(*st));
		if (st == NULL)
			return MHD_NO;
		q = &st->q;
		q->srv = s;
		q->conn = conn;
		q->method = method;
		q->url = url;
		lr_buf_init(&q->body, s->cfg.max_body);
		st->t0_ms = lr_now_ms();
		*con_cls = st;
		atomic_fetch_add(&s->active, 1);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			char *end = NULL;
			unsigned long long n = strtoull(cl, &end, 10);

			if (end && *end == '\0' && n > s->cfg.max_body) {
				/* Answer now: the body is never read, and the
				 * connection is closed after the reply. */
				q->too_big = 1;
				return http_problem(
				    q, 413,
				    "request body is %llu bytes, over the limit of %zu "
				    "bytes",
				    n, s->cfg.max_body);
			}
		}
		return MHD_YES;
	}
	q = &st->q;
	if (*upload_size > 0) {
		if (lr_now_ms() - st->t0_ms > s->cfg.timeout_s * 1000) {
			log_info("http: %s %s: body too slow, closing", method, url);
			return MHD_NO;
		}
		if (!q->too_big && lr_buf_append(&q->body, upload, *upload_size) < 0)
			q->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->started)
		return MHD_YES; /* a reply is already queued */
	q->started = 1;
	if (q->too_big)
		return http_problem(q, 413, "request body is over the limit of %zu bytes",
		                    s->cfg.max_body);
	return http_route(q);
}

/* Requests by route and status, and how long they took (a seed endpoint's
 * time includes its wait for the job; an event stream's, its whole life). */
static void count(const req_state *st)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *route = http_route_name(st->q.url);
	char code[8];
	const char *labels[2];

	pthread_once(&once, http_metrics_init);
	snprintf(code, sizeof(code), "%u", st->q.status ? st->q.status : 0u);
	labels[0] = route;
	labels[1] = code;
	lr_metric_inc(http_requests, 1, labels);
	lr_metric_observe1(http_seconds, (double)(lr_now_ms() - st->t0_ms) / 1000.0, route);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	http_server *s = cls;
	req_state *st = *con_cls;

	(void)conn;
	(void)toe;
	if (st == NULL)
		return;
	atomic_fetch_sub(&s->active, 1);
	count(st);
	lr_buf_free(&st->q.body);
	http_pool_put(s, st->q.r);
	free(st);
	*con_cls = NULL;
}

int http_start(http_server **out, const http_config *cfg, lr_err *err)
{
	http_server *s;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_ERROR_LOG | MHD_USE_POLL | MHD_USE_ITC;
	int rc;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	rc = lr_listen_addr(&ss, &sl, cfg->listen, "http-listen", err);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	s->cfg = *cfg;
	pthread_mutex_init(&s->pool_mu, NULL);
	s->pool_cap = HTTP_POOL_KEEP;
	s->pool = calloc(s->pool_cap, sizeof(*s->pool));
	if (s->pool == NULL) {
		http_stop(s);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	if (cfg->tokens_file && *cfg->tokens_file) {
		rc = http_tokens_load(&s->tokens, cfg->tokens_file, err);
		if (rc < 0) {
			http_stop(s);
			return rc;
		}
	} else if (!lr_addr_is_loopback(&ss)) {
		log_warn("http: listening on %s without --api-tokens: anyone who reaches it can "
		         "submit jobs",
		         cfg->listen);
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
	                             (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
	                             (unsigned)cfg->max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	                             (unsigned)cfg->per_ip_conns, MHD_OPTION_CONNECTION_TIMEOUT,
	                             (unsigned)cfg->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                             (size_t)HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
	                             on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	                             MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	if (s->daemon == NULL) {
		http_stop(s);
		return lr_err_set(err, LR_EIO,
		                  "http: cannot listen on %s (in use or not permitted)",
		                  cfg->listen);
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_LISTEN_FD);
	snprintf(s->where, sizeof(s->where), "%s", cfg->listen);
	if (info != NULL) {
		struct sockaddr_storage b;
		socklen_t bl = sizeof(b);
		char host[INET6_ADDRSTRLEN] = "?";

		if (getsockname(info->listen_fd, (struct sockaddr *)&b, &bl) == 0) {
			if (b.ss_family == AF_INET6) {
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&b)->sin6_addr, host,
				          sizeof(host));
				snprintf(s->where, sizeof(s->where), "[%s]:%u", host,
				         ntohs(((struct sockaddr_in6 *)&b)->sin6_port));
			} else {
				inet_ntop(AF_INET, &((struct sockaddr_in *)&b)->sin_addr, host,
				          sizeof(host));
				snprintf(s->where, sizeof(s->where), "%s:%u", host,
				         ntohs(((struct sockaddr_in *)&b)->sin_port));
			}
		}
	}
	*out = s;
	return 0;
}

void http_stop(http_server *s)
{
	if (s == NULL)
		return;
	if (s->daemon) {
		/* No new connections; waiting requests answer 202 and event
		 * streams end within HTTP_BLOCK_MS; their replies go out before
		 * the daemon closes what is left. */
		MHD_socket lfd = MHD_quiesce_daemon(s->daemon);

		atomic_store(&s->stopping, 1);
		for (int i = 0; i < 50 && atomic_load(&s->active) > 0; i++)
			lr_sleep_ms(100);
		MHD_stop_daemon(s->daemon);
		if (lfd != MHD_INVALID_SOCKET) /* quiesced: ours to close */
			close(lfd);
	}
	http_pool_free(s);
	http_tokens_free(s->tokens);
	pthread_mutex_destroy(&s->pool_mu);
	free(s);
}

const char *http_where(const http_server *s)
{
	return s->where;
}
