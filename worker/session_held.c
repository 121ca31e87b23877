/* session_held.c - the REPL sessions whose interpreter this worker keeps
 * (see session_held.h). A small array: a worker keeps a few. */
#include "session_held.h"

#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELD_MAX 256

static sh_entry held[HELD_MAX];
static size_t nheld;

static void end_at(size_t i)
{
	sbx_held_free(held[i].h);
	held[i] = held[--nheld];
	memset(&held[nheld], 0, sizeof(held[nheld]));
}

static long find_at(const char *id)
{
	for (size_t i = 0; i < nheld; i++)
		if (strcmp(held[i].id, id) == 0)
			return (long)i;
	return -1;
}

sh_entry *sh_find(const char *id, size_t ncells)
{
	long i = find_at(id);

	if (i < 0)
		return NULL;
	if (held[i].ncells > ncells || !sbx_held_alive(held[i].h)) {
		end_at((size_t)i);
		return NULL;
	}
	held[i].used_ms = lr_now_ms();
	return &held[i];
}

sh_entry *sh_keep(const char *id, sbx_held *h, size_t ncells, long long idle_ms, long max)
{
	sh_entry *e;

	sh_drop(id);
	if (max > HELD_MAX)
		max = HELD_MAX;
	/* Never another session's interpreter ended for room: at the limit the
	 * caller refuses the cell (sh_full). */
	if ((long)nheld >= max || strlen(id) >= sizeof(held[0].id)) {
		sbx_held_free(h);
		return NULL;
	}
	e = &held[nheld++];
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->h = h;
	e->ncells = ncells;
	e->used_ms = lr_now_ms();
	e->idle_ms = idle_ms;
	return e;
}

void sh_drop(const char *id)
{
	long i = find_at(id);

	if (i >= 0)
		end_at((size_t)i);
}

void sh_sweep(void)
{
	long long now = lr_now_ms();

	for (size_t i = nheld; i-- > 0;)
		if (now - held[i].used_ms > held[i].idle_ms || !sbx_held_alive(held[i].h))
			end_at(i);
}

void sh_clear(void)
{
	while (nheld > 0)
		end_at(nheld - 1);
}

size_t sh_count(void)
{
	return nheld;
}

int sh_full(long max)
{
	return (long)nheld >= (max > HELD_MAX ? HELD_MAX : max);
}

const char *sh_id_at(size_t i)
{
	return i < nheld ? held[i].id : NULL;
}
