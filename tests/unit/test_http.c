/* test_http.c - the HTTP server in process, over a real socket, with Redis
 * unreachable: what must work without it (health, the document, input
 * checks, limits, tokens, MCP's handshake) and what must fail cleanly (503
 * with Retry-After, never a hang). */
#include "check.h"
#include "http_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static char tokens_path[] = "/tmp/llmrepl-test-http-XXXXXX";

static http_server *start(const char *tokens)
{
	http_config c;
	http_server *s = NULL;
	lr_err err;

	memset(&c, 0, sizeof(c));
	c.listen = "127.0.0.1:0";
	c.redis.url = "redis://127.0.0.1:1"; /* nothing listens there */
	c.redis.connect_timeout_ms = 200;
	c.redis.command_timeout_ms = 200;
	lr_keys_init(&c.keys, "llmrepl:", &err);
	lr_job_policy_default(&c.job);
	c.job.max_spec_bytes = 4096;
	c.max_body = 4096;
	c.timeout_s = 5;
	c.max_conns = 16;
	c.wait_s = 1;
	c.wait_max_s = 2;
	c.idem_ttl_s = 60;
	c.sse_keepalive_s = 1;
	c.tokens_file = tokens;
	if (http_start(&s, &c, &err) < 0)
		fprintf(stderr, "http_start: %s\n", err.msg);
	return s;
}

/* One request; the whole response (headers and body) into out. */
static int request(http_server *s, const char *req, char *out, size_t n)
{
	const char *colon = strrchr(http_where(s), ':');
	struct sockaddr_in a;
	size_t got = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)strtol(colon + 1, NULL, 10));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	while (got + 1 < n && (r = read(fd, out + got, n - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(fd);
	return (int)strtol(out + 9, NULL, 10); /* "HTTP/1.1 200" */
}

static char buf[65536];

static int post(http_server *s, const char *path, const char *extra, const char *body)
{
	char req[8192];

	snprintf(req, sizeof(req),
	         "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
	         "application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
	         path, extra, strlen(body), body);
	return request(s, req, buf, sizeof(buf));
}

TEST(health_and_redis_away)
{
	http_server *s = start(NULL);

	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(request(s, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf,
	              sizeof(buf)) == 200);
	CHECK(request(s, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf,
	              sizeof(buf)) == 503);
	CHECK_CONTAINS(buf, "Retry-After: 1");
	CHECK(post(s, "/jobs", "", "{\"kind\":\"evaluate\",\"code\":\"1+1\"}") == 503);
	CHECK_CONTAINS(buf, "application/problem+json");
	CHECK_CONTAINS(buf, "unreachable");
	http_stop(s);
}

TEST(input_checked_before_redis)
{
	http_server *s = start(NULL);

	if (s == NULL) {
		CHECK(0);
		return;
	}
	CHECK(post(s, "/jobs", "", "{bad}") == 400);
	CHECK_CONTAINS(buf, "not valid JSON");
	CHECK(post(s, "/evaluate", "", "{\"code\": 12}") == 400);
	CHECK_CONTAINS(buf, "field 'code' must be a string");
	CHECK(request(s,
	              "POST /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
	              "999999\r\n\r\n",
	              buf, sizeof(buf)) == 413);
	CHECK(request(s, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf,
	              sizeof(buf)) == 404);
	CHECK(request(s, "PUT /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf,
	              sizeof(buf)) == 405);
	CHECK_CONTAINS(buf, "Allow: GET, POST");
	CHECK(request(s, "GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf,
	              sizeof(buf)) == 200);
	CHECK_CONTAINS(buf, "\"/generate\"");
	CHECK(post(s, "/mcp", "",
	           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}") ==
	      200);
	CHECK_CONTAINS(buf, "\"protocolVersion\"");
	http_stop(s);
}

TEST(tokens)
{
	http_tokens *t = NULL;
	http_server *s;
	lr_err err;
	FILE *f;
	int fd = mkstemp(tokens_path);

	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# comment\nalice secret-token-1\nold secret-token-2 revoked\n", f);
	fclose(f);
	CHECK(http_tokens_load(&t, "/nonexistent/tokens", &err) == LR_EINVAL);
	s = start(tokens_path);
	if (s == NULL) {
		CHECK(0);
		unlink(tokens_path);
		return;
	}
	CHECK(request(s, "GET /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf,
	              sizeof(buf)) == 401);
	CHECK_CONTAINS(buf, "WWW-Authenticate: Bearer");
	CHECK(request(s,
	              "GET /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
	              "secret-token-\r\n\r\n",
	              buf, sizeof(buf)) == 401);
	CHECK(request(s,
	              "GET /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
	              "secret-token-2\r\n\r\n",
	              buf, sizeof(buf)) == 403);
	/* A good token gets past the check (to Redis, which is away). */
	CHECK(request(s,
	              "GET /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
	              "secret-token-1\r\n\r\n",
	              buf, sizeof(buf)) == 503);
	CHECK(request(s, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", buf,
	              sizeof(buf)) == 200);
	http_stop(s);
	f = fopen(tokens_path, "w");
	fputs("alice short\n", f);
	fclose(f);
	CHECK(http_tokens_load(&t, tokens_path, &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, ":1:");
	unlink(tokens_path);
}

TEST(schemas_are_resolved)
{
	json_object *s = http_openapi_schema("EvaluateRequest");
	char *text = s ? lr_json_dump(s) : NULL;

	CHECK(text != NULL);
	CHECK(text && strstr(text, "$ref") == NULL);
	CHECK_CONTAINS(text, "\"required\":[\"code\"]");
	CHECK_CONTAINS(text, "timeout_s"); /* from Limits, inlined */
	CHECK(http_openapi_schema("NoSuchSchema") == NULL);
	free(text);
	json_object_put(s);
}

TEST(listen_errors)
{
	http_config c;
	http_server *s = NULL;
	lr_err err;

	memset(&c, 0, sizeof(c));
	c.listen = "no-port-here";
	c.max_conns = 1;
	c.timeout_s = 1;
	CHECK(http_start(&s, &c, &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "HOST:PORT");
	c.listen = "[::1:80";
	CHECK(http_start(&s, &c, &err) == LR_EINVAL);
	CHECK(s == NULL);
}

int main(void)
{
	RUN(health_and_redis_away);
	RUN(input_checked_before_redis);
	RUN(tokens);
	RUN(schemas_are_resolved);
	RUN(listen_errors);
	return check_summary();
}
