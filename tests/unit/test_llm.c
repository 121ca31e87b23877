/* Unit tests for model/llm: reply and SSE parsing, URL redaction, settings.
 * The transport is tested against real servers by tests/llm/. */
#include "check.h"
#include "extract.h"
#include "llm.h"

#include <stdlib.h>

static llm_reply rep;
static lr_err le;

static int parse(const char *body)
{
	llm_reply_free(&rep);
	memset(&rep, 0, sizeof(rep));
	rep.prompt_tokens = rep.completion_tokens = -1;
	lr_err_clear(&le);
	return llm_parse_reply(&rep, body, strlen(body), &le);
}

TEST(reply_parsed)
{
	CHECK(
	    parse("{\"id\":\"x\",\"model\":\"m1\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	          "\"assistant\",\"content\":\"hi\\n\"},\"finish_reason\":\"length\"}],\"usage\":"
	          "{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}}") == 0);
	CHECK_STR(rep.content, "hi\n");
	CHECK_STR(rep.finish_reason, "length");
	CHECK_STR(rep.model, "m1");
	CHECK(rep.prompt_tokens == 12 && rep.completion_tokens == 3);
	/* No usage: stays unknown. Legacy "text" choices are accepted. */
	CHECK(parse("{\"choices\":[{\"text\":\"x\"}]}") == 0);
	CHECK_STR(rep.content, "x");
	CHECK(rep.prompt_tokens == -1 && rep.finish_reason == NULL);
}

TEST(malformed_replies)
{
	CHECK(parse("") == LR_EPROTO);
	CHECK(parse("<html>502 Bad Gateway</html>") == LR_EPROTO);
	CHECK_CONTAINS(le.msg, "not JSON");
	CHECK(parse("{\"choices\":[{\"message\":{\"content\":\"x\"}}]") == LR_EPROTO);
	CHECK_CONTAINS(le.msg, "truncated");
	CHECK(parse("[1,2]") == LR_EPROTO);
	CHECK(parse("{\"choices\":[]}") == LR_EPROTO);
	CHECK_CONTAINS(le.msg, "no choices");
	CHECK(parse("{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}") ==
	      LR_EPROTO);
	CHECK_CONTAINS(le.msg, "no text content");
	CHECK(parse("{\"choices\":[{\"message\":{\"content\":\"x\"}}]} trailing") == LR_EPROTO);
	CHECK(parse("{\"error\":{\"message\":\"context\\nlength exceeded\"}}") == LR_EPROTO);
	CHECK_CONTAINS(le.msg, "context length exceeded"); /* control characters flattened */
	CHECK(rep.content == NULL);
}

TEST(deep_nesting_refused)
{
	char body[4096];
	size_t n = 0;

	for (int i = 0; i < 1000; i++)
		body[n++] = '[';
	body[n] = '\0';
	CHECK(parse(body) == LR_EPROTO);
}

typedef struct tokens {
	char text[256];
	size_t len;
	int calls;
	int stop_after;
} tokens;

static int collect(void *arg, const char *t, size_t n)
{
	tokens *k = arg;

	if (k->len + n < sizeof(k->text)) {
		memcpy(k->text + k->len, t, n);
		k->len += n;
		k->text[k->len] = '\0';
	}
	k->calls++;
	return k->stop_after && k->calls >= k->stop_after;
}

static const char STREAM[] =
    ": ping\r\n\r\n"
    "data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"def \"}}]}\n\n"
    "event: message\nid: 3\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"f():\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n"
    "data: [DONE]\n\n";

/* Feed the stream cut at every possible point: the result must not change. */
TEST(sse_any_split)
{
	size_t n = strlen(STREAM);

	for (size_t cut = 0; cut <= n; cut++) {
		llm_sse *s = NULL;
		tokens k;
		llm_reply r;

		memset(&k, 0, sizeof(k));
		memset(&r, 0, sizeof(r));
		CHECK(llm_sse_new(&s, 1024, collect, &k) == 0);
		if (!s)
			return;
		CHECK(llm_sse_feed(s, STREAM, cut, &le) == 0);
		CHECK(llm_sse_feed(s, STREAM + cut, n - cut, &le) == 0);
		CHECK(llm_sse_done(s));
		CHECK(llm_sse_finish(s, &r, &le) == 0);
		CHECK_STR(r.content, "def f():");
		CHECK_STR(k.text, "def f():");
		CHECK(k.calls == 2);
		CHECK_STR(r.finish_reason, "stop");
		CHECK_STR(r.model, "m");
		CHECK(r.prompt_tokens == 7 && r.completion_tokens == 2 && !r.usage_estimated);
		llm_reply_free(&r);
		llm_sse_free(s);
	}
}

