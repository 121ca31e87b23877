/* Unit tests for sandbox/sbx_json: the bytes llmrepl-sandbox prints are the
 * bytes json-c 0.16 wrote (JSON_C_TO_STRING_PLAIN | NOSLASHESCAPE), compared
 * here with json-c itself on hand-written cases and on generated documents,
 * strings and numbers. */
#include "check.h"
#include "json_strict.h"
#include "sbx_json.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(next() % n);
}

/* json-c's answer for a document as the command used it: its text, or NULL
 * when it returned no object. Freed by the caller. */
static char *jc_doc(const char *s, size_t n)
{
	json_tokener *tok = json_tokener_new_ex(64);
	json_object *o = json_tokener_parse_ex(tok, s, (int)n);
	char *t = NULL;

	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success)
		t = strdup(json_object_to_json_string_ext(o, FLAGS));
	json_object_put(o);
	json_tokener_free(tok);
	return t;
}

static int mismatches;

/* The two agree on s: json-c refused and so did we, or both wrote the same
 * bytes. must: the input is one json-c reads the standard way, so we must
 * not refuse it. */
static int same_doc(const char *s, size_t n, int must)
{
	char *want = jc_doc(s, n);
	sbx_jbuf b = {0};
	int rc = sbx_json_doc(&b, s, n, 64);
	int ok;

	if (want == NULL)
		ok = rc < 0 && b.len == 0;
	else if (rc < 0)
		ok = !must;
	else
		ok = b.len == strlen(want) && memcmp(b.s, want, b.len) == 0;
	if (!ok && mismatches++ < 5)
		fprintf(stderr, "input  (%zu) %.*s\njson-c %s\nours   %s\n", n,
		        (int)(n > 300 ? 300 : n), s, want ? want : "(refused)",
		        rc < 0 ? "(refused)" : b.s);
	if (want != NULL && rc < 0 && !must) {
		lr_err e;

		/* refused by us but read by json-c: one of json-c's own forms */
		lr_err_clear(&e);
		if (lr_json_check_strict(s, n, 1000, &e) == 0) {
			fprintf(stderr, "strict JSON refused: %.*s\n", (int)n, s);
			ok = 0;
		}
	}
	free(want);
	sbx_jbuf_free(&b);
	return ok;
}

#define SAME(lit)    CHECK(same_doc((lit), sizeof(lit) - 1, 1))
#define REFUSED(lit) CHECK(refused((lit), sizeof(lit) - 1))

static int refused(const char *s, size_t n)
{
	sbx_jbuf b = {0};
	int rc = sbx_json_doc(&b, s, n, 64);

	sbx_jbuf_free(&b);
	return rc < 0 && same_doc(s, n, 0);
}

