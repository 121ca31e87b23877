/* test_iotests.c - the io test form: parsing, the job spec round trip, and
 * the built-in checkers with their diffs. */
#include "check.h"
#include "iotests.h"
#include "job.h"

#include <stdlib.h>

static int parse(lr_iotests *t, const char *text, lr_err *err)
{
	lr_err_clear(err);
	return lr_iotests_parse(t, text, strlen(text), 1 << 20, err);
}

static int cmp(const lr_iotests *t, const char *e, const char *a, char *diff)
{
	return lr_io_compare(t, e, strlen(e), a, strlen(a), diff, LR_IO_DIFF_MAX + 1);
}

TEST(test_parse_forms)
{
	lr_iotests t;
	lr_err err;

	CHECK(parse(&t,
	            "{\"io\": [{\"stdin\": \"1\\n\", \"stdout\": \"2\\n\"}, {\"stdout\": "
	            "\"x\"}]}",
	            &err) == 0);
	CHECK(t.n == 2 && t.checker == LR_CHECK_TOKENS && !t.stop_on_failure);
	CHECK_STR(t.cases[0].in, "1\n");
	CHECK(t.cases[1].in_len == 0 && t.cases[1].out_len == 1);
	lr_iotests_free(&t);
	CHECK(parse(&t, "[{\"stdin\": \"a\", \"stdout\": \"\"}]", &err) == 0);
	CHECK(t.n == 1 && t.cases[0].in_len == 1 && t.cases[0].out_len == 0);
	lr_iotests_free(&t);
	CHECK(parse(&t, "[{\"stdin\": \"a\\u0000b\", \"stdout\": \"\"}]", &err) < 0);
	CHECK(parse(&t,
	            "{\"io\": [{\"stdout\": \"1\"}], \"checker\": {\"kind\": \"float\", \"abs\": "
	            "0.5}, \"stop_on_failure\": true}",
	            &err) == 0);
	CHECK(t.checker == LR_CHECK_FLOAT && t.abs_tol == 0.5 && t.rel_tol == 1e-6);
	CHECK(t.stop_on_failure);
	lr_iotests_free(&t);
	CHECK(parse(&t,
	            "{\"io\": [{\"stdout\": \"1\"}], \"checker\": {\"kind\": \"python\", "
	            "\"code\": \"def check(i, e, a):\\n    return True\\n\"}}",
	            &err) == 0);
	CHECK(t.checker == LR_CHECK_PYTHON);
	CHECK_CONTAINS(t.checker_code, "def check");
	lr_iotests_free(&t);
}