TEST(sse_without_usage_counts_pieces)
{
	const char *st =
	    "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
	    "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
	    "data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}"; /* no final blank */
	llm_sse *s = NULL;
	llm_reply r;

	memset(&r, 0, sizeof(r));
	CHECK(llm_sse_new(&s, 1024, NULL, NULL) == 0);
	CHECK(llm_sse_feed(s, st, strlen(st), &le) == 0);
	CHECK(!llm_sse_done(s));
	CHECK(llm_sse_finish(s, &r, &le) == 0);
	CHECK_STR(r.content, "abc");
	CHECK(r.completion_tokens == 3 && r.usage_estimated && r.prompt_tokens == -1);
	llm_reply_free(&r);
	llm_sse_free(s);
}

static int feed_all(const char *st, size_t cap, tokens *k)
{
	llm_sse *s = NULL;
	llm_reply r;
	int rc;

	memset(&r, 0, sizeof(r));
	lr_err_clear(&le);
	if (llm_sse_new(&s, cap, k ? collect : NULL, k))
		return LR_ENOMEM;
	rc = llm_sse_feed(s, st, strlen(st), &le);
	if (!rc)
		rc = llm_sse_finish(s, &r, &le);
	llm_reply_free(&r);
	llm_sse_free(s);
	return rc;
}

