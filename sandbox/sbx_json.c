/* sbx_json.c - the JSON that llmrepl-sandbox prints and sends (see sbx_json.h). */
#include "sbx_json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char repl[3] = {'\xef', '\xbf', '\xbd'}; /* U+FFFD */

static int reserve(sbx_jbuf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 256;
	char *s;

	if (b->failed)
		return -1;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	while (cap < b->len + extra + 1) {
		if (cap > SIZE_MAX / 2) {
			b->failed = 1;
			return -1;
		}
		cap *= 2;
	}
	s = realloc(b->s, cap);
	if (s == NULL) {
		b->failed = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void sbx_jbuf_free(sbx_jbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

void sbx_json_raw(sbx_jbuf *b, const char *s, size_t n)
{
	if (reserve(b, n) < 0)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* One byte of a string's content, escaped. */
static size_t escape_byte(unsigned char c, char out[6])
{
	static const char hex[] = "0123456789abcdef";
	const char *e = NULL;

	switch (c) {
	case '\b': e = "\\b"; break;
	case '\n': e = "\\n"; break;
	case '\r': e = "\\r"; break;
	case '\t': e = "\\t"; break;
	case '\f': e = "\\f"; break;
	case '"': e = "\\\""; break;
	case '\\': e = "\\\\"; break;
	default:
		if (c >= 0x20) {
			out[0] = (char)c;
			return 1;
		}
		memcpy(out, "\\u00", 4);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 0xf];
		return 6;
	}
	memcpy(out, e, 2);
	return 2;
}

/* The content of a string, escaped: runs of plain bytes copied at once. */
static void str_body(sbx_jbuf *b, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[6];
		size_t k;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sbx_json_raw(b, s + start, i - start);
		k = escape_byte(c, e);
		sbx_json_raw(b, e, k);
		start = i + 1;
	}
	sbx_json_raw(b, s + start, n - start);
}

void sbx_json_str(sbx_jbuf *b, const char *s, size_t n)
{
	sbx_json_raw(b, "\"", 1);
	str_body(b, s, n);
	sbx_json_raw(b, "\"", 1);
}

/* The length of the UTF-8 sequence at s[i] (lead byte and continuation
 * bytes only, as the command always checked), 0 when it is not one or is NUL. */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t n)
{
	unsigned char c = s[i];
	size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;

	if (len == 0 || c == 0 || i + len > n)
		return 0;
	for (size_t k = 1; k < len; k++)
		if ((s[i + k] >> 6) != 2)
			return 0;
	return len;
}

void sbx_json_text(sbx_jbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = 0, i = 0;

	sbx_json_raw(b, "\"", 1);
	while (i < n) {
		size_t len = utf8_seq(u, i, n);

		if (len > 1 || (len == 1 && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\')) {
			i += len;
			continue;
		}
		str_body(b, s + start, i - start);
		if (len == 1)
			str_body(b, s + i, 1);
		else
			sbx_json_raw(b, repl, sizeof(repl));
		start = ++i;
	}
	str_body(b, s + start, n - start);
	sbx_json_raw(b, "\"", 1);
}

void sbx_json_int(sbx_jbuf *b, long long v)
{
	char t[32];
	int k = snprintf(t, sizeof(t), "%lld", v);

	sbx_json_raw(b, t, (size_t)k);
}

void sbx_json_double(sbx_jbuf *b, double v)
{
	char t[64];
	int k;

	if (isnan(v)) {
		sbx_json_raw(b, "NaN", 3);
		return;
	}
	if (isinf(v)) {
		sbx_json_raw(b, v > 0 ? "Infinity" : "-Infinity", v > 0 ? 8 : 9);
		return;
	}
	k = snprintf(t, sizeof(t), "%.17g", v);
	if (k < 0 || (size_t)k >= sizeof(t) - 2)
		return;
	if (strchr(t, '.') == NULL && strchr(t, 'e') == NULL) {
		memcpy(t + k, ".0", 3);
		k += 2;
	}
	sbx_json_raw(b, t, (size_t)k);
}

/* ---- a document, read and written again ------------------------------------ */

enum { J_NULL = 1, J_TRUE, J_FALSE, J_INT, J_NUM, J_STR, J_ARR, J_OBJ, J_MEMBER };

/* ARR, OBJ: a its first child, b its last. MEMBER: a, b its key in the
 * arena (cut at its first NUL), c its value, d its object. STR: a, b in the
 * arena. INT, NUM: a, b the text in the input. Node 0 is none. */
typedef struct jnode {
	unsigned char t;
	uint32_t next, a, b, c, d;
} jnode;

typedef struct jdoc {
	const unsigned char *s;
	size_t n, i;
	int max_depth;
	jnode *node;
	size_t nn, ncap;
	char *arena; /* the decoded strings: never longer than their text */
	size_t an;
	uint32_t *slot; /* open addressing: the members, by object and key */
	size_t slots, used;
} jdoc;

static uint32_t new_node(jdoc *d, unsigned char t)
{
	if (d->nn >= d->ncap) {
		size_t cap = d->ncap ? d->ncap * 2 : 64;
		jnode *nb = realloc(d->node, cap * sizeof(*nb));

		if (nb == NULL)
			return 0;
		d->node = nb;
		d->ncap = cap;
	}
	memset(&d->node[d->nn], 0, sizeof(d->node[0]));
	d->node[d->nn].t = t;
	return (uint32_t)d->nn++;
}

static void ws(jdoc *d)
{
	while (d->i < d->n && (d->s[d->i] == ' ' || d->s[d->i] == '\t' || d->s[d->i] == '\n' ||
	                       d->s[d->i] == '\r'))
		d->i++;
}

static void put(jdoc *d, const void *p, size_t k)
{
	memcpy(d->arena + d->an, p, k);
	d->an += k;
}

static int hex4(jdoc *d, unsigned *u)
{
	*u = 0;
	if (d->i + 4 > d->n)
		return -1;
	for (int k = 0; k < 4; k++) {
		unsigned char c = d->s[d->i + (size_t)k];
		unsigned v = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
		                                    : 16;

		if (v == 16)
			return -1;
		*u = *u << 4 | v;
	}
	d->i += 4;
	return 0;
}

/* A code point from \u as json-c writes it: UTF-8, U+FFFD for a surrogate
 * without its pair; *high holds a high surrogate until the next \u. */
static void code_point(jdoc *d, unsigned u, unsigned *high)
{
	unsigned char t[4];

	if (*high) {
		if ((u & 0xFC00) == 0xDC00)
			u = (((*high & 0x3FF) << 10) | (u & 0x3FF)) + 0x10000;
		else
			put(d, repl, 3);
		*high = 0;
	}
	if (u < 0x80) {
		t[0] = (unsigned char)u;
		put(d, t, 1);
	} else if (u < 0x800) {
		t[0] = (unsigned char)(0xc0 | u >> 6);
		t[1] = (unsigned char)(0x80 | (u & 0x3f));
		put(d, t, 2);
	} else if ((u & 0xFC00) == 0xD800) {
		*high = u;
	} else if ((u & 0xFC00) == 0xDC00) {
		put(d, repl, 3);
	} else if (u < 0x10000) {
		t[0] = (unsigned char)(0xe0 | u >> 12);
		t[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
		t[2] = (unsigned char)(0x80 | (u & 0x3f));
		put(d, t, 3);
	} else {
		t[0] = (unsigned char)(0xf0 | ((u >> 18) & 0x07));
		t[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3f));
		t[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
		t[3] = (unsigned char)(0x80 | (u & 0x3f));
		put(d, t, 4);
	}
}

/* The escape after a backslash (d->i at its letter). */
static int escape(jdoc *d, unsigned *high)
{
	static const char from[] = "\"\\/bnrtf", to[] = "\"\\/\b\n\r\t\f";
	const char *e;
	unsigned u;

	if (d->i >= d->n)
		return -1;
	if (d->s[d->i] == 'u') {
		d->i++;
		if (hex4(d, &u) < 0)
			return -1;
		code_point(d, u, high);
		return 0;
	}
	e = d->s[d->i] ? strchr(from, d->s[d->i]) : NULL;
	if (e == NULL)
		return -1;
	put(d, &to[e - from], 1);
	d->i++;
	return 0;
}

/* A string's content after its opening quote, decoded into the arena; any
 * byte but the quote, the backslash and NUL (where json-c stops) stands for
 * itself. */
static int string(jdoc *d, uint32_t *off, uint32_t *len)
{
	unsigned high = 0;

	*off = (uint32_t)d->an;
	for (;;) {
		size_t start = d->i;

		while (d->i < d->n && d->s[d->i] != '"' && d->s[d->i] != '\\' && d->s[d->i] &&
		       !high)
			d->i++;
		put(d, d->s + start, d->i - start);
		if (d->i >= d->n || d->s[d->i] == '\0')
			return -1;
		if (high && (d->s[d->i] != '\\' || d->i + 1 >= d->n || d->s[d->i + 1] != 'u')) {
			/* a high surrogate not followed by \u: U+FFFD, then the rest as it is */
			put(d, repl, 3);
			high = 0;
			if (d->s[d->i] != '\\')
				continue;
		}
		if (d->s[d->i] == '"')
			break;
		d->i++;
		if (escape(d, &high) < 0)
			return -1;
	}
	d->i++;
	*len = (uint32_t)(d->an - *off);
	return 0;
}

static int digits(jdoc *d)
{
	size_t start = d->i;

	while (d->i < d->n && d->s[d->i] >= '0' && d->s[d->i] <= '9')
		d->i++;
	return d->i > start ? 0 : -1;
}

/* RFC 8259's number; an integer is clamped to 64 bits when written. */
static uint32_t number(jdoc *d)
{
	size_t start = d->i;
	int dbl = 0;
	uint32_t x;

	if (d->s[d->i] == '-')
		d->i++;
	if (d->i < d->n && d->s[d->i] == '0')
		d->i++;
	else if (digits(d) < 0)
		return 0;
	if (d->i < d->n && d->s[d->i] == '.') {
		d->i++;
		dbl = 1;
		if (digits(d) < 0)
			return 0;
	}
	if (d->i < d->n && (d->s[d->i] == 'e' || d->s[d->i] == 'E')) {
		d->i++;
		dbl = 1;
		if (d->i < d->n && (d->s[d->i] == '+' || d->s[d->i] == '-'))
			d->i++;
		if (digits(d) < 0)
			return 0;
	}
	x = new_node(d, dbl ? J_NUM : J_INT);
	if (x) {
		d->node[x].a = (uint32_t)start;
		d->node[x].b = (uint32_t)(d->i - start);
	}
	return x;
}

static uint32_t literal(jdoc *d, const char *word, unsigned char t)
{
	size_t k = strlen(word);

	if (d->n - d->i < k || memcmp(d->s + d->i, word, k) != 0)
		return 0;
	d->i += k;
	return new_node(d, t);
}

static uint32_t value(jdoc *d, int depth);

static void append(jdoc *d, uint32_t parent, uint32_t child)
{
	jnode *p = &d->node[parent];

	if (p->b)
		d->node[p->b].next = child;
	else
		p->a = child;
	p->b = child;
}

static uint32_t array(jdoc *d, int depth)
{
	uint32_t arr = new_node(d, J_ARR);

	d->i++;
	ws(d);
	if (arr && d->i < d->n && d->s[d->i] == ']') {
		d->i++;
		return arr;
	}
	while (arr) {
		uint32_t v;

		if (depth + 1 >= d->max_depth || (v = value(d, depth + 1)) == 0)
			return 0;
		append(d, arr, v);
		ws(d);
		if (d->i >= d->n)
			return 0;
		if (d->s[d->i++] == ']')
			return arr;
		if (d->s[d->i - 1] != ',')
			return 0;
		ws(d);
	}
	return 0;
}

static uint32_t key_hash(uint32_t obj, const char *k, size_t n)
{
	uint32_t h = 2166136261u ^ obj;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h;
}

static size_t probe(const jdoc *d, uint32_t obj, const char *k, size_t n)
{
	size_t i = key_hash(obj, k, n) & (d->slots - 1);

	for (; d->slot[i]; i = (i + 1) & (d->slots - 1)) {
		const jnode *m = &d->node[d->slot[i]];

		if (m->d == obj && m->b == n && memcmp(d->arena + m->a, k, n) == 0)
			break;
	}
	return i;
}

static int grow_slots(jdoc *d)
{
	size_t old = d->slots;
	uint32_t *was = d->slot;

	d->slots = old ? old * 2 : 64;
	d->slot = calloc(d->slots, sizeof(*d->slot));
	if (d->slot == NULL) {
		d->slot = was;
		d->slots = old;
		return -1;
	}
	for (size_t i = 0; i < old; i++) {
		const jnode *m = &d->node[was[i]];

		if (was[i])
			d->slot[probe(d, m->d, d->arena + m->a, m->b)] = was[i];
	}
	free(was);
	return 0;
}

/* A member: a new key goes last, a repeated one takes the new value in its
 * first place. */
static int member(jdoc *d, uint32_t obj, uint32_t koff, uint32_t klen, uint32_t v)
{
	size_t i;
	uint32_t m;

	klen = (uint32_t)strnlen(d->arena + koff, klen);
	if ((d->used + 1) * 2 > d->slots && grow_slots(d) < 0)
		return -1;
	i = probe(d, obj, d->arena + koff, klen);
	if (d->slot[i]) {
		d->node[d->slot[i]].c = v;
		return 0;
	}
	m = new_node(d, J_MEMBER);
	if (m == 0)
		return -1;
	d->node[m].a = koff;
	d->node[m].b = klen;
	d->node[m].c = v;
	d->node[m].d = obj;
	d->slot[i] = m;
	d->used++;
	append(d, obj, m);
	return 0;
}

static uint32_t object(jdoc *d, int depth)
{
	uint32_t obj = new_node(d, J_OBJ);

	d->i++;
	ws(d);
	if (obj && d->i < d->n && d->s[d->i] == '}') {
		d->i++;
		return obj;
	}
	while (obj) {
		uint32_t koff, klen, v;

		if (d->i >= d->n || d->s[d->i] != '"')
			return 0;
		d->i++;
		if (string(d, &koff, &klen) < 0)
			return 0;
		ws(d);
		if (d->i >= d->n || d->s[d->i] != ':')
			return 0;
		d->i++;
		ws(d);
		if (depth + 1 >= d->max_depth || (v = value(d, depth + 1)) == 0 ||
		    member(d, obj, koff, klen, v) < 0)
			return 0;
		ws(d);
		if (d->i >= d->n)
			return 0;
		if (d->s[d->i++] == '}')
			return obj;
		if (d->s[d->i - 1] != ',')
			return 0;
		ws(d);
	}
	return 0;
}

static uint32_t value(jdoc *d, int depth)
{
	uint32_t x;

	if (d->i >= d->n)
		return 0;
	switch (d->s[d->i]) {
	case '{': return object(d, depth);
	case '[': return array(d, depth);
	case 't': return literal(d, "true", J_TRUE);
	case 'f': return literal(d, "false", J_FALSE);
	case 'n': return literal(d, "null", J_NULL);
	case '"':
		x = new_node(d, J_STR);
		d->i++;
		if (x == 0 || string(d, &d->node[x].a, &d->node[x].b) < 0)
			return 0;
		return x;
	default:
		if (d->s[d->i] == '-' || (d->s[d->i] >= '0' && d->s[d->i] <= '9'))
			return number(d);
		return 0;
	}
}

/* An integer as json-c reads it: strtoll below zero, strtoull above,
 * each clamped to its range. */
static void write_int(sbx_jbuf *b, const char *s, size_t n)
{
	char t[32], num[400];
	int k;

	if (n >= sizeof(num)) { /* only more digits: clamped either way */
		k = snprintf(t, sizeof(t), "%s",
		             s[0] == '-' ? "-9223372036854775808" : "18446744073709551615");
	} else {
		memcpy(num, s, n);
		num[n] = '\0';
		if (num[0] == '-')
			k = snprintf(t, sizeof(t), "%lld", strtoll(num, NULL, 10));
		else
			k = snprintf(t, sizeof(t), "%llu", strtoull(num, NULL, 10));
	}
	sbx_json_raw(b, t, (size_t)k);
}

static void write_node(const jdoc *d, sbx_jbuf *b, uint32_t x)
{
	const jnode *v = &d->node[x];

	switch (v->t) {
	case J_NULL: sbx_json_raw(b, "null", 4); break;
	case J_TRUE: sbx_json_raw(b, "true", 4); break;
	case J_FALSE: sbx_json_raw(b, "false", 5); break;
	case J_INT: write_int(b, (const char *)d->s + v->a, v->b); break;
	case J_NUM: sbx_json_raw(b, (const char *)d->s + v->a, v->b); break;
	case J_STR: sbx_json_str(b, d->arena + v->a, v->b); break;
	case J_ARR:
		sbx_json_raw(b, "[", 1);
		for (uint32_t c = v->a; c; c = d->node[c].next) {
			if (c != v->a)
				sbx_json_raw(b, ",", 1);
			write_node(d, b, c);
		}
		sbx_json_raw(b, "]", 1);
		break;
	default: /* J_OBJ */
		sbx_json_raw(b, "{", 1);
		for (uint32_t m = v->a; m; m = d->node[m].next) {
			if (m != v->a)
				sbx_json_raw(b, ",", 1);
			sbx_json_str(b, d->arena + d->node[m].a, d->node[m].b);
			sbx_json_raw(b, ":", 1);
			write_node(d, b, d->node[m].c);
		}
		sbx_json_raw(b, "}", 1);
		break;
	}
}

int sbx_json_doc(sbx_jbuf *b, const char *s, size_t n, int max_depth)
{
	jdoc d;
	uint32_t top = 0;
	int ok;

	if (n > INT_MAX)
		return -1;
	memset(&d, 0, sizeof(d));
	d.s = (const unsigned char *)s;
	d.n = n;
	d.max_depth = max_depth;
	d.nn = 1;
	d.arena = malloc(n + 1);
	if (d.arena != NULL) {
		ws(&d);
		top = value(&d, 0);
	}
	if (top)
		ws(&d);
	/* json-c: data after the document, or a top-level scalar that the input
	 * ends right after (it might go on), is no document; neither is null. */
	ok = top && d.i == n && d.node[top].t != J_NULL &&
	     (d.node[top].t >= J_STR || (n > 0 && strchr(" \t\n\r", s[n - 1]) && s[n - 1]));
	if (ok)
		write_node(&d, b, top);
	free(d.arena);
	free(d.node);
	free(d.slot);
	return ok ? 0 : -1;
}
