/* kinds.c - which handler runs which kind of job. */
#include "kinds.h"

#include <string.h>

static const lr_kind kinds[] = {
    {"evaluate", wk_kind_evaluate},
    {"generate", wk_kind_generate},
    {"refactor", wk_kind_refactor},
    {"loop", wk_kind_loop},
    {"session_open", wk_kind_session_open},
    {"exec", wk_kind_exec},
    {"session_close", wk_kind_session_close},
};

const lr_kind *wk_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}
