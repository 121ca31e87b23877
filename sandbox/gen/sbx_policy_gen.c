/* sbx_policy_gen.c - the seccomp policy for untrusted CPython, compiled to
 * BPF at build time: `sbx_policy_gen OUT` writes the program (struct
 * sock_filter[], this machine's byte order) to OUT, which sandbox/sbx_policy.c
 * embeds. The library itself never links libseccomp.
 *
 * An allow-list: anything not named here fails with EPERM, so Python raises a
 * catchable error instead of dying on an unexpected call, and syscalls added
 * to future kernels start out refused. A short list of calls that only an
 * attacker makes (kernel attack surface, escaping the namespaces, reaching
 * other processes) kills the process instead. Non-native architectures
 * (32-bit int 0x80, x32) are killed.
 *
 * Calls refused on purpose although Python knows them: file locks (flock,
 * fcntl F_SETLK: a lock on a shared read-only file is a channel between
 * sandboxes), inotify and mincore (they observe other sandboxes' use of the
 * shared files), SysV IPC (objects would outlive a pre-forked run), sync. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const allow_plain[] = {
    /* files */
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "close",
    "close_range",
    "creat",
    "lseek",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "truncate",
    "ftruncate",
    "fallocate",
    "fsync",
    "fdatasync",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "umask",
    "chdir",
    "fchdir",
    "getcwd",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "sendfile",
    "splice",
    "tee",
    "copy_file_range",
    "readahead",
    "fadvise64",
    "memfd_create",
    /* waiting */
    "select",
    "pselect6",
    "poll",
    "ppoll",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "getitimer",
    "setitimer",
    "alarm",
    "pause",
    "restart_syscall",
    "futex",
    "futex_waitv",
    "sched_yield",
    /* memory */
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "brk",
    "msync",
    "membarrier",
    /* processes and threads (clone is below, with its flags checked) */
    "exit",
    "exit_group",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "wait4",
    "waitid",
    "kill",
    "tkill",
    "tgkill",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "capget",
    "setsid",
    "setpgid",
    "getpgid",
    "getpgrp",
    "getsid",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "sched_getaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "getcpu",
    "times",
    "getrusage",
    "sysinfo",
    "uname",
    "getrlimit",
    "setrlimit",
    "getrandom",
    "getpriority",
    "ioprio_get",
    "pidfd_open",
    "pidfd_send_signal",
    /* signals */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigsuspend",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    /* sockets: only AF_UNIX ones can be made (below); these act on them */
    "bind",
    "connect",
    "listen",
    "accept",
    "accept4",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "getsockname",
    "getpeername",
    "setsockopt",
    "getsockopt",
};

/* Only an attacker calls these: kill the process. */
static const char *const kill_list[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "pidfd_getfd",
    "kcmp",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "mount",
    "umount",
    "umount2",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "open_by_handle_at",
    "name_to_handle_at",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "quotactl",
    "quotactl_fd",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "vhangup",
    "uselib",
    "create_module",
    "fanotify_init",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "seccomp",
};

static const int prctl_ok[] = {
    PR_SET_PDEATHSIG,
    PR_GET_PDEATHSIG,
    PR_GET_DUMPABLE,
    PR_SET_DUMPABLE,
    PR_GET_KEEPCAPS,
    PR_SET_NAME,
    PR_GET_NAME,
    PR_GET_SECCOMP,
    PR_CAPBSET_READ,
    PR_GET_SECUREBITS,
    PR_GET_TIMERSLACK,
    PR_SET_CHILD_SUBREAPER,
    PR_GET_CHILD_SUBREAPER,
    PR_SET_NO_NEW_PRIVS,
    PR_GET_NO_NEW_PRIVS,
    PR_GET_TID_ADDRESS,
    PR_GET_THP_DISABLE,
    PR_GET_SPECULATION_CTRL,
    0x53564d41 /* PR_SET_VMA: glibc names arenas */,
};

static const unsigned long ioctl_ok[] = {
    TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX,
};

static const int fcntl_ok[] = {
    F_DUPFD,         F_GETFD,      F_SETFD,      F_GETFL,     F_SETFL,     F_GETLK,
    F_DUPFD_CLOEXEC, F_GETPIPE_SZ, F_SETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS,
};

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

