/* result_trim.c - the report a finished job keeps in Redis, bounded (see
 * result_trim.h for the steps). */
#include "result_trim.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct trim_step {
	size_t arr; /* elements an array keeps */
	size_t str; /* bytes a string keeps */
} trim_step;

static const trim_step steps[] = {{200, 8192}, {50, 2048}, {10, 512}, {3, 160}};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

/* Top-level strings users read first: left whole by the steps. */
static const char *const kept_whole[] = {"code",    "summary",     "error",
                                         "verdict", "stop_reason", NULL};

static int is_kept_whole(const char *key)
{
	for (size_t i = 0; kept_whole[i]; i++)
		if (strcmp(kept_whole[i], key) == 0)
			return 1;
	return 0;
}

/* An element of a list that reports a failure: "passed": false, or a
 * "status" other than "passed". */
static int is_failure(json_object *e)
{
	json_object *v;

	if (!json_object_is_type(e, json_type_object))
		return 0;
	if (json_object_object_get_ex(e, "passed", &v) && json_object_is_type(v, json_type_boolean))
		return !json_object_get_boolean(v);
	if (json_object_object_get_ex(e, "status", &v) && json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), "passed") != 0;
	return 0;
}

/* A new array of at most n of a's elements, failures first, in their order. */
static json_object *pick(json_object *a, size_t n)
{
	size_t len = json_object_array_length(a), kept = 0;
	char *keep = calloc(len ? len : 1, 1);
	json_object *out = json_object_new_array();

	if (keep == NULL || out == NULL) {
		free(keep);
		json_object_put(out);
		return NULL;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < len && kept < n; i++)
			if (!keep[i] &&
			    (pass == 1 || is_failure(json_object_array_get_idx(a, i)))) {
				keep[i] = 1;
				kept++;
			}
	for (size_t i = 0; i < len; i++)
		if (keep[i] && json_object_array_add(
		                   out, json_object_get(json_object_array_get_idx(a, i))) < 0) {
			json_object_put(out);
			out = NULL;
			break;
		}
	free(keep);
	return out;
}

/* The first cap bytes of s (not splitting a UTF-8 sequence), marked. */
static json_object *cut_str(const char *s, size_t len, size_t cap)
{
	char tail[48];
	size_t n = cap, tl;
	char *buf;
	json_object *o;

	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	tl = (size_t)snprintf(tail, sizeof(tail), "... [%zu bytes cut]", len - n);
	buf = malloc(n + tl + 1);
	if (buf == NULL)
		return NULL;
	memcpy(buf, s, n);
	memcpy(buf + n, tail, tl + 1);
	o = json_object_new_string_len(buf, (int)(n + tl));
	free(buf);
	return o;
}

/* v trimmed as step st says: a replacement (new reference), or v itself
 * (a new reference too); NULL when out of memory. *omitted: elements an
 * array lost. */
static json_object *trim_value(json_object *v, const trim_step *st, int whole, size_t *omitted)
{
	*omitted = 0;
	if (json_object_is_type(v, json_type_string) && !whole &&
	    (size_t)json_object_get_string_len(v) > st->str)
		return cut_str(json_object_get_string(v), (size_t)json_object_get_string_len(v),
		               st->str);
	if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > st->arr) {
		*omitted = json_object_array_length(v) - st->arr;
		return pick(v, st->arr);
	}
	return json_object_get(v);
}

static int trim(json_object *o, const trim_step *st, int top);

typedef struct trim_pending {
	const char *key;
	size_t omitted;
} trim_pending;

/* An object's members in place; for cut arrays `<name>_omitted` (the count
 * of elements not listed, as the harness's `tests_omitted`) grows, after the
 * walk. */
static int trim_object(json_object *o, const trim_step *st, int top)
{
	size_t n = (size_t)json_object_object_length(o), np = 0;
	trim_pending *pend = calloc(n ? n : 1, sizeof(*pend));
	int rc = pend ? 0 : LR_ENOMEM;

	json_object_object_foreach(o, key, val)
	{
		size_t omitted;
		json_object *nv;

		if (rc < 0)
			break;
		if (val == NULL) /* JSON null */
			continue;
		nv = trim_value(val, st, top && is_kept_whole(key), &omitted);
		if (nv == NULL || (nv != val && json_object_object_add(o, key, nv) < 0)) {
			rc = LR_ENOMEM;
			break;
		}
		if (nv == val)
			json_object_put(nv);
		if (omitted)
			pend[np++] = (trim_pending){key, omitted};
		rc = trim(nv, st, 0);
	}
	for (size_t i = 0; rc == 0 && i < np; i++) {
		char name[300];
		long before;

		snprintf(name, sizeof(name), "%.280s_omitted", pend[i].key);
		before = lr_json_int(o, name, 0); /* the harness's own count, if any */
		if (lr_json_set_int(o, name, (before > 0 ? before : 0) + (long)pend[i].omitted) < 0)
			rc = LR_ENOMEM;
	}
	free(pend);
	return rc;
}

