/* sbx_slot.h - an outside uid of its own for each concurrent sandbox.
 *
 * RLIMIT_NPROC counts every process of a uid, so two sandboxes sharing a uid
 * would share one process budget. Each run (or pool) holds a slot: uid
 * base+n, locked host-wide for as long as it is held by binding an abstract
 * unix socket named after it (released by the kernel when this process
 * dies, so a crash never leaks a slot). Abstract sockets are per network
 * namespace: where sandboxes run in several network namespaces on one kernel
 * (worker containers), LLMREPL_SANDBOX_SLOT_DIR names a directory they all
 * share, and a slot is a flock() on <dir>/uid-<n> there instead (released
 * on death just the same). */
#ifndef LLMREPL_SBX_SLOT_H
#define LLMREPL_SBX_SLOT_H

#include <stddef.h>

#define SBX_SLOTS 1000

/* Returns the lock fd (>= 0) and stores the uid, or -1 when all are taken. */
int sbx_slot_acquire(unsigned base, unsigned *uid);
void sbx_slot_release(int fd); /* accepts -1 */

/* Slots tried for one that serves (sbx_slot_take). */
#define SBX_SLOT_TRIES 4

/* A slot that serves: busy(arg, uid), asked of each slot taken (NULL: any
 * serves), says whether it cannot (its cgroup still held by another's
 * leftovers, say). A busy slot is given up for another; the slots given up
 * stay locked until one serves, so none is tried twice. After
 * SBX_SLOT_TRIES slots the last is kept all the same, *all_busy set.
 * first: a slot already held to ask first (its uid in *uid), or -1. Returns
 * the lock fd and stores the uid, or -1 (errno from sbx_slot_acquire) when
 * no slot is free. */
int sbx_slot_take(unsigned base, int first, unsigned *uid, int (*busy)(void *arg, unsigned uid),
                  void *arg, int *all_busy);

/* Take one given slot: the lock fd, or -1 (errno EADDRINUSE when held). */
int sbx_slot_try(unsigned uid);

/* The name of the cgroups of uid's slot: llmrepl-sbx-<scope>-u<uid>, where
 * scope (16 hex digits) stands for where this process locks its slots: the
 * slot directory, or else its network namespace. Processes that lock slots
 * in different places can hold the same uid at once; their cgroups (which
 * may share a parent, such as the root of the pids hierarchy) never share a
 * name, and none takes the other's for a leftover. */
void sbx_slot_cgroup_name(unsigned uid, char *buf, size_t len);

/* Whether this process leaves state for later processes of its scope
 * (sbx_cgroup_leave, sbx_netns_keep): in the initial network namespace
 * without a slot directory (not in one made for this process alone, such
 * as `unshare --net`, which no later process shares, nor with a slot
 * directory, which may be a temporary one); LLMREPL_SANDBOX_KEEP=1 says
 * yes (a slot directory that outlives its processes), =0 no. */
int sbx_slot_scope_durable(void);

/* Whether `name` is a cgroup name of this process's scope: 1 and the uid,
 * else 0. */
int sbx_slot_cgroup_parse(const char *name, unsigned *uid);

#endif
