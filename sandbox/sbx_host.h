/* sbx_host.h - the host side shared by cold runs and the pool: resolving the
 * configuration, building a child's plan, capturing output, and deciding how
 * a run ended. Internal to the sandbox library. */
#ifndef LLMREPL_SBX_HOST_H
#define LLMREPL_SBX_HOST_H

#include "sbx.h"
#include "sbx_base.h"
#include "sbx_caps.h"
#include "sbx_cgroup.h"
#include "sbx_child.h"
#include "sbx_io.h"
#include "sbx_trace.h"

#include <stddef.h>

/* The configuration resolved once: paths checked, the seccomp program
 * built, the fixed part of the filesystem view laid out. */
typedef struct sbx_setup {
	char python[SBX_PATH];
	char py_dir[SBX_PATH];
	int as_root; /* root: own uid per slot; otherwise a user namespace */
	unsigned uid_base;
	unsigned avoid;
	unsigned require;
	const struct sock_fprog *filter;
	sbx_plan base;  /* mounts and fields every run shares */
	char note[200]; /* protections unavailable for every run */
} sbx_setup;

int sbx_setup_init(sbx_setup *s, const sbx_config *cfg, char *msg, size_t len);

/* A setup for cfg, built on first use and kept for the life of the process
 * (a few configurations at most). NULL with msg on failure. */
const sbx_setup *sbx_setup_get(const sbx_config *cfg, char *msg, size_t len);

/* The isolation a child of this setup gets before anything is known about
 * cgroups (namespaces, uid, caps, NNP, rlimits, read-only view, seccomp),
 * and notes on what is missing. */
unsigned sbx_setup_isolation(const sbx_setup *s, sbx_result *res);
/* -1 with msg ("required protections unavailable: ...") when a protection
 * the setup requires is not in iso; else 0. */
int sbx_setup_require(const sbx_setup *s, unsigned iso, char *msg, size_t len);

/* Describe a failed clone in res->detail. */
void sbx_clone_failed(sbx_result *res, int err);

/* The limits with zero fields replaced by defaults and bounds applied. */
void sbx_limits_resolve(sbx_limits *out, const sbx_limits *in);
/* The cgroup limits of a run under lim: its memory, its processes and
 * extra_procs more (what runs beside the code: an init, a server, a
 * candidate factory), its CPUs. */
sbx_cg_limits sbx_limits_cgroup(const sbx_limits *lim, long extra_procs);

/* A plan for one child: uid/gid (inside; the outside uid for maps), limits,
 * and whether it is the pool's server (python as pid 1, server rlimits). */
void sbx_plan_make(sbx_plan *p, const sbx_setup *s, const sbx_limits *lim, unsigned uid,
                   int server);

/* Let the init move python into the cgroups (the plan's CG fds) while it
 * starts: python waits at a gate (--gated, fd 5) before reading the request. */
void sbx_plan_gate(sbx_plan *p);

/* Start the candidate factory beside python (see sbx_plan.peer): as root
 * under a uid of its own (the slot's uid + SBX_SLOTS), in a user namespace
 * under the same uid (noted in detail). */
void sbx_plan_peer(sbx_plan *p, const sbx_setup *s);

/* The pool's server with two lanes (root only): lane_uid, the second lane's
 * uid, becomes its real uid, the slot's its effective and saved one; /work
 * is opened to the slot's group (both lanes' runs) and /etc/passwd names
 * lane_uid too. After sbx_plan_peer. */
void sbx_plan_lanes(sbx_plan *p, unsigned lane_uid);

/* The pool's server with a candidate factory (root only): a second factory
 * under peer2_uid on its fd 12, so that consecutive items of a grouped run
 * alternate between two candidate uids (llmrepl_candidate). After
 * sbx_plan_peer. */
void sbx_plan_peer2(sbx_plan *p, unsigned peer2_uid);

/* The pool's server: tell it which of its fds (6..9) are the run's cgroups
 * (set in fds[SBX_CFD_RCG*] first). */
