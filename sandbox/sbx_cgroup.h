/* sbx_cgroup.h - memory and pids cgroups for sandboxed runs (v1 or v2).
 *
 * Cgroups are created only beneath the cgroup this process already runs in
 * (the delegation convention), never elsewhere. Where that is not possible
 * the run goes without and the reason is reported. The host only touches
 * directories it created itself, through directory fds. */
#ifndef LLMREPL_SBX_CGROUP_H
#define LLMREPL_SBX_CGROUP_H

#include <stddef.h>

typedef struct sbx_cgroup {
	int version;     /* 1 or 2; 0 = none */
	int mem_dir;     /* the created cgroup (v2: the only one) */
	int pids_dir;    /* v1: the created pids cgroup; -1 otherwise */
	int procs_fd[2]; /* cgroup.procs to write "0" into from the child; -1 */
	int have_pids;
	char name[64];
} sbx_cgroup;

void sbx_cgroup_init(sbx_cgroup *cg);

/* Create a cgroup with the limits. Returns 0 on success, -1 when cgroups are
 * unavailable (note says why; cg stays usable as "none"). */
int sbx_cgroup_create(sbx_cgroup *cg, long long mem_bytes, long pids_max, char *note, size_t len);

int sbx_cgroup_set_limits(sbx_cgroup *cg, long long mem_bytes, long pids_max);
long long sbx_cgroup_usage(const sbx_cgroup *cg); /* bytes now, -1 if unknown */
long sbx_cgroup_peak_kb(const sbx_cgroup *cg);    /* -1 if unknown */
void sbx_cgroup_reset_peak(sbx_cgroup *cg);
long sbx_cgroup_oom_kills(const sbx_cgroup *cg); /* count so far, 0 if unknown */
void sbx_cgroup_kill(sbx_cgroup *cg);            /* v2 cgroup.kill; no-op otherwise */

/* Remove the cgroups (after every process in them is gone); accepts an
 * unused one. */
void sbx_cgroup_destroy(sbx_cgroup *cg);

#endif
