/* sbx_policy.c - the seccomp filter, compiled to BPF when the library is
 * built (sandbox/gen/sbx_policy_gen.c, with libseccomp) and embedded here:
 * nothing is compiled at run time, so a process that runs one sandbox (the
 * CLI) pays for no compiler and the library needs no libseccomp. */
#include "sbx_policy.h"

#include <pthread.h>
#include <stdio.h>

#ifndef SBX_POLICY_BPF
#error "SBX_POLICY_BPF: the path of the generated program (see the Makefile)"
#endif

__asm__(".section .rodata\n"
        ".balign 8\n"
        ".hidden sbx_policy_bpf\n"
        ".global sbx_policy_bpf\n"
        ".type sbx_policy_bpf, @object\n"
        "sbx_policy_bpf:\n"
        ".incbin \"" SBX_POLICY_BPF "\"\n"
        "sbx_policy_bpf_end:\n"
        ".balign 8\n"
        ".hidden sbx_policy_bpf_bytes\n"
        ".global sbx_policy_bpf_bytes\n"
        "sbx_policy_bpf_bytes:\n"
        ".quad sbx_policy_bpf_end - sbx_policy_bpf\n"
        ".previous\n");

extern const struct sock_filter sbx_policy_bpf[];
extern const unsigned long long sbx_policy_bpf_bytes;

static struct sock_fprog policy_prog;
static pthread_once_t policy_once = PTHREAD_ONCE_INIT;

static void policy_init(void)
{
	unsigned long long n = sbx_policy_bpf_bytes / sizeof(struct sock_filter);

	if (n == 0 || n > BPF_MAXINSNS || sbx_policy_bpf_bytes % sizeof(struct sock_filter) != 0)
		return;
	policy_prog.len = (unsigned short)n;
	policy_prog.filter = (struct sock_filter *)sbx_policy_bpf;
}

int sbx_policy_get(const struct sock_fprog **out, char *msg, size_t len)
{
	pthread_once(&policy_once, policy_init);
	if (policy_prog.filter == NULL) {
		snprintf(msg, len, "the built-in seccomp program is malformed");
		return -1;
	}
	*out = &policy_prog;
	return 0;
}
