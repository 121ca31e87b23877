/* Unit tests for common/job: spec validation, defaults, caps, normalisation. */
#include "check.h"
#include "job.h"

#include <stdlib.h>

static lr_job_policy pol;

static int parse(lr_job_spec *s, const char *text, lr_err *e)
{
	lr_err_clear(e);
	return lr_job_spec_parse(s, text, strlen(text), &pol, e);
}

/* Parse, expect an error that starts with `want`. */
static int rejects(const char *text, const char *want)
{
	lr_job_spec s;
	lr_err e;

	if (parse(&s, text, &e) == 0) {
		lr_job_spec_free(&s);
		fprintf(stderr, "accepted: %s\n", text);
		return 0;
	}
	if (strncmp(e.msg, want, strlen(want)) != 0) {
		fprintf(stderr, "for %s\n  got:  %s\n  want: %s\n", text, e.msg, want);
		return 0;
	}
	return 1;
}

TEST(evaluate_minimal_gets_defaults)
{
	lr_job_spec s;
	lr_err e;
	char *json;

	CHECK(parse(&s, "{\"kind\": \"evaluate\", \"code\": \"x = 1\"}", &e) == 0);
	CHECK(s.kind == LR_KIND_EVALUATE);
	CHECK_STR(s.code, "x = 1");
	CHECK(s.tests == NULL && s.entry_point == NULL && s.notes == NULL);
	CHECK(s.timeout_s == 10 && s.memory_mb == 256 && s.static_checks == 1);
	CHECK(!s.has_criteria);
	json = lr_job_spec_to_json(&s);
	CHECK_STR(json, "{\"kind\":\"evaluate\",\"code\":\"x = 1\",\"limits\":{\"timeout_s\":10.0,"
	                "\"memory_mb\":256},\"static_checks\":true}");
	free(json);
	lr_job_spec_free(&s);
}

TEST(evaluate_full_and_round_trip)
{
	const char *text =
	    "{\"kind\": \"evaluate\", \"code\": \"def f(x):\\n    return x\\n\","
	    "\"tests\": [\"assert f(1) == 1\", \"assert f(2) == 2\"],"
	    "\"entry_point\": \"f\", \"limits\": {\"timeout_s\": 2.5, \"memory_mb\": 64},"
	    "\"criteria\": {\"min_pass_rate\": 0.5}, \"static_checks\": false,"
	    "\"isolate\": true}";
	lr_job_spec s, again;
	lr_err e;
	char *json;
	char *json2;

	CHECK(parse(&s, text, &e) == 0);
	CHECK_STR(s.tests, "assert f(1) == 1\nassert f(2) == 2");
	CHECK_STR(s.entry_point, "f");
	CHECK(s.timeout_s == 2.5 && s.memory_mb == 64 && s.static_checks == 0);
	CHECK(s.isolate == 1);
	CHECK(s.has_criteria && s.criteria.min_pass_rate == 0.5);
	json = lr_job_spec_to_json(&s);
	/* A worker re-reads the normalised spec without a policy: same job. */
	CHECK(lr_job_spec_parse(&again, json, strlen(json), NULL, &e) == 0);
	json2 = lr_job_spec_to_json(&again);
	CHECK_STR(json2, json);
	CHECK(again.criteria.min_pass_rate == 0.5 && again.isolate == 1);
	free(json);
	free(json2);
	lr_job_spec_free(&s);
	lr_job_spec_free(&again);
}

TEST(caps_lower_values_and_say_so)
{
	lr_job_spec s;
	lr_err e;

	CHECK(parse(&s,
	            "{\"kind\": \"evaluate\", \"code\": \"\", \"limits\": {\"timeout_s\": 600, "
	            "\"memory_mb\": 4096}}",
	            &e) == 0);
	CHECK(s.timeout_s == 60 && s.memory_mb == 1024);
	CHECK_STR(s.notes, "limits.timeout_s 600 lowered to the operator's cap of 60; "
	                   "limits.memory_mb 4096 lowered to the operator's cap of 1024");
	lr_job_spec_free(&s);
}

