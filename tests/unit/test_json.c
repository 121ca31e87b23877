/* Unit tests for common/json: limits, strictness, typed getters' messages. */
#include "check.h"
#include "json.h"

#include <stdlib.h>

static json_object *parse(const char *s, lr_err *e)
{
	json_object *o = NULL;

	lr_err_clear(e);
	if (lr_json_parse(&o, s, strlen(s), 1024, 4, e) < 0)
		return NULL;
	return o;
}

TEST(parse_accepts_plain_json)
{
	lr_err e;
	json_object *o = parse(" {\"a\": [1, 2.5, \"x\", true, null]}\n", &e);

	CHECK(o != NULL);
	CHECK(json_object_is_type(o, json_type_object));
	json_object_put(o);
}

TEST(parse_refuses_garbage_with_position)
{
	lr_err e;
	json_object *o;

	CHECK(parse("{\"a\": 1} x", &e) == NULL);
	CHECK_CONTAINS(e.msg, "at byte 9");
	o = parse("{\"a\": 1}  ", &e);
	CHECK(o != NULL);
	json_object_put(o);
	CHECK(parse("{\"a\": }", &e) == NULL);
	CHECK_CONTAINS(e.msg, "not valid JSON at byte");
	CHECK(parse("{\"a\": 1", &e) == NULL);
	CHECK_CONTAINS(e.msg, "unexpected end of input");
	CHECK(parse("", &e) == NULL);
	CHECK(parse("{'a': 1}", &e) == NULL); /* strict: no single quotes */
	CHECK_CONTAINS(e.msg, "double quotes");
	o = parse("[\"it's\"]", &e);
	CHECK(o != NULL);
	json_object_put(o);
	CHECK(parse("[1,]", &e) == NULL); /* strict: no trailing comma */
	CHECK(e.code == LR_EINVAL);
}

