/* sbx_child.c - set up the sandbox inside the cloned child and exec Python.
 *
 * Runs after a raw clone() of a possibly multi-threaded host: only system
 * calls from here on (no malloc, no stdio, and raw syscalls for the uid and
 * group changes and for fork, whose glibc wrappers would try to coordinate
 * with threads that do not exist in this process). Every failure is reported
 * on the status pipe as an sbx_msg naming the step, then the child exits. */
#include "sbx_child.h"
#include "sbx_mount.h"
#include "sbx_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the child says on its status pipe (sbx_cmsg.c). */
#define put    sbx_child_put
#define append sbx_child_append
#define note   sbx_child_note
#define fail   sbx_child_fail

/* A trace mark (sbx_trace.h): sbx_trace_ns is clock_gettime, the vDSO's,
 * no locks. */
static void mark(const sbx_plan *p, const char *what)
{
	sbx_msg m;

	if (!p->trace)
		return;
	memset(&m, 0, sizeof(m));
	m.tag = 'T';
	m.utime_us = sbx_trace_ns();
	append(m.what, 0, sizeof(m.what), what);
	put(SBX_CFD_STATUS, &m, sizeof(m));
}

/* Move the fds we keep to SBX_CFD_*, close everything else. */
static void move_fds(const sbx_plan *p)
{
	int tmp[SBX_NFDS];

	for (int i = 0; i < SBX_NFDS; i++) {
		tmp[i] = -1;
		if (p->fds[i] >= 0 && (tmp[i] = fcntl(p->fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			_exit(127);
	}
	for (int i = 0; i < SBX_NFDS; i++) {
		if (tmp[i] >= 0) {
			if (dup3(tmp[i], SBX_CFD_OUT + i, O_CLOEXEC) < 0)
				_exit(127);
		} else {
			close(SBX_CFD_OUT + i);
		}
	}
	syscall(SYS_close_range, 0, SBX_CFD_OUT - 1, 0);
	syscall(SYS_close_range, SBX_CFD_END, ~0U, 0);
}

static void reset_signals(void)
{
	sigset_t none;

	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(s);

	if (fd < 0)
		fail("open", path);
	if (write(fd, s, n) != (ssize_t)n)
		fail("write", path);
	close(fd);
}

/* ruid: the real uid, uid the effective and saved one (the pool's server
 * with two lanes holds both lanes' uids, as exec leaves them: the saved uid
 * becomes the effective one; everything else has one uid). */
static void drop_privileges(const sbx_plan *p, uid_t ruid, uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	for (int c = 0; c <= p->last_cap; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			fail("drop bounding capabilities", NULL);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* In a user namespace setgroups is denied (and there are none). */
	if (!p->userns && syscall(SYS_setgroups, 0, NULL) < 0)
		fail("setgroups", NULL);
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		fail("setresgid", NULL);
	if (syscall(SYS_setresuid, ruid, uid, uid) < 0)
		fail("setresuid", NULL);
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail("capset", NULL);
}

static void set_limits(const sbx_plan *p)
{
	for (int i = 0; i < p->nrl; i++)
		if (setrlimit(p->rl[i].res, &p->rl[i].lim) < 0)
			fail("setrlimit", NULL);
}

/* Read end of the gate python waits at until it is in the cgroups (init
 * mode with cgroups; -1 otherwise). Shared with python's process until exec. */
static int gate_rd = -1;

/* The candidate factory's pid (sbx_plan.peer), -1 when none; the second's. */
static long peer_pid = -1;
static long peer2_pid = -1;

static void python_fds(const sbx_plan *p)
{
	int nul = open("/dev/null", O_RDONLY);

	if (nul < 0)
		fail("open", "/dev/null");
	if (nul != 0) {
		dup2(nul, 0);
		close(nul);
	}
	/* 1, 2: stdout, stderr; 3: the answer; 4: the request; 5: the pool's
	 * control socket. */
	static const int at[] = {1, 2, 3, 4, 5};

	for (int i = 0; i < 5; i++)
		if (p->fds[i] >= 0 && dup2(SBX_CFD_OUT + i, at[i]) < 0)
			fail("dup2", NULL);
	/* The run's cgroups, for the pool's server to hand to each spare. */
	for (int i = 0; i < 4; i++)
		if (p->fds[SBX_CFD_RCG0 - SBX_CFD_OUT + i] >= 0 &&
		    dup2(SBX_CFD_RCG0 + i, 6 + i) < 0)
			fail("dup2", NULL);
	/* The gate, in a cold run: fd 5 (the pool's control socket otherwise). */
	if (gate_rd >= 0 && dup2(gate_rd, 5) < 0)
		fail("dup2", NULL);
	/* The candidate factory's socket: fd 10 (SBX_CFD_OUT's copy is done with). */
	if (p->peer && dup2(SBX_CFD_PEER, 10) < 0)
		fail("dup2", NULL);
	/* The second candidate factory's: fd 12 (SBX_CFD_ANS's copy is done with). */
	if (p->peer && p->peer2_uid && dup2(SBX_CFD_PEER2, 12) < 0)
		fail("dup2", NULL);
	/* Tracing a cold run: the status pipe as fd 11 (SBX_CFD_ERR's copy is
	 * done with), which python closes before it runs any code. */
	if (p->trace && p->init && dup2(SBX_CFD_STATUS, 11) < 0)
		fail("dup2", NULL);
}

static void __attribute__((noreturn)) exec_python(const sbx_plan *p)
{
	python_fds(p);
	/* Last: nothing may need to map memory between this and the exec. */
	if (p->as_bytes) {
		struct rlimit as = {p->as_bytes, p->as_bytes};

		if (syscall(SYS_prlimit64, 0, RLIMIT_AS, &as, NULL) < 0)
			fail("setrlimit RLIMIT_AS", NULL);
	}
	execve(p->exe, p->argv, p->envp);
	fail("exec", p->exe);
}

static int python_main(void *arg)
{
	exec_python(arg);
}

static size_t format_pid(char *buf, long pid)
{
	char d[24];
	size_t n = 0, k = 0;

	do {
		d[k++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0 && k < sizeof(d));
	while (k > 0)
		buf[n++] = d[--k];
	return n;
}

/* Move python (and this init) into the run's cgroups, then open the gate.
 * Moving a task waits for an RCU grace period (~10 ms on cgroup v1): done
 * here it overlaps python's start-up instead of adding to it, and python
 * reads no request before the gate opens. */
static void join_cgroups(long pid, int gate_wr)
{
	char buf[24], pbuf[24];
	size_t n = format_pid(buf, pid);
	size_t pn = peer_pid > 0 ? format_pid(pbuf, peer_pid) : 0;
	char p2buf[24];
	size_t p2n = peer2_pid > 0 ? format_pid(p2buf, peer2_pid) : 0;

	for (int fd = SBX_CFD_CG0; fd <= SBX_CFD_CG3; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			continue;
		if (write(fd, buf, n) != (ssize_t)n || write(fd, "0", 1) != 1 ||
		    (pn && write(fd, pbuf, pn) != (ssize_t)pn) ||
		    (p2n && write(fd, p2buf, p2n) != (ssize_t)p2n))
			fail("join the cgroup", NULL);
		close(fd);
	}
	if (write(gate_wr, "g", 1) != 1)
		fail("open the gate", NULL);
	close(gate_wr);
}

/* ---- the candidate factory (sbx_plan.peer) --------------------------------- */

static char peer_stack[64 * 1024] __attribute__((aligned(16)));

/* Which factory peer_main starts: its plan, uid and end of the socketpair. */
typedef struct peer_arg {
	const sbx_plan *p;
	uid_t uid;
	int fd;
	char **argv;
} peer_arg;

/* In the factory's process (sharing memory with its parent until exec):
 * the same confinement as python's, under the factory's own uid, with only
 * its end of the socketpair (fd 3) and the output streams. */
static int peer_main(void *arg)
{
	const peer_arg *a = arg;
	const sbx_plan *p = a->p;
	int nul = open("/dev/null", O_RDONLY);

	if (nul < 0 || dup2(nul, 0) < 0 || dup2(SBX_CFD_OUT, 1) < 0 || dup2(SBX_CFD_ERR, 2) < 0 ||
	    dup2(a->fd, 3) < 0)
		fail("peer fds", NULL);
	drop_privileges(p, a->uid, a->uid, (gid_t)a->uid);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail("PR_SET_PDEATHSIG", NULL);
	set_limits(p);
	if (setsid() < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("peer session", NULL);
	if (chdir("/work") < 0)
		fail("peer chdir", "/work");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("peer no_new_privs", NULL);
	if (p->filter && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p->filter, 0, 0) < 0)
		fail("load the seccomp filter", NULL);
	syscall(SYS_close_range, 4, ~0U, 0);
	if (p->as_bytes) {
		struct rlimit as = {p->as_bytes, p->as_bytes};

		syscall(SYS_prlimit64, 0, RLIMIT_AS, &as, NULL);
	}
	execve(p->exe, a->argv, p->envp);
	_exit(127);
}

/* One factory under uid, its socket's other end on fd (python's copy);
 * with `extra` after its arguments. */
static long start_one_peer(const sbx_plan *p, uid_t uid, int fd, char *extra)
{
	char *argv[14];
	int sv[2];
	peer_arg a = {p, uid, fd + 1, argv};
	long pid;
	int n = 0;

	for (; n < 12 && p->peer_argv[n] != NULL; n++)
		argv[n] = p->peer_argv[n];
	argv[n++] = extra;
	argv[n] = NULL;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    dup3(sv[0], fd, O_CLOEXEC) < 0 || dup3(sv[1], fd + 1, O_CLOEXEC) < 0)
		fail("socketpair", NULL);
	close(sv[0]);
	close(sv[1]);
	pid =
	    clone(peer_main, peer_stack + sizeof(peer_stack), CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	if (pid < 0)
		fail("fork the candidate factory", NULL);
	close(fd + 1);
	return pid;
}

static void start_peer(const sbx_plan *p)
{
	static char second[] = "--second";

	peer_pid = start_one_peer(p, p->peer_uid, SBX_CFD_PEER, NULL);
	if (p->peer2_uid)
		peer2_pid = start_one_peer(p, p->peer2_uid, SBX_CFD_PEER2, second);
}

/* The stack python's process uses between clone and execve. */
static char python_stack[64 * 1024] __attribute__((aligned(16)));

/* After python's end: kill whatever it left (everything in the namespace
 * but this init runs under the run's uid) and reap it, then say so ('A',
 * with the CPU time of every process reaped). The host then has the whole
 * run and need not wait for this process's own exit, the namespaces'
 * teardown. Not with a peer, whose processes run under a uid of their own:
 * they go with the namespace, when this init exits. */
static void end_the_rest(void)
{
	struct rusage ru;
	sbx_msg m;

	(void)kill(-1, SIGKILL);
	while (wait4(-1, NULL, 0, NULL) >= 0 || errno == EINTR)
		;
	if (errno != ECHILD || getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.tag = 'A';
	m.utime_us = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
	m.stime_us = (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
	put(SBX_CFD_STATUS, &m, sizeof(m));
}

/* pid 1 of the namespace: run python, reap whatever gets orphaned, report
 * python's end, exit (which kills everything left in the namespace). */
static void __attribute__((noreturn)) run_init(const sbx_plan *p)
{
	/* Like posix_spawn: share memory and wait until it has exec'd, instead
	 * of copying this process's page tables for a child that execs at once. */
	int gate[2] = {-1, -1};
	int pid;

	if (p->gate) {
		/* Above the fds python_fds() fills (0-5). */
		if (pipe2(gate, O_CLOEXEC) < 0 || dup3(gate[0], SBX_CFD_END, O_CLOEXEC) < 0 ||
		    dup3(gate[1], SBX_CFD_END + 1, O_CLOEXEC) < 0)
			fail("pipe", NULL);
		close(gate[0]);
		close(gate[1]);
		gate[0] = SBX_CFD_END;
		gate[1] = SBX_CFD_END + 1;
		gate_rd = gate[0];
	}
	pid = clone(python_main, python_stack + sizeof(python_stack),
	            CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)(uintptr_t)p);
	if (pid < 0)
		fail("fork", NULL);
	mark(p, "c.exec");
	if (p->gate) {
		close(gate[0]);
		join_cgroups(pid, gate[1]);
		mark(p, "c.cgjoin");
	}
	close(SBX_CFD_OUT);
	close(SBX_CFD_ERR);
	close(SBX_CFD_ANS);
	close(SBX_CFD_REQ);
	close(SBX_CFD_CTL);
	close(SBX_CFD_PEER);
	close(SBX_CFD_PEER2);
	for (;;) {
		struct rusage ru;
		int st;
		pid_t w = wait4(-1, &st, 0, &ru);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		if (w == pid) {
			sbx_msg m;

			mark(p, "c.reaped");
			memset(&m, 0, sizeof(m));
			m.tag = 'S';
			m.status = st;
			m.utime_us = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
			m.stime_us = (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
			m.maxrss_kb = ru.ru_maxrss;
			put(SBX_CFD_STATUS, &m, sizeof(m));
			break;
		}
	}
	if (peer_pid < 0)
		end_the_rest();
	_exit(0);
}

/* Write a small value to a file of /proc; errno kept on failure. */
static int write_proc(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(val);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, n) == (ssize_t)n;
	if (!ok) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/* In a container /proc/sys is read-only: set the sysctl through a procfs of
 * this pid namespace's own, mounted over /proc in this mount namespace (made
 * private first, so nothing propagates) and gone again at once. errno is the
 * first write's (EROFS) when this does not work either. */
static int set_memfd_noexec_fresh(void)
{
	int e = errno;
	int rc;

	if (e != EROFS || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		errno = e;
		return -1;
	}
	rc = write_proc("/proc/sys/vm/memfd_noexec", "2");
	e = errno;
	if (umount2("/proc", MNT_DETACH) < 0)
		fail("umount2", "/proc");
	errno = e;
	return rc;
}

/* Settings the whole sandbox inherits, made while the child still has its
 * privileges and the host's /proc (this process is already pid 1 of the
 * new pid namespace, so the sysctl below is the namespace's own). Still in
 * the host's mount namespace (own_mnt 0: a run that joins the mount
 * template), nothing is mounted: 1 then says the sysctl is left for
 * memfd_noexec_later, in the run's own mount namespace. */
static int harden(int own_mnt)
{
	int later = 0;

	/* The OOM killer's first choice, wherever memory runs out; written with
	 * CAP_SYS_RESOURCE it is also the floor, so nothing in the sandbox can
	 * make itself a lesser choice again. */
	if (write_proc("/proc/self/oom_score_adj", "1000") < 0)
		note('W', "oom_score_adj not set", NULL);
	/* memfd_create makes sealed non-executable files and MFD_EXEC is
	 * refused: no executing a copied binary from memory (/work and /tmp
	 * are noexec). Kernels before 6.3 have no such knob. */
	if (write_proc("/proc/sys/vm/memfd_noexec", "2") < 0) {
		if (!own_mnt && errno == EROFS)
			later = 1;
		else if (set_memfd_noexec_fresh() < 0)
			note('W', "vm.memfd_noexec not set: memfd files may be executable", NULL);
	}
	/* Speculative store bypass off for good (inherited, kept across exec).
	 * ENXIO/EINVAL: nothing to control on this CPU or kernel. */
	if (prctl(PR_SET_SPECULATION_CTRL, PR_SPEC_STORE_BYPASS, PR_SPEC_FORCE_DISABLE, 0, 0) < 0 &&
	    errno != ENXIO && errno != EINVAL && errno != ENODEV)
		note('W', "speculative store bypass mitigation not set", NULL);
	return later;
}

static void memfd_noexec_later(void)
{
	errno = EROFS;
	if (set_memfd_noexec_fresh() < 0)
		note('W', "vm.memfd_noexec not set: memfd files may be executable", NULL);
}

void sbx_child_main(const sbx_plan *p)
{
	struct pollfd alive;
	int template = p->fds[SBX_CFD_MNTNS - SBX_CFD_OUT] >= 0;
	int later;

	move_fds(p);
	reset_signals();
	/* A network namespace kept for the uid slot (sbx_plan_netns): empty,
	 * and no process of an earlier run of the slot is left in it. */
	if (p->fds[SBX_CFD_NETNS - SBX_CFD_OUT] >= 0) {
		if (setns(SBX_CFD_NETNS, CLONE_NEWNET) < 0)
			fail("join the network namespace", NULL);
		close(SBX_CFD_NETNS);
	}
	mark(p, "c.start");
	later = harden(!template);
	mark(p, "c.harden");
	/* The pool's server joins its cgroups first thing (once per pool); a
	 * cold run's init moves python and itself later (join_cgroups). */
	if (!p->gate) {
		for (int fd = SBX_CFD_CG0; fd <= SBX_CFD_CG3; fd++) {
			if (p->fds[fd - SBX_CFD_OUT] >= 0 && write(fd, "0", 1) != 1)
				fail("join the cgroup", NULL);
			close(fd);
		}
	}
	if (p->userns) {
		write_file("/proc/self/setgroups", "deny");
		write_file("/proc/self/uid_map", p->uid_map);
		write_file("/proc/self/gid_map", p->gid_map);
	}
	/* The root: a copy of the setup's mount template (sbx_plan_mntns), or
	 * built here in the copy of the host's namespace the clone made. */
	if (template) {
		sbx_mount_enter_template();
		mark(p, "c.template");
		if (later)
			memfd_noexec_later();
	} else {
		sbx_mount_root(p);
		close(SBX_CFD_PYDIR);
	}
	sbx_mount_run(p);
	mark(p, "c.mounts");
	if (sethostname("sandbox", 7) < 0)
		fail("sethostname", NULL);
	if (p->peer)
		start_peer(p);
	drop_privileges(p, p->uid_lane ? p->uid_lane : p->uid, p->uid, p->gid);
	mark(p, "c.privs");
	/* Cleared by the credential change above, so set only now; then make
	 * sure the host did not die before it was set. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail("PR_SET_PDEATHSIG", NULL);
	alive.fd = SBX_CFD_ALIVE;
	alive.events = POLLIN;
	alive.revents = 0;
	if (poll(&alive, 1, 0) != 0)
		_exit(127);
	close(SBX_CFD_ALIVE);
	set_limits(p);
	if (setsid() < 0)
		fail("setsid", NULL);
	/* Not dumpable: nothing in the sandbox may read this process's memory
	 * (it is a copy of the host's) through /proc or ptrace. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("PR_SET_DUMPABLE", NULL);
	if (chdir("/work") < 0)
		fail("chdir", "/work");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("PR_SET_NO_NEW_PRIVS", NULL);
	mark(p, "c.limits");
	if (p->filter && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p->filter, 0, 0) < 0)
		fail("load the seccomp filter", NULL);
	mark(p, "c.seccomp");
	if (p->init)
		run_init(p);
	exec_python(p);
}
