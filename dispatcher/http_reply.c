/* http_reply.c - responses: JSON bodies, problem+json errors, extra headers. */
#include "http_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *http_status_title(unsigned status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

void http_add_headers(http_req *q, struct MHD_Response *resp)
{
	if (q->location[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, q->location);
	if (q->retry_after[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, q->retry_after);
	if (q->link[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LINK, q->link);
	if (q->challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"llm-repl\"");
	if (q->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, q->allow);
	if (q->replayed)
		MHD_add_response_header(resp, "Idempotent-Replayed", "true");
}

enum MHD_Result http_queue(http_req *q, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (resp == NULL)
		return MHD_NO;
	http_add_headers(q, resp);
	q->status = status;
	ret = MHD_queue_response(q->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result http_send(http_req *q, unsigned status, const char *ctype, const char *body,
                          size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return http_queue(q, status, resp);
}

enum MHD_Result http_json(http_req *q, unsigned status, json_object *obj)
{
	enum MHD_Result ret;
	char *text = obj ? lr_json_dump(obj) : NULL;

	json_object_put(obj);
	if (text == NULL) {
		static const char oom[] = "{\"error\":\"out of memory\"}";

		return http_send(q, 500, "application/json", oom, sizeof(oom) - 1);
	}
	ret = http_send(q, status, "application/json", text, strlen(text));
	free(text);
	return ret;
}

enum MHD_Result http_problem(http_req *q, unsigned status, const char *fmt, ...)
{
	char detail[LR_ERR_MSG_MAX];
	json_object *o = json_object_new_object();
	char *text;
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (o == NULL)
		return MHD_NO;
	lr_json_set_str(o, "type", "about:blank");
	lr_json_set_str(o, "title", http_status_title(status));
	lr_json_set_int(o, "status", (long)status);
	lr_json_set_str(o, "detail", detail);
	lr_json_set_str(o, "error", detail);
	text = lr_json_dump(o);
	json_object_put(o);
	if (text == NULL)
		return MHD_NO;
	ret = http_send(q, status, "application/problem+json", text, strlen(text));
	free(text);
	return ret;
}

unsigned http_err_status(http_req *q, const lr_err *err)
{
	switch (err->code) {
	case LR_EIO:
	case LR_ETIMEOUT: snprintf(q->retry_after, sizeof(q->retry_after), "1"); return 503;
	case LR_ETOOBIG: return 413;
	case LR_ENOTFOUND: return 404;
	case LR_EINVAL: return 400;
	default: return 500;
	}
}

enum MHD_Result http_problem_err(http_req *q, const lr_err *err)
{
	unsigned status = http_err_status(q, err);

	if (status == 503)
		return http_problem(q, status, "redis unavailable: %s", err->msg);
	return http_problem(q, status, "%s", err->msg);
}

const char *http_arg(http_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(http_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

enum MHD_Result http_not_allowed(http_req *q, const char *allow)
{
	q->allow = allow;
	return http_problem(q, 405, "%s is not allowed on %s (allowed: %s)", q->method, q->url,
	                    allow);
}

unsigned http_job_end_status(lr_q_state state)
{
	return state == LR_QS_REJECTED ? 400 : state == LR_QS_CANCELLED ? 409 : 502;
}
