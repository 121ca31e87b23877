/* sbx.h - run untrusted Python in a namespaced, seccomp-filtered child.
 *
 * This is the contract every other part of llm-repl uses; the library itself
 * depends on nothing else of ours (libseccomp and libc only).
 *
 * What runs: Debian's /usr/bin/python3 executing the sandbox's entry program
 * (sandbox/py/llmrepl_entry.py, bound read-only into the child). The entry
 * reads one request, a JSON document, from fd 4 and answers with one JSON
 * document on fd 3; the code's own stdout and stderr are fds 1 and 2 and stay
 * separate from the answer. Requests (built by callers, opaque to the C side):
 *   {"mode": "exec", "code": "...", "argv": [...]}   run code as __main__
 *   {"mode": "evaluate", ...}                         the evaluation harness
 *                                                      (llmrepl_harness.evaluate)
 * A request framed as "LLMREPL-STDIN <n>\n" + n bytes of JSON gives the code
 * the rest of the request stream as its stdin (fd 0), ended by the stream's
 * end: what worker/eval_io.c sends for io test cases.
 *
 * Two ways to run:
 *   sbx_run()       a cold run: a fresh sandboxed interpreter for this request.
 *   sbx_pool_*()    the fast path: a sandboxed interpreter that has done its
 *                   imports once and forks a fresh child per request; each
 *                   child gets its own limits, an empty work dir, and nothing
 *                   of an earlier run survives it.
 * Both return the same sbx_result and are safe to call from several threads
 * (one pool per thread, or one pool serialised by its own lock). */
#ifndef LLMREPL_SBX_H
#define LLMREPL_SBX_H

#include <stddef.h>

/* Per-run limits. Zero fields take the defaults of sbx_limits_default(). */
typedef struct sbx_limits {
	double timeout_s;  /* wall clock; the whole process tree is killed */
	double cpu_s;      /* RLIMIT_CPU (per process); 0 = timeout_s rounded up + 1 */
	long memory_mb;    /* what the whole run may use (cgroup: every process, and the
	                      files in /work and /tmp); also each process's address space */
	long max_procs;    /* processes and threads */
	long file_size_mb; /* RLIMIT_FSIZE; the work dir and /tmp hold one MB
	              more each (in a pool: as sized when it started,
	              with the default limits) */
	long max_files;    /* RLIMIT_NOFILE */
	size_t output_max; /* bytes kept per stream (stdout, stderr) */
	size_t answer_max; /* bytes kept of the entry's answer (fd 3); more is
	                      an output-limit kill like stdout */
	double cpus;       /* CPU bandwidth of the whole run, in cores (cgroup cpu); 0 = 1 */
	int early_answer;  /* a pool's run with cgroups may end at its answer when the entry
	                      marks that final (an evaluation's judge: "final_mark"): the
	                      answer, a NUL and the entry's peak memory in kB, then its
	                      answer, stdout and stderr closed; the outcome and figures are
	                      taken then, and the run's end is reaped before the pool's next
	                      run (sbx_pool.c, pend_settle). 0: at the run's end */
} sbx_limits;

void sbx_limits_default(sbx_limits *l);

/* How a run ended. */
typedef enum sbx_end {
	SBX_END_EXITED = 0, /* exited by itself; see exit_code */
	SBX_END_SIGNALED,   /* killed by a signal of its own doing (segfault, abort) */
	SBX_END_TIMEOUT,    /* wall-clock or CPU limit */
	SBX_END_MEMORY,     /* memory limit (any OOM kill in the run, or an allocation
	                       failure at the limit) */
	SBX_END_OUTPUT,     /* output limit exceeded; killed */
	SBX_END_ERROR,      /* the sandbox itself could not run it; see detail */
} sbx_end;

const char *
sbx_end_name(sbx_end e); /* "exited", "signaled", "timeout", "memory", "output", "error" */

/* Appended to out/err after the kept bytes when a stream was cut. */
#define SBX_TRUNC_MARK "\n[llmrepl: output truncated]\n"

/* Which protections applied to a run (bits). */
enum {
	SBX_ISO_USERNS = 1u << 0,
	SBX_ISO_PIDNS = 1u << 1,
	SBX_ISO_NETNS = 1u << 2,
	SBX_ISO_MNTNS = 1u << 3,
	SBX_ISO_IPCNS = 1u << 4,
	SBX_ISO_UTSNS = 1u << 5,
	SBX_ISO_UID = 1u << 6,  /* runs as an unprivileged uid of its own */
	SBX_ISO_CAPS = 1u << 7, /* every capability dropped */
	SBX_ISO_NNP = 1u << 8,  /* no_new_privs */
	SBX_ISO_RLIMITS = 1u << 9,
	SBX_ISO_CGROUP = 1u << 10, /* cgroup memory and pids limits */
	SBX_ISO_SECCOMP = 1u << 11,
	SBX_ISO_ROFS = 1u << 12, /* minimal read-only filesystem view */
	/* Not a protection: set by a caller that ran several requests in one run
	 * (worker/eval_group.c), so a result says it shared its run. */
	SBX_ISO_GROUPED = 1u << 13,
};

