/* metrics_http.c - GET /metrics on a libmicrohttpd listener of its own. */
#include "metrics.h"

#include "log.h"
#include "netaddr.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define METRICS_MAX_BYTES (16u << 20)

struct lr_metrics_server {
	struct MHD_Daemon *d;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_len, void **state)
{
	static int first;
	lr_buf b;

	(void)cls;
	(void)version;
	(void)data;
	if (*state == NULL) {
		/* Headers only so far; answer on the next call. */
		*state = &first;
		return MHD_YES;
	}
	if (*data_len != 0) {
		*data_len = 0; /* a body is ignored */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
		             (char *)"not found: try /metrics\n", 24, MHD_RESPMEM_PERSISTENT);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		             (char *)"only GET /metrics\n", 18, MHD_RESPMEM_PERSISTENT);
	lr_buf_init(&b, METRICS_MAX_BYTES);
	if (lr_metrics_render(&b) < 0 || b.data == NULL) {
		lr_buf_free(&b);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
		             (char *)"metrics unavailable\n", 20, MHD_RESPMEM_PERSISTENT);
	}
	{
		size_t len = b.len;
		char *body = lr_buf_steal(&b);

		return reply(c, MHD_HTTP_OK, LR_METRICS_CONTENT_TYPE, body, len,
		             MHD_RESPMEM_MUST_FREE);
	}
}

int lr_metrics_listen(lr_metrics_server **out, const char *host_port, lr_err *err)
{
	struct sockaddr_storage addr;
	socklen_t addrlen = 0;
	lr_metrics_server *s;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;

	*out = NULL;
	if (lr_listen_addr(&addr, &addrlen, host_port, "metrics listen address", err) < 0)
		return LR_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
	                        (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (s->d == NULL) {
		free(s);
		return lr_err_set(err, LR_EIO, "cannot listen for metrics on %.64s", host_port);
	}
	log_info("metrics on http://%s/metrics", host_port);
	*out = s;
	return 0;
}

void lr_metrics_stop(lr_metrics_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
