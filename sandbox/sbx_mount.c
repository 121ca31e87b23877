/* sbx_mount.c - the sandbox's root, built per run or carried by a template
 * (see sbx_mount.h). The child's part runs after a raw clone() of a possibly
 * multi-threaded host: system calls only, as in sbx_child.c. */
#include "sbx_mount.h"

#include "sbx_rundir.h"
#include "sbx_slot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- in the child ------------------------------------------------------------ */

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		sbx_child_fail("mkdir", path);
}

/* A read-only overlay of m->src: two lower layers (overlayfs wants two
 * without an upper one), the second the still empty /proc of the new root,
 * named relative to it (the cwd): mountinfo then shows "overlay" with
 * lowerdir=<src>:proc, nothing of the host's device or paths. */
static void overlay(const sbx_mount *m)
{
	char opts[SBX_PATH + 32];
	size_t n;

	make_dir(m->dst);
	n = sbx_child_append(opts, 0, sizeof(opts), "lowerdir=");
	n = sbx_child_append(opts, n, sizeof(opts), m->src);
	sbx_child_append(opts, n, sizeof(opts), ":proc");
	if (mount("overlay", m->dst, "overlay", m->flags, opts) == 0)
		return;
	sbx_child_note('W', "overlay unavailable, bound instead (mountinfo shows host paths)",
	               m->dst);
	if (mount(m->src, m->dst, NULL, MS_BIND, NULL) < 0)
		sbx_child_fail("bind mount", m->dst);
	if (mount(NULL, m->dst, NULL, MS_BIND | MS_REMOUNT | m->flags, NULL) < 0)
		sbx_child_fail("remount", m->dst);
}

static void write_new_file(const sbx_mount *m, const char *dst)
{
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		sbx_child_fail("create", dst);
	if (m->data)
		sbx_child_put(fd, m->data, m->data_len);
	else
		sbx_child_put(fd, m->src, strlen(m->src));
	close(fd);
}

