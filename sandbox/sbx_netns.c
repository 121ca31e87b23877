/* sbx_netns.c - an empty network namespace kept for a uid slot between
 * processes: bound where the slot's next holder finds it, checked before
 * it is used. */
#include "sbx_netns.h"

#include "sbx_rundir.h"
#include "sbx_slot.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* uid's namespace is kept as SBX_RUN_DIR/<the slot's cgroup name>, the
 * scope in the name. Not the slot directory: that is shared by containers;
 * each mount namespace (a container's) keeps its own. */
#define KEEP_MAX 32 /* kept per scope */

/* One interface, the loopback, down: from a link dump on a netlink socket
 * of the namespace. */
static int links_ok(int nl)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	size_t cap = 32768;
	char *buf = malloc(cap);
	int links = 0, ok = -1;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	if (buf == NULL || send(nl, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		free(buf);
		return 0;
	}
	while (ok < 0) {
		ssize_t n = recv(nl, buf, cap, 0);
		int left = (int)n;

		if (n <= 0)
			break;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; ok < 0 && NLMSG_OK(nh, left);
		     nh = NLMSG_NEXT(nh, left)) {
			const struct ifinfomsg *ifi = NLMSG_DATA(nh);

			if (nh->nlmsg_type == NLMSG_DONE)
				ok = links == 1;
			else if (nh->nlmsg_type != RTM_NEWLINK)
				ok = 0;
			else if (++links > 1 || ifi->ifi_type != ARPHRD_LOOPBACK ||
			         (ifi->ifi_flags & IFF_UP))
				ok = 0;
		}
	}
	free(buf);
	return ok > 0;
}

/* No unix socket in the namespace: /proc/net/unix, opened from inside it,
 * has its header line only. */
static int no_sockets(int fd)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	char *nl;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	return nl != NULL && nl[1] == '\0';
}

int sbx_netns_empty(int fd)
{
	struct statfs sf;
	struct stat st, own;
	int self, nl = -1, unix_fd = -1, ok;

	if (fstatfs(fd, &sf) < 0 || sf.f_type != NSFS_MAGIC ||
	    ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET || fstat(fd, &st) < 0)
		return 0;
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || fstat(self, &own) < 0 || own.st_ino == st.st_ino) {
		if (self >= 0)
			close(self);
		return 0;
	}
	/* A socket of the namespace and its socket list, made from inside it
	 * by this thread alone, which goes straight back. */
	if (setns(fd, CLONE_NEWNET) == 0) {
		nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		unix_fd = open("/proc/thread-self/net/unix", O_RDONLY | O_CLOEXEC);
		if (setns(self, CLONE_NEWNET) < 0)
			abort(); /* this thread would stay in the wrong namespace */
	}
	close(self);
	ok = nl >= 0 && unix_fd >= 0 && links_ok(nl) && no_sockets(unix_fd);
	if (nl >= 0)
		close(nl);
	if (unix_fd >= 0)
		close(unix_fd);
	return ok;
}

int sbx_netns_kept(unsigned uid)
{
	char name[48], path[96];
	int fd;

	sbx_slot_cgroup_name(uid, name, sizeof(name));
	sbx_rundir_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (sbx_netns_empty(fd))
		return fd;
	close(fd);
	sbx_netns_drop(uid);
	return -1;
}

/* A name an older build kept a namespace under (netns-<uid>, no scope):
 * no process looks for it any more, and every mount namespace a cold run
 * copies from the host's carries it. */
static void drop_older(const char *name)
{
	unsigned uid;
	char tail;

	if (sscanf(name, "netns-%u%c", &uid, &tail) == 1)
		sbx_rundir_drop(name);
}

/* How many namespaces this scope keeps (their names start like uid's
 * slot's cgroup name up to its uid); what an older build kept goes. At
 * KEEP_MAX, one kept for a slot nobody holds now (its lock taken while it
 * goes, so no holder is opening it) goes too, so that the one being kept
 * is not refused: the slots of a process that ran once would otherwise
 * hold the places for good, and every later process that keeps its own
 * (llmrepl-sandbox, one process per run) would make a new one each time. */
static int kept_count(unsigned uid)
{
	char name[48];
	char *u;
	DIR *d;
	struct dirent *e;
	unsigned other[8];
	int n = 0, k = 0;

	sbx_slot_cgroup_name(uid, name, sizeof(name));
	u = strrchr(name, 'u');
	if (u == NULL || (d = opendir(SBX_RUN_DIR)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		unsigned n_uid;

		if (strncmp(e->d_name, name, (size_t)(u - name)) != 0) {
			drop_older(e->d_name);
			continue;
		}
		n++;
		if (k < 8 && sbx_slot_cgroup_parse(e->d_name, &n_uid) && n_uid != uid)
			other[k++] = n_uid;
	}
	closedir(d);
	for (int i = 0; n >= KEEP_MAX && i < k; i++) {
		int lock = sbx_slot_try(other[i]);

		if (lock < 0)
			continue;
		sbx_netns_drop(other[i]);
		sbx_slot_release(lock);
		n--;
	}
	return n;
}

int sbx_netns_keep(unsigned uid, int fd)
{
	char name[48], path[96];

	if (sbx_rundir_check(1) < 0)
		return -1;
	sbx_slot_cgroup_name(uid, name, sizeof(name));
	sbx_rundir_path(name, path, sizeof(path));
	/* At most KEEP_MAX per scope: each holds a namespace's memory (see
	 * kept_count for the room made at the limit). */
	if (access(path, F_OK) < 0 && kept_count(uid) >= KEEP_MAX)
		return -1;
	return sbx_rundir_bind(name, fd, 1);
}

void sbx_netns_drop(unsigned uid)
{
	char name[48];

	sbx_slot_cgroup_name(uid, name, sizeof(name));
	sbx_rundir_drop(name);
}
