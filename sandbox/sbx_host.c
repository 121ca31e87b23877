/* sbx_host.c - configuration, plans, the clone, and end classification. */
#include "sbx_host.h"
#include "sbx_slot.h"

#include "sbx_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where the sandbox sees the entry's directory. */
#define SBX_PY_INSIDE "/sandbox"

void sbx_limits_resolve(sbx_limits *out, const sbx_limits *in)
{
	sbx_limits d;

	sbx_limits_default(&d);
	*out = in ? *in : d;
	if (!(out->timeout_s > 0))
		out->timeout_s = d.timeout_s;
	if (out->timeout_s > 86400)
		out->timeout_s = 86400;
	if (!(out->cpu_s > 0))
		out->cpu_s = ceil(out->timeout_s) + 1;
	if (out->cpu_s > 86400)
		out->cpu_s = 86400;
	if (out->memory_mb <= 0)
		out->memory_mb = d.memory_mb;
	if (out->memory_mb < 32)
		out->memory_mb = 32; /* the interpreter alone needs ~20 MB of address space */
	if (out->memory_mb > 1 << 20)
		out->memory_mb = 1 << 20;
	if (out->max_procs <= 0)
		out->max_procs = d.max_procs;
	if (out->max_procs > 4096)
		out->max_procs = 4096;
	if (out->file_size_mb <= 0)
		out->file_size_mb = d.file_size_mb;
	if (out->file_size_mb > 1 << 16)
		out->file_size_mb = 1 << 16;
	if (out->max_files <= 0)
		out->max_files = d.max_files;
	if (out->max_files < 16)
		out->max_files = 16;
	if (out->max_files > 4096)
		out->max_files = 4096;
	if (out->output_max == 0)
		out->output_max = d.output_max;
	if (out->answer_max == 0)
		out->answer_max = d.answer_max;
	if (!(out->cpus > 0))
		out->cpus = 1;
	if (out->cpus < 0.01)
		out->cpus = 0.01;
	if (out->cpus > 1024)
		out->cpus = 1024;
}

sbx_cg_limits sbx_limits_cgroup(const sbx_limits *lim, long extra_procs)
{
	return (sbx_cg_limits){lim->memory_mb * 1024LL * 1024LL, lim->max_procs + extra_procs,
	                       lim->cpus};
}

/* ---- configuration ------------------------------------------------------- */

static unsigned long mount_flags_of(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	/* In a user namespace these are locked on the source mount: a
	 * remount must repeat them or it is refused. */
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	return f;
}

static sbx_mount *add_mount(sbx_plan *p, int kind, const char *src, const char *dst,
                            unsigned long flags)
{
	sbx_mount *m;

	if (p->nmounts >= SBX_MAX_MOUNTS)
		return NULL;
	m = &p->mounts[p->nmounts++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	snprintf(m->src, sizeof(m->src), "%s", src ? src : "");
	snprintf(m->dst, sizeof(m->dst), "%s%s", p->root, dst);
	m->flags = flags;
	return m;
}

/* One of a run's own mounts (sbx_mount.per_run), made in its root. */
static void add_run_mount(sbx_plan *p, int kind, const char *src, const char *dst,
                          unsigned long flags)
{
	sbx_mount *m = add_mount(p, kind, src, dst, flags);

	if (m)
		m->per_run = 1;
}

static void add_bind(sbx_plan *p, const char *src, const char *dst, int is_file,
                     unsigned long extra)
{
	sbx_mount *m = add_mount(p, SBX_M_BIND, src, dst, mount_flags_of(src) | extra);

	if (m)
		m->is_file = is_file;
}

/* A directory of the host, read-only: an overlay (see sbx_child.c). */
static void add_overlay(sbx_plan *p, const char *src, const char *dst, unsigned long flags)
{
	add_mount(p, SBX_M_OVERLAY, src, dst, flags);
}

/* The host's ld.so.cache, copied into the root (a bind would show the
 * host's block device in mountinfo). Read once per process and kept. */
static char *ld_cache;
static size_t ld_cache_len;
static pthread_once_t ld_cache_once = PTHREAD_ONCE_INIT;

static void read_ld_cache(void)
{
	int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *d;

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size <= 512 * 1024 && (d = malloc((size_t)st.st_size)) != NULL) {
		if (read(fd, d, (size_t)st.st_size) == (ssize_t)st.st_size) {
			ld_cache = d;
			ld_cache_len = (size_t)st.st_size;
		} else {
			free(d);
		}
	}
	close(fd);
}

