/* sbx_cgroup.c - create, limit, measure and remove per-run cgroups.
 *
 * Discovery runs once per process: /proc/self/cgroup says where this process
 * is, /proc/self/mountinfo where each hierarchy is mounted. With cgroup v1
 * (memory, pids, cpu and cpuacct in hierarchies of their own or co-mounted)
 * a run gets a directory in each; with v2 one directory with every
 * controller, which our own cgroup must already delegate (subtree_control)
 * or let us enable. */
#include "sbx_cgroup.h"

#include "sbx_netns.h"
#include "sbx_slot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CPU_PERIOD_US 100000

/* v1 controller names, by SBX_CG_*. */
static const char *const cg_names[SBX_CG_N] = {"memory", "pids", "cpu", "cpuacct"};

static struct {
	int version;
	int base[SBX_CG_N];  /* dir fd of our own cgroup per controller; -1 = none */
	int alias[SBX_CG_N]; /* the first controller of the same hierarchy (itself if first) */
	int memsw;           /* v1 memory.memsw.* or v2 memory.swap.max exists */
	char why[200];
} cgd = {0, {-1, -1, -1, -1}, {0, 1, 2, 3}, 0, ""};

static pthread_once_t cg_once = PTHREAD_ONCE_INIT;

/* Read a small file under dir into buf; returns bytes or -1. */
static ssize_t read_at(int dir, const char *name, char *buf, size_t len)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static int write_at(int dir, const char *name, const char *val)
{
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(val);
	ssize_t n;
	int e;

	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)len ? 0 : -1;
}

/* Write val unless the file holds it already (a cgroup taken over from an
 * earlier process mostly does: a CPU bandwidth write walks the scheduler's
 * run queues, a read does not). */
static int ensure_at(int dir, const char *name, const char *val)
{
	char buf[64];
	ssize_t n = read_at(dir, name, buf, sizeof(buf));

	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && strcmp(buf, val) == 0)
		return 0;
	return write_at(dir, name, val);
}

/* Is `word` one of the items of a comma-separated list? */
static int csv_has(const char *csv, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = csv; *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return 1;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

/* /proc/self/mountinfo and /proc/self/cgroup, read once for the whole
 * discovery (NULL: unreadable). */
static char *mountinfo_text, *cgroup_text;

static char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 16 * 1024, len = 0;
	char *text = NULL;
	ssize_t n = 1;

	if (fd < 0)
		return NULL;
	/* In large reads: procfs says 1 kB blocks, and stdio would read that
	 * (a mountinfo is tens of kB with a few overlays or kept namespaces). */
	while (n > 0) {
		char *t = len + 1 >= cap || text == NULL ? realloc(text, cap *= 2) : text;

		if (t == NULL) {
			free(text);
			close(fd);
			return NULL;
		}
		text = t;
		while ((n = read(fd, text + len, cap - len - 1)) < 0 && errno == EINTR)
			;
		if (n > 0)
			len += (size_t)n;
	}
	close(fd);
	if (n < 0) {
		free(text);
		return NULL;
	}
	text[len] = '\0';
	return text;
}

/* Copy the line at *p into line (cut at len - 1) and step past it; 0 at the
 * end of the text. */
static int next_line(const char **p, char *line, size_t len)
{
	const char *nl;
	size_t n;

	if (*p == NULL || **p == '\0')
		return 0;
	nl = strchr(*p, '\n');
	n = nl ? (size_t)(nl - *p) + 1 : strlen(*p);
	snprintf(line, len, "%.*s", (int)(n < len ? n : len - 1), *p);
	*p += n;
	return 1;
}

/* Find the mount point of a hierarchy in mountinfo: fstype "cgroup" with
 * `want` among its super options (v1), or fstype "cgroup2" (want NULL).
 * Writes the mount point and the mount's root. */
