/* test_criteria.c - the job's acceptance thresholds: defaults, parsing, errors. */
#include "check.h"
#include "criteria.h"

#include <math.h>

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);

	if (o == NULL)
		fprintf(stderr, "test JSON does not parse: %s\n", s);
	return o;
}

/* Parse text over the defaults; returns the rc and leaves the message in err. */
static int load(lr_criteria *c, const char *text, lr_err *err)
{
	json_object *o = parse(text);
	int rc;

	lr_criteria_default(c);
	lr_err_clear(err);
	rc = lr_criteria_from_json(c, o, err);
	json_object_put(o);
	return rc;
}

TEST(test_defaults)
{
	lr_criteria c;
	lr_err err;

	lr_criteria_default(&c);
	CHECK(c.min_pass_rate == 1.0);
	CHECK(c.max_errors == 0);
	CHECK(c.max_static_errors == -1);
	CHECK(c.max_security == LR_SEV_HIGH);
	CHECK(c.max_lint == -1);
	CHECK(c.max_complexity == -1);
	CHECK(c.max_time_s == 0);
	CHECK(c.max_memory_mb == 0);
	/* NULL and {} leave the defaults. */
	CHECK(lr_criteria_from_json(&c, NULL, &err) == 0);
	CHECK(c.min_pass_rate == 1.0);
	CHECK(load(&c, "{}", &err) == 0);
	CHECK(c.max_errors == 0);
}

TEST(test_full_object)
{
	lr_criteria c;
	lr_err err;

	CHECK(load(&c,
	           "{\"min_pass_rate\": 0.8, \"max_errors\": 2, \"max_static_errors\": 0,"
	           " \"max_security\": \"medium\", \"max_lint\": 10, \"max_complexity\": 15,"
	           " \"min_maintainability\": 20, \"max_time_s\": 5, \"max_memory_mb\": 256.5}",
	           &err) == 0);
	CHECK(fabs(c.min_pass_rate - 0.8) < 1e-12);
	CHECK(c.max_errors == 2);
	CHECK(c.max_static_errors == 0);
	CHECK(c.max_security == LR_SEV_MEDIUM);
	CHECK(c.max_lint == 10);
	CHECK(c.max_complexity == 15);
	CHECK(c.min_maintainability == 20);
	CHECK(c.max_time_s == 5);
	CHECK(c.max_memory_mb == 256.5);
}

TEST(test_edges_accepted)
{
	lr_criteria c;
	lr_err err;

	CHECK(load(&c, "{\"min_pass_rate\": 0}", &err) == 0 && c.min_pass_rate == 0);
	CHECK(load(&c, "{\"min_pass_rate\": 1}", &err) == 0 && c.min_pass_rate == 1);
	CHECK(load(&c, "{\"max_lint\": -1}", &err) == 0 && c.max_lint == -1);
	CHECK(load(&c, "{\"max_lint\": 0}", &err) == 0 && c.max_lint == 0);
	CHECK(load(&c, "{\"max_errors\": 3.0}", &err) == 0 && c.max_errors == 3);
	CHECK(load(&c, "{\"max_complexity\": 1}", &err) == 0 && c.max_complexity == 1);
	CHECK(load(&c, "{\"max_security\": \"none\"}", &err) == 0 && c.max_security == LR_SEV_NONE);
	CHECK(load(&c, "{\"max_time_s\": 0}", &err) == 0 && c.max_time_s == 0);
}