static void add_ld_cache(sbx_plan *p)
{
	sbx_mount *m;

	pthread_once(&ld_cache_once, read_ld_cache);
	if (ld_cache == NULL)
		return;
	m = add_mount(p, SBX_M_FILE, NULL, "/etc/ld.so.cache", 0);
	if (m) {
		m->data = ld_cache;
		m->data_len = ld_cache_len;
		m->per_run = 1;
	}
}

static int choose_root(sbx_plan *p)
{
	static const char *const cand[] = {"/tmp", "/mnt", "/var/tmp", "/run", "/opt", "/srv"};
	struct stat st;

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (lstat(cand[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(p->root, sizeof(p->root), "%s", cand[i]);
			return 0;
		}
	return -1;
}

/* The device nodes: fresh ones on a /dev of the sandbox's own when it runs as
 * root (writes to null, zero and full work, the random devices are
 * read-only, and nothing done to them reaches the host's inodes); otherwise
 * (a user namespace cannot mknod) read-only binds of the host's. */
static void layout_dev(sbx_plan *p, int as_root)
{
	static const struct {
		const char *name;
		unsigned major, minor, mode;
	} devs[] = {{"null", 1, 3, 0666},
	            {"zero", 1, 5, 0666},
	            {"full", 1, 7, 0666},
	            {"urandom", 1, 9, 0444},
	            {"random", 1, 8, 0444}};
	struct stat st;
	char path[64];

	add_mount(p, SBX_M_DIR, NULL, "/dev", 0);
	if (as_root)
		add_mount(p, SBX_M_TMPFS, "size=16k,nr_inodes=32,mode=755", "/dev",
		          MS_NOSUID | MS_NOEXEC);
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", devs[i].name);
		if (as_root) {
			sbx_mount *m = add_mount(p, SBX_M_NODE, NULL, path, 0);

			if (m) {
				m->dev = makedev(devs[i].major, devs[i].minor);
				m->mode = devs[i].mode;
			}
		} else if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) {
			add_bind(p, path, path, 1, MS_NOSUID | MS_NOEXEC | MS_RDONLY);
		}
	}
	add_mount(p, SBX_M_SYMLINK, "/proc/self/fd", "/dev/fd", 0);
	add_mount(p, SBX_M_SYMLINK, "/proc/self/fd/0", "/dev/stdin", 0);
	add_mount(p, SBX_M_SYMLINK, "/proc/self/fd/1", "/dev/stdout", 0);
	add_mount(p, SBX_M_SYMLINK, "/proc/self/fd/2", "/dev/stderr", 0);
	/* POSIX semaphores and shm_open land in the private /tmp. */
	add_mount(p, SBX_M_SYMLINK, "/tmp", "/dev/shm", 0);
	if (as_root)
		add_mount(p, SBX_M_RDONLY, NULL, "/dev", MS_NOSUID | MS_NOEXEC);
}

