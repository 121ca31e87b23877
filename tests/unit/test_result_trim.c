/* test_result_trim.c - a finished job's result, compacted to the worker's cap. */
#include "check.h"
#include "json.h"
#include "result_trim.h"

#include <stdlib.h>
#include <string.h>

/* A report with n test cases (every 7th failing) with long messages, a long
 * stdout and the members users read first. */
static char *big_report(size_t n, size_t msg)
{
	json_object *r = json_object_new_object();
	json_object *tests = json_object_new_array();
	char *m = malloc(msg * 100 + 1);
	char *out;

	memset(m, 'x', msg);
	m[msg] = '\0';
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_new_object();
		char name[32];

		snprintf(name, sizeof(name), "case %zu", i);
		lr_json_set_str(t, "name", name);
		lr_json_set_str(t, "status", i % 7 == 3 ? "failed" : "passed");
		lr_json_set_str(t, "message", m);
		lr_json_set_obj(t, "error", NULL);
		json_object_array_add(tests, t);
	}
	lr_json_set_str(r, "verdict", "failed");
	lr_json_set_bool(r, "passed", 0);
	lr_json_set_num(r, "score", 0.86);
	lr_json_set_int(r, "tests_total", (long)n);
	lr_json_set_str(r, "summary", "some tests failed");
	lr_json_set_obj(r, "failure", NULL);
	lr_json_set_str(r, "code", "def f(x):\n    return x\n");
	memset(m, 'o', msg * 100);
	m[msg * 100] = '\0';
	lr_json_set_str(r, "stdout", m);
	lr_json_set_obj(r, "tests", tests);
	out = lr_json_dump(r);
	json_object_put(r);
	free(m);
	return out;
}

TEST(test_small_unchanged)
{
	char *s = strdup("{\"passed\":true,\"summary\":\"ok\"}");
	char *before = s;
	lr_err err;

	CHECK(wk_result_trim(&s, 4096, &err) == 0);
	CHECK(s == before);
	CHECK_STR(s, "{\"passed\":true,\"summary\":\"ok\"}");
	free(s);
}

TEST(test_many_cases)
{
	char *s = big_report(20000, 300); /* about 7 MB */
	size_t from = strlen(s);
	json_object *o = NULL, *tests, *first;
	lr_err err;

	CHECK(from > (6u << 20));
	CHECK(wk_result_trim(&s, 128 << 10, &err) == 1);
	CHECK(strlen(s) <= (128u << 10));
	CHECK(lr_json_parse(&o, s, strlen(s), 0, 64, NULL) == 0);
	/* What users read first is all there. */
	CHECK_STR(lr_json_str(o, "verdict"), "failed");
	CHECK_STR(lr_json_str(o, "summary"), "some tests failed");
	CHECK_STR(lr_json_str(o, "code"), "def f(x):\n    return x\n");
	CHECK(lr_json_int(o, "tests_total", 0) == 20000);
	CHECK(lr_json_num(o, "score", 0) > 0.85);
	CHECK(lr_json_int(lr_json_obj(o, "compacted"), "from_bytes", 0) == (long)from);
	/* Failures first: the first kept case is case 3. */
	tests = lr_json_arr(o, "tests");
	CHECK(tests != NULL && json_object_array_length(tests) > 0);
	first = tests ? json_object_array_get_idx(tests, 0) : NULL;
	CHECK_STR(lr_json_str(first, "name"), "case 3");
	CHECK_STR(lr_json_str(first, "status"), "failed");
	CHECK(lr_json_int(o, "tests_omitted", 0) + (long)json_object_array_length(tests) == 20000);
	CHECK_CONTAINS(lr_json_str(o, "stdout"), "bytes cut]");
	CHECK(json_object_object_get_ex(o, "failure", NULL));
	json_object_put(o);
	free(s);
}

TEST(test_huge_code_and_garbage)
{
	size_t n = 300000;
	char *code = malloc(n + 64);
	char *s;
	json_object *o = NULL;
	lr_err err;

	static const char head[] = "{\"passed\":true,\"verdict\":\"passed\",\"code\":\"";
	size_t hl = strlen(head);

	memcpy(code, head, hl);
	memset(code + hl, 'a', n);
	strcpy(code + hl + n, "\"}");
	s = code;
	CHECK(wk_result_trim(&s, 64 << 10, &err) == 1);
	CHECK(strlen(s) <= (64u << 10));
	CHECK(lr_json_parse(&o, s, strlen(s), 0, 64, NULL) == 0);
	CHECK(lr_json_bool(o, "passed", 0) == 1);
	CHECK_CONTAINS(lr_json_str(o, "code"), "bytes cut]");
	json_object_put(o);
	free(s);

	/* Not JSON and over the cap: only the mark stays. */
	s = malloc(10000);
	memset(s, '[', 9999);
	s[9999] = '\0';
	CHECK(wk_result_trim(&s, 4096, &err) == 1);
	o = NULL;
	CHECK(lr_json_parse(&o, s, strlen(s), 0, 64, NULL) == 0);
	CHECK(lr_json_obj(o, "compacted") != NULL);
	json_object_put(o);
	free(s);
}

TEST(test_utf8_cut)
{
	/* A long string of 3-byte characters: the cut never splits one. */
	size_t n = 30000;
	char *s = malloc(3 * n + 32);
	size_t at = 0;
	json_object *o = NULL;
	const char *msg;
	lr_err err;

	at += (size_t)sprintf(s, "{\"stdout\":\"");
	for (size_t i = 0; i < n; i++) {
		memcpy(s + at, "\xe2\x82\xac", 3);
		at += 3;
	}
	strcpy(s + at, "\"}");
	CHECK(wk_result_trim(&s, 8192, &err) == 1);
	CHECK(lr_json_parse(&o, s, strlen(s), 0, 64, NULL) == 0);
	msg = lr_json_str(o, "stdout");
	CHECK(msg != NULL && strncmp(msg, "\xe2\x82\xac", 3) == 0);
	CHECK_CONTAINS(msg, "\xe2\x82\xac... [");
	json_object_put(o);
	free(s);
}

int main(void)
{
	RUN(test_small_unchanged);
	RUN(test_many_cases);
	RUN(test_huge_code_and_garbage);
	RUN(test_utf8_cut);
	return check_summary();
}
