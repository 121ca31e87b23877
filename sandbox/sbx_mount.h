/* sbx_mount.h - the sandbox's filesystem view: its root, and a mount
 * template that carries that root from one cold run to the next.
 *
 * A plan's mounts are of two kinds (sbx_mount.per_run): the root every run
 * of a setup shares (a read-only tmpfs with the overlays of /usr and the
 * entry's directory, the /lib* links, /dev, empty mount points), and what
 * each run gets of its own (/etc's files, /work, /tmp, /proc). The root is
 * built in the child's copy of the host's mount namespace and pivoted to
 * (sbx_mount_root); or, from a process's second cold run on (as root), it is
 * built once in a mount namespace held by the host, the template, which each
 * run's child joins and copies (sbx_mount_enter_template; shared between
 * the processes of a durable scope, so the CLI's one run gets it too): no copy of the
 * host's whole mount table per run, no root to build, no pivot, no old root
 * to detach. Then the run's own mounts go on top either way
 * (sbx_mount_run). The two give the same tree. Internal to the library. */
#ifndef LLMREPL_SBX_MOUNT_H
#define LLMREPL_SBX_MOUNT_H

#include "sbx_host.h"

/* ---- in the child (system calls only) ------------------------------------ */

/* Make every mount private, build the shared root at p->root (the per-run
 * mounts' mount points only), pivot to it and make it read-only. */
void sbx_mount_root(const sbx_plan *p);
/* Join the template (fd SBX_CFD_MNTNS) and unshare a private copy of it. */
void sbx_mount_enter_template(void);
/* The run's own mounts, in the root this process now has. */
void sbx_mount_run(const sbx_plan *p);

/* ---- in the host ------------------------------------------------------------ */

/* The mount template of setup s (root only): an fd (O_CLOEXEC) of its mount
 * namespace, the caller's to close once the child is cloned, or -1 when it
 * cannot be had (a user namespace, a builder's failure or a warning: the
 * run then builds its root itself, and says so as before). Built on first
 * use and again when ten seconds old; with shared (a scope that outlives
 * its processes), one that another process of the scope bound in the last
 * ten seconds is taken instead, and one built here is bound for the
 * others. *made: whether this call built one. */
int sbx_mount_template(const sbx_setup *s, int shared, int *made);
/* Let the child copy the template fd instead of the host's namespace. */
void sbx_plan_mntns(sbx_plan *p, int fd);

#endif