static int find_mount(const char *want, char *mnt, size_t mlen, char *root, size_t rlen)
{
	const char *p = mountinfo_text;
	char line[4096];
	int found = -1;

	if (p == NULL)
		return -1;
	while (found < 0 && next_line(&p, line, sizeof(line))) {
		char r[1024], m[1024], fstype[64], src[256], opts[1024];
		char *dash = strstr(line, " - ");

		/* Most lines are of other file systems: skip them unparsed. */
		if (dash == NULL || strncmp(dash + 3, "cgroup", 6) != 0 ||
		    sscanf(line, "%*s %*s %*s %1023s %1023s", r, m) != 2 ||
		    sscanf(dash + 3, "%63s %255s %1023s", fstype, src, opts) != 3)
			continue;
		if (want == NULL ? strcmp(fstype, "cgroup2") != 0
		                 : strcmp(fstype, "cgroup") != 0 || !csv_has(opts, want))
			continue;
		snprintf(mnt, mlen, "%s", m);
		snprintf(root, rlen, "%s", r);
		found = 0;
	}
	return found;
}

/* Our cgroup path in a hierarchy: v1 by controller name, v2 with want NULL.
 * Lines look like "4:memory:/path" or "0::/path". */
static int own_path(const char *want, char *out, size_t len)
{
	const char *p = cgroup_text;
	char line[4096];
	int found = -1;

	if (p == NULL)
		return -1;
	while (found < 0 && next_line(&p, line, sizeof(line))) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *nl = strchr(line, '\n');

		if (c2 == NULL)
			continue;
		if (nl)
			*nl = '\0';
		*c1 = '\0';
		*c2 = '\0';
		if (want == NULL ? strcmp(line, "0") != 0 || c1[1] != '\0' : !csv_has(c1 + 1, want))
			continue;
		snprintf(out, len, "%s", c2 + 1);
		found = 0;
	}
	return found;
}

/* Open the directory of our own cgroup in one hierarchy. */
static int open_own(const char *want, char *why, size_t len)
{
	char mnt[1024], root[1024], path[1024], full[2200];
	const char *rel;
	int fd;

	if (find_mount(want, mnt, sizeof(mnt), root, sizeof(root)) < 0) {
		snprintf(why, len, "no %s cgroup hierarchy mounted", want ? want : "v2");
		return -1;
	}
	if (own_path(want, path, sizeof(path)) < 0) {
		snprintf(why, len, "not in a %s cgroup", want ? want : "v2");
		return -1;
	}
	/* In a container the mount's root may be our own cgroup already. */
	rel = path;
	if (strcmp(root, "/") != 0 && strncmp(path, root, strlen(root)) == 0)
		rel = path + strlen(root);
	snprintf(full, sizeof(full), "%s%s%s", mnt, rel[0] == '/' ? "" : "/", rel);
	fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "cannot open %s: %s", full, strerror(errno));
		return -1;
	}
	if (faccessat(fd, ".", W_OK, AT_EACCESS) < 0) {
		snprintf(why, len, "cgroup %s is not writable", full);
		close(fd);
		return -1;
	}
	return fd;
}

static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '+') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return 1;
	return 0;
}

static int enable_controllers(int fd)
{
	/* Each on its own: a controller we may not enable leaves the others. */
	int rc = write_at(fd, "cgroup.subtree_control", "+memory");

	(void)write_at(fd, "cgroup.subtree_control", "+pids");
	(void)write_at(fd, "cgroup.subtree_control", "+cpu");
	return rc;
}

/* Enable memory (and pids, cpu) for the cgroups we create below our own. v2
 * lets a cgroup that holds processes have no controllers below it (EBUSY):
 * when we are the only process in it, move into a leaf of our own first (as
 * nsjail does); with others there, go without. */