TEST(documents_as_json_c_writes_them)
{
	SAME("{}");
	SAME(" [ ] ");
	SAME("{\"a\" : [1, -0, 0.50, 1e10, 1E-3, -2.5e+3, true, false, null, \"x\"] }");
	SAME("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0001\\u007f\"");
	SAME("{\"a\":1,\"b\":2,\"a\":3}");         /* first place, last value */
	SAME("{\"a\\u0000x\":1,\"a\\u0000y\":2}"); /* a key ends at its NUL */
	SAME("[\"a\\u0000b\"]");                   /* a string does not */
	SAME("[9223372036854775807, 9223372036854775808, 18446744073709551616]");
	SAME("[-9223372036854775808, -9223372036854775809, -99999999999999999999999]");
	SAME("[1e400, -1e-400, 0.1000000000000000000000001]");
	SAME("[\"\\ud800\", \"\\udc00\", \"\\ud800x\", \"\\ud800\\n\", \"\\ud800\\ud800\\udc00\"]");
	SAME("[\"\\ud800\\u0041\", \"\\uDBFF\\uDFFF\", \"\\uFFFF\", \"\xff\xfe raw\"]");
	SAME("[\"raw \x01 \x1f \x7f controls\"]");
	SAME("\"top\"");
	SAME("1 ");
	SAME("-1.5\n");
	SAME("true\t");
	SAME("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
}

TEST(what_json_c_returns_no_object_for_is_refused)
{
	REFUSED("");
	REFUSED("   ");
	REFUSED("1"); /* the input might go on */
	REFUSED("true");
	REFUSED("null "); /* no object */
	REFUSED("{\"a\":");
	REFUSED("[1,]x");
	REFUSED("\"abc");
	REFUSED("\"\\x\"");
	REFUSED("\"\\u12\"");
	REFUSED("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
}

TEST(json_c_leniencies_are_written_as_text)
{
	/* json-c reads these; the command prints them as a string now */
	REFUSED("{} x");
	REFUSED("[NaN, Infinity]");
	REFUSED("['single']");
	REFUSED("[1,]");
	REFUSED("[TRUE] ");
	REFUSED("/* c */ {}");
	REFUSED("[01] ");
	REFUSED("[1.] ");
}

/* ---- generated documents ------------------------------------------------- */

typedef struct gbuf {
	char s[1 << 16];
	size_t n;
} gbuf;

static void add(gbuf *g, const char *s, size_t n)
{
	if (g->n + n < sizeof(g->s)) {
		memcpy(g->s + g->n, s, n);
		g->n += n;
	}
}

static void adds(gbuf *g, const char *s)
{
	add(g, s, strlen(s));
}

static void gws(gbuf *g)
{
	static const char w[] = " \t\n\r";

	while (pick(4) == 0)
		add(g, &w[pick(4)], 1);
}

static void gu(gbuf *g, unsigned u)
{
	char t[8];

	snprintf(t, sizeof(t), pick(2) ? "\\u%04x" : "\\u%04X", u);
	adds(g, t);
}

static void gstring(gbuf *g, int key)
{
	static const char *esc[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"};
	static const char *keys[] = {"a", "b", "a\\u0000x", "a\\u0000y", "\\u0061", "k/"};
	unsigned len = pick(12);

	adds(g, "\"");
	if (key && pick(2)) {
		adds(g, keys[pick(6)]);
		len = 0;
	}
	for (unsigned i = 0; i < len; i++) {
		unsigned r = pick(10);
		char c;

		if (r < 4) {
			c = (char)(' ' + pick(95));
			if (c == '"' || c == '\\')
				c = 'q';
			add(g, &c, 1);
		} else if (r == 4) {
			c = (char)(0x80 + pick(128)); /* raw bytes, UTF-8 or not */
			add(g, &c, 1);
		} else if (r == 5) {
			c = (char)pick(32); /* raw controls, NUL too */
			add(g, &c, 1);
		} else if (r == 6) {
			adds(g, esc[pick(8)]);
		} else if (r == 7) {
			gu(g, pick(3) == 0 ? pick(0x80) : pick(0x10000));
		} else {
			gu(g, 0xD800 + pick(0x400)); /* a high surrogate, then what follows */
			if (pick(2))
				gu(g, 0xDC00 + pick(0x400));
			else if (pick(2))
				gu(g, pick(0x10000));
		}
	}
	adds(g, "\"");
}

static void gnumber(gbuf *g)
{
	static const char *fixed[] = {"0",
	                              "-0",
	                              "9223372036854775807",
	                              "9223372036854775808",
	                              "18446744073709551615",
	                              "18446744073709551616",
	                              "-9223372036854775808",
	                              "-9223372036854775809",
	                              "123456789012345678901234567890",
	                              "1e400",
	                              "-0.0",
	                              "2.2250738585072014e-308",
	                              "4.9e-324",
	                              "1E+2"};
	char t[64];

	switch (pick(4)) {
	case 0: adds(g, fixed[pick(sizeof(fixed) / sizeof(fixed[0]))]); return;
	case 1:
		snprintf(t, sizeof(t), "%lld", (long long)next() >> pick(64));
		adds(g, t);
		return;
	case 2:
		snprintf(t, sizeof(t), "%s%u.%0*u", pick(2) ? "-" : "", pick(1000),
		         (int)pick(5) + 1, pick(100000));
		adds(g, t);
		return;
	default:
		snprintf(t, sizeof(t), "%s%u%se%s%u", pick(2) ? "-" : "", pick(10),
		         pick(2) ? ".5" : "",
		         pick(3) == 0 ? "+"
		         : pick(2)    ? "-"
		                      : "",
		         pick(400));
		adds(g, t);
	}
}

static void gvalue(gbuf *g, int depth)
{
	unsigned r = pick(depth > 66 ? 5 : 9);

	gws(g);
	if (r == 0)
		adds(g, pick(3) == 0 ? "true" : pick(2) ? "false" : "null");
	else if (r < 3)
		gstring(g, 0);
	else if (r < 5)
		gnumber(g);
	else if (r < 7) {
		unsigned n = depth > 3 ? pick(2) + 1 : pick(5);

		adds(g, "[");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				adds(g, ",");
			gvalue(g, depth + 1);
		}
		gws(g);
		adds(g, "]");
	} else {
		unsigned n = depth > 3 ? pick(2) + 1 : pick(5);

		adds(g, "{");
		for (unsigned i = 0; i < n; i++) {
			if (i)
				adds(g, ",");
			gws(g);
			gstring(g, 1);
			gws(g);
			adds(g, ":");
			gvalue(g, depth + 1);
		}
		gws(g);
		adds(g, "}");
	}
	gws(g);
}

/* Deep nesting now and then, to cross json-c's depth limit from both sides. */
static void gdoc(gbuf *g)
{
	g->n = 0;
	if (pick(20) == 0) {
		unsigned d = 60 + pick(8);
		char close[80];

		for (unsigned i = 0; i < d; i++) {
			close[i] = pick(2) ? ']' : '}';
			adds(g, close[i] == ']' ? "[" : "{\"k\":");
		}
		gvalue(g, 70);
		while (d > 0)
			add(g, &close[--d], 1);
		gws(g);
		return;
	}
	gvalue(g, 0);
}

TEST(generated_documents_match_json_c)
{
	static gbuf g;
	int bad = 0;

	for (int i = 0; i < 20000; i++) {
		gdoc(&g);
		if (!same_doc(g.s, g.n, 1))
			bad++;
	}
	CHECK(bad == 0);
}

TEST(damaged_documents_match_json_c)
{
	static gbuf g;
	int bad = 0;

	for (int i = 0; i < 20000; i++) {
		gdoc(&g);
		for (int k = (int)pick(3) + 1; k > 0 && g.n > 0; k--) {
			size_t at = pick((unsigned)g.n);
			static const char some[] = "{}[],:\"\\ u0e.-+/'NIx\x00";

			switch (pick(4)) {
			case 0: g.s[at] = some[pick(sizeof(some))]; break;
			case 1: g.n = at; break;
			case 2: memmove(g.s + at, g.s + at + 1, g.n - at - 1), g.n--; break;
			default:
				if (g.n + 1 < sizeof(g.s)) {
					memmove(g.s + at + 1, g.s + at, g.n - at);
					g.s[at] = some[pick(sizeof(some))];
					g.n++;
				}
			}
		}
		if (!same_doc(g.s, g.n, 0))
			bad++;
	}
	CHECK(bad == 0);
}

/* ---- strings and numbers --------------------------------------------------- */

/* What the command did before: bytes to UTF-8 with U+FFFD, then json-c. */
static char *old_text(const char *s, size_t n)
{
	char *d = malloc(n * 3 + 1);
	size_t o = 0;
	json_object *j;
	char *t;

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80         ? 1
		             : (c >> 5) == 6  ? 2
		             : (c >> 4) == 14 ? 3
		             : (c >> 3) == 30 ? 4
		                              : 0;
		size_t k = 1;

		if (len > 1 && i + len <= n)
			for (; k < len && ((unsigned char)s[i + k] >> 6) == 2; k++)
				;
		if (len == 0 || i + len > n || k < len || c == 0) {
			memcpy(d + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(d + o, s + i, len);
		o += len;
		i += len;
	}
	j = json_object_new_string_len(d, (int)o);
	t = strdup(json_object_to_json_string_ext(j, FLAGS));
	json_object_put(j);
	free(d);
	return t;
}

static int same_text(const char *s, size_t n)
{
	json_object *j = json_object_new_string_len(s, (int)n);
	char *want = old_text(s, n);
	sbx_jbuf a = {0}, b = {0};
	int ok;

	sbx_json_text(&a, s, n);
	sbx_json_str(&b, s, n);
	ok = a.len == strlen(want) && memcmp(a.s, want, a.len) == 0 &&
	     strcmp(b.s, json_object_to_json_string_ext(j, FLAGS)) == 0;
	if (!ok && mismatches++ < 5)
		fprintf(stderr, "text: %s / %s\n", want, a.s);
	free(want);
	json_object_put(j);
	sbx_jbuf_free(&a);
	sbx_jbuf_free(&b);
	return ok;
}

TEST(strings_and_captured_text_match_json_c)
{
	char s[64];
	int bad = 0;

	CHECK(same_text("", 0));
	CHECK(same_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 / \"q\" \\ \x7f", 22));
	CHECK(same_text("\xc3", 1));
	CHECK(same_text("a\0b", 3));
	for (int i = 0; i < 200000; i++) {
		size_t n = pick(sizeof(s));

		for (size_t k = 0; k < n; k++)
			s[k] = (char)(pick(3) ? pick(256) : 0x80 + pick(64));
		if (!same_text(s, n))
			bad++;
	}
	CHECK(bad == 0);
}

static int same_number(double v, long long i)
{
	json_object *d = json_object_new_double(v), *n = json_object_new_int64(i);
	sbx_jbuf a = {0}, b = {0};
	int ok;

	sbx_json_double(&a, v);
	sbx_json_int(&b, i);
	ok = strcmp(a.s, json_object_to_json_string_ext(d, FLAGS)) == 0 &&
	     strcmp(b.s, json_object_to_json_string_ext(n, FLAGS)) == 0;
	if (!ok && mismatches++ < 5)
		fprintf(stderr, "number: %s %s / %s %s\n", json_object_to_json_string(d), a.s,
		        json_object_to_json_string(n), b.s);
	json_object_put(d);
	json_object_put(n);
	sbx_jbuf_free(&a);
	sbx_jbuf_free(&b);
	return ok;
}

TEST(numbers_match_json_c)
{
	static const double fixed[] = {0.0,         -0.0, 1.0,    3.0,
	                               1e22,        1e23, 0.1,    1.0 / 3,
	                               123456789.0, 1e-7, 5e-324, 1.7976931348623157e308};
	int bad = 0;

	CHECK(same_number(NAN, 0));
	CHECK(same_number(INFINITY, INT64_MAX));
	CHECK(same_number(-INFINITY, INT64_MIN));
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		CHECK(same_number(fixed[i], (long long)i));
	for (int i = 0; i < 200000; i++) {
		uint64_t bits = next();
		double v;

		memcpy(&v, &bits, sizeof(v));
		if (i % 3 == 0)
			v = (double)(long long)(next() >> pick(64)) / (double)(1 + pick(1000));
		if (!same_number(v, (long long)next() >> pick(64)))
			bad++;
	}
	CHECK(bad == 0);
}

int main(void)
{
	RUN(documents_as_json_c_writes_them);
	RUN(what_json_c_returns_no_object_for_is_refused);
	RUN(json_c_leniencies_are_written_as_text);
	RUN(generated_documents_match_json_c);
	RUN(damaged_documents_match_json_c);
	RUN(strings_and_captured_text_match_json_c);
	RUN(numbers_match_json_c);
	return check_summary();
}
