/* sbx_pool.c - the fast path: one sandboxed interpreter, forked per run.
 *
 * The server is llmrepl_entry.py --server, started in a sandbox set up
 * exactly as a cold run's (its own namespaces, uid, cgroup, seccomp) but with
 * python itself as pid 1. It imports what runs need, then for each run
 * receives four fds (request, answer, stdout, stderr) and the run's limits on
 * a SOCK_SEQPACKET control socket, forks, and reports the child's wait
 * status and rusage once it and every process it left are dead and the work
 * dir and /tmp are wiped. The host keeps the clock: on a timeout or an
 * output overflow it tells the server to kill the run, and if the server does
 * not answer in time, or died, the host kills its namespace and starts a new
 * one on the next run. */
#include "sbx.h"

#include "sbx_cgroup.h"
#include "sbx_host.h"
#include "sbx_slot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL_START_TIMEOUT 60.0 /* imports of the harness and its linters */
#define POOL_KILL_GRACE    2.0  /* how long a killed run may take to be reported */
#define POOL_SERVER_MB     1024 /* the server's own memory ceiling */
#define POOL_SPARE_TIMEOUT 10.0 /* the next spare's fork after a run */

/* The second lane's uid: the slot's + this (factories have + SBX_SLOTS). */
#define POOL_LANE_UID (2 * SBX_SLOTS)
/* The second candidate factory's uid: the slot's + this (sbx_plan_peer2). */
#define POOL_PEER2_UID (3 * SBX_SLOTS)

/* One run's state, from pool_prepare to the run's end (pool_attempt). */
typedef struct run_state {
	sbx_io io; /* its streams (run_ahead, else run_send) */
	/* With lanes, made while the server wipes after the run before
	 * (run_ahead): for spare ahead_n (0: none), its lane's counters reset
	 * and its OOM count read. */
	unsigned ahead_n;
	int ahead_peak_ok;
	long ahead_oom;
	int peak_ok;     /* the run cgroup's peak was reset for this run */
	long oom_before; /* the run cgroup's OOM kills before this run */
	int early_ok;    /* sbx_limits.early_answer, and the run has cgroups (its figures) */
	int early;       /* it ended at its answer, marked final (final_mark) */
	long early_kb;   /* the entry's peak memory, from the mark */
} run_state;

struct sbx_pool {
	pthread_mutex_t lock;
	sbx_config cfg;
	char *python;
	char *py_dir;
	const sbx_setup *s;
	long pid;
	int pidfd;
	int ctl;
	int log;
	int slot_fd;
	unsigned uid;
	/* llmrepl-sbx-<scope>-u<uid>, with the server in .../srv and each run's
	 * process tree in .../run: a run's limits, OOM kills and counters are
	 * its own, and the server is in no cgroup a run can fill. */
	sbx_cgroup top, srv, run[2];
	sbx_cg_limits cur; /* the run cgroups' limits now */
	/* Two lanes (as root): runs alternate between lane 0, under the slot's
	 * uid in the run cgroups run[0] (.../run), and lane 1, under uid +
	 * POOL_LANE_UID in run[1] (.../run1); spare n is in lane (n - 1) % 2.
	 * The next run's spare waits in the other lane while a run goes on,
	 * its fork and cgroup move done, under a uid the run cannot signal,
	 * renice or pin (see llmrepl_pool._reach). */
	int lanes;
	unsigned nojoin_n; /* the spare a NOJOIN came from, outside a run */
	long file_size_mb; /* what /work and /tmp were sized for */
	unsigned iso;
	char note[256];
	unsigned seq; /* the run under way: the number of the spare it went to */
	int spare_fd; /* the socket of the spare waiting for the next run, or -1 */
	unsigned spare_n;
	int running;
	unsigned want;      /* SBX_WANT_*: what later runs will need (sbx_pool_want) */
	unsigned want_sent; /* what of it this server was told */
	sbx_trace tr;       /* the current run's (LLMREPL_SBX_TRACE) */
	/* The last run (p->seq) ended at its answer (early_answer): its DONE
	 * is still to come, by pend_until (its deadline). */
	int pend;
	double pend_until;
	long long pend_ns; /* when it was answered (LLMREPL_SBX_TRACE) */
};