typedef struct sbx_result {
	sbx_end end;
	int exit_code; /* when end == SBX_END_EXITED */
	int signal;    /* when end == SBX_END_SIGNALED (or the kill signal otherwise) */
	double wall_s;
	double cpu_s;    /* user + system of the code's processes (the larger of the
	                    interpreter's rusage and the cgroup's count) */
	long peak_kb;    /* peak memory (the larger of the interpreter's peak RSS and
	                    the cgroup's peak) */
	double cg_cpu_s; /* CPU time of the whole tree from the cgroup; -1 unknown */
	long cg_peak_kb; /* peak memory of the whole tree (with /work and /tmp) from the
	                    cgroup; -1 unknown */
	long oom_kills;  /* processes of the run the OOM killer took */
	char *out;       /* stdout, NUL-terminated, at most output_max bytes; when
	                    out_truncated, SBX_TRUNC_MARK follows them */
	size_t out_len;
	int out_truncated;
	char *err; /* stderr, likewise */
	size_t err_len;
	int err_truncated;
	char *answer; /* the entry's JSON answer from fd 3, or NULL if it wrote none.
	                 Untrusted unless the code ran in the candidate factory's
	                 process (sbx_config.peer and an evaluation that used it):
	                 otherwise it runs in the entry's process and may write to
	                 fd 3 too; parse with limits either way. */
	size_t answer_len;
	unsigned isolation; /* SBX_ISO_* bits that applied */
	char detail[256];   /* why, when end == SBX_END_ERROR; notes otherwise */
} sbx_result;

/* Free what a result owns (not the struct); accepts NULL. */
void sbx_result_free(sbx_result *r);

/* Write the isolation bits as a comma-separated list ("pidns,netns,..."). */
void sbx_isolation_str(unsigned iso, char *buf, size_t len);
/* The reverse: "cgroup,seccomp" -> SBX_ISO_* bits. -1 for an unknown name,
 * copied into bad. NULL or "" is no protection. */
int sbx_isolation_parse(const char *list, unsigned *out, char *bad, size_t badlen);

/* Host-side settings, shared by every run. */
typedef struct sbx_config {
	const char *python; /* default /usr/bin/python3 */
	const char *py_dir; /* directory holding llmrepl_entry.py; default: found
	                       next to the executable (../sandbox/py) or
	                       LLMREPL_SANDBOX_PY */
	unsigned uid_base;  /* first outside uid for sandboxed children; default 60000 */
	int require;        /* SBX_ISO_* bits that must apply or runs fail (default 0) */
	unsigned avoid;     /* SBX_ISO_* bits not even to try (diagnostics, tests);
	                       only CGROUP and SECCOMP can be avoided */
	int peer;           /* start a candidate factory beside the entry: a second
	                       interpreter under a uid of its own (as root: the
	                       slot's + SBX_SLOTS) reachable on the entry's fd 10,
	                       where the evaluation harness runs the code under test
	                       apart from its judge */
} sbx_config;

void sbx_config_default(sbx_config *c);

/* One cold run. Returns 0 when the run happened (whatever the code did) and
 * fills *res; returns -1 only when even the result could not be built, with
 * res->detail set. Never leaves a process behind. */
int sbx_run(sbx_result *res, const sbx_config *cfg, const sbx_limits *lim, const char *request,
            size_t request_len);

/* The fast path. */
typedef struct sbx_pool sbx_pool;

/* Start a pre-forked sandboxed interpreter. Returns 0 or -1 with msg (len
 * bytes) describing why. The pool restarts its interpreter by itself if it
 * dies or misbehaves. */
int sbx_pool_start(sbx_pool **out, const sbx_config *cfg, char *msg, size_t len);
int sbx_pool_run(sbx_pool *p, sbx_result *res, const sbx_limits *lim, const char *request,
                 size_t request_len);
void sbx_pool_free(sbx_pool *p); /* stops it, leaves nothing running; accepts NULL */
/* What the pool's later runs will need loaded, so that its server loads it
 * once and every spare it forks after that finds it (SBX_WANT_STATIC: the
 * static analysis tools, which an evaluation's judge otherwise imports in
 * every run when the static service is off or down). Told to the server
 * before the next run, again after a restart; best effort. Accepts NULL. */
#define SBX_WANT_STATIC 1u
/* SBX_WANT_PAGES: each spare copies the pages its judge will write while it
 * waits beside the run before it. It takes that copying off an evaluation's
 * critical path where a core is idle beside the judge (one evaluation at a
 * time) and costs CPU where every core is busy, so only such callers ask. */
#define SBX_WANT_PAGES 2u
void sbx_pool_want(sbx_pool *p, unsigned what);

/* A held interpreter: one sandboxed python kept across requests (a REPL
 * session's), with the protections of a cold run; lim holds for its whole
 * life except timeout_s (each call has its own) and cpu_s (set it for the
 * life). request is sent framed "LLMREPL-STDIN <n>\n", so the stream stays
 * open: each sbx_held_call sends "<len>\n" + frame and waits up to
 * timeout_s for one answer frame, which it returns as res->answer with the
 * stdout and stderr written meanwhile (res->end SBX_END_EXITED). A call
 * that is not answered in time, floods its output, or whose interpreter
 * died ends the interpreter: res says how, as for a cold run, and
 * sbx_held_alive() is 0 from then on. Returns -1 only when res could not be
 * built or the interpreter was gone before the call. One thread at a time. */
typedef struct sbx_held sbx_held;

int sbx_held_start(sbx_held **out, const sbx_config *cfg, const sbx_limits *lim,
                   const char *request, size_t request_len, char *msg, size_t msglen);
int sbx_held_call(sbx_held *h, sbx_result *res, const char *frame, size_t len, double timeout_s);
int sbx_held_alive(const sbx_held *h);
void sbx_held_free(sbx_held *h); /* kills it; accepts NULL */

/* The server's pid as this process sees it, -1 when none runs (diagnostics
 * and tests; the next run restarts a server that is gone). */
long sbx_pool_server_pid(sbx_pool *p);

#endif