static int trim(json_object *o, const trim_step *st, int top)
{
	if (json_object_is_type(o, json_type_object))
		return trim_object(o, st, top);
	if (!json_object_is_type(o, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		json_object *v = json_object_array_get_idx(o, i);
		size_t omitted;
		json_object *nv;

		if (v == NULL) /* JSON null */
			continue;
		nv = trim_value(v, st, 0, &omitted);
		if (nv == NULL)
			return LR_ENOMEM;
		if (nv == v)
			json_object_put(nv);
		else if (json_object_array_put_idx(o, i, nv) < 0)
			return LR_ENOMEM;
		if (trim(nv, st, 0) < 0)
			return LR_ENOMEM;
	}
	return 0;
}

/* Step 5: the top level's numbers, booleans, nulls and kept-whole strings
 * (code cut to code_cap, the others to 2 KiB); step 6: nothing but
 * verdict, passed and score. */
static json_object *minimal(json_object *src, size_t code_cap, int bare)
{
	json_object *out = json_object_new_object();

	if (out == NULL || !json_object_is_type(src, json_type_object))
		return out;
	json_object_object_foreach(src, key, val)
	{
		json_type t = json_object_get_type(val);
		json_object *nv = NULL;
		size_t len;

		if (bare && strcmp(key, "verdict") && strcmp(key, "passed") && strcmp(key, "score"))
			continue;
		if (t == json_type_string && is_kept_whole(key)) {
			len = (size_t)json_object_get_string_len(val);
			size_t cap = strcmp(key, "code") == 0 ? code_cap : 2048;
			nv = len > cap ? cut_str(json_object_get_string(val), len, cap)
			               : json_object_get(val);
		} else if (t == json_type_null || t == json_type_boolean || t == json_type_int ||
		           t == json_type_double)
			nv = json_object_get(val);
		else
			continue;
		if (lr_json_set_obj(out, key, nv) < 0) {
			json_object_put(out);
			return NULL;
		}
	}
	return out;
}

/* *text = the dump of o with "compacted" added, if it fits in max: 1; 0 when
 * it does not; LR_ENOMEM. */
static int try_fit(json_object *o, size_t from, int step, size_t max, char **text)
{
	json_object *mark = json_object_new_object();

	if (mark == NULL || lr_json_set_int(mark, "from_bytes", (long)from) < 0 ||
	    lr_json_set_int(mark, "step", step) < 0 || lr_json_set_obj(o, "compacted", mark) < 0)
		return LR_ENOMEM;
	*text = lr_json_dump(o);
	if (*text == NULL)
		return LR_ENOMEM;
	if (strlen(*text) <= max)
		return 1;
	free(*text);
	*text = NULL;
	return 0;
}

/* The steps in turn on copies of root; *out the first that fits. */
static int compact(json_object *root, size_t from, size_t max, char **out)
{
	int rc = 0;

	for (size_t s = 0; rc == 0 && s < NSTEPS + 2; s++) {
		json_object *c = NULL;

		if (s < NSTEPS) {
			if (json_object_deep_copy(root, &c, NULL) < 0)
				return LR_ENOMEM;
			rc = trim(c, &steps[s], 1);
		} else {
			c = minimal(root, max / 2, s == NSTEPS + 1);
			rc = c ? 0 : LR_ENOMEM;
		}
		if (rc == 0)
			rc = try_fit(c, from, (int)s + 1, max, out);
		json_object_put(c);
	}
	return rc < 0 ? rc : 0;
}

int wk_result_trim(char **json, size_t max, lr_err *err)
{
	size_t len = *json ? strlen(*json) : 0;
	json_object *root = NULL;
	char *out = NULL;
	int rc;

	if (len <= max)
		return 0;
	if (max < WK_RESULT_MAX_MIN)
		max = WK_RESULT_MAX_MIN;
	if (lr_json_parse(&root, *json, len, 0, 64, NULL) < 0 ||
	    !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		root = json_object_new_object();
		if (root == NULL)
			return lr_err_set(err, LR_ENOMEM, "out of memory compacting a result");
	}
	rc = compact(root, len, max, &out);
	json_object_put(root);
	if (rc < 0 || out == NULL) {
		free(out);
		return lr_err_set(err, LR_ENOMEM, "out of memory compacting a result");
	}
	free(*json);
	*json = out;
	return 1;
}
