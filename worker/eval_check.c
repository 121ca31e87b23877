/* eval_check.c - strict validation of the harness's report (see eval_check.h). */
#include "eval_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const report_statuses[] = {
    "ok",          "tests_failed", "syntax_error", "empty",   "too_big", "bad_tests",
    "bad_request", "load_error",   "load_timeout", "crashed", "memory",
};

static const char *const case_statuses[] = {
    "passed", "failed", "error", "timeout", "crashed", "memory", "not_run", "skipped", "output",
};

static const char *const severities[] = {"none", "low", "medium", "high"};

static int bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A count: an integer in [0, EVAL_COUNT_MAX]. 1 when present and valid, 0
 * when absent, -1 when present and invalid. */
static int count(json_object *o, const char *key, long *out)
{
	json_object *v = field(o, key);
	int64_t n;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	if (n < 0 || n > EVAL_COUNT_MAX)
		return -1;
	*out = (long)n;
	return 1;
}

static int number_ok(json_object *v)
{
	double d;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return 1;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return 0;
	d = json_object_get_double(v);
	return isfinite(d) && d >= 0 && d <= 1e12;
}

static int strings_bounded(json_object *o, int depth)
{
	if (o == NULL || depth > 16)
		return depth <= 16;
	switch (json_object_get_type(o)) {
	case json_type_string: return (size_t)json_object_get_string_len(o) <= EVAL_STRING_MAX;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!strings_bounded(json_object_array_get_idx(o, i), depth + 1))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			if (strlen(k) > 256 || !strings_bounded(v, depth + 1))
				return 0;
		}
		return 1;
	}
	default: return 1;
	}
}

static int check_cases(json_object *ans, long total, long passed, long omitted, char *why,
                       size_t len)
{
	json_object *tests = field(ans, "tests");
	size_t n;
	long listed_counted = 0, listed_passed = 0, listed_failing = 0;

	if (tests == NULL)
		return total == 0
		           ? 0
		           : bad(why, len, "tests_total is %ld but no cases are listed", total);
	if (!json_object_is_type(tests, json_type_array))
		return bad(why, len, "tests is not a list");
	n = json_object_array_length(tests);
	if (n > EVAL_CASES_MAX)
		return bad(why, len, "%zu cases listed; at most %d are", n, EVAL_CASES_MAX);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(tests, i), *p;
		const char *st;

		if (!json_object_is_type(c, json_type_object))
			return bad(why, len, "case %zu is not an object", i);
		p = field(c, "status");
		st = p && json_object_is_type(p, json_type_string) ? json_object_get_string(p)
		                                                   : NULL;
		if (!one_of(st, case_statuses, sizeof(case_statuses) / sizeof(case_statuses[0])))
			return bad(why, len, "case %zu has an unknown status", i);
		p = field(c, "passed");
		if (p == NULL || !json_object_is_type(p, json_type_boolean) ||
		    json_object_get_boolean(p) != (strcmp(st, "passed") == 0))
			return bad(why, len, "case %zu: passed does not agree with status %s", i,
			           st);
		if (!number_ok(field(c, "duration_s")))
			return bad(why, len, "case %zu has an invalid duration", i);
		if (strcmp(st, "skipped") == 0)
			continue;
		listed_counted++;
		if (strcmp(st, "passed") == 0)
			listed_passed++;
		else
			listed_failing++;
	}
	/* Without omissions the list is the whole story; with them the totals
	 * may exceed what is listed by at most the omitted count. */
	if (total < listed_counted || total > listed_counted + omitted)
		return bad(why, len, "tests_total is %ld but %ld cases are listed (%ld omitted)",
		           total, listed_counted, omitted);
	if (passed < listed_passed || passed > listed_passed + omitted)
		return bad(why, len,
		           "tests_passed is %ld but %ld listed cases passed (%ld omitted)", passed,
		           listed_passed, omitted);
	if (total - passed < listed_failing)
		return bad(why, len,
		           "%ld cases are listed as failing but totals leave room for %ld",
		           listed_failing, total - passed);
	return 0;
}