static void bind(const sbx_mount *m)
{
	int fd;

	if (m->is_file) {
		fd = open(m->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			sbx_child_fail("create", m->dst);
		close(fd);
	} else {
		make_dir(m->dst);
	}
	if (mount(m->src, m->dst, NULL, MS_BIND, NULL) < 0)
		sbx_child_fail("bind mount", m->dst);
	/* The flags of a bind only change on a remount. */
	if (mount(NULL, m->dst, NULL, MS_BIND | MS_REMOUNT | m->flags, NULL) < 0)
		sbx_child_fail("remount", m->dst);
}

static void proc(const sbx_mount *m, const char *dst)
{
	static const char *const proc_opts[] = {"hidepid=invisible,subset=pid", "hidepid=2", NULL};

	/* hidepid hides processes we may not trace (the pool's server);
	 * subset=pid hides the system-wide files. Older kernels lack them; a
	 * container may refuse a new procfs altogether, and Python runs
	 * without one. */
	for (int i = 0; i < 3; i++) {
		if (mount("proc", dst, "proc", m->flags, proc_opts[i]) == 0)
			return;
		if (errno != EINVAL)
			break;
	}
	sbx_child_note('W', "no /proc in the sandbox: mount proc failed", NULL);
}

/* One entry of the shared root, at m->dst under the new root's mount point. */
static void root_mount(const sbx_mount *m)
{
	switch (m->kind) {
	case SBX_M_DIR: make_dir(m->dst); break;
	case SBX_M_SYMLINK:
		if (symlink(m->src, m->dst) < 0)
			sbx_child_fail("symlink", m->dst);
		break;
	case SBX_M_FILE: write_new_file(m, m->dst); break;
	case SBX_M_OVERLAY: overlay(m); break;
	case SBX_M_BIND: bind(m); break;
	case SBX_M_NODE:
		/* chmod after mknod: the umask would narrow the mode. */
		if (mknod(m->dst, S_IFCHR | 0600, (dev_t)m->dev) < 0 || chmod(m->dst, m->mode) < 0)
			sbx_child_fail("mknod", m->dst);
		break;
	case SBX_M_RDONLY:
		if (mount(NULL, m->dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | m->flags, NULL) <
		    0)
			sbx_child_fail("remount read-only", m->dst);
		break;
	case SBX_M_TMPFS:
		make_dir(m->dst);
		if (mount("tmpfs", m->dst, "tmpfs", m->flags, m->src) < 0)
			sbx_child_fail("mount tmpfs", m->dst);
		break;
	case SBX_M_PROC: break;
	}
}

void sbx_mount_root(const sbx_plan *p)
{
	int fd;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		sbx_child_fail("make mounts private", NULL);
	/* A bind source must be a mount of this namespace: open the entry's
	 * directory here (not in the host) and bind it through
	 * /proc/self/fd, which works even if the root tmpfs covers its path. */
	fd = open(p->py_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		sbx_child_fail("open", p->py_dir);
	if (dup3(fd, SBX_CFD_PYDIR, O_CLOEXEC) < 0)
		sbx_child_fail("dup3", p->py_dir);
	close(fd);
	if (mount("tmpfs", p->root, "tmpfs", MS_NOSUID | MS_NODEV,
	          "size=1m,nr_inodes=512,mode=755") < 0)
		sbx_child_fail("mount root tmpfs", p->root);
	/* The overlays name their empty layer relative to the new root. */
	if (chdir(p->root) < 0)
		sbx_child_fail("chdir", p->root);
	make_dir("proc");
	/* The run's own mounts go on mount points made here (SBX_M_DIR). */
	for (int i = 0; i < p->nmounts; i++)
		if (!p->mounts[i].per_run)
			root_mount(&p->mounts[i]);
	if (chdir(p->root) < 0)
		sbx_child_fail("chdir", p->root);
	/* pivot_root(".", ".") stacks the old root on the new one; detaching
	 * it leaves only the new root visible. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		sbx_child_fail("pivot_root", NULL);
	if (umount2(".", MNT_DETACH) < 0)
		sbx_child_fail("detach old root", NULL);
	if (chdir("/") < 0)
		sbx_child_fail("chdir /", NULL);
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		sbx_child_fail("remount / read-only", NULL);
}

void sbx_mount_enter_template(void)
{
	/* setns makes the template's root this process's root and cwd; the
	 * copy is private (the template's mounts are), so nothing mounted in
	 * it reaches the template or another run's copy. */
	if (setns(SBX_CFD_MNTNS, CLONE_NEWNS) < 0)
		sbx_child_fail("join the mount template", NULL);
	close(SBX_CFD_MNTNS);
	if (unshare(CLONE_NEWNS) < 0)
		sbx_child_fail("copy the mount template", NULL);
}

/* One of the run's own mounts at dst, its path in the new root. */
static void run_mount(const sbx_mount *m, const char *dst)
{
	switch (m->kind) {
	case SBX_M_FILE: write_new_file(m, dst); break;
	case SBX_M_RDONLY:
		if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | m->flags, NULL) < 0)
			sbx_child_fail("remount read-only", dst);
		break;
	case SBX_M_TMPFS:
		if (mount("tmpfs", dst, "tmpfs", m->flags, m->src) < 0)
			sbx_child_fail("mount tmpfs", dst);
		break;
	case SBX_M_PROC: proc(m, dst); break;
	default: sbx_child_fail("a run's own mount of this kind", dst);
	}
}

void sbx_mount_run(const sbx_plan *p)
{
	size_t under = strlen(p->root);

	/* /proc last, as when the root was built in one go. */
	for (int last = 0; last < 2; last++)
		for (int i = 0; i < p->nmounts; i++) {
			const sbx_mount *m = &p->mounts[i];

			if (m->per_run && (m->kind == SBX_M_PROC) == last)
				run_mount(m, m->dst + under);
		}
	if (chdir("/") < 0)
		sbx_child_fail("chdir /", NULL);
}

/* ---- in the host --------------------------------------------------------------- */

/* How long a template serves before a fresh one is built: its overlays are
 * views of /usr and the entry's directory taken when it was built (see
 * docs/architecture.md, Risks). */
#define TEMPLATE_AGE_S 10.0

/* The builder: a child in a copy of the host's mount namespace that builds
 * the shared root there, says 'R' on its status pipe, and holds the
 * namespace until the host has opened it (the hold pipe closes). */
