/* http_openapi.c - the OpenAPI document, Swagger UI and the tools' schemas.
 *
 * dispatcher/http_openapi.json is built into the binary (.incbin), so the
 * document always matches the server that serves it. /docs is Swagger UI
 * from swagger-ui-dist, installed on disk by deploy/deps_http.sh and served
 * from there: nothing is fetched from the network at run time. */
#include "http_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__asm__(".section .rodata\n"
        ".global http_openapi_json\n"
        ".type http_openapi_json, @object\n"
        ".balign 16\n"
        "http_openapi_json:\n"
        ".incbin \"dispatcher/http_openapi.json\"\n"
        "http_openapi_json_end:\n"
        ".byte 0\n"
        ".balign 8\n"
        ".global http_openapi_json_size\n"
        "http_openapi_json_size:\n"
        ".quad http_openapi_json_end - http_openapi_json\n"
        ".previous\n");

static const char docs_index[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>llm-repl API</title>"
    "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\"></head>\n"
    "<body><div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
    "<script>window.ui = SwaggerUIBundle({url: \"/openapi.json\", dom_id: \"#swagger-ui\", "
    "deepLinking: true});</script>\n</body></html>\n";

enum MHD_Result http_openapi(http_req *q)
{
	return http_send(q, 200, "application/json", http_openapi_json,
	                 (size_t)http_openapi_json_size);
}

static const char *ctype_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return "application/octet-stream";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript";
	if (strcmp(dot, ".css") == 0)
		return "text/css";
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	if (strcmp(dot, ".map") == 0 || strcmp(dot, ".json") == 0)
		return "application/json";
	return "application/octet-stream";
}

/* A plain file name: letters, digits, '.', '-', '_', not starting with '.'. */
static int name_ok(const char *n)
{
	if (n[0] == '\0' || n[0] == '.' || strlen(n) > 100)
		return 0;
	return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") ==
	       strlen(n);
}

enum MHD_Result http_docs(http_req *q, const char *rest)
{
	const char *dir = q->srv->cfg.docs_dir;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	struct stat st;
	char path[1024];
	int fd;

	if (rest[0] == '\0' || strcmp(rest, "/") == 0 || strcmp(rest, "/index.html") == 0)
		return http_send(q, 200, "text/html; charset=utf-8", docs_index,
		                 sizeof(docs_index) - 1);
	rest++; /* the '/' */
	if (!name_ok(rest))
		return http_problem(q, 404, "no such file under /docs");
	if (dir == NULL || *dir == '\0')
		return http_problem(q, 404,
		                    "Swagger UI is not installed (deploy/deps_http.sh, "
		                    "--http-docs-dir); /openapi.json is the document");
	snprintf(path, sizeof(path), "%s/%s", dir, rest);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return http_problem(q, 404, "no such file under /docs");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return http_problem(q, 404, "no such file under /docs");
	}
	resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* closes fd */
	if (resp == NULL) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype_of(rest));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=3600");
	ret = http_queue(q, 200, resp);
	return ret;
}

/* ---- schemas for MCP's tools ------------------------------------------------ */

static json_object *doc;
static pthread_once_t doc_once = PTHREAD_ONCE_INIT;

static void doc_load(void)
{
	if (lr_json_parse(&doc, http_openapi_json, (size_t)http_openapi_json_size, 0, 64, NULL) < 0)
		doc = NULL;
}

static json_object *schema_named(const char *name)
{
	json_object *c = NULL, *s = NULL, *o = NULL;

	if (doc && json_object_object_get_ex(doc, "components", &c) &&
	    json_object_object_get_ex(c, "schemas", &s) && json_object_object_get_ex(s, name, &o))
		return o;
	return NULL;
}

/* A copy of o with every $ref replaced by what it names. */
static json_object *resolve(json_object *o, int depth)
{
	json_object *out;

	if (depth > 16)
		return json_object_new_object();
	if (json_object_is_type(o, json_type_array)) {
		out = json_object_new_array();
		for (size_t i = 0; out && i < json_object_array_length(o); i++)
			json_object_array_add(out,
			                      resolve(json_object_array_get_idx(o, i), depth + 1));
		return out;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object *copy = NULL;

		return json_object_deep_copy(o, &copy, NULL) == 0 ? copy : NULL;
	}
	{
		json_object *r = NULL;

		if (json_object_object_get_ex(o, "$ref", &r)) {
			const char *p = json_object_get_string(r);
			const char *pre = "#/components/schemas/";
			json_object *t = strncmp(p, pre, strlen(pre)) == 0
			                     ? schema_named(p + strlen(pre))
			                     : NULL;

			return t ? resolve(t, depth + 1) : json_object_new_object();
		}
	}
	out = json_object_new_object();
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, "example") == 0 || strcmp(k, "nullable") == 0)
			continue; /* OpenAPI's, not JSON Schema's */
		json_object_object_add(out, k, resolve(v, depth + 1));
	}
	return out;
}

json_object *http_openapi_schema(const char *name)
{
	json_object *s;

	pthread_once(&doc_once, doc_load);
	s = schema_named(name);
	return s ? resolve(s, 0) : NULL;
}
