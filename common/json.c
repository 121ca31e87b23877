/* json.c - bounded, strict JSON parsing and typed getters with precise errors. */
#include "json.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json-c accepts 'single-quoted' strings even in strict mode; JSON does not.
 * Returns the offset of the first quote outside a string, or len. */
static size_t single_quote_at(const char *text, size_t len)
{
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		if (in_str) {
			if (text[i] == '\\')
				i++;
			else if (text[i] == '"')
				in_str = 0;
		} else if (text[i] == '"') {
			in_str = 1;
		} else if (text[i] == '\'') {
			return i;
		}
	}
	return len;
}

int lr_json_parse(json_object **out, const char *text, size_t len, size_t max_len, int max_depth,
                  lr_err *err)
{
	json_tokener *tok = NULL;
	json_object *obj = NULL;
	enum json_tokener_error jerr;
	size_t end;
	int rc = LR_EINVAL;

	*out = NULL;
	if (text == NULL)
		return lr_err_set(err, LR_EINVAL, "no JSON given");
	if (max_len && len > max_len)
		return lr_err_set(err, LR_ETOOBIG, "JSON is %zu bytes, over the limit of %zu", len,
		                  max_len);
	if (len > INT_MAX) /* json_tokener_parse_ex takes an int */
		return lr_err_set(err, LR_ETOOBIG, "JSON is %zu bytes, too big to parse", len);
	if (memchr(text, '\0', len) != NULL)
		return lr_err_set(err, LR_EINVAL,
		                  "not valid JSON: contains a NUL byte at offset %zu",
		                  (size_t)((const char *)memchr(text, '\0', len) - text));
	if (single_quote_at(text, len) < len)
		return lr_err_set(err, LR_EINVAL,
		                  "not valid JSON at byte %zu: strings take double quotes",
		                  single_quote_at(text, len));
	tok = json_tokener_new_ex(max_depth > 0 ? max_depth : LR_JSON_DEPTH_DEFAULT);
	if (tok == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (obj == NULL) {
		if (jerr == json_tokener_continue || jerr == json_tokener_success)
			rc = lr_err_set(err, LR_EINVAL, "not valid JSON: unexpected end of input");
		else if (jerr == json_tokener_error_depth)
			rc = lr_err_set(err, LR_EINVAL,
			                "not valid JSON: nested deeper than %d levels",
			                max_depth > 0 ? max_depth : LR_JSON_DEPTH_DEFAULT);
		else
			rc = lr_err_set(err, LR_EINVAL, "not valid JSON at byte %zu: %s",
			                json_tokener_get_parse_end(tok),
			                json_tokener_error_desc(jerr));
		goto cleanup;
	}
	end = json_tokener_get_parse_end(tok);
	while (end < len &&
	       (text[end] == ' ' || text[end] == '\t' || text[end] == '\n' || text[end] == '\r'))
		end++;
	if (end < len) {
		rc = lr_err_set(err, LR_EINVAL,
		                "not valid JSON: unexpected data after the value at byte %zu", end);
		goto cleanup;
	}
	*out = obj;
	obj = NULL;
	rc = 0;
cleanup:
	json_object_put(obj);
	json_tokener_free(tok);
	return rc;
}

const char *lr_json_type_name(const json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_double:
	case json_type_int: return "number";
	case json_type_object: return "object";
	case json_type_array: return "array";
	case json_type_string: return "string";
	}
	return "unknown";
}

/* Look `key` up. Returns 1 when present and not null, 0 when absent (or an
 * error when it was required). */
static int member(json_object **out, json_object *obj, const char *path, const char *key,
                  int required, int *present, lr_err *err)
{
	json_object *v = NULL;
	const char *dot = path && *path ? "." : "";

	if (present)
		*present = 0;
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return lr_err_set(err, LR_EINVAL, "%s must be an object",
		                  path && *path ? path : "the document");
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (required)
			return lr_err_set(err, LR_EINVAL, "missing required field '%s%s%s'",
			                  path ? path : "", dot, key);
		return 0;
	}
	if (present)
		*present = 1;
	*out = v;
	return 1;
}

