/* sbx_slot.c - host-wide uid slots held by abstract unix sockets, or by
 * flock()ed files in LLMREPL_SANDBOX_SLOT_DIR. */
#include "sbx_slot.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

static atomic_uint slot_next;

/* The scope of this process's slot locks, as 16 hex digits (see
 * sbx_slot_cgroup_name). */
static char slot_scope[17];
static int scope_durable;
#define NET_INIT_INO 0xEFFFFFF9U /* PROC_NET_INIT_INO */
static pthread_once_t scope_once = PTHREAD_ONCE_INIT;

/* With a slot directory: the abstract socket held beside each file lock,
 * indexed by the file's fd (stored + 1, so 0 means none). */
#define SLOT_PAIRS 8192
static atomic_int slot_pair[SLOT_PAIRS];

/* Lock <dir>/uid-<uid>: the fd, or -1 (EADDRINUSE: held elsewhere). */
static int slot_try_file(const char *dir, unsigned uid)
{
	char path[4096];
	int fd;
	int e;

	if ((size_t)snprintf(path, sizeof(path), "%s/uid-%u", dir, uid) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	e = errno == EWOULDBLOCK ? EADDRINUSE : errno;
	close(fd);
	errno = e;
	return -1;
}

/* Bind the abstract socket that stands for uid's slot in this network
 * namespace: the fd, or -1 (EADDRINUSE: held elsewhere). */
static int slot_try_abstract(unsigned uid)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd;
	int w;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
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

/* Take the slot: the fd, or -1 (EADDRINUSE: held elsewhere). With a slot
 * directory both locks are taken, the file's and the socket's, so processes
 * with and without LLMREPL_SANDBOX_SLOT_DIR on one host never share a uid
 * (nor remove each other's cgroups as leftovers). The file's fd is the
 * handle; the socket's is remembered beside it and closed with it. */
int sbx_slot_try(unsigned uid)
{
	const char *dir = getenv("LLMREPL_SANDBOX_SLOT_DIR");
	int file, sock;

	sock = slot_try_abstract(uid);
	if (dir == NULL || dir[0] == '\0' || sock < 0)
		return sock;
	file = slot_try_file(dir, uid);
	if (file < 0) {
		int e = errno;

		close(sock);
		errno = e;
		return -1;
	}
	if (file >= SLOT_PAIRS) {
		close(file);
		close(sock);
		errno = EMFILE;
		return -1;
	}
	atomic_store(&slot_pair[file], sock + 1);
	return file;
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

int sbx_slot_take(unsigned base, int first, unsigned *uid, int (*busy)(void *arg, unsigned uid),
                  void *arg, int *all_busy)
{
	int given_up[SBX_SLOT_TRIES];
	int fd = first, n = 0, e;

	*all_busy = 0;
	for (;;) {
		if (fd < 0 && (fd = sbx_slot_acquire(base, uid)) < 0)
			break;
		if (busy == NULL || !busy(arg, *uid))
			break;
		if (n + 1 == SBX_SLOT_TRIES) {
			*all_busy = 1;
			break;
		}
		given_up[n++] = fd;
		fd = -1;
	}
	e = errno;
	while (n > 0)
		sbx_slot_release(given_up[--n]);
	errno = e;
	return fd;
}

void sbx_slot_release(int fd)
{
	if (fd < 0)
		return;
	if (fd < SLOT_PAIRS) {
		int sock = atomic_exchange(&slot_pair[fd], 0) - 1;

		if (sock >= 0)
			close(sock);
	}
	close(fd);
}

/* A bijection of 64-bit values (splitmix64's finalizer): the name shows no
 * inode or device number, and distinct scopes keep distinct names. */
static unsigned long long mix64(unsigned long long z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Where the locks live: the slot directory (its file locks are what every
 * holder of its slots shares), else the network namespace (its abstract
 * sockets). Identified by device and inode, which no two live directories
 * or namespaces share; the device fills the upper 32 bits and the inode the
 * lower (inode numbers above 2^32 are mixed in rather than kept apart). */
static void scope_init(void)
{
	const char *dir = getenv("LLMREPL_SANDBOX_SLOT_DIR");
	struct stat st, init;
	unsigned long long id = 0;

	const char *keep = getenv("LLMREPL_SANDBOX_KEEP");

	if (dir != NULL && dir[0] != '\0' && stat(dir, &st) == 0) {
		scope_durable = 0;
	} else if (stat("/proc/self/ns/net", &st) == 0) {
		/* The initial namespace: its fixed inode number (kernels since
		 * 6.x), else pid 1's namespace where that can be read. */
		scope_durable = st.st_ino == NET_INIT_INO ||
		                (stat("/proc/1/ns/net", &init) == 0 && init.st_ino == st.st_ino &&
		                 init.st_dev == st.st_dev);
	} else {
		st.st_dev = 0;
		st.st_ino = 0;
	}
	if (st.st_ino != 0) {
		unsigned long long dev = ((unsigned long long)major(st.st_dev) << 20) ^
		                         (unsigned long long)minor(st.st_dev);

		id = (dev << 32) ^ (unsigned long long)st.st_ino;
	}
	if (keep != NULL && (strcmp(keep, "0") == 0 || strcmp(keep, "1") == 0))
		scope_durable = keep[0] == '1';
	snprintf(slot_scope, sizeof(slot_scope), "%016llx", mix64(id));
}

void sbx_slot_cgroup_name(unsigned uid, char *buf, size_t len)
{
	pthread_once(&scope_once, scope_init);
	snprintf(buf, len, "llmrepl-sbx-%s-u%u", slot_scope, uid);
}

int sbx_slot_scope_durable(void)
{
	pthread_once(&scope_once, scope_init);
	return scope_durable;
}

int sbx_slot_cgroup_parse(const char *name, unsigned *uid)
{
	char scope[17];
	char tail;

	pthread_once(&scope_once, scope_init);
	if (sscanf(name, "llmrepl-sbx-%16[0-9a-f]-u%u%c", scope, uid, &tail) != 2)
		return 0;
	return strcmp(scope, slot_scope) == 0;
}
