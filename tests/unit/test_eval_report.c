/* test_eval_report.c - judging pieces that need no sandbox: untrusted reads,
 * clipping, score order, verdicts on small hand-made answers. Real harness
 * answers are judged in tests/eval/test_judge.py. */
#include "check.h"
#include "eval_report.h"

#include <stdlib.h>

static void judge(eval_outcome *out, const char *answer, sbx_end end, const char *criteria)
{
	sbx_result run;
	eval_judge_ctx ctx = {5.0, 128, 1000, 1.0, NULL, 0, 0, 0, 0, NULL};
	lr_criteria c;
	lr_err err;
	json_object *cj = criteria ? json_tokener_parse(criteria) : NULL;

	memset(&run, 0, sizeof(run));
	run.end = end;
	run.answer = (char *)answer;
	run.answer_len = answer ? strlen(answer) : 0;
	lr_criteria_default(&c);
	CHECK(lr_criteria_from_json(&c, cj, &err) == 0);
	json_object_put(cj);
	CHECK(eval_judge(out, &run, &c, &ctx, &err) == 0);
}

TEST(test_untrusted_reads)
{
	json_object *o = json_tokener_parse(
	    "{\"s\": 5, \"n\": \"7\", \"d\": 1e300, \"i\": 3, \"a\": {}, \"o\": []}");

	CHECK(lr_json_str(o, "s") == NULL);
	CHECK(lr_json_int(o, "n", -1) == -1);
	CHECK(lr_json_int(o, "d", -1) == -1); /* out of range */
	CHECK(lr_json_int(o, "i", -1) == 3);
	CHECK(lr_json_arr(o, "a") == NULL && lr_json_obj(o, "o") == NULL);
	CHECK(lr_json_obj(o, "a") != NULL && lr_json_arr(o, "o") != NULL);
	CHECK(lr_json_str(NULL, "x") == NULL && lr_json_int(NULL, "x", 4) == 4);
	json_object_put(o);
}

static const char *const PASS_ANSWER =
    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 2, \"tests_passed\": 2, \"tests\": "
    "[{\"status\": \"passed\", \"passed\": true}, {\"status\": \"passed\", \"passed\": true}], "
    "\"static\": {\"pyflakes\": {\"ran\": true, \"errors\": 1, \"warnings\": 0, "
    "\"findings\": [{\"line\": 3, \"kind\": \"error\", \"code\": \"UndefinedName\", "
    "\"message\": \"undefined name 'y'\"}]}}}";

TEST(test_defaults_ignore_static_errors_but_criteria_do_not)
{
	eval_outcome out;

	judge(&out, PASS_ANSWER, SBX_END_EXITED, NULL);
	CHECK(out.passed == 1 && out.error == NULL);
	CHECK(out.tests_total == 2 && out.tests_passed == 2);
	CHECK_CONTAINS(out.feedback, "- line 3: undefined name 'y' (pyflakes)");
	eval_outcome_free(&out);
	judge(&out, PASS_ANSWER, SBX_END_EXITED, "{\"max_static_errors\": 0}");
	CHECK(out.passed == 0);
	CHECK_STR(out.error, "pyflakes reports 1 error; at most 0 allowed");
	CHECK_CONTAINS(out.feedback, "Criteria not met:\n* pyflakes reports 1 error");
	eval_outcome_free(&out);
}

TEST(test_a_sandbox_limit_overrides_a_passing_answer)
{
	eval_outcome out;

	/* The harness answered, then something the code left behind flooded
	 * the output: the run is not accepted. */
	judge(&out, PASS_ANSWER, SBX_END_OUTPUT, NULL);
	CHECK(out.passed == 0 && out.score == 0.0);
	CHECK_STR(out.error, "the code wrote more output than the 1000 bytes allowed");
	eval_outcome_free(&out);
}

TEST(test_a_crash_the_memory_limit_caused_is_memory)
{
	/* The judge saw the code's process end; the sandbox saw the OOM kill. */
	static const char *const crashed =
	    "{\"harness\": 1, \"status\": \"crashed\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"tests\": [], \"error\": {\"type\": \"Crash\", \"message\": \"the code's process "
	    "ended during the call (EOFError)\"}}";
	eval_outcome out;

	judge(&out, crashed, SBX_END_MEMORY, NULL);
	CHECK(out.passed == 0);
	CHECK_CONTAINS(out.result_json, "\"status\":\"memory\"");
	CHECK_STR(out.error, "the run went over the memory limit of 128 MB");
	eval_outcome_free(&out);
	/* Without the OOM kill a crash stays a crash. */
	judge(&out, crashed, SBX_END_EXITED, NULL);
	CHECK_CONTAINS(out.result_json, "\"status\":\"crashed\"");
	eval_outcome_free(&out);
}

