/* Unit tests for common/json_strict and common/utf8: what RFC 8259 refuses is
 * refused, with the reason and the byte; what it allows is allowed. */
#include "check.h"
#include "json_strict.h"
#include "log.h"
#include "utf8.h"

static int ok(const char *s, size_t n)
{
	lr_err e;

	lr_err_clear(&e);
	if (lr_json_check_strict(s, n, 8, &e) == 0)
		return 1;
	fprintf(stderr, "refused: %.*s: %s\n", (int)n, s, e.msg);
	return 0;
}

/* Refused, and the message ends with `want`. */
static int bad(const char *s, size_t n, const char *want)
{
	lr_err e;

	lr_err_clear(&e);
	if (lr_json_check_strict(s, n, 8, &e) == 0) {
		fprintf(stderr, "accepted: %.*s\n", (int)n, s);
		return 0;
	}
	if (strstr(e.msg, want) == NULL) {
		fprintf(stderr, "for %.*s\n  got:  %s\n  want: %s\n", (int)n, s, e.msg, want);
		return 0;
	}
	return 1;
}

#define OK(s)     CHECK(ok((s), sizeof(s) - 1))
#define BAD(s, w) CHECK(bad((s), sizeof(s) - 1, (w)))

TEST(accepts_what_the_grammar_allows)
{
	OK("{}");
	OK(" [ ] ");
	OK("{\"a\": [1, -0, 0.5, 1e10, 1E-3, -2.5e+3, true, false, null, \"x\"]}");
	OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"");
	OK("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
	OK("{\"a\": 1, \"b\": {\"a\": 2}}"); /* the same key in another object */
	OK("18446744073709551615");
	OK("-9223372036854775808");
}

TEST(refuses_json_c_leniencies)
{
	BAD("{\"a\": \"x\ny\"}", "at byte 8 (in \"a\"): control character 0x0a inside a string");
	BAD("\"tab\there\"", "control character 0x09");
	BAD("1.", "number '1.' needs a digit after the point");
	BAD(".5", "a number starts with '-' or a digit, found '.'");
	BAD("+1", "a number starts with '-' or a digit, found '+'");
	BAD("01", "number '01' has a leading zero");
	BAD("1e", "number '1e' needs digits in its exponent");
	BAD("NaN", "'NaN' is not JSON (numbers are finite)");
	BAD("-Infinity", "'-Infinity' is not JSON");
	BAD("[Infinity]", "'Infinity' is not JSON");
	BAD("{'a': 1}", "strings take double quotes");
	BAD("[1,]", "unexpected ']'");
	BAD("{\"a\": 1,}", "expected a key in double quotes, found '}'");
	BAD("{\"a\" 1}", "expected ':' after a key, found '1'");
	BAD("[1 2]", "expected ',' or ']' after an element, found '2'");
	BAD("{} x", "at byte 3: unexpected 'x' after the value");
	BAD("[1, 2", "after an element, found the end of the input");
	BAD("\"abc", "string not closed");
	BAD("tru", "unexpected 't'");
	BAD("", "at byte 0: unexpected end of input");
}

TEST(refuses_duplicates_nul_and_bad_text)
{
	BAD("{\"code\": 1, \"code\": 2}", "at byte 12: duplicate key \"code\"");
	BAD("{\"a\": 1, \"\\u0061\": 2}", "duplicate key \"\\u0061\"");
	BAD("{\"k\": \"a\\u0000b\"}", "(in \"k\"): \"\\u0000\" (a NUL character) is not allowed");
	BAD("{\"k\\u0000x\": 1}", "a NUL character");
	BAD("\"\\ud800\"", "lone surrogate \\ud800");
	BAD("\"\\ud800\\u0041\"", "lone surrogate \\ud800");
	BAD("\"\\udc00\"", "lone surrogate \\udc00");
	BAD("\"\\u12\"", "\\u needs four hex digits");
	BAD("\"\\x41\"", "invalid escape '\\x'");
	BAD("\"\xc0\xaf\"", "invalid UTF-8 (byte 0xc0)");         /* overlong '/' */
	BAD("\"\xed\xa0\x80\"", "invalid UTF-8 (byte 0xed)");     /* a surrogate */
	BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8 (byte 0xf4)"); /* above U+10FFFF */
	BAD("\"\xe2\x82\"", "invalid UTF-8");                     /* truncated */
	BAD("\"\x80\"", "invalid UTF-8 (byte 0x80)");
	BAD("99999999999999999999999", "number 99999999999999999999999 is out of range");
	BAD("-9223372036854775809", "out of range (integers take at most 64 bits)");
	BAD("1e400", "number 1e400 is out of range");
	BAD("[[[[[[[[[1]]]]]]]]]", "nested deeper than 8 levels");
	CHECK(bad("{\"a\": 1}\0", 9, "unexpected byte 0x00 after the value"));
}

TEST(many_keys_are_checked_quickly)
{
	static char buf[800000];
	size_t n = 0;

	buf[n++] = '{';
	for (int i = 0; i < 50000; i++)
		n +=
		    (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"k%d\": %d", i ? "," : "", i, i);
	buf[n++] = '}';
	CHECK(ok(buf, n));
	n--;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ", \"k49999\": 0}");
	CHECK(bad(buf, n, "duplicate key \"k49999\""));
}

TEST(utf8)
{
	unsigned cp = 0;
	char out[4];

	CHECK(lr_utf8_check("abc\xc3\xa9", 5) == 5);
	CHECK(lr_utf8_check("ab\xff", 3) == 2);
	CHECK(lr_utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp) == 4 && cp == 0x1f600);
	CHECK(lr_utf8_seq((const unsigned char *)"\xe0\x80\xaf", 3, &cp) == 0); /* overlong */
	CHECK(lr_utf8_put(out, 0xd800) == 0 && lr_utf8_put(out, 0x110000) == 0);
	CHECK(lr_utf8_put(out, 0xe9) == 2 && memcmp(out, "\xc3\xa9", 2) == 0);
}

TEST(log_escape)
{
	char buf[128];
	static const char forged[] = "a\nERROR forged\x1b[2J\xff\xc3\xa9\t";

	lr_log_escape(buf, sizeof(buf), forged, sizeof(forged) - 1);
	CHECK_STR(buf, "a\\nERROR forged\\x1b[2J\\xff\xc3\xa9\\t");
	lr_log_escape(buf, sizeof(buf), "\xc2\x85|\xe2\x80\xa8", 6);
	CHECK_STR(buf, "\\u0085|\\u2028");
	CHECK(lr_log_escape(buf, 6, "\n\n\n", 3) == 4 && strcmp(buf, "\\n\\n") == 0);
}

int main(void)
{
	RUN(accepts_what_the_grammar_allows);
	RUN(refuses_json_c_leniencies);
	RUN(refuses_duplicates_nul_and_bad_text);
	RUN(many_keys_are_checked_quickly);
	RUN(utf8);
	RUN(log_escape);
	return check_summary();
}