TEST(sse_failures)
{
	tokens k;

	CHECK(feed_all("data: {\"choices\": [ broken\n\n", 1024, NULL) == LR_EPROTO);
	CHECK_CONTAINS(le.msg, "stream event");
	CHECK(feed_all("data: {\"error\":{\"message\":\"overloaded\"}}\n\n", 1024, NULL) ==
	      LR_EUNAVAIL); /* the server's failure, not a malformed stream */
	CHECK_CONTAINS(le.msg, "overloaded");
	CHECK(feed_all("data: [DONE]\n\n", 1024, NULL) == LR_EPROTO);
	CHECK_CONTAINS(le.msg, "without any completion");
	CHECK(feed_all("", 1024, NULL) == LR_EPROTO);
	CHECK(feed_all("data: {\"x\":1}\n\n", 1024, NULL) == LR_EPROTO);
	CHECK(feed_all("data: {\"choices\":[{\"delta\":{\"content\":\"0123456789\"}}]}\n\n", 5,
	               NULL) == LR_ETOOBIG);
	memset(&k, 0, sizeof(k));
	k.stop_after = 1;
	CHECK(feed_all(STREAM, 1024, &k) == LR_ECANCELED);
	CHECK(k.calls == 1);
	/* A line longer than the cap never grows without bound. */
	{
		char line[6000];

		memset(line, 'x', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\0';
		CHECK(feed_all(line, 16, NULL) == LR_ETOOBIG);
	}
}

TEST(url_redaction)
{
	char out[128];

	llm_redact_url(out, sizeof(out), "https://user:s3cret@api.example.com/v1");
	CHECK_STR(out, "https://***@api.example.com/v1");
	llm_redact_url(out, sizeof(out), "http://127.0.0.1:8080/v1");
	CHECK_STR(out, "http://127.0.0.1:8080/v1");
	llm_redact_url(out, sizeof(out), "http://h/v1?x=a@b");
	CHECK_STR(out, "http://h/v1?x=a@b");
}

TEST(client_config_checked)
{
	llm_config c;
	llm_client *cl = NULL;

	llm_config_default(&c);
	CHECK(c.max_retries == 2 && c.timeout_ms == 120000 && c.max_response == 4u << 20);
	CHECK(llm_client_new(&cl, &c, &le) == LR_EINVAL);
	c.base_url = "ftp://x/v1";
	c.model = "m";
	CHECK(llm_client_new(&cl, &c, &le) == LR_EINVAL);
	CHECK_CONTAINS(le.msg, "http://");
	c.base_url = "http://127.0.0.1:1/v1/";
	c.api_key = "sk-secret";
	CHECK(llm_client_new(&cl, &c, &le) == 0);
	llm_client_free(cl);
	llm_client_free(NULL);
	CHECK_STR(llm_failure_name(LLM_MODEL_NOT_FOUND), "model_not_found");
	CHECK_STR(llm_failure_name((llm_failure)99), "unknown");
}

TEST(settings_table)
{
	lr_cfg_opt opts[LLM_CFG_NOPTS];
	llm_settings s;
	llm_config c;
	lr_cfg cfg = {"t", "", "", NULL, opts, LLM_CFG_NOPTS};
	char *argv[] = {"t", "--llm-retries", "5", "--model=qwen", NULL};
	int first = 0;

	memset(&s, 0, sizeof(s));
	llm_cfg_opts(opts, &s);
	CHECK(lr_cfg_load(&cfg, 4, argv, &first, &le) == LR_CFG_RUN);
	CHECK_STR(s.url, LLM_DEFAULT_URL);
	CHECK_STR(s.model, "qwen");
	CHECK(s.retries == 5 && s.stream == 1 && s.api_key == NULL);
	for (size_t i = 0; i < LLM_CFG_NOPTS; i++)
		if (!strcmp(opts[i].name, "llm-api-key"))
			CHECK(opts[i].flags & LR_CFG_SECRET);
	llm_settings_config(&c, &s);
	CHECK(c.max_retries == 5 && c.max_response == 4096u * 1024u);
	lr_cfg_free(&cfg);
}

/* Feed `text` to a fresh watcher `step` bytes at a time; the offset after
 * which it said "closed", or -1. */
static long fence_at(const char *text, size_t step)
{
	llm_fence f;
	size_t n = strlen(text);

	llm_fence_init(&f);
	for (size_t i = 0; i < n; i += step)
		if (llm_fence_feed(&f, text + i, i + step > n ? n - i : step))
			return (long)(i + step > n ? n : i + step);
	return -1;
}

TEST(fence_watch)
{
	const char *r = "Sure:\n```python\ndef f(x):\n    return x\n```\nIt returns x.";
	size_t close = strstr(r, "```\nIt") - r + 3;

	/* Closed as soon as the closing fence is complete, for every split. */
	for (size_t step = 1; step < 8; step++) {
		long at = fence_at(r, step);

		CHECK(at >= (long)close && at < (long)close + (long)step);
	}
	/* A block without a definition (usage), another language, or a block
	 * still open: keep reading. */
	CHECK(fence_at("```python\nprint(f(1))\n```\n", 1) == -1);
	CHECK(fence_at("```bash\ndef x\n```\n", 1) == -1);
	CHECK(fence_at("```python\ndef f():\n    s = '``'\n    return s\n", 1) == -1);
	CHECK(fence_at("~~~py\nclass A:\n    pass\n~~~", 3) > 0);
	/* A longer opening fence is closed only by one as long. */
	CHECK(fence_at("````\ndef f():\n```\n    pass\n", 1) == -1);
	CHECK(fence_at("````\ndef f():\n```\n    pass\n````\n", 1) > 0);
}

/* What a job with tests keeps of a reply: extracted, then trimmed. */
static char *kept(const char *reply, size_t n, const char *entry)
{
	extract_result x;
	char *t = NULL;
	int dropped = 0;
	lr_err e;

	if (extract_code(&x, reply, n, entry, &e) || extract_trim(&t, x.code, &dropped, &e))
		t = NULL;
	extract_result_free(&x);
	return t;
}

/* Feed `reply` with the usage watcher on, `step` bytes at a time: the offset
 * the reply is cut at when usage began, else -1. */
static long usage_cut(const char *reply, const char *entry, size_t step)
{
	llm_fence f;
	size_t n = strlen(reply);

	llm_fence_init(&f);
	llm_fence_usage(&f, entry);
	for (size_t i = 0; i < n; i += step) {
		int r = llm_fence_feed(&f, reply + i, i + step > n ? n - i : step);

		if (r == 2) {
			CHECK(f.cut <= i + step);
			return (long)f.cut;
		}
		if (r)
			return -1;
	}
	return -1;
}

/* Cut where usage begins (`at`, or -1 for never), for every split, with
 * the same code kept as from the whole reply. */
static void usage_case(const char *reply, const char *entry, const char *at)
{
	long want = at ? (long)(strstr(reply, at) - reply) : -1;
	char *whole = kept(reply, strlen(reply), entry);

	for (size_t step = 1; step < 9; step++) {
		long cut = usage_cut(reply, entry, step);
		char *part;

		if (cut != want)
			fprintf(stderr, "step %zu: cut %ld, want %ld in:\n%s\n", step, cut, want,
			        reply);
		CHECK(cut == want);
		if (cut < 0)
			continue;
		part = kept(reply, (size_t)cut, entry);
		CHECK_STR(part, whole);
		free(part);
	}
	free(whole);
}

TEST(usage_watch)
{
	/* After the function: a comment, then prints and a call. */
	usage_case("```python\nfrom typing import List\n\ndef f(xs: List[int]) -> int:\n"
	           "    return sum(xs)\n\n\n# Example usage:\nprint(f([1, 2]))\n```\n",
	           "f", "# Example usage:");
	usage_case("```python\ndef f(x):\n    return x\n\nassert f(1) == 1\n```\n", "f", "assert");
	usage_case("```python\ndef f(x):\n    return x\n\nif __name__ == \"__main__\":\n"
	           "    main()\n```\n",
	           "f", "if __name__");
	usage_case("```python\ndef f(x):\n    return x\nresult = f(3)\nprint(result)\n```", "f",
	           "result = f(3)");
	usage_case("```python\ndef f(x):\n    return x\n\nf(2)\n```", "f", "f(2)");
	/* Bare code, no fence. */
	usage_case("def f(x):\n    return x * 2\n\nprint(f(2))\nThis prints 4.\n", "f",
	           "print(f(2))");
	/* A helper the function calls, defined after it: waited for, and the
	 * usage between them does not stop the reading. */
	usage_case("```python\ndef f(x):\n    return helper(x)\n\ndef helper(x):\n"
	           "    return x + 1\n\nprint(f(1))\n```\n",
	           "f", "print(f(1))");
	usage_case("```python\ndef f(x):\n    return helper(x)\n\nprint(f(1))\n\n"
	           "def helper(x):\n    return x + 1\n\nprint(helper(2))\n```\n",
	           "f", "print(helper(2))");
	/* Not before the entry point is complete; not inside its docstring or
	 * a bracket; not for a helper's usage before the entry point. */
	usage_case("```python\ndef g(x):\n    return x\n\nprint(g(1))\n\ndef f(x):\n"
	           "    return g(x)\n```\n",
	           "f", NULL);
	usage_case("```python\ndef f(x):\n    \"\"\"Doc.\nprint(f(1))\n\"\"\"\n"
	           "    return x\n```\n",
	           "f", NULL);
	usage_case("```python\ndef f(x):\n    return [\nprint(x)]\n```\n", "f", NULL);
	/* Definitions, imports and constants after the function are code. */
	usage_case("```python\ndef f(x):\n    return x + K\n\nK = 3\nimport os\n"
	           "class A:\n    pass\n```\n",
	           "f", NULL);
	/* A parameter called as a function is a name the code does not
	 * define: keep reading (extraction judges). */
	usage_case("```python\ndef f(x, key):\n    return key(x)\n\nprint(f(1, abs))\n```\n", "f",
	           "print(f(1, abs))");
	usage_case("```python\ndef f(x):\n    return cmp(x)\n\nprint(f(1))\n```\n", "f", NULL);
	/* Another language's block, or code a fence follows: not judged. */
	usage_case("```bash\ndef f():\nprint(1)\n```\n", "f", NULL);
	/* A one-line definition is complete. */
	usage_case("```python\ndef f(x): return x\nprint(f(1))\n```\n", "f", "print(f(1))");
}

int main(void)
{
	RUN(reply_parsed);
	RUN(malformed_replies);
	RUN(deep_nesting_refused);
	RUN(sse_any_split);
	RUN(sse_without_usage_counts_pieces);
	RUN(sse_failures);
	RUN(url_redaction);
	RUN(client_config_checked);
	RUN(settings_table);
	RUN(fence_watch);
	RUN(usage_watch);
	llm_reply_free(&rep);
	return check_summary();
}
