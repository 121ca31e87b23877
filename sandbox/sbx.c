/* sbx.c - the public API's plain parts: defaults, names, isolation sets and
 * results. The cold run is sbx_cold.c, the host-side setup sbx_host.c. */
#include "sbx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbx_limits_default(sbx_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->timeout_s = 10;
	l->cpu_s = 0;
	l->memory_mb = 256;
	l->max_procs = 32;
	l->file_size_mb = 16;
	l->max_files = 64;
	l->output_max = 1024 * 1024;
	l->answer_max = 8 * 1024 * 1024;
	l->cpus = 1;
}

void sbx_config_default(sbx_config *c)
{
	memset(c, 0, sizeof(*c));
	c->python = "/usr/bin/python3";
	c->py_dir = NULL;
	c->uid_base = 60000;
	c->require = 0;
	c->avoid = 0;
}

const char *sbx_end_name(sbx_end e)
{
	switch (e) {
	case SBX_END_EXITED: return "exited";
	case SBX_END_SIGNALED: return "signaled";
	case SBX_END_TIMEOUT: return "timeout";
	case SBX_END_MEMORY: return "memory";
	case SBX_END_OUTPUT: return "output";
	case SBX_END_ERROR: return "error";
	}
	return "error";
}

/* The protections' names, in the order of the SBX_ISO_* bits. */
static const char *const iso_names[] = {"userns", "pidns",   "netns", "mntns",  "ipcns",
                                        "utsns",  "uid",     "caps",  "nnp",    "rlimits",
                                        "cgroup", "seccomp", "rofs",  "grouped"};
#define ISO_NAMES (sizeof(iso_names) / sizeof(iso_names[0]))

void sbx_isolation_str(unsigned iso, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < ISO_NAMES; i++) {
		int w;

		if (!(iso & (1u << i)))
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n ? "," : "", iso_names[i]);
		if (w < 0 || (size_t)w >= len - n)
			return;
		n += (size_t)w;
	}
}

int sbx_isolation_parse(const char *list, unsigned *out, char *bad, size_t badlen)
{
	const char *p = list;

	*out = 0;
	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		size_t i;

		for (i = 0; i < ISO_NAMES; i++)
			if (strlen(iso_names[i]) == n && strncmp(iso_names[i], p, n) == 0)
				break;
		if (i == ISO_NAMES) {
			if (badlen > 0)
				snprintf(bad, badlen, "%.*s", (int)n, p);
			return -1;
		}
		*out |= 1u << i;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

void sbx_result_free(sbx_result *r)
{
	if (r == NULL)
		return;
	free(r->out);
	free(r->err);
	free(r->answer);
	r->out = r->err = r->answer = NULL;
	r->out_len = r->err_len = r->answer_len = 0;
}
