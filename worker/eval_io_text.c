/* eval_io_text.c - what the model reads about a failing io case: what went
 * wrong, and for the first failing case its input, the expected output, the
 * program's output and its error output, each bounded and indented. */
#include "eval_io.h"

#include <string.h>

#define SHOW_BYTES 700 /* of each stream in the feedback */
#define SHOW_LINES 20

static int status_is(const char *st, const char *s)
{
	return st != NULL && strcmp(st, s) == 0;
}

/* One line of s (len bytes) without control characters, cut at 200 bytes. */
static void put_line(lr_buf *b, const char *s, size_t len)
{
	size_t n = len > 200 ? 200 : len;

	while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	lr_buf_puts(b, "    ");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x20 || s[i] == '\t')
			lr_buf_append(b, &s[i], 1);
	lr_buf_puts(b, n < len ? "...\n" : "\n");
}

/* The text indented by four spaces, at most SHOW_LINES lines and SHOW_BYTES
 * bytes (the last ones with tail); "(nothing)" when empty. */
static void put_block(lr_buf *b, const char *label, const char *s, long total, int tail)
{
	size_t n = s ? strlen(s) : 0, used = 0;
	int lines = 0;

	lr_buf_printf(b, "   %s", label);
	if (n == 0) {
		lr_buf_puts(b, " (nothing)\n");
		return;
	}
	lr_buf_puts(b, ":\n");
	if (tail && n > SHOW_BYTES) {
		const char *nl = memchr(s + n - SHOW_BYTES, '\n', SHOW_BYTES);

		lr_buf_puts(b, "    [...]\n");
		used = nl ? (size_t)(nl - s) + 1 : n - SHOW_BYTES;
	}
	while (used < n && lines < SHOW_LINES && (tail || used < SHOW_BYTES)) {
		const char *nl = memchr(s + used, '\n', n - used);
		size_t len = nl ? (size_t)(nl - (s + used)) : n - used;

		put_line(b, s + used, len);
		used += len + 1;
		lines++;
	}
	if (used < n || (total >= 0 && (size_t)total > n))
		lr_buf_printf(b, "    [... %ld bytes in all]\n", total >= 0 ? total : (long)n);
}

int eval_io_case_text(lr_buf *b, const eval_io_view *v)
{
	const char *st = v->status;

	lr_buf_puts(b, "   ");
	if (status_is(st, "failed"))
		lr_buf_puts(b, "wrong output: ");
	else if (status_is(st, "error") && v->error_type &&
	         !status_is(v->error_type, "ExitStatus")) {
		lr_buf_clip(b, v->error_type, 80, 1);
		lr_buf_puts(b, v->message && *v->message ? ": " : "");
	}
	lr_buf_clip(b, v->message ? v->message : st ? st : "failed", 400, 1);
	if (status_is(st, "error") && v->line > 0)
		lr_buf_printf(b, " (line %ld of the code)", v->line);
	if (status_is(st, "timeout"))
		lr_buf_puts(b,
		            " (an endless loop, waiting for more input than given, or too slow?)");
	lr_buf_puts(b, "\n");
	if (!v->detail)
		return lr_buf_error(b);
	put_block(b, "Input (stdin)", v->in, v->in_bytes, 0);
	put_block(b, "Expected output", v->expected, v->expected_bytes, 0);
	put_block(b, "Its output", v->actual, v->actual_bytes, 0);
	if (v->err && *v->err)
		put_block(b, "Its error output", v->err, -1, 1);
	return lr_buf_error(b);
}
