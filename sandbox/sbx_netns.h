/* sbx_netns.h - an empty network namespace kept for a uid slot between
 * processes (as root, in a scope that outlives them; see sbx_slot.h).
 *
 * A process that ends binds the namespace its slot's runs used at
 * /run/llmrepl-sbx/llmrepl-sbx-<scope>-u<uid> (in its mount namespace;
 * named as the slot's cgroup, sbx_slot_cgroup_name); the next holder of the slot opens it there
 * and uses it only when it is a network namespace other than its own with one interface, the
 * loopback, down, and no socket in it. Anything else is unmounted and the run gets a new namespace.
 */
#ifndef LLMREPL_SBX_NETNS_H
#define LLMREPL_SBX_NETNS_H

/* The namespace kept for uid's slot, checked: an fd to join, or -1 (none,
 * or one that failed the check and was removed). The slot must be held. */
int sbx_netns_kept(unsigned uid);

/* Whether the network namespace at fd is empty: one interface, the
 * loopback, down; no socket; not this thread's own. */
int sbx_netns_empty(int fd);

/* Keep the namespace at fd for the slot's next holder (replacing what was
 * kept); -1 when it cannot be bound there, or the scope keeps 32 already. */
int sbx_netns_keep(unsigned uid, int fd);

/* Remove what is kept for uid's slot. */
void sbx_netns_drop(unsigned uid);

#endif
