/* sbx_slot.c - host-wide uid slots held by abstract unix sockets. */
#include "sbx_slot.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static atomic_uint slot_next;

/* Bind the slot's socket: the fd, or -1 (EADDRINUSE: held elsewhere). */
int sbx_slot_try(unsigned uid)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int w;

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	w = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "llmrepl-sbx-uid-%u", uid);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)w);
	if (bind(fd, (struct sockaddr *)&sa, len) == 0)
		return fd;
	w = errno;
	close(fd);
	errno = w;
	return -1;
}

int sbx_slot_acquire(unsigned base, unsigned *uid)
{
	/* Start where this process stopped last time, offset by its pid, so
	 * concurrent workers rarely probe the same slots. */
	unsigned start = atomic_fetch_add(&slot_next, 1) + (unsigned)getpid() * 7u;

	for (unsigned i = 0; i < SBX_SLOTS; i++) {
		unsigned n = (start + i) % SBX_SLOTS;
		int fd = sbx_slot_try(base + n);

		if (fd >= 0) {
			*uid = base + n;
			return fd;
		}
		if (errno != EADDRINUSE)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

void sbx_slot_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
