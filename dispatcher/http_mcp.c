/* http_mcp.c - POST /mcp: the Model Context Protocol over streamable HTTP.
 *
 * JSON-RPC 2.0, one message per POST, answered with application/json (the
 * transport allows a plain JSON reply instead of an event stream). The
 * server keeps no session: every call stands alone, so any dispatcher can
 * answer any call. Tools: generate, evaluate, refactor and loop (the seed
 * operations, input schemas taken from the OpenAPI document) and job_status
 * for a job that outlived its wait. */
#include "http_int.h"

#include <stdio.h>
#include <string.h>

static const char *const versions[] = {"2025-06-18", "2025-03-26", "2024-11-05", NULL};

static const struct tool {
	const char *name, *kind, *schema, *desc;
} tools[] = {
    {"generate", "generate", "GenerateRequest",
     "Generate Python code from a prompt with the configured model; with tests, the code is "
     "run in the sandbox and judged."},
    {"evaluate", "evaluate", "EvaluateRequest",
     "Run Python code in a sandbox (no network, limited time and memory), with optional "
     "tests; returns success, stdout and the error."},
    {"refactor", "refactor", "RefactorRequest",
     "Rewrite Python code following feedback, with the configured model."},
    {"loop", "loop", "LoopRequest",
     "Generate, run the tests and repair until they pass or the budget is spent; every "
     "iteration is a git commit."},
    {"job_status", NULL, NULL,
     "The record of a job (by job_id) that was still running when its tool call returned."},
};

static json_object *rpc_reply(json_object *id, json_object *result, int code, const char *msg)
{
	json_object *o = json_object_new_object();

	if (o == NULL) {
		json_object_put(result);
		return NULL;
	}
	lr_json_set_str(o, "jsonrpc", "2.0");
	json_object_object_add(o, "id", json_object_get(id));
	if (result) {
		json_object_object_add(o, "result", result);
	} else {
		json_object *e = json_object_new_object();

		lr_json_set_int(e, "code", code);
		lr_json_set_str(e, "message", msg);
		json_object_object_add(o, "error", e);
	}
	return o;
}

static json_object *tools_list(void)
{
	json_object *res = json_object_new_object(), *arr = json_object_new_array();

	for (size_t i = 0; res && arr && i < sizeof(tools) / sizeof(tools[0]); i++) {
		json_object *t = json_object_new_object();
		json_object *schema;

		if (tools[i].schema) {
			schema = http_openapi_schema(tools[i].schema);
		} else {
			lr_json_parse(
			    &schema,
			    "{\"type\":\"object\",\"required\":[\"job_id\"],\"properties\":"
			    "{\"job_id\":{\"type\":\"string\"}},\"additionalProperties\":false}",
			    strlen("{\"type\":\"object\",\"required\":[\"job_id\"],"
			           "\"properties\":{\"job_id\":{\"type\":\"string\"}},"
			           "\"additionalProperties\":false}"),
			    0, 8, NULL);
		}
		lr_json_set_str(t, "name", tools[i].name);
		lr_json_set_str(t, "description", tools[i].desc);
		json_object_object_add(t, "inputSchema", schema);
		json_object_array_add(arr, t);
	}
	json_object_object_add(res, "tools", arr);
	return res;
}

/* A tool's outcome: its JSON as text and as structured content. */
static json_object *tool_result(json_object *value, int is_error, const char *msg)
{
	json_object *res = json_object_new_object(), *content = json_object_new_array();
	json_object *item = json_object_new_object();
	char *text = value ? lr_json_dump(value) : NULL;

	lr_json_set_str(item, "type", "text");
	lr_json_set_str(item, "text", text ? text : msg);
	json_object_array_add(content, item);
	json_object_object_add(res, "content", content);
	if (value)
		json_object_object_add(res, "structuredContent", value);
	lr_json_set_bool(res, "isError", is_error);
	free(text);
	return res;
}