#define WRONG_TYPE(what)                                                                           \
	lr_err_set(err, LR_EINVAL, "field '%s%s%s' must be %s, got %s", path ? path : "",          \
	           path &&*path ? "." : "", key, (what), lr_json_type_name(v))

int lr_json_get_str(const char **out, size_t *len, json_object *obj, const char *path,
                    const char *key, int required, size_t max_len, int *present, lr_err *err)
{
	json_object *v = NULL;
	size_t n;
	int rc = member(&v, obj, path, key, required, present, err);

	if (rc <= 0)
		return rc;
	if (!json_object_is_type(v, json_type_string))
		return WRONG_TYPE("a string");
	n = (size_t)json_object_get_string_len(v);
	if (max_len && n > max_len)
		return lr_err_set(err, LR_ETOOBIG,
		                  "field '%s%s%s' is %zu bytes, over the limit of %zu",
		                  path ? path : "", path && *path ? "." : "", key, n, max_len);
	if (memchr(json_object_get_string(v), '\0', n) != NULL)
		return lr_err_set(err, LR_EINVAL, "field '%s%s%s' contains a NUL character",
		                  path ? path : "", path && *path ? "." : "", key);
	*out = json_object_get_string(v);
	if (len)
		*len = n;
	return 0;
}

int lr_json_get_int(long *out, json_object *obj, const char *path, const char *key, int required,
                    long min, long max, int *present, lr_err *err)
{
	json_object *v = NULL;
	int rc = member(&v, obj, path, key, required, present, err);
	double d;

	if (rc <= 0)
		return rc;
	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);

		if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
			goto range;
		if (i < (int64_t)min || i > (int64_t)max)
			goto range;
		*out = (long)i;
		return 0;
	}
	if (!json_object_is_type(v, json_type_double))
		return WRONG_TYPE("an integer");
	d = json_object_get_double(v);
	if (!isfinite(d) || d != floor(d))
		return lr_err_set(err, LR_EINVAL, "field '%s%s%s' must be an integer, got %s",
		                  path ? path : "", path && *path ? "." : "", key,
		                  json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	if (d < (double)min || d > (double)max)
		goto range;
	*out = (long)d;
	return 0;
range:
	return lr_err_set(err, LR_EINVAL, "field '%s%s%s' must be between %ld and %ld, got %s",
	                  path ? path : "", path && *path ? "." : "", key, min, max,
	                  json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

int lr_json_get_num(double *out, json_object *obj, const char *path, const char *key, int required,
                    double min, double max, int *present, lr_err *err)
{
	json_object *v = NULL;
	int rc = member(&v, obj, path, key, required, present, err);
	double d;

	if (rc <= 0)
		return rc;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return WRONG_TYPE("a number");
	d = json_object_get_double(v);
	if (!isfinite(d) || d < min || d > max)
		return lr_err_set(err, LR_EINVAL,
		                  "field '%s%s%s' must be between %g and %g, got %s",
		                  path ? path : "", path && *path ? "." : "", key, min, max,
		                  json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	*out = d;
	return 0;
}

int lr_json_get_bool(int *out, json_object *obj, const char *path, const char *key, int required,
                     int *present, lr_err *err)
{
	json_object *v = NULL;
	int rc = member(&v, obj, path, key, required, present, err);

	if (rc <= 0)
		return rc;
	if (!json_object_is_type(v, json_type_boolean))
		return WRONG_TYPE("true or false");
	*out = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

int lr_json_get_typed(json_object **out, json_object *obj, const char *path, const char *key,
                      json_type type, int required, int *present, lr_err *err)
{
	json_object *v = NULL;
	int rc = member(&v, obj, path, key, required, present, err);

	if (rc <= 0)
		return rc;
	if (!json_object_is_type(v, type))
		return WRONG_TYPE(type == json_type_object  ? "an object"
		                  : type == json_type_array ? "an array"
		                                            : json_type_to_name(type));
	*out = v;
	return 0;
}

int lr_json_check_keys(json_object *obj, const char *path, const char *const *allowed, lr_err *err)
{
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return lr_err_set(err, LR_EINVAL, "%s must be an object",
		                  path && *path ? path : "the document");
	json_object_object_foreach(obj, key, val)
	{
		int ok = 0;

		(void)val;
		for (size_t i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				ok = 1;
		if (!ok)
			return lr_err_set(err, LR_EINVAL, "unknown field '%s%s%.64s'",
			                  path ? path : "", path && *path ? "." : "", key);
	}
	return 0;
}

char *lr_json_dump(json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	                                                        JSON_C_TO_STRING_NOSLASHESCAPE);

	return s ? strdup(s) : NULL;
}

int lr_json_set_obj(json_object *obj, const char *key, json_object *val)
{
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return LR_ENOMEM;
	}
	return 0;
}

int lr_json_set_strn(json_object *obj, const char *key, const char *val, size_t len)
{
	json_object *v = NULL;

	if (val != NULL) {
		if (len > INT_MAX)
			return LR_ETOOBIG;
		v = json_object_new_string_len(val, (int)len);
		if (v == NULL)
			return LR_ENOMEM;
	}
	return lr_json_set_obj(obj, key, v);
}

int lr_json_set_str(json_object *obj, const char *key, const char *val)
{
	return lr_json_set_strn(obj, key, val, val ? strlen(val) : 0);
}

int lr_json_set_int(json_object *obj, const char *key, long val)
{
	json_object *v = json_object_new_int64(val);

	return v ? lr_json_set_obj(obj, key, v) : LR_ENOMEM;
}

int lr_json_set_num(json_object *obj, const char *key, double val)
{
	char text[32];
	json_object *v;

	/* 15 significant digits: 0.1 stays "0.1" instead of json-c's
	 * 0.10000000000000001, and every value a user typed survives. */
	snprintf(text, sizeof(text), "%.15g", val);
	if (strspn(text, "-0123456789") == strlen(text))
		snprintf(text, sizeof(text), "%.1f", val);
	v = json_object_new_double_s(val, text);

	return v ? lr_json_set_obj(obj, key, v) : LR_ENOMEM;
}

int lr_json_set_bool(json_object *obj, const char *key, int val)
{
	json_object *v = json_object_new_boolean(val ? 1 : 0);

	return v ? lr_json_set_obj(obj, key, v) : LR_ENOMEM;
}

/* ---- lenient reads ---- */

json_object *lr_json_member(json_object *o, const char *key, json_type type)
{
	json_object *v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

const char *lr_json_str(json_object *o, const char *key)
{
	json_object *v = lr_json_member(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

static int number(json_object *o, const char *key, double *out)
{
	json_object *v = lr_json_member(o, key, json_type_int);

	if (v == NULL)
		v = lr_json_member(o, key, json_type_double);
	if (v == NULL)
		return 0;
	*out = json_object_get_double(v);
	return isfinite(*out);
}

long lr_json_int(json_object *o, const char *key, long def)
{
	double d;

	if (!number(o, key, &d) || d < -1e15 || d > 1e15)
		return def;
	return (long)d;
}

double lr_json_num(json_object *o, const char *key, double def)
{
	double d;

	return number(o, key, &d) ? d : def;
}

int lr_json_bool(json_object *o, const char *key, int def)
{
	json_object *v = lr_json_member(o, key, json_type_boolean);

	return v ? json_object_get_boolean(v) : def;
}

json_object *lr_json_obj(json_object *o, const char *key)
{
	return lr_json_member(o, key, json_type_object);
}

json_object *lr_json_arr(json_object *o, const char *key)
{
	return lr_json_member(o, key, json_type_array);
}