static void __attribute__((noreturn)) builder(const sbx_plan *p, int st, int hold)
{
	sigset_t all;
	sbx_msg m;
	char b;
	int s, h;

	/* A copy of the host: none of its signal handlers may run here. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	s = fcntl(st, F_DUPFD_CLOEXEC, 64);
	h = fcntl(hold, F_DUPFD_CLOEXEC, 64);
	if (s < 0 || h < 0 || dup3(s, SBX_CFD_STATUS, O_CLOEXEC) < 0 ||
	    dup3(h, SBX_CFD_ALIVE, O_CLOEXEC) < 0)
		_exit(127);
	syscall(SYS_close_range, 0, SBX_CFD_STATUS - 1, 0);
	syscall(SYS_close_range, SBX_CFD_ALIVE + 1, ~0U, 0);
	sbx_mount_root(p);
	memset(&m, 0, sizeof(m));
	m.tag = 'R';
	sbx_child_put(SBX_CFD_STATUS, &m, sizeof(m));
	while (read(SBX_CFD_ALIVE, &b, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* The builder's first record: 'R' when the root is built and nothing was
 * noted on the way, else anything but. */
static char builder_said(int fd)
{
	struct pollfd pf = {fd, POLLIN, 0};
	sbx_msg m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	while ((n = poll(&pf, 1, 5000)) < 0 && errno == EINTR)
		;
	if (n != 1)
		return 0;
	while ((n = read(fd, &m, sizeof(m))) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(m) ? m.tag : 0;
}

static int template_build(const sbx_setup *s)
{
	sbx_plan *p = malloc(sizeof(*p));
	int st[2] = {-1, -1}, hold[2] = {-1, -1};
	char path[48];
	long pid = -1;
	int fd = -1;

	if (p == NULL)
		return -1;
	*p = s->base;
	snprintf(p->py_dir, sizeof(p->py_dir), "%s", s->py_dir);
	if (pipe2(st, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0)
		pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid == 0)
		builder(p, st[1], hold[0]);
	sbx_close_fd(&st[1]);
	sbx_close_fd(&hold[0]);
	if (pid > 0 && builder_said(st[0]) == 'R') {
		snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (pid > 0 && fd < 0)
		kill((pid_t)pid, SIGKILL);
	sbx_close_fd(&hold[1]);
	sbx_close_fd(&st[0]);
	if (pid > 0)
		while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
			;
	free(p);
	return fd;
}

/* ---- templates shared between processes ------------------------------------- */

/* In a scope that outlives its processes (sbx_slot_scope_durable), a
 * template is bound where the scope's next process finds it, as the slots'
 * network namespaces are (sbx_netns.c): SBX_RUN_DIR/tmpl-<scope>-<key>-<s>,
 * key standing for the entry's directory, s the CLOCK_MONOTONIC second it
 * was built in. A copy of a mount namespace leaves such binds out, so they
 * cost the runs' namespaces nothing. */

/* What a template of s was built from, as far as a stat can tell: the
 * entry's directory (its path, and when it or its __pycache__ last changed:
 * `make` replaces the .pyc files there). A template whose key differs is
 * not used. Changes under /usr are left to the template's age. */
static unsigned long long template_key(const sbx_setup *s)
{
	unsigned long long h = 1469598103934665603ULL;
	char cache[SBX_PATH + 16];
	struct stat st;

	for (const char *c = s->py_dir; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	snprintf(cache, sizeof(cache), "%s/__pycache__", s->py_dir);
	if (stat(s->py_dir, &st) == 0)
		h = (h ^ (unsigned long long)st.st_mtim.tv_sec) * 1099511628211ULL ^
		    (unsigned long long)st.st_mtim.tv_nsec;
	if (stat(cache, &st) == 0)
		h = (h ^ (unsigned long long)st.st_mtim.tv_sec) * 1099511628211ULL ^
		    (unsigned long long)st.st_mtim.tv_nsec;
	return h * 1099511628211ULL;
}

static void shared_prefix(unsigned long long key, char *buf, size_t len)
{
	char name[48], scope[17] = "";

	sbx_slot_cgroup_name(0, name, sizeof(name));
	(void)sscanf(name, "llmrepl-sbx-%16[0-9a-f]-", scope);
	snprintf(buf, len, "tmpl-%s-%016llx-", scope, key);
}

static int is_mntns(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && sf.f_type == NSFS_MAGIC &&
	       ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNS;
}

/* The newest template bound for prefix (tmpl-<scope>-<key>-) that is young
 * enough: an fd, and *built its second; -1 when none. The scope's older
 * ones, whatever their key, are removed. */
static int shared_find(const char *prefix, double now, double *built)
{
	const size_t scope_len = strlen("tmpl-") + 16 + 1;
	size_t plen = strlen(prefix);
	char name[96], path[160];
	struct dirent *e;
	long best = -1;
	DIR *d;
	int fd;

	if (plen <= scope_len || sbx_rundir_check(0) < 0 || (d = opendir(SBX_RUN_DIR)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		unsigned long long key;
		long t;
		char tail;

		if (strncmp(e->d_name, prefix, scope_len) != 0 ||
		    sscanf(e->d_name + scope_len, "%16llx-%ld%c", &key, &t, &tail) != 2)
			continue;
		if ((double)t < now - TEMPLATE_AGE_S || (double)t > now + 1)
			sbx_rundir_drop(e->d_name);
		else if (strncmp(e->d_name, prefix, plen) == 0 && t > best)
			best = t;
	}
	closedir(d);
	if (best < 0)
		return -1;
	snprintf(name, sizeof(name), "%s%ld", prefix, best);
	sbx_rundir_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && !is_mntns(fd)) {
		close(fd);
		fd = -1;
	}
	*built = (double)best;
	return fd;
}

static void shared_publish(const char *prefix, int fd, double built)
{
	char name[96];

	snprintf(name, sizeof(name), "%s%ld", prefix, (long)built);
	(void)sbx_rundir_bind(name, fd, 0);
}

/* ---- the templates of this process --------------------------------------------- */

#define TEMPLATES 4

static struct {
	const sbx_setup *s;
	int fd; /* -1: none could be had */
	double built;
	unsigned long long key; /* template_key when it was built */
} templates[TEMPLATES];
static int ntemplates;
static pthread_mutex_t template_lock = PTHREAD_MUTEX_INITIALIZER;

/* A fresh template for s: one bound by another process of the scope
 * (shared), else one built here (and bound for the others). */
static int template_fresh(const sbx_setup *s, unsigned long long key, int shared, double now,
                          double *built, int *made)
{
	char prefix[64];
	int fd = -1;

	if (shared) {
		shared_prefix(key, prefix, sizeof(prefix));
		fd = shared_find(prefix, now, built);
	}
	if (fd < 0) {
		fd = template_build(s);
		*made = 1;
		*built = (double)(long)now;
		if (fd >= 0 && shared)
			shared_publish(prefix, fd, *built);
	}
	return fd;
}

int sbx_mount_template(const sbx_setup *s, int shared, int *made)
{
	double now;
	int fd = -1;
	int i;

	*made = 0;
	if (!s->as_root)
		return -1;
	now = sbx_now();
	pthread_mutex_lock(&template_lock);
	for (i = 0; i < ntemplates && templates[i].s != s; i++)
		;
	if (i == ntemplates && ntemplates < TEMPLATES) {
		templates[i].s = s;
		templates[i].fd = -1;
		templates[i].built = now - 2 * TEMPLATE_AGE_S;
		ntemplates++;
	}
	if (i < ntemplates) {
		unsigned long long key = template_key(s);

		if (now - templates[i].built > TEMPLATE_AGE_S || key != templates[i].key) {
			if (templates[i].fd >= 0)
				close(templates[i].fd);
			templates[i].key = key;
			templates[i].fd =
			    template_fresh(s, key, shared, now, &templates[i].built, made);
		}
		/* A copy for this run: the one kept may be replaced meanwhile. */
		if (templates[i].fd >= 0)
			fd = fcntl(templates[i].fd, F_DUPFD_CLOEXEC, 0);
	}
	pthread_mutex_unlock(&template_lock);
	return fd;
}

void sbx_plan_mntns(sbx_plan *p, int fd)
{
	if (fd < 0 || p->userns)
		return;
	p->clone_flags &= ~(unsigned long)CLONE_NEWNS;
	p->fds[SBX_CFD_MNTNS - SBX_CFD_OUT] = fd;
}
