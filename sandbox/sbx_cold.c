/* sbx_cold.c - the cold run.
 *
 * A cold run: take a uid slot, make a cgroup, clone the child (see
 * sbx_child.c), then supervise it: feed the request, capture stdout, stderr
 * and the answer with caps, watch the wall clock, and when anything is over
 * its limit kill the namespace's pid 1, which takes every process of the run
 * with it. */
#include "sbx.h"

#include "sbx_cgroup.h"
#include "sbx_host.h"
#include "sbx_mount.h"
#include "sbx_netns.h"
#include "sbx_slot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- ready slots ----------------------------------------------------------- */

/* A uid slot with its cgroup and (as root) an empty network namespace, kept
 * from one run to the next instead of made and removed for each: a run
 * takes one, and gives it back when nothing of the run is left in it. The
 * slot stays held meanwhile, so no other process can take its uid or remove
 * its cgroup as a leftover. At exit they are removed; when this process is
 * killed the kernel releases the slot and the next discovery sweep of the
 * same scope (sbx_slot_cgroup_name) removes the cgroup. */
typedef struct sbx_ready {
	unsigned uid_base;
	int with_cg;
	int slot_fd;
	unsigned uid;
	sbx_cgroup cg;
	sbx_cg_limits cur; /* its limits now */
	char note[256];    /* what creating the cgroup said */
	int netns_fd;      /* -1: a new network namespace per run */
	int netns_made;    /* netns_fd is this process's (not one kept for the slot) */
	long init_pid;     /* the last run's init, still on its way out; -1 */
	int init_fd;       /* its pidfd; -1 */
} sbx_ready;

#define READY_MAX 8
/* Memory still charged after a run (page cache the run read first) above
 * which the cgroup is replaced rather than kept. */
#define READY_KEEP_KB (8 * 1024)

static sbx_ready *ready_free[READY_MAX];
static int nready;
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ready_exit_once = PTHREAD_ONCE_INIT;
static pid_t ready_owner;

/* A slot can be given back before its run's init is reaped: nothing of
 * the run is left but that init on its way out (sbx_run returns as soon as
 * the init says so, not after the namespaces' teardown). Reap it now. */
static void ready_settle(sbx_ready *r)
{
	if (r->init_pid <= 0)
		return;
	while (waitpid((pid_t)r->init_pid, NULL, 0) < 0 && errno == EINTR)
		;
	r->init_pid = -1;
	sbx_close_fd(&r->init_fd);
}

/* Whether a settled slot can serve the next run: its cgroup holds no
 * process and little memory (page cache the run read first). A cgroup v2
 * does not: its memory.peak cannot be reset for the next run. */
static int ready_fits(const sbx_ready *r)
{
	return !r->with_cg || (r->cg.version == 1 && sbx_cgroup_empty(&r->cg) &&
	                       sbx_cgroup_usage_kb(&r->cg) <= READY_KEEP_KB);
}

static void ready_destroy(sbx_ready *r)
{
	if (r == NULL)
		return;
	ready_settle(r);
	sbx_cgroup_destroy(&r->cg);
	sbx_slot_release(r->slot_fd);
	if (r->netns_fd >= 0)
		close(r->netns_fd);
	free(r);
}

/* Whether r's cgroup cannot be had for uid's slot: its name is taken by a
 * cgroup that cannot serve nor be removed (a process in it). */
static int ready_busy(void *arg, unsigned uid)
{
	sbx_ready *r = arg;
	char name[48];

	sbx_slot_cgroup_name(uid, name, sizeof(name));
	return sbx_cgroup_create(&r->cg, name, &r->cur, 0, r->note, sizeof(r->note)) == -2;
}

/* A new one: a uid slot and (with_cg) its cgroup. NULL with errno when no
 * uid slot is free. */
static sbx_ready *ready_new(const sbx_setup *s, int with_cg, const sbx_cg_limits *cl)
{
	sbx_ready *r;
	int first, all_busy;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->uid_base = s->uid_base;
	r->with_cg = with_cg;
	r->netns_fd = -1;
	r->init_pid = -1;
	r->init_fd = -1;
	r->cur = *cl;
	sbx_cgroup_init(&r->cg);
	/* With cgroups, a slot whose cgroup an earlier process left ready
	 * first: its cgroup is taken over (checked, its limits set again)
	 * instead of made. A slot whose cgroup is busy is given up for
	 * another (sbx_slot_take). */
	first = with_cg ? sbx_cgroup_ready_slot(s->uid_base, s->uid_base + SBX_SLOTS, &r->uid) : -1;
	r->slot_fd =
	    sbx_slot_take(s->uid_base, first, &r->uid, with_cg ? ready_busy : NULL, r, &all_busy);
	if (r->slot_fd < 0) {
		int e = errno;

		free(r);
		errno = e;
		return NULL;
	}
	/* As root, in a scope that outlives this process: the network
	 * namespace an earlier process kept for the slot, if it is empty. */
	if (s->as_root && sbx_slot_scope_durable())
		r->netns_fd = sbx_netns_kept(r->uid);
	return r;
}