static json_object *tools_call(http_req *q, json_object *params, int *code, char *msg, size_t msgn)
{
	json_object *name = NULL, *args = NULL, *out = NULL;
	const struct tool *t = NULL;
	unsigned status = 500;
	int pending = 0;
	lr_err err;

	lr_err_clear(&err);
	if (params == NULL || !json_object_object_get_ex(params, "name", &name) ||
	    !json_object_is_type(name, json_type_string)) {
		*code = -32602;
		snprintf(msg, msgn, "tools/call needs params.name");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(tools[i].name, json_object_get_string(name)) == 0)
			t = &tools[i];
	if (t == NULL) {
		*code = -32602;
		snprintf(msg, msgn, "unknown tool '%.64s'", json_object_get_string(name));
		return NULL;
	}
	if (!json_object_object_get_ex(params, "arguments", &args) ||
	    !json_object_is_type(args, json_type_object)) {
		*code = -32602;
		snprintf(msg, msgn, "tools/call needs params.arguments (an object)");
		return NULL;
	}
	if (t->kind == NULL) {
		json_object *id = NULL;

		if (!json_object_object_get_ex(args, "job_id", &id) ||
		    !json_object_is_type(id, json_type_string))
			return tool_result(NULL, 1, "missing required field 'job_id'");
		if (http_job_get(q, json_object_get_string(id), &out, &err) < 0)
			return tool_result(NULL, 1, err.msg);
		return tool_result(out, 0, NULL);
	}
	{
		json_object *copy = NULL;

		if (json_object_deep_copy(args, &copy, NULL) != 0) {
			*code = -32603;
			snprintf(msg, msgn, "out of memory");
			return NULL;
		}
		if (http_seed_run(q, t->kind, copy, q->srv->cfg.wait_s, &out, &pending, &status,
		                  &err) < 0)
			return tool_result(NULL, 1, err.msg);
	}
	/* Still running: the result says how to follow it (job_status). */
	return tool_result(out, 0, NULL);
}

static json_object *dispatch(http_req *q, json_object *m, json_object *id, int *notification)
{
	json_object *method = NULL, *params = NULL;
	const char *name;
	char msg[LR_ERR_MSG_MAX] = "";
	int code = 0;

	*notification = 0;
	if (!json_object_object_get_ex(m, "method", &method) ||
	    !json_object_is_type(method, json_type_string)) {
		if (json_object_object_get_ex(m, "result", NULL) ||
		    json_object_object_get_ex(m, "error", NULL)) {
			*notification = 1; /* a response to nothing we asked: accepted */
			return NULL;
		}
		return rpc_reply(id, NULL, -32600, "not a JSON-RPC request (no method)");
	}
	name = json_object_get_string(method);
	json_object_object_get_ex(m, "params", &params);
	if (id == NULL) {
		*notification = 1; /* notifications/initialized and the like */
		return NULL;
	}
	if (strcmp(name, "initialize") == 0) {
		json_object *res = json_object_new_object(), *caps = json_object_new_object();
		json_object *tl = json_object_new_object(), *info = json_object_new_object();
		json_object *pv = NULL;
		const char *want =
		    params && json_object_object_get_ex(params, "protocolVersion", &pv)
		        ? json_object_get_string(pv)
		        : NULL;
		const char *v = versions[0];

		for (size_t i = 0; want && versions[i]; i++)
			if (strcmp(want, versions[i]) == 0)
				v = versions[i];
		lr_json_set_str(res, "protocolVersion", v);
		lr_json_set_bool(tl, "listChanged", 0);
		json_object_object_add(caps, "tools", tl);
		json_object_object_add(res, "capabilities", caps);
		lr_json_set_str(info, "name", "llm-repl");
		lr_json_set_str(info, "version", "1.0.0");
		json_object_object_add(res, "serverInfo", info);
		lr_json_set_str(res, "instructions",
		                "Tools to generate, run (sandboxed) and refactor Python code.");
		return rpc_reply(id, res, 0, NULL);
	}
	if (strcmp(name, "ping") == 0)
		return rpc_reply(id, json_object_new_object(), 0, NULL);
	if (strcmp(name, "tools/list") == 0)
		return rpc_reply(id, tools_list(), 0, NULL);
	if (strcmp(name, "tools/call") == 0) {
		json_object *res = tools_call(q, params, &code, msg, sizeof(msg));

		return res ? rpc_reply(id, res, 0, NULL) : rpc_reply(id, NULL, code, msg);
	}
	snprintf(msg, sizeof(msg), "method '%.64s' not found", name);
	return rpc_reply(id, NULL, -32601, msg);
}

enum MHD_Result http_mcp(http_req *q)
{
	json_object *m = NULL, *id = NULL, *reply;
	unsigned status = 400;
	int notification = 0;
	lr_err err;

	lr_err_clear(&err);
	if (http_body_object(q, &m, &status, &err) < 0) {
		json_object *o = rpc_reply(NULL, NULL, -32700, err.msg);

		return o ? http_json(q, status, o) : MHD_NO;
	}
	json_object_object_get_ex(m, "id", &id);
	reply = dispatch(q, m, id, &notification);
	json_object_put(m);
	q->location[0] = '\0';
	if (notification)
		return http_send(q, 202, NULL, "", 0);
	if (reply == NULL)
		return http_problem(q, 500, "out of memory");
	return http_json(q, 200, reply);
}
