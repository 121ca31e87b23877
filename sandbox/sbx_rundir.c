/* sbx_rundir.c - the namespaces bound under /run/llmrepl-sbx (see
 * sbx_rundir.h). */
#include "sbx_rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

int sbx_rundir_check(int make)
{
	struct stat st;

	if (make && mkdir(SBX_RUN_DIR, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(SBX_RUN_DIR, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

void sbx_rundir_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", SBX_RUN_DIR, name);
}

int sbx_rundir_bind(const char *name, int fd, int replace)
{
	char path[160], src[48];
	int t;

	if (sbx_rundir_check(1) < 0)
		return -1;
	sbx_rundir_path(name, path, sizeof(path));
	if (replace)
		(void)umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
	t = open(path, O_RDONLY | O_CREAT | (replace ? 0 : O_EXCL) | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (t < 0)
		return -1;
	close(t);
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
		(void)unlink(path);
		return -1;
	}
	return 0;
}

void sbx_rundir_drop(const char *name)
{
	char path[160];

	sbx_rundir_path(name, path, sizeof(path));
	(void)umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
	(void)unlink(path);
}
