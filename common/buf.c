/* buf.c - bounded growable buffer. */
#include "buf.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lr_buf_init(lr_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static int buf_reserve(lr_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need + 1) {
		if (cap > ((size_t)-1) / 2)
			return LR_ENOMEM;
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (p == NULL)
		return LR_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int lr_buf_append(lr_buf *b, const void *p, size_t n)
{
	size_t take = n;
	int rc = 0;

	if (b->err)
		return b->err;
	if (b->max && b->len + take > b->max) {
		take = b->max > b->len ? b->max - b->len : 0;
		b->truncated = 1;
		rc = LR_ETOOBIG;
	}
	if (buf_reserve(b, b->len + take) < 0)
		return b->err = LR_ENOMEM;
	if (take)
		memcpy(b->data + b->len, p, take);
	b->len += take;
	b->data[b->len] = '\0';
	return rc;
}

int lr_buf_puts(lr_buf *b, const char *s)
{
	return lr_buf_append(b, s, strlen(s));
}

int lr_buf_vprintf(lr_buf *b, const char *fmt, va_list ap)
{
	char small[512];
	va_list cp;
	int n;
	int rc;
	char *big;

	if (b->err)
		return b->err;
	va_copy(cp, ap);
	n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return b->err = LR_EINVAL;
	if ((size_t)n < sizeof(small))
		return lr_buf_append(b, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return b->err = LR_ENOMEM;
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	rc = lr_buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

int lr_buf_printf(lr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = lr_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int lr_buf_clip(lr_buf *b, const char *s, size_t max, int oneline)
{
	size_t n, len, i;
	int rc = 0;

	if (s == NULL)
		return b->err;
	n = len = strlen(s);
	if (n > max) {
		n = max > 3 ? max - 3 : 0;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--; /* not inside a UTF-8 sequence */
	}
	for (i = 0; i < n && rc >= 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (oneline && (c == '\n' || c == '\t' || c == '\r'))
			rc = lr_buf_append(b, " ", 1);
		else if (c < 0x20 && c != '\n' && c != '\t')
			continue;
		else
			rc = lr_buf_append(b, &s[i], 1);
	}
	if (rc >= 0 && n < len)
		rc = lr_buf_puts(b, "...");
	return rc;
}

int lr_buf_error(const lr_buf *b)
{
	return b->err;
}

void lr_buf_reset(lr_buf *b)
{
	b->len = 0;
	b->truncated = 0;
	b->err = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *lr_buf_steal(lr_buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	b->truncated = 0;
	b->err = 0;
	return p;
}

void lr_buf_free(lr_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}
