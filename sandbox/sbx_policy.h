/* sbx_policy.h - the sandbox's seccomp filter as a ready BPF program.
 *
 * Compiled at build time (sandbox/gen/sbx_policy_gen.c) and embedded in the
 * library; the child loads the finished program. */
#ifndef LLMREPL_SBX_POLICY_H
#define LLMREPL_SBX_POLICY_H

#include <linux/filter.h>
#include <stddef.h>

/* The program, owned by the library and valid for the life of the process.
 * Returns 0, or -1 with msg set. Thread-safe. */
int sbx_policy_get(const struct sock_fprog **out, char *msg, size_t len);

#endif