static char policy_err[256];

/* Add a rule; a syscall this architecture does not have is skipped. */
static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
                const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(policy_err, sizeof(policy_err), "seccomp rule for %s: %s", name,
		         strerror(-rc));
		return -1;
	}
	return 0;
}

static int rule1(scmp_filter_ctx ctx, const char *name, struct scmp_arg_cmp c)
{
	return rule(ctx, SCMP_ACT_ALLOW, name, 1, &c);
}

static int build(scmp_filter_ctx ctx)
{
	size_t i;

	for (i = 0; i < sizeof(allow_plain) / sizeof(allow_plain[0]); i++)
		if (rule(ctx, SCMP_ACT_ALLOW, allow_plain[i], 0, NULL) < 0)
			return -1;
	for (i = 0; i < sizeof(kill_list) / sizeof(kill_list[0]); i++)
		if (rule(ctx, SCMP_ACT_KILL_PROCESS, kill_list[i], 0, NULL) < 0)
			return -1;
	/* glibc falls back to clone when clone3 says ENOSYS (EPERM would break
	 * threads); clone3's flags sit behind a pointer a filter cannot read. */
	if (rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL) < 0)
		return -1;
	if (rule1(ctx, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0)) < 0)
		return -1;
	if (rule1(ctx, "socket", SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) < 0 ||
	    rule1(ctx, "socketpair", SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) < 0)
		return -1;
	/* A NULL new limit only reads; setrlimit (allowed) can only lower. */
	if (rule1(ctx, "prlimit64", SCMP_A0(SCMP_CMP_EQ, 0)) < 0)
		return -1;
	/* The caller's own nice (its process group's, its uid's: who 0) and
	 * CPUs only: the pool's zygote holds the running lane's uid as its
	 * effective one, which the kernel lets that uid renice and pin. */
	if (rule1(ctx, "setpriority", SCMP_A1(SCMP_CMP_EQ, 0)) < 0 ||
	    rule1(ctx, "sched_setaffinity", SCMP_A0(SCMP_CMP_EQ, 0)) < 0)
		return -1;
	if (rule1(ctx, "personality", SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, 0xffffffffu)) < 0)
		return -1;
	/* FIFOs only (os.mkfifo). */
	if (rule1(ctx, "mknod", SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, S_IFIFO)) < 0 ||
	    rule1(ctx, "mknodat", SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, S_IFIFO)) < 0)
		return -1;
	for (i = 0; i < sizeof(prctl_ok) / sizeof(prctl_ok[0]); i++)
		if (rule1(ctx, "prctl", SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctl_ok[i])) < 0)
			return -1;
	/* Compare the low 32 bits only: the kernel truncates the command, so a
	 * check on all 64 could be passed with high bits set (CVE-2019-10063). */
	for (i = 0; i < sizeof(ioctl_ok) / sizeof(ioctl_ok[0]); i++)
		if (rule1(ctx, "ioctl", SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, ioctl_ok[i])) < 0)
			return -1;
	for (i = 0; i < sizeof(fcntl_ok) / sizeof(fcntl_ok[0]); i++)
		if (rule1(ctx, "fcntl", SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_ok[i])) < 0)
			return -1;
	return 0;
}

/* Build the filter and write its BPF to fd. */
static int generate(int fd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc = -1;

	if (ctx == NULL) {
		snprintf(policy_err, sizeof(policy_err), "seccomp_init failed");
		return -1;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) {
		snprintf(policy_err, sizeof(policy_err), "seccomp attributes refused");
		goto out;
	}
	/* A binary tree instead of a linear list: faster for a long allow-list. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (build(ctx) < 0)
		goto out;
	if (seccomp_export_bpf(ctx, fd) < 0) {
		snprintf(policy_err, sizeof(policy_err), "seccomp_export_bpf failed");
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	char tmp[4096];
	struct stat st;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT\n", argv[0]);
		return 2;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >= sizeof(tmp))
		return 2;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
		return 1;
	}
	if (generate(fd) < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		fprintf(stderr, "%s: %s\n", argv[0],
		        policy_err[0] ? policy_err : "no valid BPF program");
		close(fd);
		unlink(tmp);
		return 1;
	}
	if (close(fd) < 0 || rename(tmp, argv[1]) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}
