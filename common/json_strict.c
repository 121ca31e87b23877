/* json_strict.c - a recursive-descent check of RFC 8259, with duplicate keys
 * found through a small hash table per object. */
#include "json_strict.h"

#include "json.h"
#include "utf8.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jv {
	const unsigned char *s;
	size_t n, i;
	int depth, max_depth;
	lr_err *err;
	size_t key_at, key_end; /* the key of the member being read, for messages */
} jv;

static int fail(jv *v, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(jv *v, size_t at, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (v->key_end > v->key_at)
		return lr_err_set(v->err, LR_EINVAL, "not valid JSON at byte %zu (in %.*s): %s", at,
		                  (int)(v->key_end - v->key_at > 66 ? 66 : v->key_end - v->key_at),
		                  (const char *)v->s + v->key_at, msg);
	return lr_err_set(v->err, LR_EINVAL, "not valid JSON at byte %zu: %s", at, msg);
}

/* What is at offset i, for messages: 'x' or byte 0xHH, or the end. */
static const char *what_at(const jv *v, size_t i, char buf[32])
{
	if (i >= v->n)
		return "the end of the input";
	if (v->s[i] > 0x20 && v->s[i] < 0x7f)
		snprintf(buf, 32, "'%c'", v->s[i]);
	else
		snprintf(buf, 32, "byte 0x%02x", v->s[i]);
	return buf;
}

static void ws(jv *v)
{
	while (v->i < v->n && (v->s[v->i] == ' ' || v->s[v->i] == '\t' || v->s[v->i] == '\n' ||
	                       v->s[v->i] == '\r'))
		v->i++;
}

static int hex4(const unsigned char *s, unsigned *out)
{
	unsigned x = 0;

	for (int k = 0; k < 4; k++) {
		unsigned c = s[k];

		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= c - '0';
		else if (c >= 'a' && c <= 'f')
			x |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			x |= c - 'A' + 10;
		else
			return -1;
	}
	*out = x;
	return 0;
}

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME  1099511628211ull

/* A string at v->i (the opening quote): checked, its decoded bytes hashed
 * into *h and, when out is given, written there (at most the raw length). */
static int string(jv *v, uint64_t *h, char *out, size_t *outlen)
{
	size_t start = v->i;
	uint64_t hash = FNV_OFFSET;
	size_t o = 0;
	char enc[4];

	v->i++;
	for (;;) {
		size_t at = v->i;
		unsigned c;
		size_t l;

		if (v->i >= v->n)
			return fail(v, start, "string not closed");
		c = v->s[v->i];
		if (c == '"') {
			v->i++;
			break;
		}
		if (c < 0x20)
			return fail(v, at, "control character 0x%02x inside a string (escape it)",
			            c);
		if (c == '\\') {
			unsigned cp;

			if (v->i + 1 >= v->n)
				return fail(v, start, "string not closed");
			c = v->s[v->i + 1];
			v->i += 2;
			switch (c) {
			case '"':
			case '\\':
			case '/': cp = c; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u':
				if (v->i + 4 > v->n || hex4(v->s + v->i, &cp) < 0)
					return fail(v, at, "\\u needs four hex digits");
				v->i += 4;
				if (cp == 0)
					return fail(v, at,
					            "\"\\u0000\" (a NUL character) is not allowed");
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail(v, at, "lone surrogate \\u%04x", cp);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned lo;

					if (v->i + 6 > v->n || v->s[v->i] != '\\' ||
					    v->s[v->i + 1] != 'u' ||
					    hex4(v->s + v->i + 2, &lo) < 0 || lo < 0xdc00 ||
					    lo > 0xdfff)
						return fail(v, at, "lone surrogate \\u%04x", cp);
					v->i += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				break;
			default:
				if (c > 0x20 && c < 0x7f)
					return fail(v, at, "invalid escape '\\%c'", c);
				return fail(v, at, "invalid escape (backslash before byte 0x%02x)",
				            c);
			}
			l = lr_utf8_put(enc, cp);
		} else if (c < 0x80) {
			enc[0] = (char)c;
			l = 1;
			v->i++;
		} else {
			l = lr_utf8_seq(v->s + v->i, v->n - v->i, NULL);
			if (l == 0)
				return fail(v, at, "invalid UTF-8 (byte 0x%02x)", c);
			memcpy(enc, v->s + v->i, l);
			v->i += l;
		}
		for (size_t k = 0; k < l; k++) {
			hash = (hash ^ (unsigned char)enc[k]) * FNV_PRIME;
			if (out)
				out[o++] = enc[k];
		}
	}
	if (h)
		*h = hash;
	if (outlen)
		*outlen = o;
	return 0;
}

static int digits(jv *v)
{
	size_t b = v->i;

	while (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9')
		v->i++;
	return v->i > b;
}

/* The number as written, cut, for messages. */
static const char *num_text(const jv *v, size_t from, size_t to, char buf[48])
{
	size_t len = to - from;

	if (len > 40)
		snprintf(buf, 48, "%.40s...", (const char *)v->s + from);
	else
		snprintf(buf, 48, "%.*s", (int)len, (const char *)v->s + from);
	return buf;
}

static int number(jv *v)
{
	size_t start = v->i;
	int is_int = 1;
	char buf[48];
	char *tmp;
	double d;

	if (v->s[v->i] == '-')
		v->i++;
	if (v->i < v->n && v->s[v->i] == '0') {
		v->i++;
		if (v->i < v->n && v->s[v->i] >= '0' && v->s[v->i] <= '9') {
			digits(v);
			return fail(v, start, "number '%s' has a leading zero",
			            num_text(v, start, v->i, buf));
		}
	} else if (!digits(v)) {
		if (v->i + 8 <= v->n && memcmp(v->s + v->i, "Infinity", 8) == 0)
			return fail(v, start, "'%sInfinity' is not JSON (numbers are finite)",
			            v->i > start ? "-" : "");
		if (v->i < v->n && v->s[v->i] == '.')
			return fail(v, start, "number needs a digit before the point");
		return fail(v, start, "'-' must be followed by digits");
	}
	if (v->i < v->n && v->s[v->i] == '.') {
		is_int = 0;
		v->i++;
		if (!digits(v))
			return fail(v, start, "number '%s' needs a digit after the point",
			            num_text(v, start, v->i, buf));
	}
	if (v->i < v->n && (v->s[v->i] == 'e' || v->s[v->i] == 'E')) {
		is_int = 0;
		v->i++;
		if (v->i < v->n && (v->s[v->i] == '+' || v->s[v->i] == '-'))
			v->i++;
		if (!digits(v))
			return fail(v, start, "number '%s' needs digits in its exponent",
			            num_text(v, start, v->i, buf));
	}
	/* Numbers json-c would saturate or turn into infinity. */
	tmp = strndup((const char *)v->s + start, v->i - start);
	if (tmp == NULL)
		return lr_err_set(v->err, LR_ENOMEM, "out of memory");
	errno = 0;
	if (is_int) {
		if (tmp[0] == '-')
			(void)strtoll(tmp, NULL, 10);
		else
			(void)strtoull(tmp, NULL, 10);
	} else {
		d = strtod(tmp, NULL);
		if (isinf(d))
			errno = ERANGE;
	}
	free(tmp);
	if (errno == ERANGE)
		return fail(v, start, "number %s is out of range%s", num_text(v, start, v->i, buf),
		            is_int ? " (integers take at most 64 bits)" : "");
	return 0;
}

static int value(jv *v);

/* One object's keys: open addressing on the hash of the decoded key, with
 * the key's offset to compare on a match. */
typedef struct keyset {
	uint64_t *h;
	size_t *off;
	size_t cap, n;
} keyset;

static void keyset_free(keyset *ks)
{
	free(ks->h);
	free(ks->off);
}

static int same_key(jv *v, size_t a, size_t b, int *same)
{
	size_t save = v->i;
	size_t la = 0, lb = 0;
	char *ka = malloc(v->n - a);
	char *kb = malloc(v->n - b);
	int rc = 0;

	if (ka == NULL || kb == NULL) {
		rc = lr_err_set(v->err, LR_ENOMEM, "out of memory");
	} else {
		v->i = a;
		rc = string(v, NULL, ka, &la);
		v->i = b;
		if (rc == 0)
			rc = string(v, NULL, kb, &lb);
		*same = rc == 0 && la == lb && memcmp(ka, kb, la) == 0;
	}
	free(ka);
	free(kb);
	v->i = save;
	return rc;
}

/* Add the key at offset `off` with hash h; *dup = 1 when it was there. */
static int keyset_add(jv *v, keyset *ks, uint64_t h, size_t off, int *dup)
{
	size_t j;

	*dup = 0;
	if (2 * (ks->n + 1) > ks->cap) {
		keyset bigger = {0};

		bigger.cap = ks->cap ? ks->cap * 2 : 16;
		bigger.h = calloc(bigger.cap, sizeof(*bigger.h));
		bigger.off = calloc(bigger.cap, sizeof(*bigger.off));
		if (bigger.h == NULL || bigger.off == NULL) {
			keyset_free(&bigger);
			return lr_err_set(v->err, LR_ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < ks->cap; i++) {
			if (ks->off[i] == 0)
				continue;
			for (j = ks->h[i] & (bigger.cap - 1); bigger.off[j];
			     j = (j + 1) & (bigger.cap - 1))
				;
			bigger.h[j] = ks->h[i];
			bigger.off[j] = ks->off[i];
		}
		bigger.n = ks->n;
		keyset_free(ks);
		*ks = bigger;
	}
	/* Offsets are stored + 1 so that 0 marks an empty slot. */
	for (j = h & (ks->cap - 1); ks->off[j]; j = (j + 1) & (ks->cap - 1)) {
		if (ks->h[j] == h) {
			int same = 0;
			int rc = same_key(v, ks->off[j] - 1, off, &same);

			if (rc < 0)
				return rc;
			if (same) {
				*dup = 1;
				return 0;
			}
		}
	}
	ks->h[j] = h;
	ks->off[j] = off + 1;
	ks->n++;
	return 0;
}

static int object(jv *v)
{
	keyset ks = {0};
	int rc = 0;

	v->i++; /* { */
	ws(v);
	if (v->i < v->n && v->s[v->i] == '}') {
		v->i++;
		return 0;
	}
	for (;;) {
		char buf[32];
		size_t at = v->i;
		uint64_t h = 0;
		size_t key_end;
		int dup = 0;

		if (v->i >= v->n || v->s[v->i] != '"') {
			rc = fail(v, at,
			          v->i < v->n && v->s[v->i] == '\''
			              ? "strings take double quotes, found %s"
			              : "expected a key in double quotes, found %s",
			          what_at(v, v->i, buf));
			break;
		}
		rc = string(v, &h, NULL, NULL);
		key_end = v->i;
		if (rc == 0)
			rc = keyset_add(v, &ks, h, at, &dup);
		if (rc < 0)
			break;
		if (dup) {
			rc = fail(v, at, "duplicate key %.*s",
			          (int)(v->i - at > 66 ? 66 : v->i - at), (const char *)v->s + at);
			break;
		}
		ws(v);
		if (v->i >= v->n || v->s[v->i] != ':') {
			rc = fail(v, v->i, "expected ':' after a key, found %s",
			          what_at(v, v->i, buf));
			break;
		}
		v->i++;
		{
			size_t outer_at = v->key_at, outer_end = v->key_end;

			v->key_at = at;
			v->key_end = key_end;
			rc = value(v);
			if (rc < 0)
				break;
			v->key_at = outer_at;
			v->key_end = outer_end;
		}
		ws(v);
		if (v->i < v->n && v->s[v->i] == ',') {
			v->i++;
			ws(v);
			continue;
		}
		if (v->i < v->n && v->s[v->i] == '}') {
			v->i++;
			break;
		}
		rc = fail(v, v->i, "expected ',' or '}' after a member, found %s",
		          what_at(v, v->i, buf));
		break;
	}
	keyset_free(&ks);
	return rc;
}

static int array(jv *v)
{
	v->i++; /* [ */
	ws(v);
	if (v->i < v->n && v->s[v->i] == ']') {
		v->i++;
		return 0;
	}
	for (;;) {
		char buf[32];
		int rc = value(v);

		if (rc < 0)
			return rc;
		ws(v);
		if (v->i < v->n && v->s[v->i] == ',') {
			v->i++;
			continue;
		}
		if (v->i < v->n && v->s[v->i] == ']') {
			v->i++;
			return 0;
		}
		return fail(v, v->i, "expected ',' or ']' after an element, found %s",
		            what_at(v, v->i, buf));
	}
}

static int word(jv *v, const char *w)
{
	size_t n = strlen(w);

	if (v->i + n <= v->n && memcmp(v->s + v->i, w, n) == 0) {
		v->i += n;
		return 1;
	}
	return 0;
}

static int value(jv *v)
{
	char buf[32];
	int rc;

	ws(v);
	if (v->i >= v->n)
		return fail(v, v->i, "unexpected end of input");
	switch (v->s[v->i]) {
	case '{':
	case '[':
		if (v->depth >= v->max_depth)
			return fail(v, v->i, "nested deeper than %d levels", v->max_depth);
		v->depth++;
		rc = v->s[v->i] == '{' ? object(v) : array(v);
		v->depth--;
		return rc;
	case '"': return string(v, NULL, NULL, NULL);
	case '\'': return fail(v, v->i, "strings take double quotes");
	default: break;
	}
	if (v->s[v->i] == '-' || (v->s[v->i] >= '0' && v->s[v->i] <= '9'))
		return number(v);
	if (word(v, "true") || word(v, "false") || word(v, "null"))
		return 0;
	if (word(v, "NaN") || word(v, "Infinity"))
		return fail(v, v->i - (v->s[v->i - 1] == 'N' ? 3 : 8),
		            "'%s' is not JSON (numbers are finite)",
		            v->s[v->i - 1] == 'N' ? "NaN" : "Infinity");
	if (v->s[v->i] == '+' || v->s[v->i] == '.')
		return fail(v, v->i, "a number starts with '-' or a digit, found %s",
		            what_at(v, v->i, buf));
	if (v->s[v->i] >= 0x80 && lr_utf8_seq(v->s + v->i, v->n - v->i, NULL) == 0)
		return fail(v, v->i, "invalid UTF-8 (byte 0x%02x)", v->s[v->i]);
	return fail(v, v->i, "unexpected %s", what_at(v, v->i, buf));
}

int lr_json_check_strict(const char *text, size_t len, int max_depth, lr_err *err)
{
	jv v = {(const unsigned char *)text, len, 0, 0, max_depth > 0 ? max_depth : 16, err, 0, 0};
	int rc;

	if (text == NULL)
		return lr_err_set(err, LR_EINVAL, "no JSON given");
	rc = value(&v);
	if (rc < 0)
		return rc;
	ws(&v);
	if (v.i < v.n) {
		char buf[32];

		return fail(&v, v.i, "unexpected %s after the value", what_at(&v, v.i, buf));
	}
	return 0;
}

int lr_json_parse_strict(json_object **out, const char *text, size_t len, size_t max_len,
                         int max_depth, lr_err *err)
{
	int rc;

	*out = NULL;
	if (max_len && len > max_len)
		return lr_err_set(err, LR_ETOOBIG, "JSON is %zu bytes, over the limit of %zu", len,
		                  max_len);
	rc = lr_json_check_strict(text, len, max_depth, err);
	if (rc < 0)
		return rc;
	return lr_json_parse(out, text, len, max_len, max_depth, err);
}
