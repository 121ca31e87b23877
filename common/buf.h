/* buf.h - a growable byte buffer with a hard cap.
 *
 * Everything read from a child, Redis, the model or a job spec goes through a
 * bounded buffer: appending past `max` stores what fits, sets `truncated` and
 * returns LR_ETOOBIG. The data is always NUL-terminated.
 *
 * Errors stay set, as argv_list's `oom` does: after an allocation failure (or
 * a bad format) `err` holds the code and every later append does nothing and
 * returns it. So a writer can append line after line without checking each
 * call, and look once at the end:
 *   lr_buf_puts(b, "x = "); lr_buf_printf(b, "%d", x); lr_buf_clip(b, s, 80, 1);
 *   return lr_buf_error(b);
 * Truncation is not an error (what fit is kept): `truncated` says it happened. */
#ifndef LLMREPL_BUF_H
#define LLMREPL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct lr_buf {
	char *data;    /* NUL-terminated; NULL until the first append */
	size_t len;    /* bytes stored, excluding the NUL */
	size_t cap;    /* bytes allocated */
	size_t max;    /* hard cap on len; 0 means no cap */
	int truncated; /* set once an append did not fit */
	int err;       /* 0, or the first LR_ENOMEM/LR_EINVAL; stays set */
} lr_buf;

/* Initialise an empty buffer capped at `max` bytes (0 = unbounded). */
void lr_buf_init(lr_buf *b, size_t max);

/* Append n bytes; returns 0, LR_ETOOBIG (what fit was kept), or the sticky
 * error (LR_ENOMEM; LR_EINVAL for a format vsnprintf rejects). */
int lr_buf_append(lr_buf *b, const void *p, size_t n);
int lr_buf_puts(lr_buf *b, const char *s);
int lr_buf_printf(lr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lr_buf_vprintf(lr_buf *b, const char *fmt, va_list ap);

/* Append at most max bytes of s (NULL appends nothing), never cutting a UTF-8
 * sequence; a longer s is cut to max - 3 bytes and ends in "...". Control
 * characters are dropped except newline and tab; with oneline, newline, tab
 * and CR become spaces. Returns as lr_buf_append. */
int lr_buf_clip(lr_buf *b, const char *s, size_t max, int oneline);

/* The sticky error: 0 or a negative LR_E* code (truncation is not one). */
int lr_buf_error(const lr_buf *b);

/* Empty the buffer, keeping its allocation and cap; clears truncated and err. */
void lr_buf_reset(lr_buf *b);

/* Hand the data to the caller (who frees it) and reset the buffer.
 * Returns an empty string rather than NULL for an empty buffer. */
char *lr_buf_steal(lr_buf *b);

void lr_buf_free(lr_buf *b);

#endif
