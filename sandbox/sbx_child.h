/* sbx_child.h - the sandboxed child: everything from clone to exec.
 *
 * The host prepares an sbx_plan (every path, string, limit and the BPF
 * program computed in advance) and clones; the child then only makes system
 * calls, so it is safe even when the host is multi-threaded. The order is the
 * design's: cgroup, namespaces' uid maps, mounts and pivot_root, hostname,
 * credentials, capabilities, rlimits, session, no_new_privs, seccomp, exec. */
#ifndef LLMREPL_SBX_CHILD_H
#define LLMREPL_SBX_CHILD_H

#include <linux/filter.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The fds the child keeps, moved to these numbers first thing. */
enum {
	SBX_CFD_OUT = 10,
	SBX_CFD_ERR,
	SBX_CFD_ANS,
	SBX_CFD_REQ,
	SBX_CFD_CTL,
	SBX_CFD_STATUS,
	SBX_CFD_ALIVE,
	SBX_CFD_PYDIR,
	SBX_CFD_CG0, /* cgroup.procs of the cgroups to join, one per hierarchy */
	SBX_CFD_CG1,
	SBX_CFD_CG2,
	SBX_CFD_CG3,
	SBX_CFD_RCG0, /* the pool's server: cgroup.procs of the run's cgroups, which
	                 each spare joins (python's fds 6..9) */
	SBX_CFD_RCG1,
	SBX_CFD_RCG2,
	SBX_CFD_RCG3,
	SBX_CFD_NETNS, /* an empty network namespace to join instead of a new one */
	SBX_CFD_MNTNS, /* the setup's mount template, copied instead of building
	                  the root (sbx_mount.h) */
	SBX_CFD_END,
	SBX_NFDS = SBX_CFD_END - SBX_CFD_OUT,
	/* Made inside the child, past the host's: the gate (END, END + 1), the
	 * candidate factory's socketpair (PEER, PEER + 1), the second
	 * factory's (PEER2, PEER2 + 1). */
	SBX_CFD_PEER = SBX_CFD_END + 2,
	SBX_CFD_PEER2 = SBX_CFD_END + 4,
};

/* SBX_M_NODE: a device node made with mknod (dev, mode); SBX_M_RDONLY: remount
 * dst read-only (after what was made in it); SBX_M_OVERLAY: a read-only
 * overlay of the directory src (shows as "overlay", not as the host's block
 * device and path; a bind where overlays are unavailable). */
enum {
	SBX_M_DIR,
	SBX_M_BIND,
	SBX_M_SYMLINK,
	SBX_M_TMPFS,
	SBX_M_PROC,
	SBX_M_FILE,
	SBX_M_NODE,
	SBX_M_RDONLY,
	SBX_M_OVERLAY,
};

#define SBX_PATH       256
#define SBX_MAX_MOUNTS 40

typedef struct sbx_mount {
	int kind;
	int is_file;            /* SBX_M_BIND of a file (the target is created as a file) */
	char src[SBX_PATH];     /* bind source, symlink target, tmpfs options, file content */
	char dst[SBX_PATH];     /* absolute path under the new root's mount point */
	unsigned long flags;    /* binds: remount flags; tmpfs/proc: mount flags */
	unsigned long long dev; /* SBX_M_NODE: the device number */
	unsigned mode;          /* SBX_M_NODE: permissions */
	const char *data;       /* SBX_M_FILE: content instead of src, data_len bytes */
	size_t data_len;
	int per_run; /* made for each run in its own root (sbx_mount_run): /etc's
	                files, /work, /tmp, /proc; the rest is the root a mount
	                template carries (sbx_mount_root) */
} sbx_mount;

#define SBX_MAX_RLIMITS 16

typedef struct sbx_plan {
	int userns; /* create a user namespace and map uid/gid below */
	unsigned long clone_flags;
	uid_t uid; /* ids inside */
	gid_t gid;
	uid_t uid_lane; /* the pool's server with two lanes: the second lane's uid,
	                   its real one, uid the effective (0: none; see
	                   sbx_pool.c and llmrepl_pool._lanes_init) */
	char uid_map[64];
	char gid_map[64];
	char root[SBX_PATH];   /* where the new root tmpfs is mounted before pivot_root */
	char py_dir[SBX_PATH]; /* the entry's directory, opened (as SBX_CFD_PYDIR)
	                          before the root tmpfs may hide it */
	sbx_mount mounts[SBX_MAX_MOUNTS];
	int nmounts;
	int last_cap;
	struct {
		int res;
		struct rlimit lim;
	} rl[SBX_MAX_RLIMITS];
	int nrl;
	rlim_t as_bytes;                 /* RLIMIT_AS for python only (0: none), set just before
	                                    exec: the init keeps none, so that even a sanitizer
	                                    build's init, with its huge reservations, still works */
	const struct sock_fprog *filter; /* NULL: no seccomp */
	int init; /* 1: pid 1 is a small init that runs python as its child and
	             reports its status; 0: python itself is pid 1 */
	int gate; /* init mode with cgroups: the init moves python into them
	             while it starts; python (--gated) reads fd 5 first */
	int peer; /* start the candidate factory beside python: a second python
	             (peer_argv) as peer_uid, joined to python's fd 10 by a
	             socketpair (its own fd 3); it gets none of the other fds */
	uid_t peer_uid;
	uid_t peer2_uid; /* a second candidate factory (the pool's, as root), the
	                    same but under this uid and on python's fd 12, so
	                    that grouped items' workers can take turns between
	                    two uids (llmrepl_candidate); 0: none */
	int trace;       /* send 'T' marks on the status pipe (sbx_trace.h); the
	                    interpreter gets its own copy as fd 11 until its request
	                    is read */
	char *peer_argv[12];
	char exe[SBX_PATH];
	char *argv[12];
	char *envp[20];
	char strs[2048];   /* storage behind argv and envp */
	size_t strs_at;    /* how much of strs is used */
	int fds[SBX_NFDS]; /* host fd numbers by SBX_CFD_* - SBX_CFD_OUT; -1 = none */
} sbx_plan;

/* What the child writes on the status pipe: 'E' when setup failed (err is the
 * errno, what the step), 'S' once python ended (init mode only), 'A' after
 * it once every other process of the run is gone too (utime_us, stime_us:
 * the CPU time of them all), 'T' a trace mark (utime_us holds its
 * CLOCK_MONOTONIC time in ns, what its name). */
typedef struct sbx_msg {
	char tag;
	int status;
	int err;
	long long utime_us;
	long long stime_us;
	long maxrss_kb;
	char what[160];
} sbx_msg;

/* llmrepl_sbx.py packs 'T' records itself, as "=c3xii4xqqq160s". */
_Static_assert(sizeof(sbx_msg) == 200 && offsetof(sbx_msg, utime_us) == 16 &&
                   offsetof(sbx_msg, what) == 40,
               "sbx_msg layout");

/* The status pipe (sbx_cmsg.c; in the child only): write all of n bytes to
 * fd; append s to dst at at (NUL-terminated, cut at cap), returning the new
 * end; a record naming a step ('W' a warning, errno kept); report the step
 * that failed ('E') and exit 127. */
void sbx_child_put(int fd, const void *p, size_t n);
size_t sbx_child_append(char *dst, size_t at, size_t cap, const char *s);
void sbx_child_note(char tag, const char *what, const char *arg);
void sbx_child_fail(const char *what, const char *arg) __attribute__((noreturn));

/* Run in the cloned child; never returns. */
void sbx_child_main(const sbx_plan *p) __attribute__((noreturn));

#endif