TEST(rejections_name_the_problem)
{
	CHECK(rejects("", "not valid JSON"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\"} trailing",
	              "not valid JSON at byte"));
	CHECK(rejects("\"evaluate\"", "spec must be a JSON object, got string"));
	CHECK(rejects("{}", "missing required field 'kind'"));
	CHECK(rejects("{\"kind\": 3}", "field 'kind' must be a string, got number"));
	CHECK(rejects("{\"kind\": \"run\"}", "unknown kind 'run' (one of evaluate, generate"));
	CHECK(rejects("{\"kind\": \"evaluate\"}", "missing required field 'code'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": null}", "missing required field 'code'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": [\"x\"]}",
	              "field 'code' must be a string, got array"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"prompt\": \"p\"}",
	              "unknown field 'prompt' for kind 'evaluate'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"limits\": {\"timeout\": 1}}",
	              "unknown field 'limits.timeout'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"limits\": {\"timeout_s\": 0}}",
	              "field 'limits.timeout_s' must be between"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"limits\": {\"memory_mb\": 8}}",
	              "field 'limits.memory_mb' must be between 16 and"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"limits\": [1]}",
	              "field 'limits' must be an object, got array"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"static_checks\": \"no\"}",
	              "field 'static_checks' must be true or false, got string"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"tests\": {}}",
	              "missing required field 'tests.io'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"tests\": 5}",
	              "field 'tests' must be a string, an array of strings or an object {\"io\": "
	              "[...]}, got number"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"tests\": [\"a\", 2]}",
	              "field 'tests[1]' must be a string, got number"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"entry_point\": \"1f\"}",
	              "field 'entry_point' must be a Python identifier, got '1f'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"isolate\": 1}",
	              "field 'isolate' must be true or false, got number"));
	CHECK(rejects("{\"kind\": \"generate\", \"prompt\": \"x\", \"isolate\": true}",
	              "unknown field 'isolate' for kind 'generate'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"entry_point\": \"\"}",
	              "field 'entry_point' must not be empty"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"x\", \"criteria\": {\"max_lint\": "
	              "\"ten\"}}",
	              "criteria.max_lint"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"a\\u0000b\"}",
	              "not valid JSON at byte 31 (in \"code\"): \"\\u0000\" (a NUL character) is "
	              "not allowed"));
}

TEST(sizes_are_capped)
{
	lr_job_policy small = pol;
	lr_job_spec s;
	lr_err e;
	char big[200];
	char text[400];

	small.max_text_bytes = 100;
	small.max_spec_bytes = 300;
	memset(big, 'x', 150);
	big[150] = '\0';
	snprintf(text, sizeof(text), "{\"kind\": \"evaluate\", \"code\": \"%s\"}", big);
	CHECK(lr_job_spec_parse(&s, text, strlen(text), &small, &e) == LR_ETOOBIG);
	CHECK_STR(e.msg, "field 'code' is 150 bytes, over the limit of 100");
	snprintf(text, sizeof(text),
	         "{\"kind\": \"evaluate\", \"code\": \"x\", \"tests\": [\"%s\"]}", big);
	CHECK(lr_job_spec_parse(&s, text, strlen(text), &small, &e) == LR_ETOOBIG);
	CHECK_STR(e.msg, "field 'tests' is over the limit of 100 bytes");
	snprintf(text, sizeof(text),
	         "{\"kind\": \"evaluate\", \"code\": \"x\", \"tests\": [\"%s\", "
	         "\"%s\"]}",
	         big, big);
	CHECK(lr_job_spec_parse(&s, text, strlen(text), &small, &e) == LR_ETOOBIG);
	CHECK_STR(e.msg, "spec is 352 bytes, over the limit of 300 bytes");
}