static void layout(sbx_plan *p, int as_root)
{
	static const char *const top[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
	const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV;
	struct stat st;
	char path[64];
	char target[SBX_PATH];

	add_overlay(p, "/usr", "/usr", mount_flags_of("/usr") | ro);
	/* Merged-/usr systems have symlinks here; older ones directories. */
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		ssize_t n;

		if (lstat(top[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) && (n = readlink(top[i], target, sizeof(target) - 1)) > 0) {
			target[n] = '\0';
			add_mount(p, SBX_M_SYMLINK, target, top[i], 0);
		} else if (S_ISDIR(st.st_mode)) {
			add_overlay(p, top[i], top[i], mount_flags_of(top[i]) | ro);
		}
	}
	/* /etc: a small tmpfs of each run's own (its passwd names the run's
	 * uid), read-only once its files are written (sbx_plan_make). */
	add_mount(p, SBX_M_DIR, NULL, "/etc", 0);
	add_mount(p, SBX_M_DIR, NULL, "/work", 0);
	add_mount(p, SBX_M_DIR, NULL, "/tmp", 0);
	add_run_mount(p, SBX_M_TMPFS, "size=1m,nr_inodes=16,mode=755", "/etc",
	              MS_NOSUID | MS_NODEV | MS_NOEXEC);
	add_ld_cache(p);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", SBX_CFD_PYDIR);
	add_overlay(p, path, SBX_PY_INSIDE, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	layout_dev(p, as_root);
	/* Last: the overlays above use the empty /proc as a layer. */
	add_run_mount(p, SBX_M_PROC, NULL, "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
}

static int read_last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int v = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &v) != 1 || v < 0 || v > 63)
			v = CAP_LAST_CAP;
		fclose(f);
	}
	return v;
}

static int find_py_dir(char *out, size_t len, const sbx_config *cfg)
{
	const char *env = getenv("LLMREPL_SANDBOX_PY");
	char exe[PATH_MAX];
	char guess[PATH_MAX + 32];
	ssize_t n;
	char *slash;

	if (cfg->py_dir && *cfg->py_dir)
		return realpath(cfg->py_dir, out) ? 0 : -1;
	if (env && *env)
		return realpath(env, out) ? 0 : -1;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	/* build/llmrepl-x -> ../sandbox/py; build/bench/x, build/tests/drivers/x
	 * are one or two levels deeper. */
	for (int up = 1; up <= 3; up++) {
		char probe[PATH_MAX + 64];

		snprintf(guess, sizeof(guess), "%s/%s%s../sandbox/py", exe, up >= 2 ? "../" : "",
		         up >= 3 ? "../" : "");
		snprintf(probe, sizeof(probe), "%s/llmrepl_entry.py", guess);
		if (access(probe, R_OK) == 0 && realpath(guess, out) != NULL)
			return 0;
	}
	(void)len;
	return -1;
}

int sbx_setup_init(sbx_setup *s, const sbx_config *cfg, char *msg, size_t len)
{
	sbx_config d;
	char real[PATH_MAX];
	char pyd[PATH_MAX];
	char fmsg[200];

	memset(s, 0, sizeof(*s));
	sbx_config_default(&d);
	if (cfg == NULL)
		cfg = &d;
	s->uid_base = cfg->uid_base ? cfg->uid_base : d.uid_base;
	s->avoid = cfg->avoid;
	s->require = (unsigned)cfg->require;
	s->as_root = geteuid() == 0;
	if (realpath(cfg->python ? cfg->python : d.python, real) == NULL) {
		snprintf(msg, len, "python %s: %s", cfg->python ? cfg->python : d.python,
		         strerror(errno));
		return -1;
	}
	if (strncmp(real, "/usr/", 5) != 0 || access(real, X_OK) < 0) {
		snprintf(msg, len,
		         "python %s must be an executable under /usr (only /usr is visible "
		         "in the sandbox)",
		         real);
		return -1;
	}
	snprintf(s->python, sizeof(s->python), "%s", real);
	if (find_py_dir(pyd, sizeof(pyd), cfg) < 0) {
		snprintf(msg, len,
		         "sandbox entry directory not found (set LLMREPL_SANDBOX_PY or "
		         "sbx_config.py_dir)");
		return -1;
	}
	snprintf(s->py_dir, sizeof(s->py_dir), "%s", pyd);
	{
		char entry[PATH_MAX + 32];

		snprintf(entry, sizeof(entry), "%s/llmrepl_entry.py", pyd);
		if (access(entry, R_OK) < 0) {
			snprintf(msg, len, "%s is not readable", entry);
			return -1;
		}
	}
	if (!(s->avoid & SBX_ISO_SECCOMP)) {
		if (sbx_policy_get(&s->filter, fmsg, sizeof(fmsg)) < 0) {
			if (s->require & SBX_ISO_SECCOMP) {
				snprintf(msg, len, "%s", fmsg);
				return -1;
			}
			snprintf(s->note, sizeof(s->note), "seccomp unavailable: %s", fmsg);
		}
	} else {
		snprintf(s->note, sizeof(s->note), "seccomp disabled by configuration");
	}
	{
		/* Set for every child (sbx_child.c); say so when this CPU gives
		 * no control over it (PR_SPEC_PRCTL missing while affected). */
		int ssb = prctl(PR_GET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, 0, 0, 0);

		if (ssb > 0 && !(ssb & (PR_SPEC_PRCTL | PR_SPEC_DISABLE | PR_SPEC_FORCE_DISABLE)))
			snprintf(s->note + strlen(s->note), sizeof(s->note) - strlen(s->note),
			         "%sspeculative store bypass not controllable on this CPU",
			         s->note[0] ? "; " : "");
	}
	if (choose_root(&s->base) < 0) {
		snprintf(msg, len, "no directory to mount the sandbox root on (/tmp, /mnt)");
		return -1;
	}
	s->base.last_cap = read_last_cap();
	layout(&s->base, s->as_root);
	return 0;
}