static int check_static(json_object *ans, char *why, size_t len)
{
	json_object *st = field(ans, "static");
	static const char *const tools[] = {"pyflakes", "bandit", "radon"};

	if (st == NULL || json_object_is_type(st, json_type_null))
		return 0;
	if (!json_object_is_type(st, json_type_object))
		return bad(why, len, "static is not an object");
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		json_object *t = field(st, tools[i]), *v;
		static const char *const counts[] = {"errors", "warnings", "max_complexity",
		                                     "max_complexity_line"};

		if (t == NULL)
			continue;
		if (!json_object_is_type(t, json_type_object))
			return bad(why, len, "static.%s is not an object", tools[i]);
		v = field(t, "ran");
		if (v != NULL && !json_object_is_type(v, json_type_boolean))
			return bad(why, len, "static.%s.ran is not a boolean", tools[i]);
		for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
			long n;

			if (count(t, counts[k], &n) < 0)
				return bad(why, len, "static.%s.%s is not a count", tools[i],
				           counts[k]);
		}
		v = field(t, "max_severity");
		if (v != NULL && !json_object_is_type(v, json_type_null) &&
		    (!json_object_is_type(v, json_type_string) ||
		     !one_of(json_object_get_string(v), severities, 4)))
			return bad(why, len, "static.%s.max_severity is not a severity", tools[i]);
		v = field(t, "mi");
		if (v != NULL && !json_object_is_type(v, json_type_null) &&
		    (!number_ok(v) || json_object_get_double(v) > 100))
			return bad(why, len, "static.%s.mi is out of range", tools[i]);
	}
	return 0;
}

static int check_metrics(json_object *ans, char *why, size_t len)
{
	json_object *m = field(ans, "metrics");

	if (m == NULL)
		return 0;
	if (!json_object_is_type(m, json_type_object))
		return bad(why, len, "metrics is not an object");
	json_object_object_foreach(m, k, v)
	{
		if (!number_ok(v))
			return bad(why, len, "metrics.%.60s is not a non-negative number", k);
	}
	return 0;
}

int eval_report_check(json_object *ans, char *why, size_t len)
{
	json_object *v;
	const char *status;
	long total = -1, passed = -1, omitted = 0, n;

	if (ans == NULL || !json_object_is_type(ans, json_type_object))
		return bad(why, len, "the report is not an object");
	v = field(ans, "harness");
	if (v == NULL || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
	    json_object_get_int64(v) > 1000)
		return bad(why, len, "the report has no harness version");
	v = field(ans, "status");
	status = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!one_of(status, report_statuses, sizeof(report_statuses) / sizeof(report_statuses[0])))
		return bad(why, len, "the report's status is not one of the known statuses");
	if (count(ans, "tests_total", &total) != 1)
		return bad(why, len, "tests_total is missing or not a count");
	if (count(ans, "tests_passed", &passed) != 1)
		return bad(why, len, "tests_passed is missing or not a count");
	if (passed > total)
		return bad(why, len, "tests_passed (%ld) is more than tests_total (%ld)", passed,
		           total);
	if (count(ans, "tests_omitted", &omitted) < 0 || count(ans, "tests_skipped", &n) < 0 ||
	    count(ans, "restarts", &n) < 0)
		return bad(why, len, "tests_omitted, tests_skipped or restarts is not a count");
	if (check_cases(ans, total, passed, omitted, why, len) < 0)
		return -1;
	if (strcmp(status, "ok") == 0 && passed != total)
		return bad(why, len, "status ok with %ld of %ld tests passing", passed, total);
	if (strcmp(status, "tests_failed") == 0 && passed >= total)
		return bad(why, len, "status tests_failed with every test passing");
	if (strcmp(status, "ok") != 0 && strcmp(status, "tests_failed") != 0 && passed > 0 &&
	    strcmp(status, "load_error") != 0 && strcmp(status, "crashed") != 0 &&
	    strcmp(status, "memory") != 0 && strcmp(status, "load_timeout") != 0)
		return bad(why, len, "status %s with %ld tests passing", status, passed);
	v = field(ans, "integrity");
	if (v != NULL && (!json_object_is_type(v, json_type_string) ||
	                  (strcmp(json_object_get_string(v), "split") != 0 &&
	                   strcmp(json_object_get_string(v), "in_process") != 0)))
		return bad(why, len, "integrity is neither split nor in_process");
	if (check_static(ans, why, len) < 0 || check_metrics(ans, why, len) < 0)
		return -1;
	if (!strings_bounded(ans, 0))
		return bad(why, len, "the report holds a string or key over its bound");
	return 0;
}