TEST(test_no_tests_and_a_clean_run_pass)
{
	eval_outcome out;

	judge(&out,
	      "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0, "
	      "\"tests\": []}",
	      SBX_END_EXITED, NULL);
	CHECK(out.passed == 1);
	CHECK_STR(out.summary, "passed: ran without errors, score 1.00");
	CHECK_CONTAINS(out.result_json, "\"verdict\":\"passed\"");
	eval_outcome_free(&out);
	/* min_pass_rate 1 with zero tests: passing, as the run was clean. */
	judge(&out, "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0}",
	      SBX_END_EXITED, "{\"min_pass_rate\": 1}");
	CHECK(out.passed == 1);
	eval_outcome_free(&out);
}

TEST(test_bad_tests_are_not_the_codes_fault_but_fail)
{
	eval_outcome out;

	judge(
	    &out,
	    "{\"harness\": 1, \"status\": \"bad_tests\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"error\": {\"type\": \"BadTests\", "
	    "\"message\": \"the tests do not parse: invalid syntax\", \"line\": 3}}",
	    SBX_END_EXITED, NULL);
	CHECK(out.passed == 0);
	CHECK_CONTAINS(out.feedback, "The tests cannot be used (this is not the code's fault): "
	                             "the tests do not parse: invalid syntax (tests line 3)");
	eval_outcome_free(&out);
}

TEST(test_score_order)
{
	eval_facts clean, half, broken;
	double before;

	memset(&clean, 0, sizeof(clean));
	clean.ans = (json_object *)1; /* only tested for NULL by eval_score */
	clean.ran = 1;
	clean.tests_total = clean.tests_passed = 4;
	half = clean;
	half.tests_passed = 2;
	half.runtime_errors = 1;
	broken = half;
	broken.ran = 0;
	broken.status = "syntax_error";
	CHECK(eval_score(&clean) == 1.0);
	CHECK(eval_score(&half) < eval_score(&clean) && eval_score(&half) > 0.3);
	CHECK(eval_score(&broken) == 0.0);
	before = eval_score(&half);
	half.worst_severity = LR_SEV_HIGH;
	half.bandit_ran = 1;
	CHECK(eval_score(&half) < before - 0.04);
}

/* Reports that make no sense are never judged as they stand. */
TEST(test_nonsense_reports_are_refused)
{
	static const char *const bad[] = {
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": -5, \"tests_passed\": 0}",
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 3, \"tests_passed\": 3}",
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 1, \"tests_passed\": 2, "
	    "\"tests\": [{\"status\": \"passed\", \"passed\": true}]}",
	    "{\"harness\": 1, \"status\": \"great\", \"tests_total\": 0, \"tests_passed\": 0}",
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 1, \"tests_passed\": 1, "
	    "\"tests\": [{\"status\": \"failed\", \"passed\": true}]}",
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 1, \"tests_passed\": 1, "
	    "\"tests\": [{\"status\": \"failed\", \"passed\": false}]}",
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"static\": {\"bandit\": {\"ran\": true, \"max_severity\": \"harmless\"}}}",
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"metrics\": {\"load_s\": -1}}",
	    "{\"harness\": 1, \"status\": \"syntax_error\", \"tests_total\": 1, \"tests_passed\": "
	    "1, "
	    "\"tests\": [{\"status\": \"passed\", \"passed\": true}]}",
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"integrity\": \"trust me\"}",
	    "{\"harness\": 1, \"status\": \"tests_failed\", \"tests_total\": 1, "
	    "\"tests_passed\": 1, \"tests\": [{\"status\": \"passed\", \"passed\": true}]}",
	};
	sbx_result run;
	eval_judge_ctx ctx = {5.0, 128, 1000, 1.0, NULL, 1, 0, 0, 0, NULL};
	eval_outcome out;
	lr_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		judge(&out, bad[i], SBX_END_EXITED, NULL);
		CHECK(out.passed == 0 && out.score == 0.0);
		CHECK_CONTAINS(out.error, "report is invalid");
		eval_outcome_free(&out);
		/* From a judge the code cannot reach: the harness is broken. */
		memset(&run, 0, sizeof(run));
		run.answer = (char *)bad[i];
		run.answer_len = strlen(bad[i]);
		CHECK(eval_judge(&out, &run, NULL, &ctx, &err) == LR_EPROTO);
		CHECK_CONTAINS(err.msg, "report is invalid");
	}
	/* Omitted cases: totals may exceed the list by the omitted count only. */
	judge(&out,
	      "{\"harness\": 1, \"status\": \"tests_failed\", \"tests_total\": 3, "
	      "\"tests_passed\": 2, \"tests_omitted\": 2, \"tests\": [{\"status\": \"failed\", "
	      "\"passed\": false}]}",
	      SBX_END_EXITED, NULL);
	CHECK(out.tests_total == 3 && out.tests_passed == 2 && out.passed == 0);
	CHECK(strstr(out.error, "invalid") == NULL);
	eval_outcome_free(&out);
}

