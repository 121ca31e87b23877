/* sbx_setup.c - what a cold run (sbx_cold.c) and the pool (sbx_pool.c)
 * take from a configuration alike: its setup, built once and cached, and
 * the protections a run of it gets. */
#include "sbx_host.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SETUP_CACHE 4

static struct {
	char python[SBX_PATH];
	char py_dir[SBX_PATH];
	unsigned uid_base, avoid;
	int require;
	sbx_setup *s;
} setup_cache[SETUP_CACHE];
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;

const sbx_setup *sbx_setup_get(const sbx_config *cfg, char *msg, size_t len)
{
	sbx_config d;
	const sbx_setup *found = NULL;
	sbx_setup *s;

	sbx_config_default(&d);
	if (cfg == NULL)
		cfg = &d;
	pthread_mutex_lock(&setup_lock);
	for (int i = 0; i < SETUP_CACHE && found == NULL; i++) {
		if (setup_cache[i].s == NULL)
			continue;
		if (strcmp(setup_cache[i].python, cfg->python ? cfg->python : "") == 0 &&
		    strcmp(setup_cache[i].py_dir, cfg->py_dir ? cfg->py_dir : "") == 0 &&
		    setup_cache[i].uid_base == cfg->uid_base &&
		    setup_cache[i].avoid == cfg->avoid && setup_cache[i].require == cfg->require)
			found = setup_cache[i].s;
	}
	if (found == NULL && (s = malloc(sizeof(*s))) != NULL) {
		if (sbx_setup_init(s, cfg, msg, len) < 0) {
			free(s);
		} else {
			int slot = 0;

			for (int i = 0; i < SETUP_CACHE; i++)
				if (setup_cache[i].s == NULL) {
					slot = i;
					break;
				}
			/* A full cache keeps the old entry alive (another thread may
			 * use it) and simply stops caching the new one. */
			if (setup_cache[slot].s == NULL) {
				snprintf(setup_cache[slot].python, SBX_PATH, "%s",
				         cfg->python ? cfg->python : "");
				snprintf(setup_cache[slot].py_dir, SBX_PATH, "%s",
				         cfg->py_dir ? cfg->py_dir : "");
				setup_cache[slot].uid_base = cfg->uid_base;
				setup_cache[slot].avoid = cfg->avoid;
				setup_cache[slot].require = cfg->require;
				setup_cache[slot].s = s;
			}
			found = s;
		}
	} else if (found == NULL) {
		snprintf(msg, len, "out of memory");
	}
	pthread_mutex_unlock(&setup_lock);
	return found;
}

unsigned sbx_setup_isolation(const sbx_setup *s, sbx_result *res)
{
	unsigned iso = SBX_ISO_PIDNS | SBX_ISO_NETNS | SBX_ISO_MNTNS | SBX_ISO_IPCNS |
	               SBX_ISO_UTSNS | SBX_ISO_CAPS | SBX_ISO_NNP | SBX_ISO_RLIMITS | SBX_ISO_ROFS;
	char text[200];

	if (s->as_root) {
		iso |= SBX_ISO_UID;
	} else {
		iso |= SBX_ISO_USERNS;
		snprintf(text, sizeof(text),
		         "not root: runs in a user namespace as the caller's uid %u, not a uid of "
		         "its own",
		         (unsigned)getuid());
		sbx_detail_add(res, text);
	}
	if (s->filter && !(s->avoid & SBX_ISO_SECCOMP))
		iso |= SBX_ISO_SECCOMP;
	sbx_detail_add(res, s->note);
	return iso;
}

int sbx_setup_require(const sbx_setup *s, unsigned iso, char *msg, size_t len)
{
	char need[160];

	if (!((unsigned)s->require & ~iso))
		return 0;
	sbx_isolation_str((unsigned)s->require & ~iso, need, sizeof(need));
	snprintf(msg, len, "required protections unavailable: %s", need);
	return -1;
}
