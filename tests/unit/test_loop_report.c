/* test_loop_report.c - report.json of an iteration (built, read back), the
 * refactor's review, and the loop's result. */
#include "check.h"
#include "loop_report.h"

#include <stdlib.h>
#include <string.h>

static const char EVAL_FAIL[] =
    "{\"harness\":1,\"status\":\"tests_failed\",\"passed\":false,\"score\":0.5,"
    "\"tests_total\":2,\"tests_passed\":1,\"summary\":\"1 of 2 tests failed\","
    "\"feedback\":\"add(1, 2) returned -1, expected 3\",\"error\":\"1 of 2 tests failed\","
    "\"tests\":[{\"name\":\"assert add(1,2)==3\",\"status\":\"failed\","
    "\"assertion\":{\"actual\":\"-1\"}}],"
    "\"static\":{\"pyflakes\":{\"ran\":true,\"findings\":[{\"line\":1,\"message\":"
    "\"'os' imported but unused\"}]},\"bandit\":{\"ran\":true,\"findings\":[{\"line\":4,"
    "\"severity\":\"high\",\"message\":\"subprocess call with shell=True\"}]},"
    "\"radon\":{\"ran\":true,\"functions\":[{\"name\":\"add\",\"line\":2,\"complexity\":14},"
    "{\"name\":\"sub\",\"line\":9,\"complexity\":2}]}}}";

static loop_meta meta(void)
{
	loop_meta m;

	memset(&m, 0, sizeof(m));
	m.iteration = 3;
	m.phase = LOOP_PHASE_REPAIR;
	m.attempt = 2;
	m.base = 2;
	m.has_code = 1;
	m.code_hash = 0x0123456789abcdefULL;
	m.failure_hash = 0xfedcba9876543210ULL;
	m.tokens_prompt = 300;
	m.tokens_completion = 45;
	m.tokens_total = 1200;
	m.elapsed_s = 7.25;
	m.t_model_ms = 1500.04;
	m.t_eval_ms = 40;
	m.model = "smollm2";
	m.finish_reason = "stop";
	m.extract = "fenced";
	return m;
}

TEST(test_round_trip)
{
	loop_meta m = meta();
	loop_saved s;
	lr_err err;
	char *r = NULL, *fb;

	CHECK(loop_report_build(&r, EVAL_FAIL, &m, &err) == 0);
	CHECK_CONTAINS(r, "\"loop\":{\"iteration\":3,\"phase\":\"repair\"");
	CHECK_CONTAINS(r, "\"code_hash\":\"0123456789abcdef\"");
	CHECK_CONTAINS(r, "\"total\":345");
	CHECK(loop_report_read(&s, r, strlen(r), &err) == 0);
	CHECK(s.iteration == 3 && s.attempt == 2 && s.it.phase == LOOP_PHASE_REPAIR);
	CHECK(s.it.has_code && !s.it.passed && s.it.score == 0.5);
	CHECK(s.it.tests_passed == 1 && s.it.tests_total == 2);
	CHECK(s.it.code_hash == m.code_hash && s.it.failure_hash == m.failure_hash);
	CHECK(s.tokens == 345 && s.tokens_total == 1200 && s.elapsed_s == 7.25);
	fb = loop_report_str(r, strlen(r), "feedback");
	CHECK_STR(fb, "add(1, 2) returned -1, expected 3");
	free(fb);
	CHECK(loop_report_str(r, strlen(r), "nope") == NULL);
	CHECK(loop_report_str(r, strlen(r), "score") == NULL); /* not a string */
	free(r);
}

TEST(test_refactor_meta)
{
	loop_meta m = meta();
	lr_err err;
	char *r = NULL;

	m.phase = LOOP_PHASE_REFACTOR;
	m.refactor_kept = 0;
	m.refactor_reason = "a test failed";
	m.failure_hash = 0;
	m.base = -1;
	CHECK(loop_report_build(&r, "{\"passed\":false}", &m, &err) == 0);
	CHECK_CONTAINS(r, "\"refactor\":{\"kept\":false,\"reason\":\"a test failed\"}");
	CHECK_CONTAINS(r, "\"base\":null");
	CHECK_CONTAINS(r, "\"failure_hash\":null");
	{
		loop_saved s;

		CHECK(loop_report_read(&s, r, strlen(r), &err) == 0);
		CHECK(s.it.phase == LOOP_PHASE_REFACTOR && !s.refactor_kept && s.it.rejected);
		CHECK_STR(s.refactor_reason, "a test failed");
	}
	free(r);
	CHECK(loop_report_build(&r, "[]", &m, &err) == LR_EINVAL && r == NULL);
	CHECK(loop_report_build(&r, "{", &m, &err) == LR_EINVAL && r == NULL);
}