void sbx_plan_run_cgroups(sbx_plan *p);

/* Join the empty network namespace fd (kept per uid slot) instead of
 * creating one: root only (a user namespace's child could not join it). */
void sbx_plan_netns(sbx_plan *p, int fd);

/* A new, empty network namespace held by the returned fd (O_CLOEXEC), or -1
 * with errno. */
int sbx_netns_new(void);

/* Clone the child. Returns its pid and a pidfd, or -1 with errno. */
long sbx_clone(const sbx_plan *p, int *pidfd);
/* Kill a child's whole tree: its namespace's pid 1 (pidfd), and every
 * process in cg. */
void sbx_kill_tree(int pidfd, sbx_cgroup *cg);

enum { SBX_KILL_NONE = 0, SBX_KILL_TIMEOUT, SBX_KILL_OUTPUT };

/* Decide res->end (and exit_code/signal) from what was observed. have_status:
 * the code's wait status is known. */
void sbx_classify(sbx_result *res, const sbx_limits *lim, int killed, int have_status, int status,
                  long oom_kills);

void sbx_detail_add(sbx_result *res, const char *text);

/* A result before a run: zeroed, its cgroup figures unknown (-1). */
void sbx_result_begin(sbx_result *res);
/* After a run, whatever happened: out and err are strings, empty when
 * nothing came (the API's promise). */
void sbx_result_end(sbx_result *res);

/* Reading the child's status pipe (sbx_msg records). */
typedef struct sbx_status {
	char buf[sizeof(sbx_msg) * 4];
	size_t len;
	int eof;
	int have_status; /* an 'S' record arrived */
	int status;
	double cpu_s;
	long maxrss_kb;
	int all_gone;      /* an 'A' record arrived: nothing of the run is left but the init */
	double tree_cpu_s; /* its CPU time of every process of the run */
	int failed;        /* an 'E' record arrived: setup or exec failed */
	sbx_trace *tr;     /* where 'T' records go (may be NULL) */
} sbx_status;

/* Read what is there; 'E' and 'W' records are described in res->detail. */
void sbx_status_read(sbx_status *st, int fd, sbx_result *res);

/* A sandboxed interpreter's processes and pipes, from start to end: the
 * cold run (sbx_run) and the held interpreter (sbx_held.c) share them. */
typedef struct sbx_cold {
	sbx_io io;           /* the run's streams */
	int st[2], alive[2]; /* the status pipe (sbx_msg), SBX_CFD_ALIVE */
	int pidfd;
	long pid;
	struct sbx_ready *rs; /* the uid slot, its cgroup and network namespace */
	sbx_cgroup cg;        /* rs's cgroup (not owned: rs keeps it) */
	long oom_base;        /* its OOM kills before this run */
	sbx_plan *plan;
	unsigned iso; /* SBX_ISO_* that apply */
	double t0;    /* when it was cloned (sbx_now) */
	int early;    /* supervise ended on the init's 'A': the init is not waited for */
	sbx_trace tr; /* LLMREPL_SBX_TRACE: printed by sbx_cold_cleanup */
} sbx_cold;

void sbx_cold_init(sbx_cold *c);
/* Take a uid slot and a cgroup, clone the child; our ends of its pipes are
 * non-blocking (req[0] is where the request goes). -1 with res->detail. */
int sbx_cold_start(sbx_cold *c, sbx_result *res, const sbx_config *cfg, const sbx_limits *lim);
/* Kill the whole tree (pid 1 of its namespace and the cgroup). */
void sbx_cold_kill(sbx_cold *c);
/* Reap the child once it is gone and fill res (times, peak, outputs from
 * caps, how it ended). -1 only when out of memory. */
int sbx_cold_end(sbx_cold *c, sbx_result *res, const sbx_limits *lim, sbx_cap caps[3],
                 sbx_status *st, int killed);
/* Kill what is left and release everything; safe to repeat. */
void sbx_cold_cleanup(sbx_cold *c);

#endif