/* A kept one with the same base and cgroup choice, its limits set to cl;
 * else a new one. NULL with errno when no uid slot is free. */
static sbx_ready *ready_take(const sbx_setup *s, int with_cg, const sbx_cg_limits *cl)
{
	sbx_ready *r = NULL;

	pthread_mutex_lock(&ready_lock);
	for (int i = nready - 1; i >= 0; i--)
		if (ready_free[i]->uid_base == s->uid_base && ready_free[i]->with_cg == with_cg) {
			r = ready_free[i];
			ready_free[i] = ready_free[--nready];
			break;
		}
	pthread_mutex_unlock(&ready_lock);
	if (r != NULL && r->init_pid > 0) {
		ready_settle(r);
		if (!ready_fits(r)) {
			ready_destroy(r);
			r = NULL;
		}
	}
	if (r != NULL && r->cg.version && sbx_cgroup_limits_differ(&r->cur, cl)) {
		/* A lower memory limit than what is still charged may be refused:
		 * then a fresh one. A run never goes with the wrong limits. */
		if (sbx_cgroup_set_limits(&r->cg, cl) == 0) {
			r->cur = *cl;
		} else {
			ready_destroy(r);
			r = NULL;
		}
	}
	/* The slot's network namespace is the one its first run made
	 * (cold_keep_netns); made apart only when that could not be opened. */
	if (r != NULL && r->netns_fd < 0 && s->as_root)
		r->netns_fd = sbx_netns_new();
	if (r != NULL)
		return r;
	return ready_new(s, with_cg, cl);
}

/* At exit the kept ones go. Their cgroups (v1) stay for the next process
 * of the slot's scope (sbx_cgroup_leave) when the scope outlives this
 * process; one made for it alone (a network namespace of its own) would
 * have no later process, so there they are removed. A forked child that
 * exits leaves its parent's alone. */
static void ready_drain(void)
{
	int leave;

	if (getpid() != ready_owner)
		return;
	leave = sbx_slot_scope_durable();
	pthread_mutex_lock(&ready_lock);
	while (nready > 0) {
		sbx_ready *r = ready_free[--nready];

		ready_settle(r);
		if (leave && r->cg.version == 1 && ready_fits(r)) {
			sbx_cgroup_leave(&r->cg);
			if (r->netns_made && r->netns_fd >= 0)
				(void)sbx_netns_keep(r->uid, r->netns_fd);
		}
		ready_destroy(r);
	}
	pthread_mutex_unlock(&ready_lock);
}

static void ready_at_exit(void)
{
	ready_owner = getpid();
	(void)atexit(ready_drain);
}

/* After a run (every process of it reaped): kept for the next when its
 * cgroup is empty and holds little memory, else removed. A cgroup v2 is
 * not kept: its memory.peak cannot be reset for the next run. */
static void ready_give(sbx_ready *r)
{
	if (r == NULL)
		return;
	/* One whose init is still on its way out is checked when taken. */
	if (r->init_pid <= 0 && !ready_fits(r)) {
		ready_destroy(r);
		return;
	}
	pthread_once(&ready_exit_once, ready_at_exit);
	pthread_mutex_lock(&ready_lock);
	if (nready < READY_MAX) {
		ready_free[nready++] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&ready_lock);
	ready_destroy(r);
}

/* ---- the cold run ------------------------------------------------------------ */

/* Cold runs this process has started (sbx_cold_start). */
static atomic_uint cold_starts;

/* Feed the request and capture everything until pid 1 is gone and the
 * pipes are closed. Returns SBX_KILL_*. */
