/* sbx_cgroup.h - memory, pids and CPU cgroups for sandboxed runs (v1 or v2).
 *
 * Cgroups are created only beneath the cgroup this process already runs in
 * (the delegation convention), never elsewhere. Where that is not possible
 * the run goes without and the reason is reported. The host only touches
 * directories it created itself, through directory fds.
 *
 * Names carry the run's uid slot, not the host's pid (the run can read its
 * own cgroup's name): llmrepl-sbx-<scope>-u<uid> (sbx_slot_cgroup_name), and
 * for a pool .../srv (the server) and .../run (the current run). */
#ifndef LLMREPL_SBX_CGROUP_H
#define LLMREPL_SBX_CGROUP_H

#include <stddef.h>

/* The controllers, each in a v1 hierarchy of its own or shared (co-mounted,
 * or the one v2 hierarchy). */
enum { SBX_CG_MEM, SBX_CG_PIDS, SBX_CG_CPU, SBX_CG_ACCT, SBX_CG_N };
/* The counter files read (v1: and reset) around every run: CPU usage, peak
 * memory, OOM kills. */
enum { SBX_CGF_CPU, SBX_CGF_PEAK, SBX_CGF_OOM, SBX_CGF_N };

typedef struct sbx_cg_limits {
	long long mem_bytes; /* 0: none */
	long pids_max;       /* 0: none */
	double cpus;         /* CPU bandwidth in cores; 0: none */
} sbx_cg_limits;

typedef struct sbx_cgroup {
	int version;             /* 1 or 2; 0 = none */
	int dir[SBX_CG_N];       /* directory per controller; -1 = none */
	int own[SBX_CG_N];       /* 1: dir[c] was opened for c (not shared with another) */
	int procs_fd[SBX_CG_N];  /* cgroup.procs of each distinct hierarchy, to join; -1 */
	int have_pids, have_cpu; /* pids.max; CPU bandwidth and usage */
	long long cpu_base_us;   /* v2: usage at the last reset */
	int file_fd[SBX_CGF_N];  /* each opened at its first use and kept; -1 */
	char name[64];
} sbx_cgroup;

void sbx_cgroup_init(sbx_cgroup *cg);

/* Create the cgroup `name` (relative to our own; "a/b" for one below an
 * existing "a") with the limits. Returns 0 on success, -1 when cgroups are
 * unavailable (note says why; cg stays usable as "none"). `parent_of`: enable
 * the controllers for cgroups below it (v2). A cgroup of that name left by
 * an earlier process (kept ready, or by a killed creator) is taken over
 * when it is empty (v1, see sbx_cgroup_leave), else removed and made again;
 * -2 when it cannot be removed (a process stays in it: the caller takes
 * another uid slot, whose name is another), or when its pids cgroup (v1) is
 * in the way or removed while it is made. */
int sbx_cgroup_create(sbx_cgroup *cg, const char *name, const sbx_cg_limits *l, int parent_of,
                      char *note, size_t len);

int sbx_cgroup_set_limits(sbx_cgroup *cg, const sbx_cg_limits *l);
/* Whether two sets of limits differ in any field. */
int sbx_cgroup_limits_differ(const sbx_cg_limits *a, const sbx_cg_limits *b);
long sbx_cgroup_peak_kb(const sbx_cgroup *cg); /* -1 if unknown */
int sbx_cgroup_reset_peak(sbx_cgroup *cg);     /* -1: cannot (v2 before 6.12) */
double sbx_cgroup_cpu_s(const sbx_cgroup *cg); /* since creation or reset; -1 if unknown */
void sbx_cgroup_reset_cpu(sbx_cgroup *cg);
long sbx_cgroup_oom_kills(const sbx_cgroup *cg); /* count so far, 0 if unknown */
void sbx_cgroup_kill(sbx_cgroup *cg);            /* v2 cgroup.kill; no-op otherwise */

/* For a cgroup kept across runs: whether no process is in it (the memory
 * hierarchy's cgroup.procs is empty), and the memory charged to it now (kB,
 * -1 unknown). */
int sbx_cgroup_empty(const sbx_cgroup *cg);
long sbx_cgroup_usage_kb(const sbx_cgroup *cg);

/* Remove the cgroup (after every process in it is gone, and after the ones
 * below it); accepts an unused one. */
void sbx_cgroup_destroy(sbx_cgroup *cg);

/* Leave an empty cgroup in place for a later process of this scope (v1):
 * only its fds are closed. That process takes it with its slot (below),
 * checks it (no process, no cgroup below, little memory charged) and sets
 * every limit again; one that fails the check is made afresh. */
void sbx_cgroup_leave(sbx_cgroup *cg);

/* A uid slot in [lo, hi) of this process's scope whose cgroup an earlier
 * process left (found by the discovery's sweep, which runs now if it has
 * not): its lock fd and uid, or -1. The cgroup is checked when
 * sbx_cgroup_create opens it. Once per process. */
int sbx_cgroup_ready_slot(unsigned lo, unsigned hi, unsigned *uid);

#endif