static void server_stop(sbx_pool *p)
{
	if (p->pid > 0) {
		/* pid 1 gone: the kernel kills the rest of the namespace. */
		sbx_kill_tree(p->pidfd, &p->top);
		while (waitpid((pid_t)p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	p->pid = -1;
	p->running = 0;
	p->want_sent = 0;
	p->pend = 0;
	sbx_close_fd(&p->pidfd);
	sbx_close_fd(&p->ctl);
	sbx_close_fd(&p->log);
	sbx_close_fd(&p->spare_fd);
	sbx_cgroup_destroy(&p->run[0]);
	sbx_cgroup_destroy(&p->run[1]);
	sbx_cgroup_destroy(&p->srv);
	sbx_cgroup_destroy(&p->top);
	sbx_slot_release(p->slot_fd);
	p->slot_fd = -1;
}

/* Read the server's own stderr (import errors, crashes) into msg's tail. */
static void read_log(sbx_pool *p, char *msg, size_t len)
{
	char buf[2048];
	ssize_t n;

	if (p->log < 0)
		return;
	n = read(p->log, buf, sizeof(buf) - 1);
	if (n > 0) {
		size_t have = strlen(msg);

		buf[n] = '\0';
		snprintf(msg + have, len - have, "%sserver said: %s", have ? "; " : "", buf);
	}
}

/* On cgroup v1 the run's cgroups are joined through their `tasks` files:
 * a process that writes 0 there moves only itself, which the kernel does
 * without the hierarchy-wide lock that `cgroup.procs` takes (and the RCU
 * grace period, 7-10 ms here, that taking it costs when it was last taken
 * a while ago). A spare, fresh from fork, is one thread, so it moves whole;
 * so does a candidate worker (fresh from the factory's fork). */
static void run_cgroup_by_thread(sbx_cgroup *run)
{
	if (run->version != 1)
		return;
	for (int c = 0; c < SBX_CG_N; c++) {
		int fd;

		if (run->procs_fd[c] < 0 || run->dir[c] < 0)
			continue;
		fd = openat(run->dir[c], "tasks", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(run->procs_fd[c]);
			run->procs_fd[c] = fd;
		}
	}
}

/* The pool's cgroups: llmrepl-sbx-<scope>-u<uid> with the server's (srv) and the
 * run's (run; with lanes run1 too) under it; notes what is missing in
 * scratch. Sets p->lanes: as root, and with both run cgroups or none. -2
 * (nothing noted) when the slot's cgroup is held by another's leftovers (a
 * process still in it): the caller takes another slot. */
static int pool_cgroups(sbx_pool *p, const sbx_limits *lim, sbx_result *scratch)
{
	char note[256];
	int busy = 0;

	note[0] = '\0';
	p->lanes = p->s->as_root;
	if (!(p->s->avoid & SBX_ISO_CGROUP)) {
		/* The server: its imports and the spares between runs; trusted,
		 * so only a generous ceiling. */
		const sbx_cg_limits none = {0, 0, 0};
		const sbx_cg_limits srv = {POOL_SERVER_MB * 1024LL * 1024LL, 12, 0};
		char name[48], sub[64];

		/* +1 process: the candidate's worker (sbx_config.peer). */
		p->cur = sbx_limits_cgroup(lim, p->cfg.peer ? 1 : 0);
		sbx_slot_cgroup_name(p->uid, name, sizeof(name));
		busy = sbx_cgroup_create(&p->top, name, &none, 1, note, sizeof(note)) == -2;
		if (p->top.version) {
			snprintf(sub, sizeof(sub), "%s/srv", name);
			if (sbx_cgroup_create(&p->srv, sub, &srv, 0, note, sizeof(note)) == 0) {
				snprintf(sub, sizeof(sub), "%s/run", name);
				busy = sbx_cgroup_create(&p->run[0], sub, &p->cur, 0, note,
				                         sizeof(note)) == -2;
				snprintf(sub, sizeof(sub), "%s/run1", name);
				if (p->lanes && p->run[0].version &&
				    (sbx_cgroup_create(&p->run[1], sub, &p->cur, 0, note,
				                       sizeof(note)) < 0 ||
				     !p->run[1].have_pids))
					p->lanes = 0;
			}
		}
		if (!p->lanes)
			sbx_cgroup_destroy(&p->run[1]);
		if (p->run[0].version && p->run[0].have_pids) {
			run_cgroup_by_thread(&p->run[0]);
			run_cgroup_by_thread(&p->run[1]);
			p->iso |= SBX_ISO_CGROUP;
		} else {
			sbx_cgroup_destroy(&p->run[1]);
			sbx_cgroup_destroy(&p->run[0]);
			sbx_cgroup_destroy(&p->srv);
			sbx_cgroup_destroy(&p->top);
			if (busy)
				return -2;
		}
		sbx_detail_add(scratch, note);
	} else {
		sbx_detail_add(scratch, "cgroup disabled by configuration");
	}
	return 0;
}

/* The lane of spare n (0 without lanes). */
static int lane_of(const sbx_pool *p, unsigned n)
{
	return p->lanes ? (int)((n - 1) % 2) : 0;
}

/* Clone the server with its ends of the control socket (sp[1]), the log
 * (lg[1]), the status pipe (stp[1]) and the alive pipe (alive[0]). -1 with
 * msg. */
static int server_clone(sbx_pool *p, const sbx_limits *lim, const int sp[2], const int lg[2],
                        const int stp[2], const int alive[2], sbx_result *scratch, char *msg,
                        size_t len)
{
	sbx_plan *plan = malloc(sizeof(*plan));

	if (plan == NULL) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	sbx_plan_make(plan, p->s, lim, p->uid, 1);
	if (p->cfg.peer)
		sbx_plan_peer(plan, p->s);
	plan->fds[SBX_CFD_OUT - SBX_CFD_OUT] = lg[1];
	plan->fds[SBX_CFD_ERR - SBX_CFD_OUT] = lg[1];
	plan->fds[SBX_CFD_CTL - SBX_CFD_OUT] = sp[1];
	plan->fds[SBX_CFD_STATUS - SBX_CFD_OUT] = stp[1];
	plan->fds[SBX_CFD_ALIVE - SBX_CFD_OUT] = alive[0];
	for (int i = 0; i < SBX_CG_N; i++) {
		plan->fds[SBX_CFD_CG0 - SBX_CFD_OUT + i] = p->srv.procs_fd[i];
		plan->fds[SBX_CFD_RCG0 - SBX_CFD_OUT + i] = p->run[0].procs_fd[i];
	}
	sbx_plan_run_cgroups(plan);
	if (p->lanes) {
		sbx_plan_lanes(plan, p->uid + POOL_LANE_UID);
		sbx_plan_peer2(plan, p->uid + POOL_PEER2_UID);
	}
	p->pid = sbx_clone(plan, &p->pidfd);
	free(plan);
	if (p->pid < 0) {
		sbx_clone_failed(scratch, errno);
		snprintf(msg, len, "%s", scratch->detail);
		return -1;
	}
	return 0;
}

/* One message from the server (up to len - 1 bytes, NUL-terminated), or
 * <= 0 as recv returns (flags: MSG_DONTWAIT). "SPARE <n>" comes with the
 * socket of the spare forked for the next run, which is kept as the one to
 * send it to; any other fd is closed. */
static ssize_t ctl_msg(sbx_pool *p, char *buf, size_t len, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {buf, len - 1};
	struct msghdr mh;
	struct cmsghdr *cm;
	int fd = -1;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	n = recvmsg(p->ctl, &mh, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	buf[n] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (fd >= 0 && sscanf(buf, "SPARE %u", &p->spare_n) == 1) {
		sbx_close_fd(&p->spare_fd);
		p->spare_fd = fd;
	} else if (fd >= 0) {
		close(fd);
	}
	return n;
}

/* Until READY: a setup failure arrives on the status pipe (stfd), an early
 * death closes the control socket. Warnings are left in scratch->detail. */
static int server_wait_ready(sbx_pool *p, int stfd, sbx_result *scratch, char *msg, size_t len)
{
	sbx_status st;
	double deadline = sbx_now() + POOL_START_TIMEOUT;

	memset(&st, 0, sizeof(st));
	scratch->detail[0] = '\0';
	for (;;) {
		struct pollfd pf[2] = {{p->ctl, POLLIN, 0}, {stfd, POLLIN, 0}};
		double now = sbx_now();
		char buf[512];
		ssize_t n;

		if (now >= deadline) {
			snprintf(msg, len, "the pool's server did not start within %.0f s",
			         POOL_START_TIMEOUT);
			return -1;
		}
		if (poll(pf, st.eof ? 1 : 2, (int)ceil((deadline - now) * 1000)) < 0 &&
		    errno != EINTR)
			return -1;
		if (!st.eof && pf[1].revents) {
			sbx_status_read(&st, stfd, scratch);
			if (st.failed) {
				snprintf(msg, len, "%s", scratch->detail);
				return -1;
			}
		}
		if (pf[0].revents == 0)
			continue;
		n = ctl_msg(p, buf, sizeof(buf), 0);
		if (n <= 0) {
			snprintf(msg, len, "the pool's server died while starting");
			read_log(p, msg, len);
			return -1;
		}
		if (strncmp(buf, "READY", 5) == 0 && p->spare_fd >= 0) {
			/* "READY <notes>": what the server could not do (an import
			 * that failed, pages not calibrated), said with each run. */
			if (buf[5] == ' ' && buf[6] != '\0')
				sbx_detail_add(scratch, buf + 6);
			return 0;
		}
	}
}

/* One datagram: text with n (up to 6) fds. */
static int send_fds(int sock, const char *text, const int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 6)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {(void *)(uintptr_t)text, strlen(text)};
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	memset(&u, 0, sizeof(u));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (n > 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
		c = CMSG_FIRSTHDR(&mh);
		if (c == NULL)
			return -1;
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* The second lane's run cgroups, in SBX_CG_* order as the first lane's go
 * (--run-cgroup), then each lane's pids.current (read-only) where both
 * have one: "LANE <cgroups> <counts>", the server's first message. After a
 * run the server reads its lane's count: none left (the run's process
 * reaped, and nothing it started exists, not even unreaped) and it reports
 * the run without a sweep for what it left. */
static int send_lane(sbx_pool *p)
{
	int fds[SBX_CG_N + 2];
	int n = 0, k, rc;
	char text[32];

	for (int c = 0; c < SBX_CG_N; c++)
		if (p->run[1].procs_fd[c] >= 0)
			fds[n++] = p->run[1].procs_fd[c];
	k = n;
	for (int l = 0; l < 2; l++)
		if (p->run[l].dir[SBX_CG_PIDS] >= 0 && p->run[l].have_pids)
			fds[n++] = openat(p->run[l].dir[SBX_CG_PIDS], "pids.current",
			                  O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (n - k != 2 || fds[k] < 0 || fds[k + 1] < 0) {
		while (n > k)
			if (fds[--n] >= 0)
				close(fds[n]);
	}
	snprintf(text, sizeof(text), "LANE %d %d", k, n - k);
	rc = send_fds(p->ctl, text, fds, n);
	while (n > k)
		close(fds[--n]);
	return rc;
}

/* What pool_slot asks of each slot it takes (sbx_slot_take). */
typedef struct pool_try {
	sbx_pool *p;
	const sbx_limits *lim;
	sbx_result *scratch;
} pool_try;

static int pool_busy(void *arg, unsigned uid)
{
	pool_try *t = arg;

	t->p->uid = uid;
	return pool_cgroups(t->p, t->lim, t->scratch) == -2;
}

/* Take a uid slot and its cgroups. A slot whose cgroup is still held by
 * another's leftovers (a host killed, its processes still dying) is given
 * up for another, as a cold run's is (sbx_slot_take), so the run does not
 * go without cgroups for it. After SBX_SLOT_TRIES the run goes without,
 * noted. -1 with msg when no slot is free. */
static int pool_slot(sbx_pool *p, const sbx_limits *lim, sbx_result *scratch, char *msg, size_t len)
{
	pool_try t = {p, lim, scratch};
	int all_busy;

	p->slot_fd = sbx_slot_take(p->s->uid_base, -1, &p->uid, pool_busy, &t, &all_busy);
	if (p->slot_fd < 0) {
		snprintf(msg, len, "no free sandbox uid: %s", strerror(errno));
		return -1;
	}
	if (all_busy)
		sbx_detail_add(scratch, "every slot tried had a cgroup another process "
		                        "still held: cgroups not used");
	return 0;
}

static int server_start(sbx_pool *p, char *msg, size_t len)
{
	sbx_limits lim;
	sbx_result scratch;
	int sp[2] = {-1, -1}, lg[2] = {-1, -1}, stp[2] = {-1, -1}, alive[2] = {-1, -1};
	int rc = -1;

	memset(&scratch, 0, sizeof(scratch));
	sbx_limits_resolve(&lim, NULL);
	p->file_size_mb = lim.file_size_mb;
	p->iso = sbx_setup_isolation(p->s, &scratch);
	/* The slot gives root its uid, and names the cgroups either way. */
	if (pool_slot(p, &lim, &scratch, msg, len) < 0)
		goto cleanup;
	if (sbx_setup_require(p->s, p->iso, msg, len) < 0)
		goto cleanup;
	snprintf(p->note, sizeof(p->note), "%s", scratch.detail);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(lg, O_CLOEXEC) < 0 || pipe2(stp, O_CLOEXEC) < 0 || pipe2(alive, O_CLOEXEC) < 0) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		goto cleanup;
	}
	if (server_clone(p, &lim, sp, lg, stp, alive, &scratch, msg, len) < 0)
		goto cleanup;
	sbx_close_fd(&sp[1]);
	sbx_close_fd(&lg[1]);
	sbx_close_fd(&stp[1]);
	sbx_close_fd(&alive[0]);
	p->ctl = sp[0];
	sp[0] = -1;
	p->log = lg[0];
	lg[0] = -1;
	sbx_set_nonblock(p->log);
	sbx_set_nonblock(stp[0]);
	if (p->lanes && send_lane(p) < 0) {
		snprintf(msg, len, "the pool's server: %s", strerror(errno));
		goto cleanup;
	}
	if (server_wait_ready(p, stp[0], &scratch, msg, len) < 0)
		goto cleanup;
	if (scratch.detail[0]) /* warnings, e.g. no /proc */
		snprintf(p->note + strlen(p->note), sizeof(p->note) - strlen(p->note), "%s%s",
		         p->note[0] ? "; " : "", scratch.detail);
	p->running = 1;
	rc = 0;
cleanup:
	sbx_close_fd(&sp[0]);
	sbx_close_fd(&sp[1]);
	sbx_close_fd(&lg[0]);
	sbx_close_fd(&lg[1]);
	sbx_close_fd(&stp[0]);
	sbx_close_fd(&stp[1]);
	sbx_close_fd(&alive[0]);
	sbx_close_fd(&alive[1]);
	if (rc < 0)
		server_stop(p);
	return rc;
}

static int server_dead(sbx_pool *p)
{
	struct pollfd pf = {p->pidfd, POLLIN, 0};

	return !p->running || poll(&pf, 1, 0) != 0;
}

int sbx_pool_start(sbx_pool **out, const sbx_config *cfg, char *msg, size_t len)
{
	sbx_pool *p = calloc(1, sizeof(*p));
	sbx_config d;

	*out = NULL;
	if (p == NULL) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	sbx_config_default(&d);
	p->cfg = cfg ? *cfg : d;
	p->python = p->cfg.python ? strdup(p->cfg.python) : NULL;
	p->py_dir = p->cfg.py_dir ? strdup(p->cfg.py_dir) : NULL;
	p->cfg.python = p->python;
	p->cfg.py_dir = p->py_dir;
	p->pid = -1;
	p->pidfd = p->ctl = p->log = p->slot_fd = p->spare_fd = -1;
	sbx_cgroup_init(&p->top);
	sbx_cgroup_init(&p->srv);
	sbx_cgroup_init(&p->run[0]);
	sbx_cgroup_init(&p->run[1]);
	pthread_mutex_init(&p->lock, NULL);
	p->s = sbx_setup_get(&p->cfg, msg, len);
	if (p->s == NULL || server_start(p, msg, len) < 0) {
		sbx_pool_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void sbx_pool_free(sbx_pool *p)
{
	if (p == NULL)
		return;
	server_stop(p);
	pthread_mutex_destroy(&p->lock);
	free(p->python);
	free(p->py_dir);
	free(p);
}

typedef struct done_msg {
	int have;
	int status;
	double cpu_s;
	long maxrss_kb;
	/* "<cgroup> <step> <errno>": the run's process was a spare that could
	 * not join the run's cgroups (no code ran); "" otherwise. */
	char nojoin[64];
	int idle; /* the spare ended without having the run */
} done_msg;

/* A message from the server on the control socket: DONE of this run, or
 * GONE (it quit before the run started). *dead when the socket closed. */
static void ctl_read(sbx_pool *p, done_msg *done, double *done_at, int *dead, int *gone)
{
	char buf[1024];
	unsigned id = 0;
	long long ut = 0, stt = 0;
	ssize_t r = ctl_msg(p, buf, sizeof(buf), MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		*dead = 1;
		return;
	}
	/* The server quit (after the previous run, before this one started):
	 * nothing of this run happened. */
	if (strncmp(buf, "GONE", 4) == 0) {
		*gone = 1;
		*dead = 1;
		return;
	}
	if (sscanf(buf, "DONE %u %d %lld %lld %ld", &id, &done->status, &ut, &stt,
	           &done->maxrss_kb) == 5 &&
	    id == p->seq) {
		const char *nj = strstr(buf, " NOJOIN ");
		const char *marks = strstr(buf, " T ");
		const char *idle = strstr(buf, " IDLE");

		done->have = 1;
		done->cpu_s = (double)(ut + stt) / 1e6;
		*done_at = sbx_now();
		sbx_trace_mark(&p->tr, "h.done");
		if (marks)
			sbx_trace_words(&p->tr, marks + 3);
		done->idle = idle != NULL && (marks == NULL || idle < marks);
		if (nj != NULL) {
			char *end;

			snprintf(done->nojoin, sizeof(done->nojoin), "%s", nj + 8);
			if ((end = strstr(done->nojoin, " T ")) != NULL)
				*end = '\0'; /* the trace's marks follow */
		}
	}
}

/* The server died or had to be killed: whatever is left of the run dies
 * with the server's namespace; read what it wrote before that. The streams
 * end as their writers die; one still open after POOL_KILL_GRACE (a writer
 * the kill did not reach) is left unread rather than waited for, so the
 * host never hangs on it (the pipes were nonblocking: read in a loop, an
 * open but silent one spun until its writer ended). */
static void kill_and_drain(sbx_pool *p, sbx_cap caps[3], const int fds[3])
{
	double until = sbx_now() + POOL_KILL_GRACE;

	sbx_kill_tree(p->pidfd, &p->top);
	for (;;) {
		struct pollfd pf[3];
		int map[3];
		int n = 0;
		double now = sbx_now();

		sbx_caps_poll(caps, fds, pf, map, &n);
		if (n == 0)
			return;
		if (now >= until ||
		    (poll(pf, (nfds_t)n, (int)ceil((until - now) * 1000)) < 0 && errno != EINTR)) {
			for (int i = 0; i < 3; i++)
				caps[i].eof = 1;
			return;
		}
		for (int k = 0; k < n; k++)
			if (pf[k].revents && sbx_cap_read(&caps[map[k]], fds[map[k]]) < 0)
				caps[map[k]].eof = 1;
	}
}

/* What the next run needs that does not wait for the server's offer, done
 * while the server wipes and offers (back to back, the host would wait for
 * that): its pipes, and with lanes the counters of the lane the next spare
 * waits in (spare seq + 1; all runs there are over) reset, its OOM count
 * read (the spare's own work after this then counts towards its run, as its
 * rusage does anyway). pool_prepare skips them if that spare is the one
 * offered. (Done during the run instead, it delayed the run's end: the host,
 * the run and the server's fork of the next spare share two CPUs then.) */
static void run_ahead(sbx_pool *p, run_state *r)
{
	sbx_cgroup *next;

	(void)sbx_io_open(&r->io); /* else run_send tries again, and says why */
	if (!p->lanes || !p->run[0].version)
		return;
	next = &p->run[lane_of(p, p->seq + 1)];
	r->ahead_peak_ok = sbx_cgroup_reset_peak(next) == 0;
	sbx_cgroup_reset_cpu(next);
	r->ahead_oom = sbx_cgroup_oom_kills(next);
	r->ahead_n = p->seq + 1;
}

/* The answer's final mark (sbx_limits.early_answer): a NUL after it, then
 * the entry's peak memory in kB. 1 with the mark cut off the answer; 0 when
 * there is none. (The judge's JSON never holds a NUL.) */
static int final_mark(sbx_cap *c, long *kb)
{
	const char *nul = c->len > 0 && !c->over ? memchr(c->data, '\0', c->len) : NULL;
	char num[24], *end;
	size_t n;
	long v;

	if (nul == NULL)
		return 0;
	n = c->len - (size_t)(nul + 1 - c->data);
	if (n == 0 || n >= sizeof(num))
		return 0;
	memcpy(num, nul + 1, n);
	num[n] = '\0';
	errno = 0;
	v = strtol(num, &end, 10);
	if (*end != '\0' || v < 0 || errno != 0)
		return 0;
	*kb = v;
	c->len = (size_t)(nul - c->data);
	return 1;
}

/* Drop the marks made before ns (the run's own, which its DONE repeats). */
static void trace_since(sbx_trace *t, long long ns)
{
	int k = 0;

	for (int i = 0; i < t->n; i++)
		if (t->mark[i].ns >= ns)
			t->mark[k++] = t->mark[i];
	t->n = k;
}

/* The end of a run that ended at its answer (early_answer), before anything
 * else is asked of the server: its DONE, which says only that its processes
 * are dead and reaped (the outcome was taken at the answer). A run still
 * there at its deadline is killed, and a server that does not report it
 * (or died) is restarted by the next run. */
static void pend_settle(sbx_pool *p)
{
	done_msg done;
	char kill_msg[32];
	double kill_at = 0, done_at = 0;
	int dead = 0, gone = 0;
	sbx_trace run_tr;

	if (!p->pend)
		return;
	p->pend = 0;
	/* The trace of the run's end, from its answer: "pool-end", h.settle
	 * when the host came back for it, then the server's marks (ctl_read
	 * marks p->tr: the next run's, begun, is set aside meanwhile). */
	run_tr = p->tr;
	sbx_trace_begin(&p->tr, "pool-end");
	p->tr.t0_ns = p->pend_ns;
	sbx_trace_mark(&p->tr, "h.settle");
	memset(&done, 0, sizeof(done));
	snprintf(kill_msg, sizeof(kill_msg), "KILL %u", p->seq);
	while (!done.have && !dead) {
		struct pollfd pf[2] = {{p->ctl, POLLIN, 0}, {p->pidfd, POLLIN, 0}};
		double now = sbx_now();
		double until = kill_at > 0 ? kill_at + POOL_KILL_GRACE : p->pend_until;

		if (now >= until) {
			if (kill_at > 0) {
				dead = 1;
				break;
			}
			kill_at = now;
			send(p->ctl, kill_msg, strlen(kill_msg), MSG_NOSIGNAL | MSG_DONTWAIT);
			continue;
		}
		if (poll(pf, 2, (int)ceil((until - now) * 1000)) < 0 && errno != EINTR)
			dead = 1;
		else if (pf[0].revents)
			ctl_read(p, &done, &done_at, &dead, &gone);
		else if (pf[1].revents)
			dead = 1;
	}
	trace_since(&p->tr, p->pend_ns);
	sbx_trace_end(&p->tr);
	p->tr = run_tr;
	if (dead)
		server_stop(p);
}

/* Returns SBX_KILL_*; *dead when the server died or had to be killed. */
static int supervise(sbx_pool *p, run_state *r, const sbx_limits *lim, const char *request,
                     size_t request_len, sbx_cap caps[3], done_msg *done, int *dead, int *gone,
                     double t0)
{
	sbx_io *io = &r->io;
	const int fds[3] = {io->out[0], io->err[0], io->ans[0]};
	double deadline = t0 + lim->timeout_s;
	double kill_at = 0, done_at = 0;
	size_t sent = 0;
	int killed = SBX_KILL_NONE, marked = 0;
	char kill_msg[32];

	snprintf(kill_msg, sizeof(kill_msg), "KILL %u", p->seq);
	/* Most requests fit the socket's buffer: written now, not after a
	 * wake-up of the loop below. */
	if (request_len == 0)
		sbx_close_fd(&io->req[0]);
	else
		sbx_io_send(io, request, request_len, &sent);
	for (;;) {
		struct pollfd pf[6];
		int map[6];
		int n = 0;
		double now = sbx_now();
		double until;

		if (!killed && !done->have && now >= deadline) {
			killed = SBX_KILL_TIMEOUT;
			kill_at = now;
			send(p->ctl, kill_msg, strlen(kill_msg), MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (lim->early_answer && !marked && !killed && sbx_caps_eof(caps) &&
		    (marked = final_mark(&caps[2], &r->early_kb)) != 0)
			sbx_trace_mark(&p->tr, "h.final");
		if (done->have && sbx_caps_eof(caps))
			break;
		if (marked && r->early_ok) {
			r->early = 1;
			break;
		}
		sbx_caps_poll(caps, fds, pf, map, &n);
		if (!done->have) {
			pf[n] = (struct pollfd){p->ctl, POLLIN, 0};
			map[n++] = 3;
			pf[n] = (struct pollfd){p->pidfd, POLLIN, 0};
			map[n++] = 4;
		}
		if (io->req[0] >= 0) {
			pf[n] = (struct pollfd){io->req[0], POLLOUT, 0};
			map[n++] = 5;
		}
		until = done->have ? done_at + 1.0 : killed ? kill_at + POOL_KILL_GRACE : deadline;
		if (now >= until) {
			if (done->have)
				break;
			if (killed) {
				/* The server did not report the killed run. */
				*dead = 1;
				break;
			}
			continue;
		}
		if (poll(pf, (nfds_t)n, (int)ceil((until - now) * 1000)) < 0 && errno != EINTR) {
			*dead = 1;
			break;
		}
		for (int k = 0; k < n; k++) {
			if (pf[k].revents == 0)
				continue;
			if (map[k] < 3) {
				sbx_caps_ready(caps, map[k], pf[k].fd, &p->tr);
			} else if (map[k] == 3) {
				ctl_read(p, done, &done_at, dead, gone);
				if (*dead)
					break;
			} else if (map[k] == 4) {
				/* Gone after reporting the run: noticed by the next. */
				if (!done->have) {
					*dead = 1;
					break;
				}
			} else if (map[k] == 5) {
				sbx_io_send(io, request, request_len, &sent);
			}
		}
		if (*dead)
			break;
		if (!killed && !done->have && sbx_caps_over(caps)) {
			killed = SBX_KILL_OUTPUT;
			kill_at = sbx_now();
			send(p->ctl, kill_msg, strlen(kill_msg), MSG_NOSIGNAL | MSG_DONTWAIT);
		}
	}
	if (*dead)
		kill_and_drain(p, caps, fds);
	return killed;
}

/* The spare for this run: the last one the server offered, after what it
 * said meanwhile. A DONE of that spare's number is one that ended unused
 * (killed from outside): then the server is asked for the next ("FORK"),
 * unless it could not join the run's cgroups (NOJOIN, copied to nojoin: the
 * server quits). Returns 0 with p->spare_fd set; -1 when the server quit
 * (GONE, or its end); -2 when none was offered within budget_s; -3 NOJOIN. */
static int spare_wait(sbx_pool *p, double budget_s, char *nojoin, size_t njlen)
{
	double deadline = sbx_now() + budget_s;

	for (;;) {
		struct pollfd pf[2] = {{p->ctl, POLLIN, 0}, {p->pidfd, POLLIN, 0}};
		char buf[1024];
		const char *nj;
		unsigned n;
		ssize_t r = ctl_msg(p, buf, sizeof(buf), MSG_DONTWAIT);
		double now;

		if (r > 0) {
			if (strncmp(buf, "GONE", 4) == 0)
				return -1;
			/* Any spare's end but the last run's (whose DONE
			 * supervise read): the one offered, or (with lanes) the
			 * one forked ahead, unused. */
			if (sscanf(buf, "DONE %u", &n) == 1 && n != p->seq) {
				char *end;

				if (n == p->spare_n)
					sbx_close_fd(&p->spare_fd);
				if ((nj = strstr(buf, " NOJOIN ")) != NULL) {
					snprintf(nojoin, njlen, "%s", nj + 8);
					if ((end = strstr(nojoin, " T ")) != NULL)
						*end = '\0';
					p->nojoin_n = n;
					return -3;
				}
				if (send(p->ctl, "FORK", 4, MSG_NOSIGNAL) < 0)
					return -1;
			}
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (p->spare_fd >= 0)
			return 0;
		now = sbx_now();
		if (now >= deadline)
			return -2;
		if (poll(pf, 2, (int)ceil((deadline - now) * 1000)) < 0 && errno != EINTR)
			return -1;
		if (pf[1].revents && !(pf[0].revents & POLLIN))
			return -1;
	}
}

/* Both lanes' run cgroups (the one without lanes) to these limits. */
static int lanes_set_limits(sbx_pool *p, const sbx_cg_limits *want)
{
	for (int l = 0; l < (p->lanes ? 2 : 1); l++)
		if (p->run[l].version && sbx_cgroup_set_limits(&p->run[l], want) < 0)
			return -1;
	return 0;
}

/* What later runs will need, to a server not yet told ("WARM <what>", taken
 * up by the server before it forks its next spare); told once, best effort. */
static void want_send(sbx_pool *p, unsigned what, const char *msg)
{
	size_t len = strlen(msg);

	if ((p->want & what) && !(p->want_sent & what) &&
	    send(p->ctl, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len)
		p->want_sent |= what;
}

/* A live server with a spare for the run, whose run cgroup has this run's
 * limits, its counters from zero. -1 with res->detail; -2 when no spare
 * came within the run's timeout; -3 when the spare could not join the run's
 * cgroups (nojoin says how). */
static int pool_prepare(sbx_pool *p, run_state *r, sbx_result *res, const sbx_limits *lim,
                        char *nojoin, size_t njlen)
{
	char msg[512] = "";
	int sw = 0;

	if (!server_dead(p))
		run_ahead(p, r);
	/* The last run's end, if it was judged at its answer: after run_ahead,
	 * whose work (the other lane's) waits for nothing of it. */
	pend_settle(p);
	if (!server_dead(p) && (sw = spare_wait(p, lim->timeout_s, nojoin, njlen)) < -1)
		return sw;
	if (server_dead(p) || sw < 0) {
		server_stop(p);
		r->ahead_n = 0; /* fresh cgroups, spares from 1 */
		if (server_start(p, msg, sizeof(msg)) < 0) {
			snprintf(res->detail, sizeof(res->detail), "restarting the pool failed: %s",
			         msg);
			return -1;
		}
	}
	want_send(p, SBX_WANT_STATIC, "WARM static");
	want_send(p, SBX_WANT_PAGES, "WARM pages");
	/* The spare waits in its lane's run cgroup already: its limits for
	 * this run, its counters from zero. Both lanes get a new job's limits
	 * at once (no run goes on now): the one ahead is as ready as this. */
	r->oom_before = 0;
	if (p->run[0].version) {
		sbx_cg_limits want = sbx_limits_cgroup(lim, p->cfg.peer ? 1 : 0);
		int l;

		if (sbx_cgroup_limits_differ(&want, &p->cur)) {
			/* A lower memory limit than what is still charged (the last
			 * run's cache) may be refused: then fresh cgroups, a fresh
			 * server. A run never goes with the wrong limits. */
			if (lanes_set_limits(p, &want) < 0) {
				server_stop(p);
				r->ahead_n = 0;
				if (server_start(p, msg, sizeof(msg)) < 0 || !p->run[0].version ||
				    lanes_set_limits(p, &want) < 0) {
					snprintf(res->detail, sizeof(res->detail),
					         "cannot set the run's cgroup limits: %s",
					         msg[0] ? msg : strerror(errno));
					return -1;
				}
			}
			p->cur = want;
		}
		l = lane_of(p, p->spare_n);
		if (r->ahead_n != 0 && r->ahead_n == p->spare_n) {
			r->peak_ok = r->ahead_peak_ok;
			r->oom_before = r->ahead_oom;
		} else {
			r->peak_ok = sbx_cgroup_reset_peak(&p->run[l]) == 0;
			sbx_cgroup_reset_cpu(&p->run[l]);
			r->oom_before = sbx_cgroup_oom_kills(&p->run[l]);
		}
	}
	return 0;
}

/* Hand the spare the run (its limits and the child's ends of its pipes); our
 * ends stay in io, non-blocking. *t0 is when it was sent. -1 with
 * res->detail. */
static int run_send(sbx_pool *p, sbx_result *res, const sbx_limits *lim, sbx_io *io, double *t0,
                    int *send_failed)
{
	char text[128];
	int sendfds[4];

	if (io->out[0] < 0 && sbx_io_open(io) < 0) {
		snprintf(res->detail, sizeof(res->detail), "pipe: %s", strerror(errno));
		return -1;
	}
	/* Straight to the spare (no hop through the server, which learns of
	 * the run's end from the spare's exit). The spare lowers its limits to
	 * these; +1 process for the server itself where it shares the run's
	 * uid (with lanes its real uid is the other lane's during a run). */
	p->seq = p->spare_n;
	snprintf(text, sizeof(text), "%ld %ld %ld %ld %ld", (long)ceil(lim->cpu_s), lim->memory_mb,
	         lim->max_procs + (p->lanes ? 0 : 1), lim->file_size_mb, lim->max_files);
	/* In the order of the fds they become in the run (1-4; see
	 * llmrepl_pool._RUN_FDS). */
	sendfds[0] = io->out[1];
	sendfds[1] = io->err[1];
	sendfds[2] = io->ans[1];
	sendfds[3] = io->req[1];
	*t0 = sbx_now();
	/* A spare that died before it got this (it could not join the run's
	 * cgroups) is reported by the server like any run's end. */
	*send_failed = send_fds(p->spare_fd, text, sendfds, 4) < 0;
	if (*send_failed) {
		char note[96];

		snprintf(note, sizeof(note), "the spare did not take the run: %s", strerror(errno));
		sbx_detail_add(res, note);
	}
	sbx_close_fd(&p->spare_fd);
	sbx_io_handed(io);
	return 0;
}

/* The run's process could not join the run's cgroups ("<cgroup> <step>
 * <errno>" from the server) and gave up before it read the request: not the
 * code's end but the sandbox's failure. The cgroups may be gone (removed
 * from outside, say): the server and its cgroups are made afresh, and the
 * run is tried once more there (*gone). */
static void nojoin(sbx_pool *p, sbx_result *res, const char *what, unsigned spare, int *gone)
{
	char note[160];
	unsigned idx = 0;
	char step[16] = "", err[24] = "";
	static const char *const names[] = {"memory", "pids", "cpu", "cpuacct"};
	const char *name = "?";

	if (sscanf(what, "%u %15s %23s", &idx, step, err) == 3) {
		/* The server's --run-cgroup list: the run's cgroups in SBX_CG_*
		 * order, those it has. */
		for (unsigned c = 0, k = 0; c < SBX_CG_N; c++)
			if (p->run[lane_of(p, spare)].procs_fd[c] >= 0 && k++ == idx)
				name = names[c];
	}
	snprintf(note, sizeof(note),
	         "the run's process could not %s the run's %s cgroup (%s) and ran nothing: "
	         "the pool's server and cgroups are made afresh",
	         strcmp(step, "keep") == 0 ? "keep a handle on" : "join", name, err);
	res->end = SBX_END_ERROR;
	sbx_detail_add(res, note);
	server_stop(p);
	*gone = 1;
}

/* After supervise: a final mark the run's end (or a kill) overtook is cut
 * off the answer; a run that ended at its answer (early) has the outcome the judge
 * vouched for (every process of the code's is dead, nothing else runs in
 * the judge, which exits 0 now), its figures those of now (the cgroup's OOM
 * kills, CPU and peak, and the judge's peak), and its DONE is read before
 * the next run (pend_settle). */
static void run_early(sbx_pool *p, run_state *r, done_msg *done, sbx_cap caps[3],
                      const sbx_limits *lim, double t0)
{
	if (lim->early_answer && !r->early)
		(void)final_mark(&caps[2], &r->early_kb);
	if (!r->early)
		return;
	done->have = 1;
	done->status = 0;
	done->maxrss_kb = r->early_kb;
	p->pend = 1;
	p->pend_until = t0 + lim->timeout_s;
	p->pend_ns = p->tr.on ? sbx_trace_ns() : 0;
	sbx_trace_mark(&p->tr, "h.early");
}

/* The spare ended before it had the run, and not for want of its cgroups
 * (killed from outside while it waited, or dying as it was offered: a fatal
 * signal the run before it sent in the microseconds before its setresuid,
 * which the server cannot tell from outside): nothing of the run happened.
 * Once more (*gone) with the server's next spare, which it forks when asked
 * ("FORK"); on a fresh server when this one cannot be asked. */
static void spare_lost(sbx_pool *p, sbx_result *res, int *gone)
{
	res->end = SBX_END_ERROR;
	*gone = 1;
	if (!server_dead(p) && send(p->ctl, "FORK", 4, MSG_NOSIGNAL) == 4) {
		sbx_detail_add(res, "the pool's spare ended before it had the run: tried again");
		return;
	}
	sbx_detail_add(res, "the pool's spare ended before it had the run: restarted");
	server_stop(p);
}

static int pool_attempt(sbx_pool *p, sbx_result *res, const sbx_limits *lim_in, const char *request,
                        size_t request_len, int *gone)
{
	sbx_limits lim;
	run_state r;
	sbx_cap caps[3];
	done_msg done;
	sbx_cgroup *run;
	int killed, pr;
	int dead = 0, send_failed = 0, rc = 0;
	double t0;

	memset(&done, 0, sizeof(done));
	memset(&r, 0, sizeof(r));
	sbx_io_init(&r.io);
	sbx_limits_resolve(&lim, lim_in);
	sbx_caps_init(caps, &lim);
	res->end = SBX_END_ERROR;

	sbx_trace_begin(&p->tr, "pool");
	pr = pool_prepare(p, &r, res, &lim, done.nojoin, sizeof(done.nojoin));
	if (pr == -2) {
		/* The server offers no process (stopped, say): the run's time is
		 * up before it could start. */
		res->end = SBX_END_TIMEOUT;
		res->signal = SIGKILL;
		res->isolation = p->iso;
		sbx_detail_add(res, "the pool's server offered no process for the run in time: "
		                    "restarted");
		server_stop(p);
		goto cleanup;
	}
	if (pr == -3) {
		nojoin(p, res, done.nojoin, p->nojoin_n, gone);
		goto cleanup;
	}
	if (pr < 0)
		goto cleanup;
	run = &p->run[lane_of(p, p->spare_n)];
	sbx_detail_add(res, p->note);
	sbx_trace_mark(&p->tr, "h.prepare");
	if (run_send(p, res, &lim, &r.io, &t0, &send_failed) < 0)
		goto cleanup;
	sbx_trace_mark(&p->tr, "h.send");
	r.early_ok = lim.early_answer && run->version;
	killed = supervise(p, &r, &lim, request, request_len, caps, &done, &dead, gone, t0);
	sbx_trace_mark(&p->tr, "h.outputs");
	run_early(p, &r, &done, caps, &lim, t0);
	res->wall_s = sbx_now() - t0;
	res->cpu_s = done.cpu_s;
	res->peak_kb = done.maxrss_kb;
	if (run->version) {
		res->cg_cpu_s = sbx_cgroup_cpu_s(run);
		res->cg_peak_kb = r.peak_ok ? sbx_cgroup_peak_kb(run) : -1;
		if (res->cg_peak_kb > res->peak_kb)
			res->peak_kb = res->cg_peak_kb;
	}
	if (sbx_caps_take(res, caps) < 0) {
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		rc = -1;
		goto cleanup;
	}
	res->isolation = p->iso;
	sbx_classify(res, &lim, killed, done.have, done.status,
	             sbx_cgroup_oom_kills(run) - r.oom_before);
	if (res->cg_cpu_s > res->cpu_s)
		res->cpu_s = res->cg_cpu_s;
	if (done.nojoin[0]) {
		/* The server quits once it has said so: its end is no news. */
		nojoin(p, res, done.nojoin, p->seq, gone);
	} else if (dead) {
		server_stop(p);
		sbx_detail_add(res, killed ? "the pool's server did not report the killed run in "
		                             "time: restarted"
		                           : "the pool's server died during the run: restarted");
	} else if (send_failed || done.idle) {
		spare_lost(p, res, gone);
	}
	sbx_trace_mark(&p->tr, "h.measure");
cleanup:
	sbx_io_close(&r.io);
	sbx_caps_free(caps);
	sbx_trace_end(&p->tr);
	return rc;
}

static int pool_run_locked(sbx_pool *p, sbx_result *res, const sbx_limits *lim, const char *request,
                           size_t request_len)
{
	int gone = 0;
	int rc = pool_attempt(p, res, lim, request, request_len, &gone);

	if (gone) {
		/* Once more (on a fresh server, or with the same server's next
		 * spare: spare_lost): the first never saw the run (or
		 * its process gave up before it read it). */
		char first[sizeof(res->detail)];

		snprintf(first, sizeof(first), "%s", res->end == SBX_END_ERROR ? res->detail : "");
		sbx_result_free(res);
		sbx_result_begin(res);
		gone = 0;
		rc = pool_attempt(p, res, lim, request, request_len, &gone);
		if (first[0])
			sbx_detail_add(res, first);
	}
	return rc;
}

int sbx_pool_run(sbx_pool *p, sbx_result *res, const sbx_limits *lim, const char *request,
                 size_t request_len)
{
	int rc;

	sbx_result_begin(res);
	if (p == NULL) {
		res->end = SBX_END_ERROR;
		snprintf(res->detail, sizeof(res->detail), "no pool");
		rc = 0;
	} else {
		pthread_mutex_lock(&p->lock);
		rc = pool_run_locked(p, res, lim, request, request_len);
		pthread_mutex_unlock(&p->lock);
	}
	sbx_result_end(res);
	return rc;
}

void sbx_pool_want(sbx_pool *p, unsigned what)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->want |= what;
	pthread_mutex_unlock(&p->lock);
}

long sbx_pool_server_pid(sbx_pool *p)
{
	long pid;

	if (p == NULL)
		return -1;
	pthread_mutex_lock(&p->lock);
	pend_settle(p);
	pid = p->running ? p->pid : -1;
	pthread_mutex_unlock(&p->lock);
	return pid;
}