TEST(test_parse_errors)
{
	lr_iotests t;
	lr_err err;

	CHECK(parse(&t, "{\"io\": []}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "at least one case");
	CHECK(parse(&t, "{\"io\": [{\"stdin\": \"1\"}]}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "tests.io[0].stdout");
	CHECK(parse(&t, "{\"io\": [{\"stdout\": 3}]}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "tests.io[0].stdout");
	CHECK(parse(&t, "{\"io\": [{\"stdout\": \"\", \"input\": \"\"}]}", &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "input");
	CHECK(parse(&t, "{\"io\": [{\"stdout\": \"\"}], \"checker\": \"fuzzy\"}", &err) ==
	      LR_EINVAL);
	CHECK_CONTAINS(err.msg, "tests.checker");
	CHECK(parse(&t, "{\"io\": [{\"stdout\": \"\"}], \"checker\": {\"kind\": \"python\"}}",
	            &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "tests.checker.code");
	CHECK(parse(&t,
	            "{\"io\": [{\"stdout\": \"\"}], \"checker\": {\"kind\": \"float\", "
	            "\"abs\": -1}}",
	            &err) == LR_EINVAL);
	CHECK(parse(&t, "{\"io\": [{\"stdout\": \"\"}], \"chekcer\": \"exact\"}", &err) ==
	      LR_EINVAL);
	CHECK_CONTAINS(err.msg, "chekcer");
	CHECK(parse(&t, "\"x\"", &err) == LR_EINVAL);
}

TEST(test_too_many_and_too_big)
{
	lr_iotests t;
	lr_err err;
	char *buf = malloc(16 * (LR_IO_CASES_MAX + 2) + 32), *big = buf;
	size_t n = 0;

	n += (size_t)sprintf(big, "[");
	for (int i = 0; i <= LR_IO_CASES_MAX; i++)
		n += (size_t)sprintf(big + n, "%s{\"stdout\":\"\"}", i ? "," : "");
	sprintf(big + n, "]");
	CHECK(parse(&t, big, &err) == LR_ETOOBIG);
	CHECK_CONTAINS(err.msg, "at most 1000");
	free(buf);
	lr_err_clear(&err);
	big = "[{\"stdin\": \"12345\", \"stdout\": \"12345\"}]";
	CHECK(lr_iotests_parse(&t, big, strlen(big), 8, &err) == LR_ETOOBIG);
}

TEST(test_job_spec_round_trip)
{
	lr_job_policy pol;
	lr_job_spec s, s2;
	lr_err err;
	const char *spec = "{\"kind\": \"evaluate\", \"code\": \"print(input())\", \"tests\": "
	                   "{\"io\": [{\"stdin\": \"a\\n\", \"stdout\": \"a\\n\"}], \"checker\": "
	                   "{\"kind\": \"float\", \"abs\": 0.1, \"rel\": 0}}}";
	char *json;

	lr_job_policy_default(&pol);
	CHECK(lr_job_spec_parse(&s, spec, strlen(spec), &pol, &err) == 0);
	CHECK(s.io != NULL && s.tests == NULL && s.io->n == 1);
	json = lr_job_spec_to_json(&s);
	CHECK_CONTAINS(json, "\"tests\":{\"io\":[{\"stdin\":\"a\\n\",\"stdout\":\"a\\n\"}]");
	CHECK_CONTAINS(json, "\"kind\":\"float\",\"abs\":0.1");
	CHECK(lr_job_spec_parse(&s2, json, strlen(json), NULL, &err) == 0);
	CHECK(s2.io && s2.io->checker == LR_CHECK_FLOAT && s2.io->abs_tol == 0.1);
	CHECK(s2.io && s2.io->rel_tol == 0);
	free(json);
	lr_job_spec_free(&s);
	lr_job_spec_free(&s2);
	spec = "{\"kind\": \"loop\", \"prompt\": \"p\", \"tests\": {\"io\": 3}}";
	CHECK(lr_job_spec_parse(&s, spec, strlen(spec), &pol, &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "tests.io");
	spec = "{\"kind\": \"generate\", \"prompt\": \"p\", \"tests\": 3}";
	CHECK(lr_job_spec_parse(&s, spec, strlen(spec), &pol, &err) == LR_EINVAL);
	CHECK_CONTAINS(err.msg, "{\"io\": [...]}");
}

TEST(test_copy)
{
	lr_iotests t, c;
	lr_err err;

	CHECK(parse(&t,
	            "{\"io\": [{\"stdin\": \"1\", \"stdout\": \"2\"}], \"checker\": "
	            "{\"kind\": \"python\", \"code\": \"def check(a, b, c): return 1\"}}",
	            &err) == 0);
	CHECK(lr_iotests_copy(&c, &t) == 0);
	lr_iotests_free(&t);
	CHECK(c.n == 1 && strcmp(c.cases[0].out, "2") == 0 && c.checker == LR_CHECK_PYTHON);
	CHECK_CONTAINS(c.checker_code, "def check");
	lr_iotests_free(&c);
}

TEST(test_tokens)
{
	lr_iotests t = {.checker = LR_CHECK_TOKENS};
	char d[LR_IO_DIFF_MAX + 1];

	CHECK(cmp(&t, "1 2\n3\n", "1\n2 3", d) == 1);
	CHECK(cmp(&t, "", "\n \n", d) == 1);
	CHECK(cmp(&t, "1 2", "1 3", d) == 0);
	CHECK_STR(d, "token 2 (line 1): expected \"2\", got \"3\"");
	CHECK(cmp(&t, "1 2\n3", "1 2", d) == 0);
	CHECK_STR(d, "the output ends after 2 tokens; expected more, next \"3\" (line 2 of the "
	             "expected output)");
	CHECK(cmp(&t, "1", "1\n\n9", d) == 0);
	CHECK_STR(d, "the output has more than the 1 expected token: extra \"9\" at line 3");
	CHECK(cmp(&t, "1.0", "1", d) == 0);
}

TEST(test_float)
{
	lr_iotests t = {.checker = LR_CHECK_FLOAT, .abs_tol = 1e-6, .rel_tol = 1e-6};
	char d[LR_IO_DIFF_MAX + 1];

	CHECK(cmp(&t, "0.3333333 x", "0.33333333333 x", d) == 1);
	CHECK(cmp(&t, "1", "1.0000000", d) == 1);
	CHECK(cmp(&t, "1e6", "1000000.5", d) == 1); /* rel 1e-6 of 1e6 is 1 */
	CHECK(cmp(&t, "1e6", "1000002", d) == 0);
	CHECK(cmp(&t, "0.5", "0.51", d) == 0);
	CHECK_CONTAINS(d, "token 1 (line 1): expected \"0.5\", got \"0.51\" (off by 0.01");
	CHECK(cmp(&t, "yes", "YES", d) == 0);
	CHECK(cmp(&t, "nan", "nan", d) == 1);
	CHECK(cmp(&t, "1", "0x1", d) == 0); /* hex is not a decimal number */
	CHECK(cmp(&t, "1", "1e", d) == 0);
	CHECK(cmp(&t, "-.5", "-0.5", d) == 1);
}

TEST(test_lines)
{
	lr_iotests t = {.checker = LR_CHECK_LINES};
	char d[LR_IO_DIFF_MAX + 1];

	CHECK(cmp(&t, "a b\nc\n", "a b  \r\nc", d) == 1);
	CHECK(cmp(&t, "a b\nc\n", "a b\nc\n\n\n", d) == 1);
	CHECK(cmp(&t, "a b\nc\n", "a  b\nc\n", d) == 0);
	CHECK_STR(d, "line 1: expected \"a b\", got \"a  b\"");
	CHECK(cmp(&t, "a\n\nb\n", "a\nb\n", d) == 0);
	CHECK(cmp(&t, "a\nb\n", "a\n", d) == 0);
	CHECK_STR(d, "the output ends after 1 line; line 2 expected \"b\"");
	CHECK(cmp(&t, "a\n", "a\nb", d) == 0);
	CHECK_STR(d, "the output has more than the 1 expected line: line 2 is \"b\"");
}

TEST(test_exact)
{
	lr_iotests t = {.checker = LR_CHECK_EXACT};
	char d[LR_IO_DIFF_MAX + 1];

	CHECK(cmp(&t, "a\n", "a\n", d) == 1);
	CHECK(cmp(&t, "a\n", "a", d) == 0);
	CHECK_STR(d, "the output ends at byte 1 (line 1); expected more: \"\\n\"");
	CHECK(cmp(&t, "a", "a\n", d) == 0);
	CHECK_STR(d, "the output goes on after the expected 1 byte (line 1): extra \"\\n\"");
	CHECK(cmp(&t, "x\nab\tc\n", "x\nab c\n", d) == 0);
	CHECK_STR(d, "line 2, column 3: expected \"ab\\tc\\n\", got \"ab c\\n\"");
	CHECK(lr_io_compare(&t, "a\0b", 3, "a\0c", 3, d, sizeof(d)) == 0);
	CHECK_CONTAINS(d, "\\x00");
}

TEST(test_diff_bounded_and_utf8)
{
	lr_iotests t = {.checker = LR_CHECK_TOKENS};
	char d[LR_IO_DIFF_MAX + 1], small[20];
	char big[4000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(cmp(&t, "a", big, d) == 0);
	CHECK(strlen(d) < 200);
	CHECK_CONTAINS(d, "...\"");
	CHECK(cmp(&t, "\xc3\xa9t\xc3\xa9", "\xff\xfe", d) == 0);
	CHECK_CONTAINS(d, "\"\xc3\xa9t\xc3\xa9\"");
	CHECK_CONTAINS(d, "\\xff\\xfe");
	/* cut at a character boundary */
	CHECK(lr_io_compare(&t, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 12, "b", 1,
	                    small, sizeof(small)) == 0);
	CHECK(strlen(small) < sizeof(small));
	for (size_t i = 0; small[i]; i++)
		CHECK((unsigned char)small[i] != 0xc3 || small[i + 1] != '\0');
}

TEST(test_utf8_clean)
{
	size_t n = 0;
	char *s = lr_utf8_clean("a\xff"
	                        "b\0c",
	                        5, 0, &n);

	CHECK(s && n == 9 &&
	      memcmp(s,
	             "a\xef\xbf\xbd"
	             "b\xef\xbf\xbd"
	             "c",
	             9) == 0);
	free(s);
	s = lr_utf8_clean("\xed\xa0\x80", 3, 0, &n); /* a surrogate is not UTF-8 */
	CHECK(s && n == 9);
	free(s);
	s = lr_utf8_clean("h\xc3\xa9h\xc3\xa9h\xc3\xa9", 9, 6, &n);
	CHECK_STR(s, "h\xc3\xa9...");
	free(s);
	s = lr_utf8_clean("abcdef", 6, 6, &n);
	CHECK_STR(s, "abcdef");
	free(s);
}

TEST(test_examples)
{
	lr_iotests t;
	lr_err err;
	char *s;

	CHECK(parse(&t,
	            "{\"io\": [{\"stdin\": \"1 2\\n\", \"stdout\": \"3\\n\"}, {\"stdin\": "
	            "\"5 5\", \"stdout\": \"10\"}, {\"stdout\": \"x\"}]}",
	            &err) == 0);
	s = lr_iotests_examples(&t, 2, 1000);
	CHECK_STR(s, "Input:\n1 2\nOutput:\n3\n\nInput:\n5 5\nOutput:\n10\n");
	free(s);
	s = lr_iotests_examples(&t, 5, 30); /* the second does not fit */
	CHECK_STR(s, "Input:\n1 2\nOutput:\n3\n");
	free(s);
	s = lr_iotests_examples(&t, 5, 5);
	CHECK_STR(s, "");
	free(s);
	lr_iotests_free(&t);
}

int main(void)
{
	RUN(test_parse_forms);
	RUN(test_parse_errors);
	RUN(test_too_many_and_too_big);
	RUN(test_job_spec_round_trip);
	RUN(test_copy);
	RUN(test_tokens);
	RUN(test_float);
	RUN(test_lines);
	RUN(test_exact);
	RUN(test_diff_bounded_and_utf8);
	RUN(test_utf8_clean);
	RUN(test_examples);
	return check_summary();
}