TEST(test_read_rejects)
{
	loop_saved s;
	lr_err err;
	const char *bad[] = {
	    "{}",
	    "not json",
	    "{\"loop\":{\"phase\":\"dance\",\"iteration\":1,\"has_code\":true}}",
	    "{\"loop\":{\"phase\":\"repair\",\"iteration\":\"1\",\"has_code\":true}}",
	    "{\"loop\":{\"phase\":\"repair\",\"iteration\":1}}",
	    "{\"loop\":{\"phase\":\"repair\",\"iteration\":1,\"has_code\":true,"
	    "\"code_hash\":\"xyz\"}}",
	    "{\"loop\":{\"phase\":\"repair\",\"iteration\":-1,\"has_code\":true}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(loop_report_read(&s, bad[i], strlen(bad[i]), &err) == LR_EPROTO);
	{
		const char *ok = "{\"loop\":{\"phase\":\"generate\",\"iteration\":0,"
		                 "\"has_code\":false}}";

		CHECK(loop_report_read(&s, ok, strlen(ok), &err) == 0);
	}
	CHECK(s.iteration == 0 && !s.it.has_code && s.it.code_hash == 0);
}

TEST(test_no_code)
{
	char *r = NULL, *big = malloc(5000);
	lr_err err;
	loop_meta m = meta();
	loop_saved s;
	char *r2 = NULL;

	memset(big, 'x', 4999);
	big[4999] = '\0';
	CHECK(loop_report_no_code(&r, "the reply is prose only", big, &err) == 0);
	CHECK_CONTAINS(r, "\"status\":\"no_code\"");
	CHECK_CONTAINS(r, "\"passed\":false");
	CHECK_CONTAINS(r, "\"reply_truncated\":true");
	CHECK_CONTAINS(r, "the reply is prose only");
	CHECK(strlen(r) < 3000);
	m.has_code = 0;
	m.code_hash = 0;
	CHECK(loop_report_build(&r2, r, &m, &err) == 0);
	CHECK(loop_report_read(&s, r2, strlen(r2), &err) == 0);
	CHECK(!s.it.has_code && !s.it.passed && s.it.score == 0);
	free(r);
	free(r2);
	free(big);
}

TEST(test_review)
{
	char *rv = NULL;
	lr_err err;

	CHECK(loop_review(&rv, EVAL_FAIL, strlen(EVAL_FAIL), &err) == 0);
	CHECK_CONTAINS(rv, "- security (high): line 4: subprocess call with shell=True");
	CHECK_CONTAINS(rv, "- lint: line 1: 'os' imported but unused");
	CHECK_CONTAINS(rv, "`add` (line 2) has cyclomatic complexity 14");
	CHECK(strstr(rv, "`sub`") == NULL);
	/* Security first. */
	CHECK(strstr(rv, "security") < strstr(rv, "lint"));
	free(rv);
	CHECK(loop_review(&rv, "{\"static\":{}}", 13, &err) == 0);
	CHECK_CONTAINS(rv, "simpler and clearer");
	free(rv);
	CHECK(loop_review(&rv, NULL, 0, &err) == 0);
	CHECK_CONTAINS(rv, "simpler and clearer");
	free(rv);
}

TEST(test_result)
{
	loop_outcome o;
	json_object *hist = json_tokener_parse("[{\"n\":0}]");
	char *res = NULL, *sum;
	lr_err err;

	memset(&o, 0, sizeof(o));
	o.stop = LOOP_STOP_STUCK_SAME_FAILURE;
	o.iterations = 3;
	o.final_iteration = 1;
	o.accepted = -1;
	o.code = "def add(a, b):\n    return a - b\n";
	o.commit = "0123456789012345678901234567890123456789";
	o.tokens_total = 900;
	o.elapsed_s = 3.14159;
	o.refactor = "not_requested";
	o.history = hist;
	CHECK(loop_result_build(&res, EVAL_FAIL, &o, &err) == 0);
	CHECK_CONTAINS(res, "\"stop_reason\":\"stuck_same_failure\"");
	CHECK_CONTAINS(res, "\"iterations\":3");
	CHECK_CONTAINS(res, "\"code\":\"def add(a, b):\\n    return a - b\\n\"");
	CHECK_CONTAINS(res, "\"accepted_iteration\":null");
	CHECK_CONTAINS(res, "\"final_iteration\":1");
	CHECK_CONTAINS(res, "\"elapsed_s\":3.142");
	CHECK_CONTAINS(res, "\"history\":[{\"n\":0}]");
	CHECK_CONTAINS(res, "\"feedback\":\"add(1, 2) returned -1");
	free(res);
	sum = loop_outcome_summary(&o, "1 of 2 tests failed");
	CHECK_STR(sum, "stopped (stuck_same_failure) after 3 iterations; best, iteration 1: 1 of 2 "
	               "tests failed");
	free(sum);

	/* A model error before any iteration: no report at all. */
	memset(&o, 0, sizeof(o));
	o.stop = LOOP_STOP_MODEL_ERROR;
	o.final_iteration = o.accepted = -1;
	o.stop_detail = "model not found: nope";
	CHECK(loop_result_build(&res, NULL, &o, &err) == 0);
	CHECK_CONTAINS(res, "\"passed\":false");
	CHECK_CONTAINS(res, "\"code\":null");
	CHECK_CONTAINS(res, "\"error\":\"model not found: nope\"");
	CHECK_CONTAINS(res, "\"history\":[]");
	free(res);
	sum = loop_outcome_summary(&o, NULL);
	CHECK_STR(sum, "stopped (model_error) before any iteration: model not found: nope");
	free(sum);

	memset(&o, 0, sizeof(o));
	o.stop = LOOP_STOP_PASSED;
	o.iterations = 3;
	o.final_iteration = o.accepted = 1;
	o.refactor = "rejected";
	sum = loop_outcome_summary(&o, "2 of 2 tests passed");
	CHECK_STR(sum, "passed at iteration 1 of 3, refactor rejected: 2 of 2 tests passed");
	free(sum);
	json_object_put(hist);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_refactor_meta);
	RUN(test_read_rejects);
	RUN(test_no_code);
	RUN(test_review);
	RUN(test_result);
	return check_summary();
}
