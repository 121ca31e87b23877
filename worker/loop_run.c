/* loop_run.c - the state of one attempt's loop: its clock and the
 * iterations so far (made now or read back from the history). */
#include "loop.h"

#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double loop_elapsed(const loop_run *L)
{
	return L->elapsed0 + (double)(lr_now_ms() - L->t0_ms) / 1000.0;
}

int loop_push_iter(loop_run *L, const loop_iter *it, const char *commit, char *summary,
                   int refactor_kept, const char *refactor_reason)
{
	loop_rec *r;

	if (L->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 8;
		loop_iter *its = realloc(L->its, cap * sizeof(*its));
		loop_rec *recs;

		if (its == NULL) {
			free(summary);
			return LR_ENOMEM;
		}
		L->its = its;
		recs = realloc(L->recs, cap * sizeof(*recs));
		if (recs == NULL) {
			free(summary);
			return LR_ENOMEM;
		}
		L->recs = recs;
		L->cap = cap;
	}
	r = &L->recs[L->n];
	memset(r, 0, sizeof(*r));
	snprintf(r->commit, sizeof(r->commit), "%s", commit);
	r->summary = summary;
	r->refactor_kept = refactor_kept;
	if (refactor_reason && *refactor_reason &&
	    (r->refactor_reason = strdup(refactor_reason)) == NULL) {
		free(summary);
		return LR_ENOMEM;
	}
	L->its[L->n++] = *it;
	return 0;
}
