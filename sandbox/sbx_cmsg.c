/* sbx_cmsg.c - what the sandboxed child says on its status pipe (sbx_msg
 * records, SBX_CFD_STATUS), for sbx_child.c and sbx_mount.c alike. System
 * calls only: the child is a raw clone() of a possibly multi-threaded host. */
#include "sbx_child.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void sbx_child_put(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

size_t sbx_child_append(char *dst, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		dst[at++] = *s++;
	dst[at] = '\0';
	return at;
}

void sbx_child_note(char tag, const char *what, const char *arg)
{
	sbx_msg m;
	size_t n;
	int e = errno;

	memset(&m, 0, sizeof(m));
	m.tag = tag;
	m.err = e;
	n = sbx_child_append(m.what, 0, sizeof(m.what), what);
	if (arg) {
		n = sbx_child_append(m.what, n, sizeof(m.what), " ");
		sbx_child_append(m.what, n, sizeof(m.what), arg);
	}
	sbx_child_put(SBX_CFD_STATUS, &m, sizeof(m));
	errno = e;
}

void sbx_child_fail(const char *what, const char *arg)
{
	sbx_child_note('E', what, arg);
	_exit(127);
}
