/* criteria.c - read, check and write the acceptance thresholds of a job. */
#include "criteria.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef enum { CK_DOUBLE, CK_LONG, CK_SEVERITY, CK_INTEGRITY } crit_kind;

/* One row per key: name, type, where it lives, bounds. A long field accepts
 * -1 ("any") besides [min, max] when any_ok is set. */
static const struct crit_key {
	const char *name;
	crit_kind kind;
	size_t off;
	double min, max;
	int any_ok;
} crit_keys[] = {
    {"min_pass_rate", CK_DOUBLE, offsetof(lr_criteria, min_pass_rate), 0, 1, 0},
    {"max_errors", CK_LONG, offsetof(lr_criteria, max_errors), 0, 1e9, 1},
    {"max_static_errors", CK_LONG, offsetof(lr_criteria, max_static_errors), 0, 1e9, 1},
    {"max_security", CK_SEVERITY, offsetof(lr_criteria, max_security), 0, 0, 0},
    {"max_lint", CK_LONG, offsetof(lr_criteria, max_lint), 0, 1e9, 1},
    {"max_complexity", CK_LONG, offsetof(lr_criteria, max_complexity), 1, 1e6, 1},
    {"min_maintainability", CK_DOUBLE, offsetof(lr_criteria, min_maintainability), 0, 100, 0},
    {"max_time_s", CK_DOUBLE, offsetof(lr_criteria, max_time_s), 0, 86400, 0},
    {"max_memory_mb", CK_DOUBLE, offsetof(lr_criteria, max_memory_mb), 0, 1e7, 0},
    {"integrity", CK_INTEGRITY, offsetof(lr_criteria, require_split), 0, 0, 0},
};

#define NKEYS (sizeof(crit_keys) / sizeof(crit_keys[0]))

static const char *const sev_names[] = {"none", "low", "medium", "high"};

void lr_criteria_default(lr_criteria *c)
{
	memset(c, 0, sizeof(*c));
	c->min_pass_rate = 1.0;
	c->max_errors = 0;
	c->max_static_errors = -1;
	c->max_security = LR_SEV_HIGH;
	c->max_lint = -1;
	c->max_complexity = -1;
	c->min_maintainability = 0;
	c->max_time_s = 0;
	c->max_memory_mb = 0;
}

const char *lr_severity_name(lr_severity s)
{
	if ((int)s < 0 || (size_t)s >= sizeof(sev_names) / sizeof(sev_names[0]))
		return "unknown";
	return sev_names[s];
}

int lr_severity_parse(const char *s, lr_severity *out)
{
	if (s == NULL)
		return LR_EINVAL;
	for (size_t i = 0; i < sizeof(sev_names) / sizeof(sev_names[0]); i++) {
		if (strcasecmp(s, sev_names[i]) == 0) {
			*out = (lr_severity)i;
			return 0;
		}
	}
	return LR_EINVAL;
}

/* Edit distance of two short names, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The value as a short JSON excerpt for messages. */
static void excerpt(char *buf, size_t len, json_object *v)
{
	const char *s = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";

	if (s == NULL)
		s = "?";
	if (strlen(s) < 40) {
		snprintf(buf, len, "%s", s);
		return;
	}
	snprintf(buf, len, "%.36s...", s);
}

static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double:
	case json_type_int: return "a number";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	default: return "an unknown type";
	}
}

static int expect_fail(lr_err *err, const struct crit_key *k, json_object *v)
{
	char got[64];
	char want[96];

	excerpt(got, sizeof(got), v);
	switch (k->kind) {
	case CK_SEVERITY:
		snprintf(want, sizeof(want), "one of \"none\", \"low\", \"medium\", \"high\"");
		break;
	case CK_INTEGRITY: snprintf(want, sizeof(want), "\"split\" or \"any\""); break;
	case CK_LONG:
		if (k->any_ok)
			snprintf(want, sizeof(want), "an integer from %.0f to %.0f, or -1 for any",
			         k->min, k->max);
		else
			snprintf(want, sizeof(want), "an integer from %.0f to %.0f", k->min,
			         k->max);
		break;
	default: snprintf(want, sizeof(want), "a number from %g to %g", k->min, k->max); break;
	}
	return lr_err_set(err, LR_EINVAL, "criteria.%s: expected %s, got %s (%s)", k->name, want,
	                  got, type_name(v));
}

