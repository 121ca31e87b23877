/* eval_judge - judge a recorded evaluation for tests/eval/test_judge.py.
 *
 * Reads one JSON object on stdin describing a finished run:
 *   {"answer": <the harness's answer: object, or raw text>, "end": "exited",
 *    "exit_code": 0, "signal": 0, "wall_s": 0.1, "out": "", "err": "",
 *    "criteria": {...}, "timeout_s": 10, "memory_mb": 256, "test_timeout_s": 3}
 * and prints {"rc", "error_msg", "passed", "score", "tests_total",
 * "tests_passed", "error", "feedback", "summary", "report": <result_json>}.
 * Exit 0 when it printed that, 1 otherwise. */
#include "eval_report.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sbx_end end_of(const char *s)
{
	static const char *const names[] = {"exited", "signaled", "timeout",
	                                    "memory", "output",   "error"};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (sbx_end)i;
	return SBX_END_EXITED;
}

int main(void)
{
	static char in[16 << 20];
	size_t len = fread(in, 1, sizeof(in) - 1, stdin);
	json_object *req = NULL, *v, *o = NULL, *crit_obj = NULL, *report = NULL;
	sbx_result run;
	eval_judge_ctx ctx = {10.0, 256, 65536, 3.0, NULL, 0, 0, 0, 0, NULL};
	lr_criteria crit;
	eval_outcome out = {0};
	lr_err err;
	const char *answer = NULL;
	char *dumped = NULL;
	int rc;

	memset(&run, 0, sizeof(run));
	lr_err_clear(&err);
	lr_criteria_default(&crit);
	if (lr_json_parse(&req, in, len, 0, 64, &err) < 0) {
		fprintf(stderr, "eval_judge: %s\n", err.msg);
		return 1;
	}
	if (json_object_object_get_ex(req, "answer", &v)) {
		if (json_object_is_type(v, json_type_string))
			answer = json_object_get_string(v);
		else if (!json_object_is_type(v, json_type_null))
			answer = dumped = lr_json_dump(v);
	}
	run.answer = (char *)answer;
	run.answer_len = answer ? strlen(answer) : 0;
	run.end = end_of(lr_json_str(req, "end"));
	run.exit_code = (int)lr_json_int(req, "exit_code", 0);
	run.signal = (int)lr_json_int(req, "signal", 0);
	run.wall_s = lr_json_num(req, "wall_s", 0.1);
	run.out = (char *)(lr_json_str(req, "out") ? lr_json_str(req, "out") : "");
	run.out_len = strlen(run.out);
	run.err = (char *)(lr_json_str(req, "err") ? lr_json_str(req, "err") : "");
	run.err_len = strlen(run.err);
	ctx.timeout_s = lr_json_num(req, "timeout_s", ctx.timeout_s);
	ctx.memory_mb = lr_json_int(req, "memory_mb", ctx.memory_mb);
	ctx.test_timeout_s = lr_json_num(req, "test_timeout_s", ctx.test_timeout_s);
	crit_obj = lr_json_obj(req, "criteria");
	if (lr_criteria_from_json(&crit, crit_obj, &err) < 0) {
		fprintf(stderr, "eval_judge: %s\n", err.msg);
		return 1;
	}
	rc = eval_judge(&out, &run, &crit, &ctx, &err);
	o = json_object_new_object();
	lr_json_set_int(o, "rc", rc);
	lr_json_set_str(o, "error_msg", rc < 0 ? err.msg : NULL);
	lr_json_set_bool(o, "passed", out.passed);
	lr_json_set_num(o, "score", out.score);
	lr_json_set_int(o, "tests_total", out.tests_total);
	lr_json_set_int(o, "tests_passed", out.tests_passed);
	lr_json_set_str(o, "error", out.error);
	lr_json_set_str(o, "feedback", out.feedback);
	lr_json_set_str(o, "summary", out.summary);
	if (out.result_json &&
	    lr_json_parse(&report, out.result_json, strlen(out.result_json), 0, 64, &err) == 0)
		lr_json_set_obj(o, "report", report);
	free(dumped);
	dumped = lr_json_dump(o);
	if (dumped)
		puts(dumped);
	free(dumped);
	json_object_put(o);
	json_object_put(req);
	eval_outcome_free(&out);
	return 0;
}
