/* buf.h - a growable byte buffer with a hard cap.
 *
 * Everything read from a child, Redis, the model or a job spec goes through a
 * bounded buffer: appending past `max` stores what fits, sets `truncated` and
 * returns LR_ETOOBIG. The data is always NUL-terminated. */
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
} lr_buf;

/* Initialise an empty buffer capped at `max` bytes (0 = unbounded). */
void lr_buf_init(lr_buf *b, size_t max);

/* Append n bytes; returns 0, LR_ETOOBIG (what fit was kept) or LR_ENOMEM. */
int lr_buf_append(lr_buf *b, const void *p, size_t n);
int lr_buf_puts(lr_buf *b, const char *s);
int lr_buf_printf(lr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lr_buf_vprintf(lr_buf *b, const char *fmt, va_list ap);

/* Empty the buffer, keeping its allocation and cap. */
void lr_buf_reset(lr_buf *b);

/* Hand the data to the caller (who frees it) and reset the buffer.
 * Returns an empty string rather than NULL for an empty buffer. */
char *lr_buf_steal(lr_buf *b);

void lr_buf_free(lr_buf *b);

#endif