static int read_key(lr_criteria *c, const struct crit_key *k, json_object *v, lr_err *err)
{
	char *field = (char *)c + k->off;
	enum json_type t = json_object_get_type(v);

	switch (k->kind) {
	case CK_SEVERITY: {
		lr_severity s;

		/* Exactly as written here: tools' "HIGH" is read elsewhere, a
		 * spec's "LOW" is a mistake worth naming. */
		if (t != json_type_string || lr_severity_parse(json_object_get_string(v), &s) < 0 ||
		    strcmp(json_object_get_string(v), lr_severity_name(s)) != 0)
			return expect_fail(err, k, v);
		memcpy(field, &s, sizeof(s));
		return 0;
	}
	case CK_INTEGRITY: {
		const char *w = t == json_type_string ? json_object_get_string(v) : "";
		int split = strcmp(w, "split") == 0;

		if (!split && strcmp(w, "any") != 0)
			return expect_fail(err, k, v);
		memcpy(field, &split, sizeof(split));
		return 0;
	}
	case CK_LONG: {
		int64_t n;
		long l;

		if (t == json_type_int) {
			n = json_object_get_int64(v);
		} else if (t == json_type_double) {
			double d = json_object_get_double(v);

			if (!isfinite(d) || d != floor(d) || fabs(d) > 1e15)
				return expect_fail(err, k, v);
			n = (int64_t)d;
		} else {
			return expect_fail(err, k, v);
		}
		if (!(k->any_ok && n == -1) && ((double)n < k->min || (double)n > k->max))
			return expect_fail(err, k, v);
		l = (long)n;
		memcpy(field, &l, sizeof(l));
		return 0;
	}
	case CK_DOUBLE:
	default: {
		double d;

		if (t != json_type_int && t != json_type_double)
			return expect_fail(err, k, v);
		d = json_object_get_double(v);
		if (!isfinite(d) || d < k->min || d > k->max)
			return expect_fail(err, k, v);
		memcpy(field, &d, sizeof(d));
		return 0;
	}
	}
}

static int unknown_key(lr_err *err, const char *key)
{
	const char *best = NULL;
	size_t best_d = 4;
	char known[512];
	size_t used = 0;

	known[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		size_t d = distance(key, crit_keys[i].name);
		int n;

		if (d < best_d) {
			best_d = d;
			best = crit_keys[i].name;
		}
		n = snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "",
		             crit_keys[i].name);
		if (n > 0 && (size_t)n < sizeof(known) - used)
			used += (size_t)n;
	}
	if (best != NULL)
		return lr_err_set(err, LR_EINVAL,
		                  "criteria: unknown key \"%.64s\" (did you mean \"%s\"?)", key,
		                  best);
	return lr_err_set(err, LR_EINVAL, "criteria: unknown key \"%.64s\" (known: %s)", key,
	                  known);
}

int lr_criteria_from_json(lr_criteria *c, json_object *obj, lr_err *err)
{
	lr_criteria tmp;

	if (obj == NULL)
		return 0;
	if (!json_object_is_type(obj, json_type_object))
		return lr_err_set(err, LR_EINVAL, "criteria: expected an object, got %s",
		                  type_name(obj));
	tmp = *c;
	json_object_object_foreach(obj, key, val)
	{
		const struct crit_key *k = NULL;
		int rc;

		for (size_t i = 0; i < NKEYS; i++) {
			if (strcmp(key, crit_keys[i].name) == 0) {
				k = &crit_keys[i];
				break;
			}
		}
		if (k == NULL)
			return unknown_key(err, key);
		if (val == NULL)
			continue; /* null means absent, as everywhere in a spec */
		rc = read_key(&tmp, k, val, err);
		if (rc < 0)
			return rc;
	}
	*c = tmp;
	return 0;
}

json_object *lr_criteria_to_json(const lr_criteria *c)
{
	json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct crit_key *k = &crit_keys[i];
		const char *field = (const char *)c + k->off;
		json_object *v;

		switch (k->kind) {
		case CK_INTEGRITY: {
			int split;

			memcpy(&split, field, sizeof(split));
			v = json_object_new_string(split ? "split" : "any");
			break;
		}
		case CK_SEVERITY: {
			lr_severity s;

			memcpy(&s, field, sizeof(s));
			v = json_object_new_string(lr_severity_name(s));
			break;
		}
		case CK_LONG: {
			long l;

			memcpy(&l, field, sizeof(l));
			v = json_object_new_int64(l);
			break;
		}
		case CK_DOUBLE:
		default: {
			double d;

			memcpy(&d, field, sizeof(d));
			v = json_object_new_double(d);
			break;
		}
		}
		if (v == NULL || json_object_object_add(o, k->name, v) < 0) {
			json_object_put(v);
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}
