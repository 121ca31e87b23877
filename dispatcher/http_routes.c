/* http_routes.c - which handler answers which method and path.
 *
 * /healthz, /readyz, /metrics, /openapi.json and /docs are open to all; everything
 * else passes the token check (when tokens are configured) first. */
#include "http_int.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is(const http_req *q, const char *method)
{
	return strcmp(q->method, method) == 0;
}

static enum MHD_Result readyz(http_req *q)
{
	const http_config *c = &q->srv->cfg;
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	lr_redis *r;
	lr_err err;

	lr_err_clear(&err);
	/* Reachable and writable: a write that expires by itself. */
	if (http_redis(q, &r, &err) < 0 ||
	    lr_redis_cmd(r, &rep, &err, "SET %s 1 PX 10000", lr_key(&c->keys, key, "readyz")) < 0) {
		snprintf(q->retry_after, sizeof(q->retry_after), "1");
		return http_problem(q, 503, "redis is not ready: %s", err.msg);
	}
	freeReplyObject(rep);
	return http_send(q, 200, "application/json", "{\"status\":\"ready\"}", 18);
}

/* /jobs/{id}[/rest] */
static enum MHD_Result job_routes(http_req *q, const char *tail)
{
	char id[LR_JOB_ID_MAX + 2];
	const char *slash = strchr(tail, '/');
	size_t n = slash ? (size_t)(slash - tail) : strlen(tail);

	if (n == 0 || n > LR_JOB_ID_MAX)
		return http_problem(q, 404, "no such job '%.48s'", tail);
	memcpy(id, tail, n);
	id[n] = '\0';
	if (slash == NULL || slash[1] == '\0') {
		if (is(q, "GET"))
			return http_jobs_get(q, id);
		if (is(q, "DELETE"))
			return http_jobs_delete(q, id);
		return http_not_allowed(q, "GET, DELETE");
	}
	if (strcmp(slash, "/events") == 0)
		return is(q, "GET") ? http_jobs_events(q, id) : http_not_allowed(q, "GET");
	if (strcmp(slash, "/history") == 0)
		return is(q, "GET") ? http_jobs_history(q, id) : http_not_allowed(q, "GET");
	if (strcmp(slash, "/repository.tar.gz") == 0)
		return is(q, "GET") ? http_jobs_repository(q, id) : http_not_allowed(q, "GET");
	if (strncmp(slash, "/iterations/", 12) == 0)
		return is(q, "GET") ? http_jobs_iteration(q, id, slash + 12)
		                    : http_not_allowed(q, "GET");
	return http_problem(q, 404, "no such path %.200s", q->url);
}

/* Prometheus, as --metrics-listen serves it (unauthenticated, like /healthz). */
static enum MHD_Result metrics(http_req *q)
{
	enum MHD_Result res;
	lr_buf b;

	lr_buf_init(&b, 16u << 20);
	if (lr_metrics_render(&b) < 0 || b.data == NULL) {
		lr_buf_free(&b);
		return http_problem(q, 500, "metrics unavailable");
	}
	res = http_send(q, 200, LR_METRICS_CONTENT_TYPE, b.data, b.len);
	lr_buf_free(&b);
	return res;
}

static const char *const seed_kinds[] = {"generate", "evaluate", "refactor", "loop", NULL};

const char *http_route_name(const char *url)
{
	static const char *const fixed[] = {"/healthz",  "/readyz",   "/metrics", "/openapi.json",
	                                    "/docs",     "/jobs",     "/mcp",     "/generate",
	                                    "/evaluate", "/refactor", "/loop",    NULL};
	static const char *const sub[] = {"/events", "/history", "/repository.tar.gz", NULL};
	const char *slash;

	for (size_t i = 0; fixed[i]; i++)
		if (strcmp(url, fixed[i]) == 0)
			return fixed[i];
	if (strncmp(url, "/docs/", 6) == 0)
		return "/docs";
	if (strcmp(url, "/sessions") == 0)
		return "/sessions";
	if (strncmp(url, "/sessions/", 10) == 0)
		return strstr(url + 10, "/exec")      ? "/sessions/{id}/exec"
		       : strstr(url + 10, "/history") ? "/sessions/{id}/history"
		                                      : "/sessions/{id}";
	if (strncmp(url, "/jobs/", 6) != 0)
		return "other";
	slash = strchr(url + 6, '/');
	if (slash == NULL)
		return "/jobs/{id}";
	for (size_t i = 0; sub[i]; i++)
		if (strcmp(slash, sub[i]) == 0)
			return i == 0   ? "/jobs/{id}/events"
			       : i == 1 ? "/jobs/{id}/history"
			                : "/jobs/{id}/repository.tar.gz";
	if (strncmp(slash, "/iterations/", 12) == 0)
		return "/jobs/{id}/iterations/{n}";
	return "other";
}

enum MHD_Result http_route(http_req *q)
{
	const char *u = q->url;
	enum MHD_Result res;

	if (strcmp(u, "/healthz") == 0)
		return http_send(q, 200, "application/json", "{\"status\":\"ok\"}", 15);
	if (strcmp(u, "/readyz") == 0)
		return readyz(q);
	if (strcmp(u, "/metrics") == 0)
		return is(q, "GET") ? metrics(q) : http_not_allowed(q, "GET");
	if (strcmp(u, "/openapi.json") == 0)
		return is(q, "GET") ? http_openapi(q) : http_not_allowed(q, "GET");
	if (strcmp(u, "/docs") == 0 || strncmp(u, "/docs/", 6) == 0)
		return is(q, "GET") ? http_docs(q, u + 5) : http_not_allowed(q, "GET");
	if (strcmp(u, "/") == 0) {
		snprintf(q->location, sizeof(q->location), "/docs");
		return http_send(q, 302, "text/plain", "see /docs\n", 10);
	}
	if (http_auth(q, &res) < 0)
		return res;
	for (size_t i = 0; seed_kinds[i]; i++)
		if (u[0] == '/' && strcmp(u + 1, seed_kinds[i]) == 0)
			return is(q, "POST") ? http_seed(q, seed_kinds[i])
			                     : http_not_allowed(q, "POST");
	if (strcmp(u, "/jobs") == 0 || strcmp(u, "/jobs/") == 0) {
		if (is(q, "POST"))
			return http_jobs_post(q);
		if (is(q, "GET"))
			return http_jobs_list(q);
		return http_not_allowed(q, "GET, POST");
	}
	if (strncmp(u, "/jobs/", 6) == 0)
		return job_routes(q, u + 6);
	if (strcmp(u, "/sessions") == 0 || strcmp(u, "/sessions/") == 0)
		return http_sessions(q, "");
	if (strncmp(u, "/sessions/", 10) == 0)
		return http_sessions(q, u + 10);
	if (strcmp(u, "/mcp") == 0)
		return is(q, "POST") ? http_mcp(q) : http_not_allowed(q, "POST");
	return http_problem(q, 404, "no such path %.200s (see /openapi.json)", u);
}
