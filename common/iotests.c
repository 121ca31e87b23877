/* iotests.c - the io test form: parsing and the built-in checkers. */
#include "iotests.h"

#include "buf.h"
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNIP_MAX 80 /* bytes of one quoted value in a diff */

static const char *const check_names[] = {"tokens", "exact", "lines", "float", "python"};

const char *lr_check_kind_name(lr_check_kind k)
{
	return (unsigned)k < sizeof(check_names) / sizeof(check_names[0]) ? check_names[k] : "?";
}

void lr_iotests_free(lr_iotests *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->cases[i].in);
		free(t->cases[i].out);
	}
	free(t->cases);
	free(t->checker_code);
	memset(t, 0, sizeof(*t));
}

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

int lr_iotests_copy(lr_iotests *out, const lr_iotests *in)
{
	memset(out, 0, sizeof(*out));
	out->checker = in->checker;
	out->abs_tol = in->abs_tol;
	out->rel_tol = in->rel_tol;
	out->stop_on_failure = in->stop_on_failure;
	if (in->checker_code && (out->checker_code = strdup(in->checker_code)) == NULL)
		return LR_ENOMEM;
	if (in->n == 0)
		return 0;
	out->cases = calloc(in->n, sizeof(*out->cases));
	if (out->cases == NULL) {
		lr_iotests_free(out);
		return LR_ENOMEM;
	}
	for (size_t i = 0; i < in->n; i++) {
		lr_iocase *c = &out->cases[out->n++];

		c->in = dupn(in->cases[i].in, in->cases[i].in_len);
		c->out = dupn(in->cases[i].out, in->cases[i].out_len);
		c->in_len = in->cases[i].in_len;
		c->out_len = in->cases[i].out_len;
		if (c->in == NULL || c->out == NULL) {
			lr_iotests_free(out);
			return LR_ENOMEM;
		}
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------- */

static int get_checker(lr_iotests *t, json_object *obj, const char *path, lr_err *err)
{
	static const char *const fkeys[] = {"kind", "abs", "rel", NULL};
	static const char *const pkeys[] = {"kind", "code", NULL};
	json_object *c = NULL;
	const char *name = NULL;
	char p[80];
	int present = 0, rc;

	t->checker = LR_CHECK_TOKENS;
	t->abs_tol = 1e-6;
	t->rel_tol = 1e-6;
	if (!json_object_object_get_ex(obj, "checker", &c) || c == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s.checker", path);
	if (json_object_is_type(c, json_type_string)) {
		name = json_object_get_string(c);
		if (strcmp(name, "tokens") == 0)
			t->checker = LR_CHECK_TOKENS;
		else if (strcmp(name, "exact") == 0)
			t->checker = LR_CHECK_EXACT;
		else if (strcmp(name, "lines") == 0)
			t->checker = LR_CHECK_LINES;
		else if (strcmp(name, "float") == 0)
			t->checker = LR_CHECK_FLOAT;
		else
			return lr_err_set(err, LR_EINVAL,
			                  "field '%s' must be \"exact\", \"tokens\", \"lines\", "
			                  "\"float\" or an object with a kind, got \"%.40s\"",
			                  p, name);
		return 0;
	}
	if (!json_object_is_type(c, json_type_object))
		return lr_err_set(err, LR_EINVAL,
		                  "field '%s' must be a string or an object, got %s", p,
		                  lr_json_type_name(c));
	rc = lr_json_get_str(&name, NULL, c, p, "kind", 1, 32, NULL, err);
	if (rc < 0)
		return rc;
	if (strcmp(name, "float") == 0) {
		t->checker = LR_CHECK_FLOAT;
		rc = lr_json_check_keys(c, p, fkeys, err);
		if (rc == 0)
			rc = lr_json_get_num(&t->abs_tol, c, p, "abs", 0, 0, 1e300, NULL, err);
		if (rc == 0)
			rc = lr_json_get_num(&t->rel_tol, c, p, "rel", 0, 0, 1e300, NULL, err);
		return rc;
	}
	if (strcmp(name, "python") == 0) {
		const char *code = NULL;
		size_t len = 0;

		t->checker = LR_CHECK_PYTHON;
		rc = lr_json_check_keys(c, p, pkeys, err);
		if (rc == 0)
			rc = lr_json_get_str(&code, &len, c, p, "code", 1, LR_IO_CHECKER_MAX,
			                     &present, err);
		if (rc < 0)
			return rc;
		if (len == 0 || memchr(code, '\0', len) != NULL)
			return lr_err_set(err, LR_EINVAL,
			                  "field '%s.code' must be Python code defining "
			                  "check(stdin, expected, actual)",
			                  p);
		t->checker_code = dupn(code, len);
		return t->checker_code ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	if (strcmp(name, "exact") == 0 || strcmp(name, "tokens") == 0 ||
	    strcmp(name, "lines") == 0) {
		static const char *const kkeys[] = {"kind", NULL};

		rc = lr_json_check_keys(c, p, kkeys, err);
		t->checker = name[0] == 'e'   ? LR_CHECK_EXACT
		             : name[0] == 't' ? LR_CHECK_TOKENS
		                              : LR_CHECK_LINES;
		return rc;
	}
	return lr_err_set(err, LR_EINVAL,
	                  "field '%s.kind' must be \"float\", \"python\", \"exact\", \"tokens\" or "
	                  "\"lines\", got \"%.40s\"",
	                  p, name);
}

static int get_case(lr_iocase *c, json_object *o, const char *path, size_t i, size_t *total,
                    size_t max_bytes, lr_err *err)
{
	static const char *const keys[] = {"stdin", "stdout", NULL};
	char p[96];
	const char *s[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	int rc;

	snprintf(p, sizeof(p), "%s[%zu]", path, i);
	if (!json_object_is_type(o, json_type_object))
		return lr_err_set(err, LR_EINVAL,
		                  "field '%s' must be an object {\"stdin\", \"stdout\"}, got %s", p,
		                  lr_json_type_name(o));
	rc = lr_json_check_keys(o, p, keys, err);
	if (rc == 0)
		rc = lr_json_get_str(&s[0], &len[0], o, p, "stdin", 0, max_bytes, NULL, err);
	if (rc == 0)
		rc = lr_json_get_str(&s[1], &len[1], o, p, "stdout", 1, max_bytes, NULL, err);
	if (rc < 0)
		return rc;
	*total += len[0] + len[1];
	if (*total > max_bytes)
		return lr_err_set(err, LR_ETOOBIG, "the io cases are over the limit of %zu bytes",
		                  max_bytes);
	c->in = dupn(s[0] ? s[0] : "", len[0]);
	c->out = dupn(s[1], len[1]);
	c->in_len = len[0];
	c->out_len = len[1];
	if (c->in == NULL || c->out == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	return 0;
}

int lr_iotests_from_json(lr_iotests *out, json_object *obj, const char *path, int allow_bare,
                         size_t max_bytes, lr_err *err)
{
	static const char *const keys[] = {"io", "checker", "stop_on_failure", NULL};
	json_object *arr = obj;
	char p[64];
	size_t n, total = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->checker = LR_CHECK_TOKENS;
	out->abs_tol = out->rel_tol = 1e-6;
	if (!path || !*path)
		path = "tests";
	snprintf(p, sizeof(p), "%s.io", path);
	if (json_object_is_type(obj, json_type_object)) {
		rc = lr_json_check_keys(obj, path, keys, err);
		if (rc == 0)
			rc =
			    lr_json_get_typed(&arr, obj, path, "io", json_type_array, 1, NULL, err);
		if (rc == 0)
			rc = get_checker(out, obj, path, err);
		if (rc == 0)
			rc = lr_json_get_bool(&out->stop_on_failure, obj, path, "stop_on_failure",
			                      0, NULL, err);
	} else if (!allow_bare || !json_object_is_type(obj, json_type_array)) {
		rc = lr_err_set(err, LR_EINVAL,
		                "field '%s' must be an object {\"io\": [...]}, got %s", path,
		                lr_json_type_name(obj));
	} else {
		snprintf(p, sizeof(p), "%s", path);
	}
	if (rc < 0)
		goto fail;
	n = json_object_array_length(arr);
	if (n == 0) {
		rc = lr_err_set(err, LR_EINVAL, "field '%s' must hold at least one case", p);
		goto fail;
	}
	if (n > LR_IO_CASES_MAX) {
		rc = lr_err_set(err, LR_ETOOBIG, "field '%s' has %zu cases; at most %d are allowed",
		                p, n, LR_IO_CASES_MAX);
		goto fail;
	}
	out->cases = calloc(n, sizeof(*out->cases));
	if (out->cases == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = get_case(&out->cases[i], json_object_array_get_idx(arr, i), p, i, &total,
		              max_bytes, err);
		out->n = i + 1;
	}
	if (rc == 0)
		return 0;
fail:
	lr_iotests_free(out);
	return rc;
}

int lr_iotests_parse(lr_iotests *out, const char *text, size_t len, size_t max_bytes, lr_err *err)
{
	json_object *o = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = lr_json_parse(&o, text, len, max_bytes + (1u << 20), 8, err);
	if (rc == 0)
		rc = lr_iotests_from_json(out, o, "tests", 1, max_bytes, err);
	json_object_put(o);
	return rc;
}

json_object *lr_iotests_to_json(const lr_iotests *t)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	int rc = 0;

	if (o == NULL || arr == NULL) {
		json_object_put(o);
		json_object_put(arr);
		return NULL;
	}
	for (size_t i = 0; i < t->n && rc == 0; i++) {
		json_object *c = json_object_new_object();

		rc = c ? 0 : LR_ENOMEM;
		rc = rc ? rc : lr_json_set_strn(c, "stdin", t->cases[i].in, t->cases[i].in_len);
		rc = rc ? rc : lr_json_set_strn(c, "stdout", t->cases[i].out, t->cases[i].out_len);
		if (rc == 0 && json_object_array_add(arr, c) < 0)
			rc = LR_ENOMEM;
		if (rc)
			json_object_put(c);
	}
	rc = rc ? (json_object_put(arr), rc) : lr_json_set_obj(o, "io", arr);
	if (rc == 0 && (t->checker == LR_CHECK_FLOAT || t->checker == LR_CHECK_PYTHON)) {
		json_object *c = json_object_new_object();

		rc = c ? 0 : LR_ENOMEM;
		rc = rc ? rc : lr_json_set_str(c, "kind", lr_check_kind_name(t->checker));
		if (rc == 0 && t->checker == LR_CHECK_FLOAT) {
			rc = lr_json_set_num(c, "abs", t->abs_tol);
			rc = rc ? rc : lr_json_set_num(c, "rel", t->rel_tol);
		} else if (rc == 0) {
			rc = lr_json_set_str(c, "code", t->checker_code ? t->checker_code : "");
		}
		rc = rc ? (json_object_put(c), rc) : lr_json_set_obj(o, "checker", c);
	} else if (rc == 0) {
		rc = lr_json_set_str(o, "checker", lr_check_kind_name(t->checker));
	}
	rc = rc ? rc : lr_json_set_bool(o, "stop_on_failure", t->stop_on_failure);
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

char *lr_utf8_clean(const char *s, size_t n, size_t max, size_t *out_len)
{
	static const char repl[] = "\xEF\xBF\xBD";
	lr_buf b;
	size_t i = 0;

	lr_buf_init(&b, 0);
	lr_buf_append(&b, "", 0);
	while (i < n) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);
		const char *piece = k ? s + i : repl;
		size_t plen = k ? k : 3;

		if (max && b.len + plen > (max > 3 ? max - 3 : 0)) {
			/* cut here unless the rest fits as it is */
			size_t rest = 0, j = i;
			int fits = 1;

			while (j < n && fits) {
				size_t kk = utf8_seq((const unsigned char *)s + j, n - j);

				rest += kk ? kk : 3;
				j += kk ? kk : 1;
				fits = b.len + rest <= max;
			}
			if (!fits) {
				lr_buf_puts(&b, "...");
				break;
			}
		}
		lr_buf_append(&b, piece, plen);
		i += k ? k : 1;
	}
	if (lr_buf_error(&b)) {
		lr_buf_free(&b);
		return NULL;
	}
	if (out_len)
		*out_len = b.len;
	return lr_buf_steal(&b);
}

char *lr_iotests_examples(const lr_iotests *t, size_t cases, size_t max)
{
	lr_buf b;

	lr_buf_init(&b, 0);
	lr_buf_append(&b, "", 0);
	for (size_t i = 0; i < t->n && i < cases; i++) {
		const lr_iocase *c = &t->cases[i];
		char *in = lr_utf8_clean(c->in, c->in_len, 0, NULL);
		char *out = lr_utf8_clean(c->out, c->out_len, 0, NULL);
		size_t before = b.len;

		if (in == NULL || out == NULL) {
			free(in);
			free(out);
			lr_buf_free(&b);
			return NULL;
		}
		lr_buf_printf(&b, "%sInput:\n%s%sOutput:\n%s%s", i ? "\n" : "", in,
		              *in && in[strlen(in) - 1] != '\n' ? "\n" : "", out,
		              *out && out[strlen(out) - 1] != '\n' ? "\n" : "");
		free(in);
		free(out);
		if (b.len > max) { /* this one does not fit: the ones before do */
			b.len = before;
			b.data[b.len] = '\0';
			break;
		}
	}
	if (lr_buf_error(&b)) {
		lr_buf_free(&b);
		return NULL;
	}
	return lr_buf_steal(&b);
}

/* ---- comparing ------------------------------------------------------------ */

typedef struct dtext {
	char *p;
	size_t cap, len;
} dtext;

static void dput(dtext *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void dput(dtext *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->cap == 0 || d->len + 1 >= d->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(d->p + d->len, d->cap - d->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		d->len = d->len + (size_t)n < d->cap ? d->len + (size_t)n : d->cap - 1;
	/* never end inside a UTF-8 sequence */
	while (d->len > 0 && ((unsigned char)d->p[d->len - 1] & 0x80)) {
		size_t start = d->len - 1;

		while (start > 0 && ((unsigned char)d->p[start] & 0xC0) == 0x80)
			start--;
		if (utf8_seq((const unsigned char *)d->p + start, d->len - start) == d->len - start)
			break;
		d->len = start;
	}
	d->p[d->len] = '\0';
}

/* A value in quotes, control characters escaped, clipped. */
static void dquote(dtext *d, const char *s, size_t n)
{
	char tmp[SNIP_MAX * 4 + 16];
	size_t k = 0, i = 0;

	tmp[k++] = '"';
	while (i < n && k < sizeof(tmp) - 8) {
		unsigned char c = (unsigned char)s[i];
		size_t q;

		if (k > SNIP_MAX) {
			memcpy(tmp + k, "...", 3);
			k += 3;
			i = n;
			break;
		}
		if (c == '\n' || c == '\r' || c == '\t' || c == '"' || c == '\\') {
			tmp[k++] = '\\';
			tmp[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			k += (size_t)snprintf(tmp + k, sizeof(tmp) - k, "\\x%02x", c);
			i++;
		} else if (c < 0x80) {
			tmp[k++] = (char)c;
			i++;
		} else if ((q = utf8_seq((const unsigned char *)s + i, n - i)) > 0) {
			memcpy(tmp + k, s + i, q);
			k += q;
			i += q;
		} else {
			k += (size_t)snprintf(tmp + k, sizeof(tmp) - k, "\\x%02x", c);
			i++;
		}
	}
	tmp[k++] = '"';
	tmp[k] = '\0';
	dput(d, "%s", tmp);
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

typedef struct tok_iter {
	const char *s;
	size_t n, pos;
	size_t line; /* of the token last returned, from 1 */
	size_t count;
	size_t nl; /* newlines before pos */
} tok_iter;

/* The next token: 1 with *t, *tl set, 0 at the end. */
static int tok_next(tok_iter *it, const char **t, size_t *tl)
{
	while (it->pos < it->n && is_space(it->s[it->pos])) {
		if (it->s[it->pos] == '\n')
			it->nl++;
		it->pos++;
	}
	if (it->pos >= it->n)
		return 0;
	*t = it->s + it->pos;
	while (it->pos < it->n && !is_space(it->s[it->pos]))
		it->pos++;
	*tl = (size_t)(it->s + it->pos - *t);
	it->line = it->nl + 1;
	it->count++;
	return 1;
}

/* A decimal number, whole token: [+-]digits[.digits][e[+-]digits]. */
static int parse_number(const char *t, size_t n, double *v)
{
	char buf[64];
	size_t i = 0, digits = 0;
	char *end;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	if (t[i] == '+' || t[i] == '-')
		i++;
	while (i < n && t[i] >= '0' && t[i] <= '9')
		i++, digits++;
	if (i < n && t[i] == '.') {
		i++;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++, digits++;
	}
	if (digits == 0)
		return 0;
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		size_t d = 0;

		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			i++;
		while (i < n && t[i] >= '0' && t[i] <= '9')
			i++, d++;
		if (d == 0)
			return 0;
	}
	if (i != n)
		return 0;
	memcpy(buf, t, n);
	buf[n] = '\0';
	*v = strtod(buf, &end);
	return end == buf + n && isfinite(*v);
}

static int compare_tokens(const lr_iotests *t, const char *e, size_t elen, const char *a,
                          size_t alen, dtext *d)
{
	tok_iter ie = {e, elen, 0, 0, 0, 0}, ia = {a, alen, 0, 0, 0, 0};
	const char *te = NULL, *ta = NULL;
	size_t le = 0, la = 0;
	int fl = t->checker == LR_CHECK_FLOAT;

	for (;;) {
		int he = tok_next(&ie, &te, &le), ha = tok_next(&ia, &ta, &la);
		double ve, va;

		if (!he && !ha)
			return 1;
		if (!ha) {
			dput(d, "the output ends after %zu token%s; expected more, next ", ia.count,
			     ia.count == 1 ? "" : "s");
			dquote(d, te, le);
			dput(d, " (line %zu of the expected output)", ie.line);
			return 0;
		}
		if (!he) {
			dput(d, "the output has more than the %zu expected token%s: extra ",
			     ie.count, ie.count == 1 ? "" : "s");
			dquote(d, ta, la);
			dput(d, " at line %zu", ia.line);
			return 0;
		}
		if (le == la && memcmp(te, ta, le) == 0)
			continue;
		if (fl && parse_number(te, le, &ve) && parse_number(ta, la, &va)) {
			double diff = fabs(va - ve);
			double tol = fmax(t->abs_tol, t->rel_tol * fabs(ve));

			if (diff <= tol)
				continue;
			dput(d, "token %zu (line %zu): expected ", ia.count, ia.line);
			dquote(d, te, le);
			dput(d, ", got ");
			dquote(d, ta, la);
			dput(d, " (off by %.3g; the tolerance is %.3g)", diff, tol);
			return 0;
		}
		dput(d, "token %zu (line %zu): expected ", ia.count, ia.line);
		dquote(d, te, le);
		dput(d, ", got ");
		dquote(d, ta, la);
		return 0;
	}
}

/* Lines without their trailing blanks; blank lines at the end dropped. */
typedef struct line_iter {
	const char *s;
	size_t n, pos, line;
	size_t end; /* where the content stops (trailing blank lines excluded) */
} line_iter;

static void line_init(line_iter *it, const char *s, size_t n)
{
	size_t end = n;

	while (end > 0 && is_space(s[end - 1]))
		end--;
	it->s = s;
	it->n = n;
	it->pos = 0;
	it->line = 0;
	it->end = end;
}

static int line_next(line_iter *it, const char **l, size_t *ll)
{
	const char *nl;
	size_t len;

	if (it->pos >= it->end)
		return 0;
	*l = it->s + it->pos;
	nl = memchr(*l, '\n', it->end - it->pos);
	len = nl ? (size_t)(nl - *l) : it->end - it->pos;
	it->pos += len + 1;
	it->line++;
	while (len > 0 && ((*l)[len - 1] == ' ' || (*l)[len - 1] == '\t' || (*l)[len - 1] == '\r'))
		len--;
	*ll = len;
	return 1;
}

static int compare_lines(const char *e, size_t elen, const char *a, size_t alen, dtext *d)
{
	line_iter ie, ia;
	const char *le = NULL, *la = NULL;
	size_t ne = 0, na = 0;

	line_init(&ie, e, elen);
	line_init(&ia, a, alen);
	for (;;) {
		int he = line_next(&ie, &le, &ne), ha = line_next(&ia, &la, &na);

		if (!he && !ha)
			return 1;
		if (!ha) {
			dput(d, "the output ends after %zu line%s; line %zu expected ", ia.line,
			     ia.line == 1 ? "" : "s", ie.line);
			dquote(d, le, ne);
			return 0;
		}
		if (!he) {
			dput(d, "the output has more than the %zu expected line%s: line %zu is ",
			     ie.line, ie.line == 1 ? "" : "s", ia.line);
			dquote(d, la, na);
			return 0;
		}
		if (ne != na || memcmp(le, la, ne) != 0) {
			dput(d, "line %zu: expected ", ia.line);
			dquote(d, le, ne);
			dput(d, ", got ");
			dquote(d, la, na);
			return 0;
		}
	}
}

static int compare_exact(const char *e, size_t elen, const char *a, size_t alen, dtext *d)
{
	size_t k = 0, line = 1, ls = 0, ee, ae;

	if (elen == alen && memcmp(e, a, elen) == 0)
		return 1;
	while (k < elen && k < alen && e[k] == a[k]) {
		if (e[k] == '\n') {
			line++;
			ls = k + 1;
		}
		k++;
	}
	if (k == alen) {
		dput(d, "the output ends at byte %zu (line %zu); expected more: ", k, line);
		dquote(d, e + k, elen - k);
		return 0;
	}
	if (k == elen) {
		dput(d, "the output goes on after the expected %zu byte%s (line %zu): extra ", elen,
		     elen == 1 ? "" : "s", line);
		dquote(d, a + k, alen - k);
		return 0;
	}
	for (ee = k; ee < elen && e[ee] != '\n'; ee++)
		;
	for (ae = k; ae < alen && a[ae] != '\n'; ae++)
		;
	dput(d, "line %zu, column %zu: expected ", line, k - ls + 1);
	dquote(d, e + ls, ee - ls + (ee < elen));
	dput(d, ", got ");
	dquote(d, a + ls, ae - ls + (ae < alen));
	return 0;
}

int lr_io_compare(const lr_iotests *t, const char *expected, size_t elen, const char *actual,
                  size_t alen, char *diff, size_t difflen)
{
	dtext d = {diff, difflen, 0};

	if (difflen)
		diff[0] = '\0';
	switch (t->checker) {
	case LR_CHECK_EXACT: return compare_exact(expected, elen, actual, alen, &d);
	case LR_CHECK_LINES: return compare_lines(expected, elen, actual, alen, &d);
	case LR_CHECK_TOKENS:
	case LR_CHECK_FLOAT: return compare_tokens(t, expected, elen, actual, alen, &d);
	default: dput(&d, "the %s checker is not a built-in one", lr_check_kind_name(t->checker));
	}
	return 0;
}
