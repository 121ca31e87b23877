/* sbx_caps.c - a run's captures (see sbx_caps.h). */
#include "sbx_caps.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sbx_caps_ready(sbx_cap caps[3], int which, int fd, sbx_trace *tr)
{
	if (sbx_cap_read(&caps[which], fd) < 0)
		caps[which].eof = 1;
	if (which == 2 && caps[2].eof)
		sbx_trace_mark(tr, "h.answer");
}

int sbx_cap_read(sbx_cap *c, int fd)
{
	char buf[65536];

	/* Bytes past the cap are read and dropped, so a writer we are about to
	 * kill never blocks the loop with a full pipe. */
	for (int round = 0; round < 16 && !c->eof; round++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		size_t take;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			c->eof = 1;
			return 0;
		}
		take = (size_t)n;
		if (c->len + take > c->max) {
			take = c->max - c->len;
			c->over = 1;
		}
		if (take == 0)
			continue;
		if (c->len + take + 1 > c->alloc) {
			size_t want = c->alloc ? c->alloc : 4096;
			char *d;

			while (want < c->len + take + 1)
				want *= 2;
			if (want > c->max + 1)
				want = c->max + 1;
			d = realloc(c->data, want);
			if (d == NULL)
				return -1;
			c->data = d;
			c->alloc = want;
		}
		memcpy(c->data + c->len, buf, take);
		c->len += take;
	}
	return 0;
}

int sbx_cap_take(sbx_cap *c, char **out, size_t *len, int mark)
{
	size_t mlen = mark ? strlen(SBX_TRUNC_MARK) : 0;
	char *d = malloc(c->len + mlen + 1);

	if (d == NULL)
		return -1;
	if (c->len)
		memcpy(d, c->data, c->len);
	if (mlen)
		memcpy(d + c->len, SBX_TRUNC_MARK, mlen);
	d[c->len + mlen] = '\0';
	*out = d;
	*len = c->len + mlen;
	return 0;
}

int sbx_caps_take(sbx_result *res, sbx_cap caps[3])
{
	res->out_truncated = caps[0].over;
	res->err_truncated = caps[1].over;
	if (sbx_cap_take(&caps[0], &res->out, &res->out_len, caps[0].over) < 0 ||
	    sbx_cap_take(&caps[1], &res->err, &res->err_len, caps[1].over) < 0)
		return -1;
	if (caps[2].len > 0 && sbx_cap_take(&caps[2], &res->answer, &res->answer_len, 0) < 0)
		return -1;
	return 0;
}

void sbx_cap_free(sbx_cap *c)
{
	free(c->data);
	c->data = NULL;
	c->len = c->alloc = 0;
}

void sbx_caps_init(sbx_cap caps[3], const sbx_limits *lim)
{
	memset(caps, 0, 3 * sizeof(*caps));
	caps[0].max = caps[1].max = lim->output_max;
	caps[2].max = lim->answer_max;
}

void sbx_caps_free(sbx_cap caps[3])
{
	for (int i = 0; i < 3; i++)
		sbx_cap_free(&caps[i]);
}

int sbx_caps_over(const sbx_cap caps[3])
{
	return caps[0].over || caps[1].over || caps[2].over;
}

int sbx_caps_eof(const sbx_cap caps[3])
{
	return caps[0].eof && caps[1].eof && caps[2].eof;
}

void sbx_caps_poll(const sbx_cap caps[3], const int fds[3], struct pollfd *pf, int *map, int *n)
{
	for (int i = 0; i < 3; i++)
		if (!caps[i].eof) {
			pf[*n] = (struct pollfd){fds[i], POLLIN, 0};
			if (map != NULL)
				map[*n] = i;
			(*n)++;
		}
}