TEST(parse_limits_size_depth_nul_utf8)
{
	lr_err e;
	json_object *o = NULL;
	char big[2048];

	memset(big, ' ', sizeof(big));
	big[0] = '1';
	CHECK(lr_json_parse(&o, big, sizeof(big), 1024, 4, &e) == LR_ETOOBIG);
	CHECK_CONTAINS(e.msg, "over the limit of 1024");
	CHECK(parse("[[[[[1]]]]]", &e) == NULL);
	CHECK_CONTAINS(e.msg, "nested deeper than 4");
	CHECK(lr_json_parse(&o, "{\"a\":\"x\"}\0", 10, 0, 4, &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "NUL byte at offset 9");
	CHECK(parse("\"\xff\xfe\"", &e) == NULL);
	CHECK(o == NULL);
}

TEST(getters_explain_type_errors_with_paths)
{
	lr_err e;
	json_object *o =
	    parse("{\"s\": 5, \"n\": \"x\", \"i\": 1.5, \"b\": 1, \"o\": {\"t\": []}}", &e);
	json_object *inner = NULL;
	const char *s = NULL;
	double d = 0;
	long l = 0;
	int b = 0;

	CHECK(o != NULL);
	CHECK(lr_json_get_str(&s, NULL, o, "", "s", 1, 0, NULL, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "field 's' must be a string, got number");
	CHECK(lr_json_get_num(&d, o, "", "n", 1, 0, 10, NULL, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "field 'n' must be a number, got string");
	CHECK(lr_json_get_int(&l, o, "", "i", 1, 0, 10, NULL, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "field 'i' must be an integer, got 1.5");
	CHECK(lr_json_get_bool(&b, o, "", "b", 1, NULL, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "field 'b' must be true or false, got number");
	CHECK(lr_json_get_typed(&inner, o, "", "o", json_type_object, 1, NULL, &e) == 0);
	CHECK(lr_json_get_str(&s, NULL, inner, "o", "t", 1, 0, NULL, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "field 'o.t' must be a string, got array");
	CHECK(lr_json_get_str(&s, NULL, inner, "o", "missing", 1, 0, NULL, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "missing required field 'o.missing'");
	json_object_put(o);
}

TEST(getters_ranges_optional_and_null)
{
	lr_err e;
	json_object *o =
	    parse("{\"a\": 7, \"b\": 2.0, \"c\": null, \"d\": 1e300, \"e\": \"\"}", &e);
	long l = -1;
	double d = -1;
	int present = 1;
	const char *s = NULL;
	size_t len = 99;

	CHECK(lr_json_get_int(&l, o, "", "a", 1, 0, 5, NULL, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "field 'a' must be between 0 and 5, got 7");
	CHECK(lr_json_get_int(&l, o, "", "b", 1, 0, 5, NULL, &e) == 0 && l == 2);
	CHECK(lr_json_get_int(&l, o, "", "c", 0, 0, 5, &present, &e) == 0 && !present && l == 2);
	CHECK(lr_json_get_num(&d, o, "", "zz", 0, 0, 5, &present, &e) == 0 && !present);
	CHECK(lr_json_get_num(&d, o, "", "d", 1, 0, 5, NULL, &e) == LR_EINVAL);
	CHECK(lr_json_get_int(&l, o, "", "d", 1, 0, 5, NULL, &e) == LR_EINVAL);
	CHECK(lr_json_get_str(&s, &len, o, "", "e", 1, 0, &present, &e) == 0 && present &&
	      len == 0);
	json_object_put(o);
}

TEST(string_caps_and_embedded_nul)
{
	lr_err e;
	json_object *o = parse("{\"a\": \"abcdef\", \"z\": \"a\\u0000b\"}", &e);
	const char *s = NULL;

	CHECK(lr_json_get_str(&s, NULL, o, "", "a", 1, 5, NULL, &e) == LR_ETOOBIG);
	CHECK_STR(e.msg, "field 'a' is 6 bytes, over the limit of 5");
	CHECK(lr_json_get_str(&s, NULL, o, "", "z", 1, 0, NULL, &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "NUL character");
	json_object_put(o);
}

TEST(check_keys_names_the_unknown_one)
{
	static const char *const allowed[] = {"a", "b", NULL};
	lr_err e;
	json_object *o = parse("{\"a\": 1, \"timeout\": 2}", &e);

	CHECK(lr_json_check_keys(o, "limits", allowed, &e) == LR_EINVAL);
	CHECK_STR(e.msg, "unknown field 'limits.timeout'");
	json_object_put(o);
}

TEST(dump_and_setters)
{
	json_object *o = json_object_new_object();
	char *s;

	CHECK(lr_json_set_str(o, "url", "http://x/y") == 0);
	CHECK(lr_json_set_num(o, "t", 0.1) == 0);
	CHECK(lr_json_set_num(o, "w", 10) == 0);
	CHECK(lr_json_set_int(o, "i", -3) == 0);
	CHECK(lr_json_set_bool(o, "b", 1) == 0);
	CHECK(lr_json_set_str(o, "n", NULL) == 0);
	s = lr_json_dump(o);
	CHECK_STR(s,
	          "{\"url\":\"http://x/y\",\"t\":0.1,\"w\":10.0,\"i\":-3,\"b\":true,\"n\":null}");
	free(s);
	json_object_put(o);
}

TEST(lenient_reads_default_on_anything_else)
{
	const char *text = "{\"s\": \"x\", \"i\": 7, \"d\": 2.5, \"big\": 1e300, \"b\": true, "
	                   "\"o\": {\"k\": 1}, \"a\": [1], \"n\": null}";
	json_object *o = NULL;
	lr_err e;

	CHECK(lr_json_parse(&o, text, strlen(text), 0, 8, &e) == 0);
	CHECK_STR(lr_json_str(o, "s"), "x");
	CHECK(lr_json_str(o, "i") == NULL && lr_json_str(o, "n") == NULL);
	CHECK(lr_json_int(o, "i", -1) == 7 && lr_json_int(o, "d", -1) == 2);
	CHECK(lr_json_int(o, "big", -1) == -1 && lr_json_int(o, "s", -1) == -1);
	CHECK(lr_json_num(o, "d", 0) == 2.5 && lr_json_num(o, "missing", 9) == 9);
	CHECK(lr_json_bool(o, "b", 0) == 1 && lr_json_bool(o, "i", 5) == 5);
	CHECK(lr_json_obj(o, "o") != NULL && lr_json_obj(o, "a") == NULL);
	CHECK(lr_json_arr(o, "a") != NULL && lr_json_arr(o, "o") == NULL);
	CHECK(lr_json_str(NULL, "s") == NULL && lr_json_int(lr_json_arr(o, "a"), "x", 3) == 3);
	json_object_put(o);
}

int main(void)
{
	RUN(parse_accepts_plain_json);
	RUN(parse_refuses_garbage_with_position);
	RUN(parse_limits_size_depth_nul_utf8);
	RUN(getters_explain_type_errors_with_paths);
	RUN(getters_ranges_optional_and_null);
	RUN(string_caps_and_embedded_nul);
	RUN(check_keys_names_the_unknown_one);
	RUN(dump_and_setters);
	RUN(lenient_reads_default_on_anything_else);
	return check_summary();
}
