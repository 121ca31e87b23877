/* sbx_rundir.h - /run/llmrepl-sbx: where a process binds a namespace for the
 * next process of its scope to find (a slot's network namespace,
 * sbx_netns.c; a mount template, sbx_mount.c). In the host's mount
 * namespace, root's alone; a copy of a mount namespace leaves the binds
 * out. Internal to the library. */
#ifndef LLMREPL_SBX_RUNDIR_H
#define LLMREPL_SBX_RUNDIR_H

#include <stddef.h>

#define SBX_RUN_DIR "/run/llmrepl-sbx"

/* Whether SBX_RUN_DIR is a directory of this user's that no one else may
 * read or write (made first when make is set): 0, or -1 (errno EPERM when
 * it is there but not so). */
int sbx_rundir_check(int make);

/* SBX_RUN_DIR/name in buf. */
void sbx_rundir_path(const char *name, char *buf, size_t len);

/* Bind the namespace at fd to SBX_RUN_DIR/name (the directory checked,
 * made when missing). replace: whatever is bound there goes first; else
 * the name must be new. -1 when it cannot be bound (nothing left there). */
int sbx_rundir_bind(const char *name, int fd, int replace);

/* Unbind and remove SBX_RUN_DIR/name. */
void sbx_rundir_drop(const char *name);

#endif