static int supervise(sbx_cold *c, const sbx_limits *lim, const char *request, size_t request_len,
                     sbx_cap caps[3], sbx_status *st, sbx_result *res, double t0)
{
	const int fds[3] = {c->io.out[0], c->io.err[0], c->io.ans[0]};
	double deadline = t0 + lim->timeout_s;
	double kill_at = 0, gone_at = 0;
	size_t sent = 0;
	int killed = SBX_KILL_NONE;
	int gone = 0;

	if (request_len == 0)
		sbx_close_fd(&c->io.req[0]);
	for (;;) {
		struct pollfd pf[6];
		int map[6];
		int n = 0;
		double now = sbx_now();
		double until;

		if (!killed && !gone && now >= deadline) {
			killed = SBX_KILL_TIMEOUT;
			kill_at = now;
			sbx_kill_tree(c->pidfd, &c->cg);
		}
		sbx_caps_poll(caps, fds, pf, map, &n);
		if (!st->eof) {
			pf[n] = (struct pollfd){c->st[0], POLLIN, 0};
			map[n++] = 3;
		}
		if (!gone) {
			pf[n] = (struct pollfd){c->pidfd, POLLIN, 0};
			map[n++] = 4;
		}
		if (c->io.req[0] >= 0) {
			pf[n] = (struct pollfd){c->io.req[0], POLLOUT, 0};
			map[n++] = 5;
		}
		if (gone && sbx_caps_eof(caps) && st->eof)
			break;
		/* Nothing of the run left but the init on its way out (which
		 * the slot reaps later, see ready_settle). */
		if (!killed && !gone && st->all_gone && sbx_caps_eof(caps)) {
			c->early = 1;
			sbx_trace_mark(&c->tr, "h.last");
			break;
		}
		/* After pid 1 is gone its namespace is empty and the pipes close
		 * at once; the grace only guards against a copy of a pipe held
		 * elsewhere. A killed child must be gone within seconds. */
		until = gone ? gone_at + 1.0 : killed ? kill_at + 5.0 : deadline;
		if (now >= until) {
			if (gone || killed)
				break;
			continue;
		}
		if (poll(pf, (nfds_t)n, (int)ceil((until - now) * 1000)) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			if (pf[k].revents == 0)
				continue;
			if (map[k] < 3) {
				sbx_caps_ready(caps, map[k], pf[k].fd, &c->tr);
			} else if (map[k] == 3) {
				sbx_status_read(st, c->st[0], res);
			} else if (map[k] == 4) {
				gone = 1;
				gone_at = sbx_now();
				sbx_trace_mark(&c->tr, "h.gone");
			} else if (map[k] == 5) {
				sbx_io_send(&c->io, request, request_len, &sent);
			}
		}
		if (!killed && sbx_caps_over(caps)) {
			killed = SBX_KILL_OUTPUT;
			kill_at = sbx_now();
			sbx_kill_tree(c->pidfd, &c->cg);
		}
	}
	if (!gone && !c->early)
		sbx_kill_tree(c->pidfd, &c->cg);
	return killed;
}

void sbx_cold_init(sbx_cold *c)
{
	memset(c, 0, sizeof(*c));
	sbx_io_init(&c->io);
	for (int i = 0; i < 2; i++)
		c->st[i] = c->alive[i] = -1;
	c->pidfd = -1;
	c->pid = -1;
	c->rs = NULL;
	sbx_cgroup_init(&c->cg);
	sbx_trace_begin(&c->tr, "cold");
}

void sbx_cold_kill(sbx_cold *c)
{
	sbx_kill_tree(c->pidfd, &c->cg);
}

/* The run's ends of its pipes, its cgroups, the gate, the peer and the
 * slot's network namespace, in the plan the child follows. */
static void cold_wire_plan(sbx_cold *c, const sbx_config *cfg, const sbx_setup *s)
{
	c->plan->fds[SBX_CFD_OUT - SBX_CFD_OUT] = c->io.out[1];
	c->plan->fds[SBX_CFD_ERR - SBX_CFD_OUT] = c->io.err[1];
	c->plan->fds[SBX_CFD_ANS - SBX_CFD_OUT] = c->io.ans[1];
	c->plan->fds[SBX_CFD_REQ - SBX_CFD_OUT] = c->io.req[1];
	c->plan->fds[SBX_CFD_STATUS - SBX_CFD_OUT] = c->st[1];
	c->plan->fds[SBX_CFD_ALIVE - SBX_CFD_OUT] = c->alive[0];
	for (int i = 0; i < SBX_CG_N; i++)
		c->plan->fds[SBX_CFD_CG0 - SBX_CFD_OUT + i] = c->cg.procs_fd[i];
	if (c->cg.version)
		sbx_plan_gate(c->plan);
	if (cfg != NULL && cfg->peer)
		sbx_plan_peer(c->plan, s);
	sbx_plan_netns(c->plan, c->rs->netns_fd);
}