TEST(later_kinds_validate_strictly)
{
	lr_job_spec s;
	lr_err e;
	char *json;

	CHECK(parse(&s,
	            "{\"kind\": \"generate\", \"prompt\": \"add two numbers\", "
	            "\"tests\": \"assert add(1, 2) == 3\", \"entry_point\": \"add\", "
	            "\"model\": {\"name\": \"qwen\", \"max_tokens\": 512}, \"temperature\": 0.2}",
	            &e) == 0);
	CHECK(s.kind == LR_KIND_GENERATE && s.has_temperature && s.temperature == 0.2);
	CHECK_STR(s.model, "qwen");
	CHECK(s.max_tokens == 512);
	lr_job_spec_free(&s);

	CHECK(parse(&s, "{\"kind\": \"refactor\", \"code\": \"x=1\", \"feedback\": \"name it\"}",
	            &e) == 0);
	CHECK_STR(s.feedback, "name it");
	lr_job_spec_free(&s);

	CHECK(parse(&s,
	            "{\"kind\": \"loop\", \"prompt\": \"p\", \"max_iterations\": 50, "
	            "\"budget\": {\"wall_s\": 30, \"tokens\": 5000}, \"strategy\": \"sample\", "
	            "\"n\": 20, \"refactor\": true}",
	            &e) == 0);
	CHECK(s.max_iterations == 20 && s.budget_wall_s == 30 && s.budget_tokens == 5000);
	CHECK(s.strategy == LR_STRATEGY_SAMPLE && s.n == 8 && s.refactor == 1);
	CHECK_STR(s.notes, "max_iterations 50 lowered to the operator's cap of 20; n 20 lowered to "
	                   "the operator's cap of 8");
	json = lr_job_spec_to_json(&s);
	CHECK_CONTAINS(json, "\"max_iterations\":20,\"budget\":{\"wall_s\":30.0,\"tokens\":5000},"
	                     "\"strategy\":\"sample\",\"n\":8,\"refactor\":true");
	free(json);
	lr_job_spec_free(&s);

	CHECK(parse(&s, "{\"kind\": \"loop\", \"prompt\": \"p\"}", &e) == 0);
	CHECK(s.max_iterations == 4 && s.strategy == LR_STRATEGY_AUTO && s.n == 4);
	CHECK(s.budget_wall_s == 600 && s.budget_tokens == 200000 && !s.refactor);
	lr_job_spec_free(&s);

	CHECK(rejects("{\"kind\": \"generate\"}", "missing required field 'prompt'"));
	CHECK(rejects("{\"kind\": \"generate\", \"prompt\": \"\"}",
	              "field 'prompt' must not be empty"));
	CHECK(rejects("{\"kind\": \"generate\", \"prompt\": \"p\", \"code\": \"x\"}",
	              "unknown field 'code' for kind 'generate'"));
	CHECK(rejects("{\"kind\": \"refactor\", \"code\": \"x\", \"feedback\": \"\"}",
	              "field 'feedback' must not be empty"));
	CHECK(parse(&s, "{\"kind\": \"loop\", \"prompt\": \"p\", \"strategy\": \"repair\"}", &e) ==
	      0);
	CHECK(s.strategy == LR_STRATEGY_REPAIR && s.n == 1);
	lr_job_spec_free(&s);
	CHECK(rejects("{\"kind\": \"loop\", \"prompt\": \"p\", \"strategy\": \"repair\", \"n\": 3}",
	              "field 'n' (3 candidates) needs \"strategy\": \"auto\" or \"sample\""));
	CHECK(rejects("{\"kind\": \"loop\", \"prompt\": \"p\", \"strategy\": \"beam\"}",
	              "field 'strategy' must be \"auto\", \"repair\" or \"sample\", got "
	              "\"beam\""));
	CHECK(rejects("{\"kind\": \"loop\", \"prompt\": \"p\", \"max_iterations\": 0}",
	              "field 'max_iterations' must be between 1 and"));
	CHECK(rejects("{\"kind\": \"loop\", \"prompt\": \"p\", \"budget\": {\"tokens\": -1}}",
	              "field 'budget.tokens' must be between 1 and"));
	CHECK(rejects("{\"kind\": \"loop\", \"prompt\": \"p\", \"budget\": {\"wall\": 1}}",
	              "unknown field 'budget.wall'"));
	CHECK(rejects("{\"kind\": \"loop\", \"prompt\": \"p\", \"temperature\": 3}",
	              "field 'temperature' must be between 0 and 2"));
	CHECK(rejects("{\"kind\": \"loop\", \"prompt\": \"p\", \"refactor\": 1}",
	              "field 'refactor' must be true or false"));
	CHECK(rejects("{\"kind\": \"generate\", \"prompt\": \"p\", \"model\": \"gpt\"}",
	              "field 'model' must be an object, got string"));
	CHECK(rejects("{\"kind\": \"generate\", \"prompt\": \"p\", \"model\": {\"url\": \"x\"}}",
	              "unknown field 'model.url'"));
}

TEST(model_allow_list)
{
	lr_job_spec s;
	lr_err e;

	pol.models = "qwen2.5-coder:1.5b, smollm2";
	CHECK(parse(&s,
	            "{\"kind\": \"generate\", \"prompt\": \"p\", \"model\": {\"name\": "
	            "\"smollm2\"}}",
	            &e) == 0);
	lr_job_spec_free(&s);
	CHECK(
	    rejects("{\"kind\": \"generate\", \"prompt\": \"p\", \"model\": {\"name\": \"gpt-4\"}}",
	            "field 'model.name': model 'gpt-4' is not allowed here (allowed: "
	            "qwen2.5-coder:1.5b, smollm2)"));
	pol.models = "";
	CHECK(rejects("{\"kind\": \"generate\", \"prompt\": \"p\", \"model\": {\"name\": \"x\"}}",
	              "field 'model.name': model 'x' is not allowed here (allowed: none)"));
	pol.models = "*";
}