/* ---- plans ----------------------------------------------------------------- */

static char *stash(sbx_plan *p, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *stash(sbx_plan *p, size_t *at, const char *fmt, ...)
{
	char *dst = p->strs + *at;
	size_t room = sizeof(p->strs) - *at;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		n = (int)room - 1;
	*at += (size_t)n + 1;
	return dst;
}

static void add_rl(sbx_plan *p, int res, rlim_t soft, rlim_t hard)
{
	if (p->nrl >= SBX_MAX_RLIMITS)
		return;
	p->rl[p->nrl].res = res;
	p->rl[p->nrl].lim.rlim_cur = soft;
	p->rl[p->nrl].lim.rlim_max = hard;
	p->nrl++;
}

/* The run's rlimits: ceilings for a long-lived server, the job's limits for
 * a run. */
static void plan_rlimits(sbx_plan *p, const sbx_limits *lim, int server)
{
	const rlim_t mb = 1024 * 1024;

	p->nrl = 0;
	p->as_bytes = 0;
	add_rl(p, RLIMIT_CORE, 0, 0);
	add_rl(p, RLIMIT_MEMLOCK, 0, 0);
	add_rl(p, RLIMIT_MSGQUEUE, 0, 0);
	add_rl(p, RLIMIT_STACK, 8 * mb, 8 * mb);
	add_rl(p, RLIMIT_NICE, 0, 0);
	add_rl(p, RLIMIT_RTPRIO, 0, 0);
	if (server) {
		/* The server lives long and forks every run, which lowers these
		 * for itself: only ceilings here. */
		add_rl(p, RLIMIT_NOFILE, 4096, 4096);
		add_rl(p, RLIMIT_NPROC, 4096, 4096);
	} else {
		rlim_t cpu = (rlim_t)ceil(lim->cpu_s);

		/* SIGXCPU at the limit, SIGKILL a second later for code that
		 * ignores it. */
		add_rl(p, RLIMIT_CPU, cpu, cpu + 1);
		p->as_bytes = (rlim_t)lim->memory_mb * mb;
		/* +1: the namespace's init counts too. */
		add_rl(p, RLIMIT_NPROC, (rlim_t)lim->max_procs + 1, (rlim_t)lim->max_procs + 1);
		add_rl(p, RLIMIT_FSIZE, (rlim_t)lim->file_size_mb * mb,
		       (rlim_t)lim->file_size_mb * mb);
		add_rl(p, RLIMIT_NOFILE, (rlim_t)lim->max_files, (rlim_t)lim->max_files);
	}
}

void sbx_plan_make(sbx_plan *p, const sbx_setup *s, const sbx_limits *lim, unsigned uid, int server)
{
	size_t at = 0;
	int a = 0;
	int e = 0;
	char opts[SBX_PATH];
	char text[SBX_PATH];

	*p = s->base;
	p->userns = !s->as_root;
	p->clone_flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
	                 CLONE_NEWCGROUP | (p->userns ? CLONE_NEWUSER : 0UL);
	if (p->userns) {
		/* Unprivileged: the only outside uid we may map is our own. */
		p->uid = s->uid_base;
		p->gid = s->uid_base;
		snprintf(p->uid_map, sizeof(p->uid_map), "%u %u 1", s->uid_base,
		         (unsigned)getuid());
		snprintf(p->gid_map, sizeof(p->gid_map), "%u %u 1", s->uid_base,
		         (unsigned)getgid());
	} else {
		p->uid = uid;
		p->gid = uid;
	}
	/* The work dir and /tmp: private, size-limited, never seen by the host.
	 * One MB more than the largest file, so that RLIMIT_FSIZE, not a full
	 * disk, is what stops a single file at the limit. */
	snprintf(opts, sizeof(opts), "size=%ldm,nr_inodes=8192,mode=0700,uid=%u,gid=%u",
	         lim->file_size_mb + 1, (unsigned)p->uid, (unsigned)p->gid);
	add_run_mount(p, SBX_M_TMPFS, opts, "/work", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	snprintf(opts, sizeof(opts), "size=%ldm,nr_inodes=8192,mode=1777", lim->file_size_mb + 1);
	add_run_mount(p, SBX_M_TMPFS, opts, "/tmp", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	snprintf(
	    text, sizeof(text),
	    "root:x:0:0::/:/usr/sbin/nologin\nsandbox:x:%u:%u:sandbox:/work:/usr/sbin/nologin\n",
	    (unsigned)p->uid, (unsigned)p->gid);
	add_run_mount(p, SBX_M_FILE, text, "/etc/passwd", 0);
	snprintf(text, sizeof(text), "root:x:0:\nsandbox:x:%u:\n", (unsigned)p->gid);
	add_run_mount(p, SBX_M_FILE, text, "/etc/group", 0);
	add_run_mount(p, SBX_M_RDONLY, NULL, "/etc", MS_NOSUID | MS_NODEV | MS_NOEXEC);

	plan_rlimits(p, lim, server);
	p->filter = (s->avoid & SBX_ISO_SECCOMP) ? NULL : s->filter;
	p->init = !server;
	snprintf(p->exe, sizeof(p->exe), "%s", s->python);
	p->argv[a++] = p->exe;
	p->argv[a++] = stash(p, &at, "-I");
	p->argv[a++] = stash(p, &at, "-S");
	p->argv[a++] = stash(p, &at, "-B");
	p->argv[a++] = stash(p, &at, "-u");
	p->argv[a++] = stash(p, &at, "%s/llmrepl_entry.py", SBX_PY_INSIDE);
	if (server)
		p->argv[a++] = stash(p, &at, "--server");
	p->argv[a] = NULL;
	p->envp[e++] = stash(p, &at, "PATH=/usr/bin:/bin");
	p->envp[e++] = stash(p, &at, "HOME=/work");
	p->envp[e++] = stash(p, &at, "TMPDIR=/tmp");
	p->envp[e++] = stash(p, &at, "LANG=C.UTF-8");
	p->envp[e++] = stash(p, &at, "USER=sandbox");
	p->envp[e++] = stash(p, &at, "PYTHONDONTWRITEBYTECODE=1");
	p->envp[e++] = stash(p, &at, "PYTHONUNBUFFERED=1");
	/* One malloc arena and one thread per numeric library: threads and
	 * arenas otherwise eat the address-space limit. */
	p->envp[e++] = stash(p, &at, "MALLOC_ARENA_MAX=1");
	p->envp[e++] = stash(p, &at, "OMP_NUM_THREADS=1");
	p->envp[e++] = stash(p, &at, "OPENBLAS_NUM_THREADS=1");
	p->envp[e++] = stash(p, &at, "MKL_NUM_THREADS=1");
	p->envp[e++] = stash(p, &at, "NUMEXPR_NUM_THREADS=1");
	p->trace = sbx_trace_enabled();
	if (p->trace)
		p->envp[e++] = stash(p, &at, "LLMREPL_SBX_TRACE=1");
	p->envp[e] = NULL;
	p->strs_at = at;
	for (int i = 0; i < SBX_NFDS; i++)
		p->fds[i] = -1;
	snprintf(p->py_dir, sizeof(p->py_dir), "%s", s->py_dir);
}

void sbx_plan_run_cgroups(sbx_plan *p)
{
	char list[32] = "";
	size_t n = 0;
	int a = 0;

	for (int i = 0; i < 4; i++)
		if (p->fds[SBX_CFD_RCG0 - SBX_CFD_OUT + i] >= 0)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", n ? "," : "",
			                      6 + i);
	if (n == 0)
		return;
	while (p->argv[a] != NULL)
		a++;
	if (a + 1 >= (int)(sizeof(p->argv) / sizeof(p->argv[0])))
		return;
	p->argv[a] = stash(p, &p->strs_at, "--run-cgroup=%s", list);
	p->argv[a + 1] = NULL;
}

void sbx_plan_gate(sbx_plan *p)
{
	static char gated[] = "--gated";
	int a = 0;

	while (p->argv[a] != NULL)
		a++;
	if (a + 1 >= (int)(sizeof(p->argv) / sizeof(p->argv[0])))
		return;
	p->gate = 1;
	p->argv[a] = gated;
	p->argv[a + 1] = NULL;
}

void sbx_plan_peer(sbx_plan *p, const sbx_setup *s)
{
	static char factory[] = "--factory";
	int a = 0;

	p->peer = 1;
	p->peer_uid = s->as_root ? p->uid + SBX_SLOTS : p->uid;
	/* The interpreter, its flags and the entry: python's own first six. */
	for (; a < 6 && p->argv[a] != NULL; a++)
		p->peer_argv[a] = p->argv[a];
	p->peer_argv[a++] = factory;
	p->peer_argv[a] = NULL;
	/* /work is shared by python and the factory's processes: open to both
	 * uids (the judge keeps nothing there). */
	for (int i = 0; i < p->nmounts; i++) {
		const char *dst = p->mounts[i].dst;
		size_t n = strlen(dst);
		char *m = strstr(p->mounts[i].src, ",mode=0700,");

		if (p->mounts[i].kind == SBX_M_TMPFS && n >= 5 &&
		    strcmp(dst + n - 5, "/work") == 0 && m != NULL)
			memcpy(m, ",mode=0777,", 11);
	}
}

void sbx_plan_lanes(sbx_plan *p, unsigned lane_uid)
{
	if (p->userns)
		return;
	p->uid_lane = (uid_t)lane_uid;
	for (int i = 0; i < p->nmounts; i++) {
		sbx_mount *m = &p->mounts[i];
		size_t n = strlen(m->dst);
		char *mode = strstr(m->src, ",mode=0700,");

		/* A lane's runs keep the slot's gid: the group opens /work to
		 * both (a factory's has it open to all already). */
		if (m->kind == SBX_M_TMPFS && n >= 5 && strcmp(m->dst + n - 5, "/work") == 0 &&
		    mode != NULL)
			memcpy(mode, ",mode=0770,", 11);
		if (m->kind == SBX_M_FILE && n >= 11 &&
		    strcmp(m->dst + n - 11, "/etc/passwd") == 0) {
			size_t have = strlen(m->src);

			snprintf(m->src + have, sizeof(m->src) - have,
			         "sandbox:x:%u:%u:sandbox:/work:/usr/sbin/nologin\n", lane_uid,
			         (unsigned)p->gid);
		}
	}
}

void sbx_plan_peer2(sbx_plan *p, unsigned peer2_uid)
{
	/* Its own uid or none: in a user namespace every id is the same one. */
	if (p->peer && !p->userns)
		p->peer2_uid = (uid_t)peer2_uid;
}

void sbx_plan_netns(sbx_plan *p, int fd)
{
	if (fd < 0 || p->userns)
		return;
	p->clone_flags &= ~(unsigned long)CLONE_NEWNET;
	p->fds[SBX_CFD_NETNS - SBX_CFD_OUT] = fd;
}

int sbx_netns_new(void)
{
	char path[64];
	int hold[2];
	long pid;
	int fd, e;

	if (pipe2(hold, O_CLOEXEC) < 0)
		return -1;
	/* A child in a new network namespace, alive (blocked reading the pipe)
	 * until the namespace is opened; system calls only, as in sbx_clone. */
	pid = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid == 0) {
		char b;

		close(hold[1]);
		while (read(hold[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	e = errno;
	fd = -1;
	if (pid > 0) {
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		e = errno;
	}
	close(hold[0]);
	close(hold[1]);
	if (pid > 0)
		while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
			;
	errno = e;
	return fd;
}

long sbx_clone(const sbx_plan *p, int *pidfd)
{
	int fd = -1;
	long pid;

	/* A raw clone, fork-like (no new stack): the child continues here with
	 * a copy of the address space and runs only system calls. CLONE_PIDFD
	 * gives a handle that can be signalled without pid-reuse races. */
	pid = syscall(SYS_clone, p->clone_flags | CLONE_PIDFD | SIGCHLD, NULL, &fd, NULL, 0);
	if (pid == 0)
		sbx_child_main(p);
	*pidfd = fd;
	return pid;
}

void sbx_clone_failed(sbx_result *res, int err)
{
	char text[256];

	snprintf(text, sizeof(text), "cannot create the sandbox's namespaces: %s%s", strerror(err),
	         err == EPERM || err == ENOSPC || err == EINVAL
	             ? " (in a container allow them: CAP_SYS_ADMIN and seccomp=unconfined, or "
	               "--privileged; for an ordinary user, user namespaces must be enabled)"
	             : "");
	res->end = SBX_END_ERROR;
	snprintf(res->detail, sizeof(res->detail), "%s", text);
}

void sbx_kill_tree(int pidfd, sbx_cgroup *cg)
{
	/* SIGKILL to the namespace's pid 1 kills every process in it. */
	syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0);
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	sbx_cgroup_kill(cg);
}

/* ---- how it ended ------------------------------------------------------------ */

void sbx_result_begin(sbx_result *res)
{
	memset(res, 0, sizeof(*res));
	res->cg_cpu_s = -1;
	res->cg_peak_kb = -1;
}

void sbx_result_end(sbx_result *res)
{
	if (res->out == NULL)
		res->out = calloc(1, 1);
	if (res->err == NULL)
		res->err = calloc(1, 1);
}

void sbx_detail_add(sbx_result *res, const char *text)
{
	size_t n = strlen(res->detail);

	if (text == NULL || *text == '\0')
		return;
	snprintf(res->detail + n, sizeof(res->detail) - n, "%s%s", n ? "; " : "", text);
}

/* The entry answers an uncaught MemoryError with this prefix. */
#define SBX_ANSWER_MEMORY "{\"end\": \"memory\""

static void classify_status(sbx_result *res, const sbx_limits *lim, int killed, int have_status,
                            int status, long oom_kills);

void sbx_classify(sbx_result *res, const sbx_limits *lim, int killed, int have_status, int status,
                  long oom_kills)
{
	classify_status(res, lim, killed, have_status, status, oom_kills);
	/* Any process of the run the OOM killer took (a child, say, while the
	 * parent went on) makes the run's end memory. */
	res->oom_kills = oom_kills > 0 ? oom_kills : 0;
	if (oom_kills > 0 && res->end != SBX_END_ERROR)
		res->end = SBX_END_MEMORY;
}

static void classify_status(sbx_result *res, const sbx_limits *lim, int killed, int have_status,
                            int status, long oom_kills)
{
	double cpu_soft = ceil(lim->cpu_s);

	res->exit_code = 0;
	res->signal = 0;
	if (killed == SBX_KILL_OUTPUT || killed == SBX_KILL_TIMEOUT) {
		res->end = killed == SBX_KILL_OUTPUT ? SBX_END_OUTPUT : SBX_END_TIMEOUT;
		res->signal = SIGKILL;
		return;
	}
	if (!have_status) {
		res->end = oom_kills > 0 ? SBX_END_MEMORY : SBX_END_ERROR;
		res->signal = SIGKILL;
		return;
	}
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
		res->end = SBX_END_EXITED;
		if (res->answer &&
		    strncmp(res->answer, SBX_ANSWER_MEMORY, strlen(SBX_ANSWER_MEMORY)) == 0)
			res->end = SBX_END_MEMORY;
		return;
	}
	res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
	if (res->signal == SIGKILL && oom_kills > 0)
		res->end = SBX_END_MEMORY;
	else if (res->signal == SIGXCPU || (res->signal == SIGKILL && res->cpu_s >= cpu_soft - 0.1))
		res->end = SBX_END_TIMEOUT;
	else
		res->end = SBX_END_SIGNALED;
}

static void describe(sbx_result *res, const sbx_msg *m)
{
	char text[320];

	if (m->tag == 'W') {
		snprintf(text, sizeof(text), "%.*s (%s)", (int)sizeof(m->what), m->what,
		         strerror(m->err));
		sbx_detail_add(res, text);
		return;
	}
	snprintf(text, sizeof(text), "sandbox setup failed: %.*s: %s%s", (int)sizeof(m->what),
	         m->what, strerror(m->err),
	         m->err == EPERM || m->err == EACCES
	             ? " (in a container the sandbox needs CAP_SYS_ADMIN and seccomp=unconfined, "
	               "or --privileged)"
	             : "");
	/* The setup failure is the headline: put it first. */
	if (res->detail[0]) {
		char old[sizeof(res->detail)];

		snprintf(old, sizeof(old), "%s", res->detail);
		snprintf(res->detail, sizeof(res->detail), "%s; %s", text, old);
	} else {
		snprintf(res->detail, sizeof(res->detail), "%s", text);
	}
}

void sbx_status_read(sbx_status *st, int fd, sbx_result *res)
{
	for (;;) {
		ssize_t n = read(fd, st->buf + st->len, sizeof(st->buf) - st->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			st->eof = 1;
			return;
		}
		st->len += (size_t)n;
		while (st->len >= sizeof(sbx_msg)) {
			sbx_msg m;

			memcpy(&m, st->buf, sizeof(m));
			memmove(st->buf, st->buf + sizeof(m), st->len - sizeof(m));
			st->len -= sizeof(m);
			m.what[sizeof(m.what) - 1] = '\0';
			if (m.tag == 'T') {
				if (st->tr)
					sbx_trace_at(st->tr, m.what, strlen(m.what), m.utime_us);
			} else if (m.tag == 'S') {
				st->have_status = 1;
				st->status = m.status;
				st->cpu_s = (double)(m.utime_us + m.stime_us) / 1e6;
				st->maxrss_kb = m.maxrss_kb;
			} else if (m.tag == 'A') {
				st->all_gone = 1;
				st->tree_cpu_s = (double)(m.utime_us + m.stime_us) / 1e6;
			} else if (m.tag == 'E' || m.tag == 'W') {
				if (m.tag == 'E') {
					if (st->failed)
						continue;
					st->failed = 1;
				}
				describe(res, &m);
			}
		}
	}
}