/* A run that made a network namespace (as root, none kept for its slot):
 * the slot keeps it for its next runs, as it would one made apart, with no
 * extra child to make it. Opened while the init (not yet reaped, so its
 * pid is still ours) is alive; once every process of the run is gone it
 * is as empty as a new one: nothing in a run can configure it. */
static void cold_keep_netns(sbx_cold *c, const sbx_setup *s)
{
	char path[48];

	if (!s->as_root || c->rs->netns_fd >= 0 || !(c->plan->clone_flags & CLONE_NEWNET))
		return;
	snprintf(path, sizeof(path), "/proc/%ld/ns/net", c->pid);
	c->rs->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	c->rs->netns_made = c->rs->netns_fd >= 0;
}

/* Each run copies the setup's mount template, which the processes of a
 * durable scope share; elsewhere a process's first cold run builds its root
 * itself (a process that makes one run would only pay for a template no
 * other process can use). */
static void cold_template(sbx_cold *c, const sbx_setup *s)
{
	int made;

	if (!s->as_root || (atomic_fetch_add(&cold_starts, 1) == 0 && !sbx_slot_scope_durable()))
		return;
	sbx_plan_mntns(c->plan, sbx_mount_template(s, sbx_slot_scope_durable(), &made));
	sbx_trace_mark(&c->tr, made ? "h.tbuild" : "h.template");
}

int sbx_cold_start(sbx_cold *c, sbx_result *res, const sbx_config *cfg, const sbx_limits *lim)
{
	const sbx_setup *s;
	char msg[256];
	sbx_cg_limits cl;
	unsigned uid = 0;
	unsigned iso;

	res->end = SBX_END_ERROR;
	s = sbx_setup_get(cfg, msg, sizeof(msg));
	if (s == NULL) {
		snprintf(res->detail, sizeof(res->detail), "%s", msg);
		return -1;
	}
	iso = sbx_setup_isolation(s, res);
	sbx_trace_mark(&c->tr, "h.setup");
	/* The slot gives root its uid, and names the cgroup either way. The
	 * cgroup is the whole run's: every process, and the files in /work and
	 * /tmp (tmpfs pages are charged to the cgroup of whoever wrote them).
	 * +1 process: the init. */
	cl = sbx_limits_cgroup(lim, 1 + (cfg && cfg->peer ? 2 : 0));
	c->rs = ready_take(s, !(s->avoid & SBX_ISO_CGROUP), &cl);
	if (c->rs == NULL) {
		snprintf(res->detail, sizeof(res->detail), "no free sandbox uid in %u..%u: %s",
		         s->uid_base, s->uid_base + SBX_SLOTS - 1, strerror(errno));
		return -1;
	}
	uid = c->rs->uid;
	if (c->rs->with_cg) {
		if (c->rs->cg.version && c->rs->cg.have_pids)
			iso |= SBX_ISO_CGROUP;
		sbx_detail_add(res, c->rs->note);
		/* Its counters from zero for this run. */
		if (c->rs->cg.version) {
			(void)sbx_cgroup_reset_peak(&c->rs->cg);
			sbx_cgroup_reset_cpu(&c->rs->cg);
		}
		c->cg = c->rs->cg;
		c->oom_base = sbx_cgroup_oom_kills(&c->cg);
	} else {
		sbx_detail_add(res, "cgroup disabled by configuration");
	}
	sbx_trace_mark(&c->tr, "h.cgroup");
	if (sbx_setup_require(s, iso, res->detail, sizeof(res->detail)) < 0)
		return -1;
	if (sbx_io_open(&c->io) < 0 || pipe2(c->st, O_CLOEXEC) < 0 ||
	    pipe2(c->alive, O_CLOEXEC) < 0) {
		snprintf(res->detail, sizeof(res->detail), "pipe: %s", strerror(errno));
		return -1;
	}
	c->plan = malloc(sizeof(*c->plan));
	if (c->plan == NULL) {
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		return -1;
	}
	sbx_plan_make(c->plan, s, lim, uid, 0);
	cold_wire_plan(c, cfg, s);
	cold_template(c, s);
	sbx_trace_mark(&c->tr, "h.plan");
	c->t0 = sbx_now();
	c->pid = sbx_clone(c->plan, &c->pidfd);
	sbx_trace_mark(&c->tr, "h.clone");
	sbx_close_fd(&c->plan->fds[SBX_CFD_MNTNS - SBX_CFD_OUT]);
	if (c->pid < 0) {
		sbx_clone_failed(res, errno);
		return -1;
	}
	cold_keep_netns(c, s);
	c->iso = iso;
	sbx_io_handed(&c->io);
	sbx_close_fd(&c->st[1]);
	sbx_close_fd(&c->alive[0]);
	sbx_set_nonblock(c->st[0]);
	return 0;
}