TEST(test_unknown_key)
{
	lr_criteria c;
	lr_err err;

	CHECK(load(&c, "{\"max_lnt\": 3}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "unknown key \"max_lnt\"");
	CHECK_CONTAINS(err.msg, "did you mean \"max_lint\"");
	CHECK(load(&c, "{\"colour\": 3}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "unknown key \"colour\"");
	CHECK_CONTAINS(err.msg, "known: min_pass_rate, max_errors");
	/* A bad key leaves the criteria as they were. */
	CHECK(load(&c, "{\"max_lint\": 4, \"zzz\": 1}", &err) == LR_EINVAL);
	CHECK(c.max_lint == -1);
}

TEST(test_wrong_types)
{
	lr_criteria c;
	lr_err err;

	CHECK(load(&c, "{\"max_lint\": \"ten\"}", &err) == LR_EINVAL);
	CHECK_STR(err.msg, "criteria.max_lint: expected an integer from 0 to 1000000000, or -1 "
	                   "for any, got \"ten\" (a string)");
	CHECK(load(&c, "{\"min_pass_rate\": true}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "criteria.min_pass_rate: expected a number from 0 to 1");
	CHECK_CONTAINS(err.msg, "(a boolean)");
	CHECK(load(&c, "{\"max_security\": 2}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "criteria.max_security: expected one of \"none\", \"low\"");
	CHECK(load(&c, "{\"max_security\": \"critical\"}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "got \"critical\"");
	/* Enums are exact and lower-case. */
	CHECK(load(&c, "{\"max_security\": \"LOW\"}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "got \"LOW\"");
	/* null means absent, as at the top of a spec. */
	CHECK(load(&c, "{\"max_errors\": null}", &err) == 0);
	CHECK(load(&c, "{\"max_complexity\": [1]}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "(an array)");
	CHECK(load(&c, "[1, 2]", &err) == LR_EINVAL);
	CHECK_STR(err.msg, "criteria: expected an object, got an array");
	CHECK(load(&c, "\"strict\"", &err) == LR_EINVAL);
	CHECK_STR(err.msg, "criteria: expected an object, got a string");
}

TEST(test_out_of_range)
{
	lr_criteria c;
	lr_err err;

	CHECK(load(&c, "{\"min_pass_rate\": 1.5}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "got 1.5");
	CHECK(load(&c, "{\"min_pass_rate\": -0.1}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"max_lint\": -2}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"max_errors\": 2.5}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "expected an integer");
	CHECK(load(&c, "{\"max_complexity\": 0}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"max_errors\": 99999999999999999999}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"max_time_s\": -1}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"max_time_s\": 1e300}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"min_maintainability\": 101}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"max_memory_mb\": NaN}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"max_memory_mb\": Infinity}", &err) == LR_EINVAL);
	CHECK(load(&c, "{\"integrity\": \"in_process\"}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "\"split\" or \"any\"");
	CHECK(load(&c, "{\"integrity\": \"split\"}", &err) == 0 && c.require_split == 1);
	CHECK(load(&c, "{\"integrity\": \"any\"}", &err) == 0 && c.require_split == 0);
}

TEST(test_round_trip)
{
	lr_criteria a, b;
	lr_err err;
	json_object *o;

	CHECK(load(&a, "{\"min_pass_rate\": 0.5, \"max_security\": \"low\", \"max_lint\": 7}",
	           &err) == 0);
	o = lr_criteria_to_json(&a);
	CHECK(o != NULL);
	lr_criteria_default(&b);
	b.max_lint = 99;
	CHECK(lr_criteria_from_json(&b, o, &err) == 0);
	CHECK(b.min_pass_rate == 0.5 && b.max_security == LR_SEV_LOW && b.max_lint == 7);
	CHECK(b.max_errors == 0 && b.max_complexity == -1);
	CHECK_STR(json_object_get_string(json_object_object_get(o, "max_security")), "low");
	json_object_put(o);
}

TEST(test_severity_names)
{
	lr_severity s = LR_SEV_NONE;

	CHECK_STR(lr_severity_name(LR_SEV_MEDIUM), "medium");
	CHECK(lr_severity_parse("High", &s) == 0 && s == LR_SEV_HIGH);
	CHECK(lr_severity_parse("", &s) == LR_EINVAL);
	CHECK(lr_severity_parse(NULL, &s) == LR_EINVAL);
	CHECK_STR(lr_severity_name((lr_severity)9), "unknown");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_full_object);
	RUN(test_edges_accepted);
	RUN(test_unknown_key);
	RUN(test_wrong_types);
	RUN(test_out_of_range);
	RUN(test_round_trip);
	RUN(test_severity_names);
	return check_summary();
}