TEST(kind_names)
{
	lr_job_kind k;

	for (int i = 0; i < LR_KIND_COUNT; i++) {
		CHECK(lr_job_kind_parse(&k, lr_job_kind_name((lr_job_kind)i)) == 0);
		CHECK(k == (lr_job_kind)i);
	}
	CHECK(lr_job_kind_parse(&k, "Evaluate") == LR_EINVAL);
}

TEST(batch_items_round_trip)
{
	const char *text =
	    "{\"kind\": \"batch\", \"limits\": {\"timeout_s\": 2}, \"static_checks\": false,"
	    "\"criteria\": {\"min_pass_rate\": 0.5}, \"items\": ["
	    "{\"id\": \"HumanEval/0\", \"code\": \"def f(x):\\n    return x\\n\","
	    " \"tests\": [\"assert f(1) == 1\", \"assert f(2) == 2\"], \"entry_point\": \"f\"},"
	    "{\"id\": \"io\", \"code\": \"print(input())\", \"criteria\": {\"min_pass_rate\": 1},"
	    " \"tests\": {\"io\": [{\"stdin\": \"1\\n\", \"stdout\": \"1\\n\"}]}}]}";
	lr_job_spec s, again;
	lr_err e;
	char *json, *json2;

	CHECK(parse(&s, text, &e) == 0);
	CHECK(s.kind == LR_KIND_BATCH && s.nitems == 2);
	CHECK_STR(s.items[0].item_id, "HumanEval/0");
	CHECK_STR(s.items[0].tests, "assert f(1) == 1\nassert f(2) == 2");
	CHECK_STR(s.items[0].entry_point, "f");
	/* The batch's limits, static checks and (without its own) criteria. */
	CHECK(s.items[0].timeout_s == 2 && s.items[0].static_checks == 0);
	CHECK(s.items[0].has_criteria && s.items[0].criteria.min_pass_rate == 0.5);
	CHECK(s.items[1].io != NULL && s.items[1].criteria.min_pass_rate == 1);
	json = lr_job_spec_to_json(&s);
	CHECK(json != NULL);
	if (json == NULL)
		return;
	CHECK(lr_job_spec_parse(&again, json, strlen(json), NULL, &e) == 0);
	json2 = lr_job_spec_to_json(&again);
	CHECK_STR(json2, json);
	free(json);
	free(json2);
	lr_job_spec_free(&again);
	lr_job_spec_free(&s);
}

TEST(batch_rejections_name_the_item)
{
	CHECK(rejects("{\"kind\": \"batch\", \"items\": []}", "field 'items' must not be empty"));
	CHECK(rejects("{\"kind\": \"batch\", \"items\": [{\"id\": \"a\", \"code\": \"\"}, "
	              "{\"id\": \"b\", \"code\": \"\", \"x\": 1}]}",
	              "items[1] ('b'): unknown field"));
	CHECK(rejects("{\"kind\": \"batch\", \"items\": [{\"id\": \"a\", \"code\": \"\"}, "
	              "{\"id\": \"a\", \"code\": \"\"}]}",
	              "items[0] and items[1] have the same id 'a'"));
	CHECK(rejects("{\"kind\": \"batch\", \"items\": [{\"id\": \"a\\u0001\", \"code\": \"\"}]}",
	              "items[0]: field 'id' must not contain control characters"));
	pol.max_batch_items = 1;
	CHECK(rejects("{\"kind\": \"batch\", \"items\": [{\"id\": \"a\", \"code\": \"\"}, "
	              "{\"id\": \"b\", \"code\": \"\"}]}",
	              "field 'items' has 2 items, over the operator's cap of 1"));
	pol.max_batch_items = 1000;
}