int sbx_cold_end(sbx_cold *c, sbx_result *res, const sbx_limits *lim, sbx_cap caps[3],
                 sbx_status *st, int killed)
{
	struct rusage ru;
	int wst = 0;

	memset(&ru, 0, sizeof(ru));
	if (c->early) {
		/* The init reaped python and any orphans, and reported their
		 * time; the slot reaps the init itself (ready_settle). */
		c->rs->init_pid = c->pid;
		c->rs->init_fd = c->pidfd;
		c->pidfd = -1;
		res->cpu_s = st->tree_cpu_s;
	} else {
		while (wait4((pid_t)c->pid, &wst, 0, &ru) < 0 && errno == EINTR)
			;
		sbx_trace_mark(&c->tr, "h.reaped");
		/* init reaped python and any orphans: its children's time is theirs. */
		res->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		             (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	}
	c->pid = -1;
	res->wall_s = sbx_now() - c->t0;
	if (st->cpu_s > res->cpu_s)
		res->cpu_s = st->cpu_s;
	/* The cgroup counts from the move on (start-up pages stay with the
	 * host's cgroup); python's own peak RSS covers the start-up. */
	res->cg_peak_kb = sbx_cgroup_peak_kb(&c->cg);
	res->cg_cpu_s = sbx_cgroup_cpu_s(&c->cg);
	res->peak_kb = res->cg_peak_kb;
	if (st->maxrss_kb > res->peak_kb)
		res->peak_kb = st->maxrss_kb;
	if (res->peak_kb <= 0)
		res->peak_kb = ru.ru_maxrss;
	sbx_trace_mark(&c->tr, "h.measure");
	if (sbx_caps_take(res, caps) < 0) {
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		return -1;
	}
	if (st->failed) {
		res->end = SBX_END_ERROR;
		return 0;
	}
	res->isolation = c->iso;
	sbx_classify(res, lim, killed, st->have_status, st->status,
	             sbx_cgroup_oom_kills(&c->cg) - c->oom_base);
	if (res->end == SBX_END_ERROR)
		sbx_detail_add(res, "the sandbox's init ended without a status");
	/* After classifying, which judges a kill by the interpreter's own time:
	 * what is reported is the whole tree's. */
	if (res->cg_cpu_s > res->cpu_s)
		res->cpu_s = res->cg_cpu_s;
	return 0;
}

void sbx_cold_cleanup(sbx_cold *c)
{
	if (c->pid > 0) {
		sbx_kill_tree(c->pidfd, &c->cg);
		waitpid((pid_t)c->pid, NULL, 0);
		c->pid = -1;
	}
	sbx_io_close(&c->io);
	for (int i = 0; i < 2; i++) {
		sbx_close_fd(&c->st[i]);
		sbx_close_fd(&c->alive[i]);
	}
	sbx_close_fd(&c->pidfd);
	/* Every process of the run is reaped (the init above, and with it its
	 * namespace): the slot and its cgroup can serve the next run. */
	sbx_cgroup_init(&c->cg);
	ready_give(c->rs);
	c->rs = NULL;
	free(c->plan);
	c->plan = NULL;
	sbx_trace_mark(&c->tr, "h.cleanup");
	sbx_trace_end(&c->tr);
}

int sbx_run(sbx_result *res, const sbx_config *cfg, const sbx_limits *lim_in, const char *request,
            size_t request_len)
{
	sbx_limits lim;
	sbx_cold c;
	sbx_cap caps[3];
	sbx_status st;
	int killed;
	int rc = 0;

	sbx_result_begin(res);
	memset(&st, 0, sizeof(st));
	sbx_cold_init(&c);
	st.tr = &c.tr;
	sbx_limits_resolve(&lim, lim_in);
	sbx_caps_init(caps, &lim);
	if (sbx_cold_start(&c, res, cfg, &lim) == 0) {
		killed = supervise(&c, &lim, request, request_len, caps, &st, res, c.t0);
		rc = sbx_cold_end(&c, res, &lim, caps, &st, killed);
	}
	sbx_cold_cleanup(&c);
	sbx_caps_free(caps);
	sbx_result_end(res);
	return rc;
}