static int enable_v2(int fd)
{
	char procs[64];
	char self[24];
	int leaf;

	if (enable_controllers(fd) == 0)
		return 0;
	if (errno != EBUSY)
		return -1;
	snprintf(self, sizeof(self), "%d\n", (int)getpid());
	if (read_at(fd, "cgroup.procs", procs, sizeof(procs)) < 0 || strcmp(procs, self) != 0) {
		errno = EBUSY;
		return -1;
	}
	if (mkdirat(fd, "llmrepl-host", 0755) < 0 && errno != EEXIST)
		return -1;
	leaf = openat(fd, "llmrepl-host", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (leaf < 0)
		return -1;
	if (write_at(leaf, "cgroup.procs", "0") < 0) {
		close(leaf);
		return -1;
	}
	close(leaf);
	return enable_controllers(fd);
}

static void remove_dir(int base, const char *name)
{
	/* The last processes may still be leaving: retry briefly. */
	for (int i = 0; i < 200; i++) {
		if (unlinkat(base, name, AT_REMOVEDIR) == 0 || errno != EBUSY)
			return;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
}

static void remove_one(int dir, const char *name, int wait)
{
	if (wait)
		remove_dir(dir, name);
	else
		(void)unlinkat(dir, name, AT_REMOVEDIR);
}

/* Remove a cgroup and those a pool makes below it (srv, run, run1: one
 * level, any name); only empty ones go. wait: its last processes may still
 * be dying (their host was killed just now): give them the time remove_dir
 * gives. */
static void remove_tree(int base, const char *name, int wait)
{
	int fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (d == NULL && fd >= 0)
		close(fd);
	while (d != NULL && (e = readdir(d)) != NULL)
		if (e->d_type == DT_DIR && e->d_name[0] != '.')
			remove_one(dirfd(d), e->d_name, wait);
	if (d != NULL)
		closedir(d);
	remove_one(base, name, wait);
}

/* Remove a cgroup name (and what a pool made below it) in every hierarchy. */
static void remove_everywhere(const char *name)
{
	for (int c = 0; c < SBX_CG_N; c++)
		if (cgd.base[c] >= 0 && cgd.alias[c] == c)
			remove_tree(cgd.base[c], name, 0);
}

/* The cgroups of this scope's uid slots that nobody holds now: left ready
 * by an earlier process (sbx_cgroup_leave) or by a creator killed mid-run.
 * The first whose slot is in range is taken for this process (the slot's
 * lock kept, see sbx_cgroup_ready_slot; the cgroup is checked when it is
 * opened), up to SBX_CG_SPARE more are left for the processes after us,
 * and the rest are removed with the network namespace kept for their
 * slot (sbx_netns.h) (held while we look, so no new run can take the
 * name meanwhile). Names named after a dead pid (older versions) go too.
 * Names of another scope (another network namespace or slot directory,
 * whose holders our locks do not see) and the older llmrepl-sbx-u<uid>
 * (whose scope is unknown) are left alone. rmdir only removes an empty
 * cgroup, so nothing with a process in it is touched. Only the memory
 * hierarchy (v1; the one hierarchy on v2) is listed: a name is made there
 * first and removed there first, and the other hierarchies' copy of a name
 * goes with it (a copy left alone by a creator killed between two mkdirs
 * is reused or removed with its slot's next cgroup). */
#define SBX_CG_SPARE 8

static struct {
	int fd;
	unsigned uid;
} cg_ready = {-1, 0};

static void sweep(int base, unsigned lo, unsigned hi)
{
	DIR *d;
	struct dirent *e;
	int fd, spare = 0;

	if (base < 0 || (fd = dup(base)) < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		int pid = 0;
		unsigned n = 0;
		char tail;

		if (sbx_slot_cgroup_parse(e->d_name, &n)) {
			int lock = sbx_slot_try(n);

			if (lock < 0)
				continue;
			if (cgd.version == 1 && cg_ready.fd < 0 && n >= lo && n < hi) {
				cg_ready.fd = lock;
				cg_ready.uid = n;
				continue;
			}
			if (cgd.version != 1 || ++spare > SBX_CG_SPARE) {
				remove_everywhere(e->d_name);
				sbx_netns_drop(n);
			}
			sbx_slot_release(lock);
		} else if (sscanf(e->d_name, "llmrepl-sbx-%d-%u%c", &pid, &n, &tail) == 2 &&
		           pid > 0 && pid != (int)getpid() && kill(pid, 0) < 0 && errno == ESRCH) {
			(void)unlinkat(base, e->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

static void discover_v1(void)
{
	char mnt[SBX_CG_N][1024];

	for (int c = 0; c < SBX_CG_N; c++) {
		char root[1024], why[200];

		mnt[c][0] = '\0';
		cgd.alias[c] = c;
		if (find_mount(cg_names[c], mnt[c], sizeof(mnt[c]), root, sizeof(root)) < 0)
			continue;
		for (int k = 0; k < c; k++)
			if (strcmp(mnt[k], mnt[c]) == 0)
				cgd.alias[c] = k;
		if (cgd.alias[c] != c) {
			cgd.base[c] = cgd.base[cgd.alias[c]];
			continue;
		}
		cgd.base[c] = open_own(cg_names[c], why, sizeof(why));
		if (cgd.base[c] < 0 && c == SBX_CG_PIDS)
			snprintf(cgd.why, sizeof(cgd.why), "pids cgroup unavailable: %s", why);
	}
	cgd.memsw = faccessat(cgd.base[SBX_CG_MEM], "memory.memsw.limit_in_bytes", F_OK, 0) == 0;
}

static void discover_in(void)
{
	char buf[512];
	char why1[200] = "", why2[200] = "";
	int fd = open_own("memory", why1, sizeof(why1));

	if (fd >= 0) {
		close(fd);
		cgd.version = 1;
		discover_v1();
		return;
	}
	fd = open_own(NULL, why2, sizeof(why2));
	if (fd >= 0) {
		if (read_at(fd, "cgroup.controllers", buf, sizeof(buf)) < 0 ||
		    !has_word(buf, "memory")) {
			snprintf(cgd.why, sizeof(cgd.why),
			         "cgroup v2: the memory controller is not delegated to our cgroup");
			close(fd);
			return;
		}
		if (read_at(fd, "cgroup.subtree_control", buf, sizeof(buf)) < 0 ||
		    !has_word(buf, "memory") || !has_word(buf, "pids") || !has_word(buf, "cpu")) {
			if (enable_v2(fd) < 0) {
				snprintf(cgd.why, sizeof(cgd.why),
				         "cgroup v2: cannot enable the memory controller below our "
				         "cgroup (%s); run the worker in a delegated cgroup",
				         strerror(errno));
				close(fd);
				return;
			}
		}
		cgd.version = 2;
		for (int c = 0; c < SBX_CG_N; c++) {
			cgd.base[c] = fd;
			cgd.alias[c] = SBX_CG_MEM;
		}
		return;
	}
	snprintf(cgd.why, sizeof(cgd.why), "%s; %s", why1, why2);
}

/* The uid range whose kept cgroup this process may take (set before the
 * discovery by sbx_cgroup_ready_slot; none otherwise). */
static unsigned ready_lo, ready_hi;

static void discover(void)
{
	mountinfo_text = read_text("/proc/self/mountinfo");
	cgroup_text = read_text("/proc/self/cgroup");
	discover_in();
	free(mountinfo_text);
	free(cgroup_text);
	mountinfo_text = cgroup_text = NULL;
	if (cgd.version != 0)
		sweep(cgd.base[SBX_CG_MEM], ready_lo, ready_hi);
}

int sbx_cgroup_ready_slot(unsigned lo, unsigned hi, unsigned *uid)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int fd;

	pthread_mutex_lock(&lock);
	if (ready_hi == 0) {
		ready_lo = lo;
		ready_hi = hi;
	}
	pthread_mutex_unlock(&lock);
	pthread_once(&cg_once, discover);
	pthread_mutex_lock(&lock);
	fd = cg_ready.fd;
	*uid = cg_ready.uid;
	cg_ready.fd = -1;
	pthread_mutex_unlock(&lock);
	return fd;
}

void sbx_cgroup_init(sbx_cgroup *cg)
{
	memset(cg, 0, sizeof(*cg));
	for (int c = 0; c < SBX_CG_N; c++)
		cg->dir[c] = cg->procs_fd[c] = -1;
	for (int f = 0; f < SBX_CGF_N; f++)
		cg->file_fd[f] = -1;
}

static void close_files(sbx_cgroup *cg)
{
	for (int f = 0; f < SBX_CGF_N; f++)
		if (cg->file_fd[f] >= 0)
			close(cg->file_fd[f]);
}

/* Memory still charged to a kept cgroup (page cache an earlier run read
 * first) above which it is made afresh instead. */
#define REUSE_MAX_BYTES (8LL << 20)

static long long read_num(int dir, const char *name);

/* Whether the cgroup at dir can serve a run as it is: no cgroup below it
 * (a pool's srv and run), no process in it, and (memory) little charged. */
static int reusable(int dir, int memory)
{
	struct stat st;
	char buf[8];
	long long used;

	if (fstat(dir, &st) < 0 || st.st_nlink != 2 ||
	    read_at(dir, "cgroup.procs", buf, sizeof(buf)) != 0)
		return 0;
	used = memory ? read_num(dir, "memory.usage_in_bytes") : 0;
	return used >= 0 && used <= REUSE_MAX_BYTES;
}

/* Make the cgroup `name` under base, or take the one there: *reused says
 * which. One found with a process or a cgroup in it is not used: it is
 * removed once its last processes are gone (a killed creator's run may
 * still be dying) and made again; -2 when it cannot be (a process stays
 * in it). */
static int make_dir(int base, const char *name, int memory, int *reused, char *note, size_t len)
{
	int fd;
	int top = strchr(name, '/') == NULL;

	if (mkdirat(base, name, 0755) < 0) {
		if (errno == EEXIST && top) {
			fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (fd >= 0 && cgd.version == 1 && reusable(fd, memory)) {
				*reused = 1;
				return fd;
			}
			if (fd >= 0)
				close(fd);
			remove_tree(base, name, 1);
		}
		if (mkdirat(base, name, 0755) < 0) {
			int busy = errno == EEXIST && top;

			snprintf(note, len, "cannot create cgroup %s: %s", name, strerror(errno));
			return busy ? -2 : -1;
		}
	}
	fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(note, len, "cannot open cgroup %s: %s", name, strerror(errno));
		unlinkat(base, name, AT_REMOVEDIR);
	}
	return fd;
}

static int set_memory(sbx_cgroup *cg, long long bytes)
{
	int dir = cg->dir[SBX_CG_MEM];
	char v[32];
	int rc = 0;

	snprintf(v, sizeof(v), "%lld", bytes);
	if (cg->version == 2) {
		rc |= write_at(dir, "memory.max", v);
		(void)write_at(dir, "memory.swap.max", "0");
		return rc;
	}
	/* memsw must stay >= the memory limit: order the writes. */
	{
		long long cur = -1;
		char buf[64];

		if (read_at(dir, "memory.limit_in_bytes", buf, sizeof(buf)) > 0)
			cur = strtoll(buf, NULL, 10);
		if (cur == bytes && (!cgd.memsw || (read_at(dir, "memory.memsw.limit_in_bytes", buf,
		                                            sizeof(buf)) > 0 &&
		                                    strtoll(buf, NULL, 10) == bytes)))
			return 0;
		if (cgd.memsw && cur >= 0 && bytes > cur) {
			rc |= write_at(dir, "memory.memsw.limit_in_bytes", v);
			rc |= write_at(dir, "memory.limit_in_bytes", v);
		} else {
			rc |= write_at(dir, "memory.limit_in_bytes", v);
			if (cgd.memsw)
				rc |= write_at(dir, "memory.memsw.limit_in_bytes", v);
		}
	}
	return rc;
}

int sbx_cgroup_limits_differ(const sbx_cg_limits *a, const sbx_cg_limits *b)
{
	return a->mem_bytes != b->mem_bytes || a->pids_max != b->pids_max || a->cpus != b->cpus;
}

int sbx_cgroup_set_limits(sbx_cgroup *cg, const sbx_cg_limits *l)
{
	char v[48];
	int rc = 0;

	if (cg->version == 0)
		return -1;
	if (l->mem_bytes > 0)
		rc |= set_memory(cg, l->mem_bytes);
	if (cg->have_pids && l->pids_max > 0) {
		snprintf(v, sizeof(v), "%ld", l->pids_max);
		rc |= ensure_at(cg->dir[SBX_CG_PIDS], "pids.max", v);
	}
	if (cg->have_cpu && l->cpus > 0) {
		long quota = (long)(l->cpus * CPU_PERIOD_US);

		if (quota < 1000)
			quota = 1000;
		if (cg->version == 1) {
			snprintf(v, sizeof(v), "%ld", quota);
			rc |= ensure_at(cg->dir[SBX_CG_CPU], "cpu.cfs_quota_us", v);
		} else {
			snprintf(v, sizeof(v), "%ld %d", quota, CPU_PERIOD_US);
			rc |= write_at(cg->dir[SBX_CG_CPU], "cpu.max", v);
		}
	}
	return rc ? -1 : 0;
}

/* A cgroup taken over from an earlier process (v1): whatever it was left
 * with is set again, so a run never goes with another's settings. What l
 * leaves open (0) is made unlimited; the CPU period is the one quotas are
 * computed for; the OOM killer is on. */
static int reset_limits(sbx_cgroup *cg, const sbx_cg_limits *l)
{
	int rc = 0;

	if (l->mem_bytes <= 0) {
		if (cgd.memsw)
			rc |= write_at(cg->dir[SBX_CG_MEM], "memory.memsw.limit_in_bytes", "-1");
		rc |= write_at(cg->dir[SBX_CG_MEM], "memory.limit_in_bytes", "-1");
	}
	rc |= write_at(cg->dir[SBX_CG_MEM], "memory.oom_control", "0");
	if (cg->have_pids && l->pids_max <= 0)
		rc |= write_at(cg->dir[SBX_CG_PIDS], "pids.max", "max");
	if (cg->have_cpu) {
		rc |= ensure_at(cg->dir[SBX_CG_CPU], "cpu.cfs_period_us", "100000");
		if (l->cpus <= 0)
			rc |= write_at(cg->dir[SBX_CG_CPU], "cpu.cfs_quota_us", "-1");
	}
	return rc ? -1 : 0;
}

int sbx_cgroup_create(sbx_cgroup *cg, const char *name, const sbx_cg_limits *l, int parent_of,
                      char *note, size_t len)
{
	pthread_once(&cg_once, discover);
	int reused = 0, busy = 0;

	sbx_cgroup_init(cg);
	note[0] = '\0';
	if (cgd.version == 0) {
		snprintf(note, len, "cgroup unavailable: %s", cgd.why);
		return -1;
	}
	snprintf(cg->name, sizeof(cg->name), "%s", name);
	cg->version = cgd.version;
	for (int c = 0; c < SBX_CG_N; c++) {
		if (cgd.base[c] < 0)
			continue;
		if (cgd.alias[c] != c) {
			cg->dir[c] = cg->dir[cgd.alias[c]];
			continue;
		}
		cg->dir[c] = make_dir(cgd.base[c], name, c == SBX_CG_MEM, &reused, note, len);
		if (cg->dir[c] < 0) {
			/* v1: a pids cgroup there already, or its parent gone,
			 * is another's leftover in the way (or removing it). */
			int e = errno;

			busy =
			    cg->dir[c] == -2 || (c == SBX_CG_PIDS && (e == EEXIST || e == ENOENT));
			if (c == SBX_CG_MEM || busy)
				goto fail;
			note[0] = '\0';
			continue;
		}
		cg->own[c] = 1;
		cg->procs_fd[c] = openat(cg->dir[c], "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (cg->procs_fd[c] < 0)
			goto fail;
	}
	cg->have_pids =
	    cg->dir[SBX_CG_PIDS] >= 0 && faccessat(cg->dir[SBX_CG_PIDS], "pids.max", F_OK, 0) == 0;
	cg->have_cpu = cg->dir[SBX_CG_CPU] >= 0 &&
	               faccessat(cg->dir[SBX_CG_CPU],
	                         cg->version == 1 ? "cpu.cfs_quota_us" : "cpu.max", F_OK, 0) == 0 &&
	               cg->dir[SBX_CG_ACCT] >= 0;
	if (!cg->have_pids && cgd.version == 1 && cg->dir[SBX_CG_PIDS] >= 0) {
		/* Made, yet without pids.max: removed from under us. */
		snprintf(note, len, "cgroup %s removed while it was made", name);
		busy = 1;
		goto fail;
	}
	if (!cg->have_pids)
		snprintf(note, len, "%s", cgd.why[0] ? cgd.why : "pids controller unavailable");
	else if (!cg->have_cpu)
		snprintf(note, len,
		         "cpu controller unavailable: CPU not limited for the run as a whole");
	if (parent_of && cg->version == 2)
		(void)enable_controllers(cg->dir[SBX_CG_MEM]);
	if ((reused && reset_limits(cg, l) < 0) || sbx_cgroup_set_limits(cg, l) < 0) {
		snprintf(note, len, "cannot set cgroup limits: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (note[0] == '\0')
		snprintf(note, len, "cgroup setup failed: %s", strerror(errno));
	sbx_cgroup_destroy(cg);
	return busy ? -2 : -1;
}

/* Counter file f (dir[c]/name) on its kept descriptor, opened at its first
 * use (read and write where it may be reset, else read only), so that a
 * run's counters are not a path walk, an open and a close each (on cgroupfs
 * these cost more than the read). -1 when it cannot be opened: the callers
 * then open it by name as before. The descriptor is the struct's cache, set
 * through a const pointer by the readers; O_CLOEXEC, and a sandbox's child
 * closes every descriptor it is not given. */
static int kept(const sbx_cgroup *cg, int f, int c, const char *name)
{
	sbx_cgroup *m = (sbx_cgroup *)cg;

	if (m->file_fd[f] < 0 && cg->dir[c] >= 0) {
		m->file_fd[f] = openat(cg->dir[c], name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (m->file_fd[f] < 0)
			m->file_fd[f] = openat(cg->dir[c], name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	return m->file_fd[f];
}

/* The file read again from its start: cgroupfs makes it afresh then. */
static ssize_t read_kept(const sbx_cgroup *cg, int f, int c, const char *name, char *buf,
                         size_t len)
{
	int fd = kept(cg, f, c, name);
	ssize_t n;

	if (fd < 0)
		return cg->dir[c] < 0 ? -1 : read_at(cg->dir[c], name, buf, len);
	n = pread(fd, buf, len - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static int write_kept(sbx_cgroup *cg, int f, int c, const char *name, const char *val)
{
	int fd = kept(cg, f, c, name);
	size_t len = strlen(val);

	if (fd < 0 || pwrite(fd, val, len, 0) != (ssize_t)len)
		return cg->dir[c] < 0 ? -1 : write_at(cg->dir[c], name, val);
	return 0;
}

static long long num_of(const char *buf, ssize_t n)
{
	return n <= 0 ? -1 : strtoll(buf, NULL, 10);
}

/* The number after `key ` in a flat-keyed file's text (cpu.stat, memory.events). */
static long long key_of(const char *buf, ssize_t got, const char *key)
{
	size_t n = strlen(key);

	if (got <= 0)
		return -1;
	for (const char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

static long long read_num(int dir, const char *name)
{
	char buf[64];

	if (dir < 0 || read_at(dir, name, buf, sizeof(buf)) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

/* The number after `key ` in a flat-keyed file (cpu.stat, memory.events). */
/* A memory figure in kB: the v1 file's or the v2 file's; -1 unknown. */
static long mem_kb(const sbx_cgroup *cg, const char *v1, const char *v2)
{
	long long v = -1;

	if (cg->version == 1 || cg->version == 2)
		v = read_num(cg->dir[SBX_CG_MEM], cg->version == 1 ? v1 : v2);
	return v < 0 ? -1 : (long)(v / 1024);
}

long sbx_cgroup_peak_kb(const sbx_cgroup *cg)
{
	char buf[64];
	long long v;

	if (cg->version != 1 && cg->version != 2)
		return -1;
	v = num_of(buf, read_kept(cg, SBX_CGF_PEAK, SBX_CG_MEM,
	                          cg->version == 1 ? "memory.max_usage_in_bytes" : "memory.peak",
	                          buf, sizeof(buf)));
	return v < 0 ? -1 : (long)(v / 1024);
}

int sbx_cgroup_reset_peak(sbx_cgroup *cg)
{
	/* v2's memory.peak resets only for the file description that wrote it. */
	if (cg->version == 1)
		return write_kept(cg, SBX_CGF_PEAK, SBX_CG_MEM, "memory.max_usage_in_bytes", "0");
	return -1;
}

static long long cpu_us(const sbx_cgroup *cg)
{
	char buf[1024];
	long long v;

	if (!cg->have_cpu)
		return -1;
	if (cg->version == 1) {
		v = num_of(buf, read_kept(cg, SBX_CGF_CPU, SBX_CG_ACCT, "cpuacct.usage", buf,
		                          sizeof(buf)));
		return v < 0 ? -1 : v / 1000;
	}
	return key_of(buf, read_kept(cg, SBX_CGF_CPU, SBX_CG_CPU, "cpu.stat", buf, sizeof(buf)),
	              "usage_usec");
}

double sbx_cgroup_cpu_s(const sbx_cgroup *cg)
{
	long long v = cpu_us(cg);

	return v < 0 ? -1 : (double)(v - cg->cpu_base_us) / 1e6;
}

void sbx_cgroup_reset_cpu(sbx_cgroup *cg)
{
	if (cg->version == 1 && cg->have_cpu &&
	    write_kept(cg, SBX_CGF_CPU, SBX_CG_ACCT, "cpuacct.usage", "0") == 0)
		return;
	cg->cpu_base_us = cpu_us(cg);
	if (cg->cpu_base_us < 0)
		cg->cpu_base_us = 0;
}

long sbx_cgroup_oom_kills(const sbx_cgroup *cg)
{
	char buf[1024];
	long long v;

	if (cg->version == 0)
		return 0;
	v = key_of(buf,
	           read_kept(cg, SBX_CGF_OOM, SBX_CG_MEM,
	                     cg->version == 1 ? "memory.oom_control" : "memory.events", buf,
	                     sizeof(buf)),
	           "oom_kill");
	return v < 0 ? 0 : (long)v;
}

void sbx_cgroup_kill(sbx_cgroup *cg)
{
	if (cg->version == 2)
		(void)write_at(cg->dir[SBX_CG_MEM], "cgroup.kill", "1");
}

int sbx_cgroup_empty(const sbx_cgroup *cg)
{
	char buf[8];

	return cg->version != 0 &&
	       read_at(cg->dir[SBX_CG_MEM], "cgroup.procs", buf, sizeof(buf)) == 0;
}

long sbx_cgroup_usage_kb(const sbx_cgroup *cg)
{
	return mem_kb(cg, "memory.usage_in_bytes", "memory.current");
}

void sbx_cgroup_leave(sbx_cgroup *cg)
{
	close_files(cg);
	for (int c = 0; c < SBX_CG_N; c++) {
		if (cg->procs_fd[c] >= 0)
			close(cg->procs_fd[c]);
		if (cg->own[c] && cg->dir[c] >= 0)
			close(cg->dir[c]);
	}
	sbx_cgroup_init(cg);
}

void sbx_cgroup_destroy(sbx_cgroup *cg)
{
	close_files(cg);
	for (int c = 0; c < SBX_CG_N; c++) {
		if (cg->procs_fd[c] >= 0)
			close(cg->procs_fd[c]);
		if (cg->own[c] && cg->dir[c] >= 0) {
			close(cg->dir[c]);
			remove_dir(cgd.base[c], cg->name);
		}
	}
	sbx_cgroup_init(cg);
}
