/* Unit tests for common/buf: the sticky error, printf, clipping. */
#include "buf.h"
#include "check.h"
#include "err.h"

#include <stdlib.h>

TEST(buf_error_stays_set)
{
	lr_buf b;

	lr_buf_init(&b, 0);
	CHECK(lr_buf_puts(&b, "kept") == 0);
	CHECK(lr_buf_error(&b) == 0);
	/* An append no allocation can hold fails for real (before any copy). */
	CHECK(lr_buf_append(&b, "x", (size_t)-16) == LR_ENOMEM);
	CHECK(lr_buf_error(&b) == LR_ENOMEM);
	/* Later appends do nothing and report the first error. */
	CHECK(lr_buf_puts(&b, " more") == LR_ENOMEM);
	CHECK(lr_buf_printf(&b, "%d", 42) == LR_ENOMEM);
	CHECK(lr_buf_clip(&b, "clip", 10, 0) == LR_ENOMEM);
	CHECK(lr_buf_clip(&b, NULL, 10, 0) == LR_ENOMEM);
	CHECK_STR(b.data, "kept");
	CHECK(b.len == 4);
	/* Reset starts over. */
	lr_buf_reset(&b);
	CHECK(lr_buf_error(&b) == 0);
	CHECK(lr_buf_puts(&b, "again") == 0);
	CHECK_STR(b.data, "again");
	lr_buf_free(&b);
}

TEST(buf_truncation_is_not_an_error)
{
	lr_buf b;

	lr_buf_init(&b, 6);
	lr_buf_puts(&b, "abc");
	lr_buf_printf(&b, "%s=%d", "long", 12345);
	lr_buf_puts(&b, "tail");
	CHECK(lr_buf_error(&b) == 0);
	CHECK(b.truncated);
	CHECK_STR(b.data, "abclon");
	lr_buf_free(&b);
}

TEST(buf_printf_writes_linearly)
{
	lr_buf b;
	char *s;

	lr_buf_init(&b, 0);
	lr_buf_printf(&b, "%s returned %d", "f(1)", 3);
	lr_buf_puts(&b, ", expected ");
	lr_buf_printf(&b, "%.*s", 2, "4444");
	CHECK(lr_buf_error(&b) == 0);
	s = lr_buf_steal(&b);
	CHECK_STR(s, "f(1) returned 3, expected 44");
	free(s);
}

TEST(buf_clip_cuts_marks_and_cleans)
{
	lr_buf b;

	lr_buf_init(&b, 0);
	CHECK(lr_buf_clip(&b, "short", 10, 0) == 0);
	CHECK_STR(b.data, "short");
	lr_buf_reset(&b);
	lr_buf_clip(&b, "abcdefghijkl", 8, 0);
	CHECK_STR(b.data, "abcde...");
	lr_buf_reset(&b);
	/* "é" is two bytes: the cut does not split it. */
	lr_buf_clip(&b, "abc\xc3\xa9zzzz", 7, 0);
	CHECK_STR(b.data, "abc...");
	lr_buf_reset(&b);
	CHECK(lr_buf_clip(&b,
	                  "a\nb\tc\x01"
	                  "d",
	                  100, 1) == 0);
	CHECK_STR(b.data, "a b cd");
	lr_buf_reset(&b);
	lr_buf_clip(&b,
	            "a\nb\tc\rd\x01"
	            "e",
	            100, 1);
	CHECK_STR(b.data, "a b c de");
	lr_buf_reset(&b);
	lr_buf_clip(&b,
	            "a\nb\tc\rd\x01"
	            "e",
	            100, 0);
	CHECK_STR(b.data, "a\nb\tcde");
	lr_buf_reset(&b);
	CHECK(lr_buf_clip(&b, NULL, 5, 0) == 0);
	CHECK(b.len == 0);
	lr_buf_clip(&b, "abcdef", 2, 0);
	CHECK_STR(b.data, "...");
	lr_buf_free(&b);
}

int main(void)
{
	RUN(buf_error_stays_set);
	RUN(buf_truncation_is_not_an_error);
	RUN(buf_printf_writes_linearly);
	RUN(buf_clip_cuts_marks_and_cleans);
	return check_summary();
}