TEST(session_kinds)
{
	lr_job_spec s, again;
	lr_err e;
	char *json;

	CHECK(parse(&s, "{\"kind\": \"session_open\"}", &e) == 0);
	CHECK(s.kind == LR_KIND_SESSION_OPEN && s.idle_timeout_s == 600 && s.max_cells == 200);
	lr_job_spec_free(&s);
	CHECK(parse(&s,
	            "{\"kind\": \"session_open\", \"idle_timeout_s\": 5, \"max_cells\": 3,"
	            " \"limits\": {\"timeout_s\": 2}}",
	            &e) == 0);
	json = lr_job_spec_to_json(&s);
	CHECK(json != NULL && strstr(json, "\"idle_timeout_s\":5") &&
	      strstr(json, "\"max_cells\":3"));
	if (json == NULL)
		return;
	CHECK(lr_job_spec_parse(&again, json, strlen(json), NULL, &e) == 0);
	CHECK(again.idle_timeout_s == 5 && again.max_cells == 3 && again.timeout_s == 2);
	lr_job_spec_free(&again);
	free(json);
	lr_job_spec_free(&s);
	CHECK(parse(&s, "{\"kind\": \"exec\", \"session\": \"17-0\", \"code\": \"x\"}", &e) == 0);
	CHECK(s.kind == LR_KIND_EXEC);
	CHECK_STR(s.session, "17-0");
	CHECK_STR(s.code, "x");
	json = lr_job_spec_to_json(&s);
	CHECK(json != NULL && strstr(json, "\"session\":\"17-0\""));
	free(json);
	lr_job_spec_free(&s);
	CHECK(rejects("{\"kind\": \"exec\", \"code\": \"x\"}", "missing required field 'session'"));
	CHECK(rejects("{\"kind\": \"exec\", \"session\": \"17-0\"}",
	              "missing required field 'code'"));
	CHECK(rejects("{\"kind\": \"exec\", \"session\": \"x\", \"code\": \"1\"}",
	              "field 'session' must be a session id"));
	CHECK(rejects("{\"kind\": \"session_close\", \"session\": \"1-0\", \"code\": \"1\"}",
	              "unknown field 'code'"));
	CHECK(rejects("{\"kind\": \"session_open\", \"max_cells\": 0}", "field 'max_cells'"));
	CHECK(rejects("{\"kind\": \"session_open\", \"idle_timeout_s\": 1e9}",
	              "field 'idle_timeout_s'"));
}

/* evaluate, generate and loop may name a session to test code on its state. */
TEST(code_on_a_session)
{
	static const char *const ok[] = {
	    "{\"kind\": \"evaluate\", \"code\": \"f()\", \"session\": \"17-0\"}",
	    "{\"kind\": \"generate\", \"prompt\": \"p\", \"session\": \"17-0\"}",
	    "{\"kind\": \"loop\", \"prompt\": \"p\", \"session\": \"17-0\"}"};
	lr_job_spec s, again;
	lr_err e;
	char *json;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(parse(&s, ok[i], &e) == 0);
		CHECK_STR(s.session, "17-0");
		json = lr_job_spec_to_json(&s);
		CHECK(json != NULL && lr_job_spec_parse(&again, json, strlen(json), NULL, &e) == 0);
		if (json != NULL)
			CHECK_STR(again.session, "17-0");
		lr_job_spec_free(&again);
		free(json);
		lr_job_spec_free(&s);
	}
	CHECK(parse(&s, "{\"kind\": \"evaluate\", \"code\": \"1\"}", &e) == 0);
	CHECK(s.session == NULL);
	lr_job_spec_free(&s);
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"1\", \"session\": \"x\"}",
	              "field 'session' must be a session id"));
	CHECK(rejects("{\"kind\": \"refactor\", \"code\": \"1\", \"feedback\": \"f\", "
	              "\"session\": \"1-0\"}",
	              "unknown field 'session'"));
	CHECK(rejects("{\"kind\": \"evaluate\", \"code\": \"1\", \"session\": \"1-0\", "
	              "\"tests\": {\"io\": [{\"stdin\": \"\", \"stdout\": \"\"}]}}",
	              "field 'session' cannot be used with io tests (the code is a whole program "
	              "run once per case)"));
}

int main(void)
{
	lr_job_policy_default(&pol);
	RUN(evaluate_minimal_gets_defaults);
	RUN(evaluate_full_and_round_trip);
	RUN(caps_lower_values_and_say_so);
	RUN(rejections_name_the_problem);
	RUN(sizes_are_capped);
	RUN(later_kinds_validate_strictly);
	RUN(model_allow_list);
	RUN(kind_names);
	RUN(session_kinds);
	RUN(code_on_a_session);
	RUN(batch_items_round_trip);
	RUN(batch_rejections_name_the_item);
	return check_summary();
}