TEST(test_integrity_criterion)
{
	static const char *const ans =
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"integrity\": \"split\"}";
	sbx_result run;
	eval_judge_ctx ctx = {5.0, 128, 1000, 1.0, NULL, 1, 0, 0, 0, NULL};
	lr_criteria c;
	eval_outcome out;
	lr_err err;

	/* The answer alone cannot claim a split the host did not run. */
	judge(&out, ans, SBX_END_EXITED, "{\"integrity\": \"split\"}");
	CHECK(out.passed == 0);
	CHECK_CONTAINS(out.error, "integrity in_process");
	CHECK_CONTAINS(out.result_json, "\"integrity\":\"in_process\"");
	eval_outcome_free(&out);
	memset(&run, 0, sizeof(run));
	run.answer = (char *)ans;
	run.answer_len = strlen(ans);
	lr_criteria_default(&c);
	c.require_split = 1;
	CHECK(eval_judge(&out, &run, &c, &ctx, &err) == 0);
	CHECK(out.passed == 1);
	CHECK_CONTAINS(out.result_json, "\"integrity\":\"split\"");
	eval_outcome_free(&out);
}

TEST(test_unmeasured_memory_is_not_within_a_limit)
{
	static const char *const ans =
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"integrity\": \"split\", \"metrics\": {\"peak_memory_kb\": 1}}";
	static const char *const in_process =
	    "{\"harness\": 1, \"status\": \"ok\", \"tests_total\": 0, \"tests_passed\": 0, "
	    "\"integrity\": \"in_process\", \"metrics\": {\"peak_memory_kb\": 1}}";
	sbx_result run;
	eval_judge_ctx ctx = {5.0, 128, 1000, 1.0, NULL, 1, 0, 0, 0, NULL};
	lr_criteria c;
	eval_outcome out;
	lr_err err;

	memset(&run, 0, sizeof(run));
	run.answer = (char *)ans;
	run.answer_len = strlen(ans);
	run.peak_kb = 10 * 1024; /* the judge's own */
	lr_criteria_default(&c);
	c.max_memory_mb = 100;
	/* Split, no cgroup: the code's memory was nowhere counted. */
	CHECK(eval_judge(&out, &run, &c, &ctx, &err) == 0);
	CHECK(out.passed == 0);
	CHECK_CONTAINS(out.error, "memory was not measured");
	eval_outcome_free(&out);
	/* The run's cgroup counted the whole tree. */
	run.isolation = SBX_ISO_CGROUP;
	CHECK(eval_judge(&out, &run, &c, &ctx, &err) == 0);
	CHECK(out.passed == 1);
	eval_outcome_free(&out);
	/* In process, the run's own peak is the code's too. */
	run.isolation = 0;
	ctx.split = 0;
	CHECK(eval_judge(&out, &run, &c, &ctx, &err) == 0);
	CHECK(out.passed == 1);
	eval_outcome_free(&out);
	/* The host ran a judge apart, and the judge ran the code in its own
	 * process (no candidate worker): the judge's peak is the code's. */
	ctx.split = 1;
	run.answer = (char *)in_process;
	run.answer_len = strlen(in_process);
	CHECK(eval_judge(&out, &run, &c, &ctx, &err) == 0);
	CHECK(out.passed == 1);
	eval_outcome_free(&out);
}

int main(void)
{
	RUN(test_untrusted_reads);
	RUN(test_defaults_ignore_static_errors_but_criteria_do_not);
	RUN(test_a_sandbox_limit_overrides_a_passing_answer);
	RUN(test_a_crash_the_memory_limit_caused_is_memory);
	RUN(test_no_tests_and_a_clean_run_pass);
	RUN(test_bad_tests_are_not_the_codes_fault_but_fail);
	RUN(test_score_order);
	RUN(test_nonsense_reports_are_refused);
	RUN(test_integrity_criterion);
	RUN(test_unmeasured_memory_is_not_within_a_limit);
	return check_summary();
}
